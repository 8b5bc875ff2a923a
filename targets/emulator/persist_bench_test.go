package emulator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// BenchmarkPersistence compares the emulator with a state file and in
// memory, with 1,000 and 100,000 keys already stored, through the same SDK
// client over loopback, one request at a time:
//
//	go test -run '^$' -bench Persistence -benchtime 3000x ./targets/emulator/
//
// EncryptWhileWriting encrypts while two other clients create keys as fast
// as they can: with a state file, every one of their keys is a commit
// (with fsync), and Encrypt must not wait for it. Compare each file figure
// with the memory figure of the same line: the machine's cores are shared
// by the writers in both.
func BenchmarkPersistence(b *testing.B) {
	for _, keys := range []int{1_000, 100_000} {
		for _, mode := range []string{"memory", "file"} {
			b.Run(fmt.Sprintf("keys=%d/%s", keys, mode), func(b *testing.B) {
				opts := Options{}
				if mode == "file" {
					opts.StateFile, opts.Passphrase = b.TempDir()+"/state.db", "benchmark passphrase"
				}
				e, err := New(opts)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close(context.Background())
				seedKeys(b, e, keys)
				if err := e.Start("127.0.0.1:0"); err != nil {
					b.Fatal(err)
				}
				benchPersistenceOps(b, e.URL())
			})
		}
	}
}

// seedKeys stores n keys in one commit: the state a long-lived server has.
func seedKeys(b *testing.B, e *Emulator, n int) {
	e.lock()
	defer e.mu.Unlock()
	for range n {
		e.newKeyLocked("seed", originKMS, "")
	}
	if err := e.notifyLocked(); err != nil {
		b.Fatal(err)
	}
}

func benchPersistenceOps(b *testing.B, url string) {
	ctx := context.Background()
	c := sdkClient(url, testAKID, testSecret)
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	encrypt := func() error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("benchmark plaintext")})
		return err
	}
	b.Run("CreateKey", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Encrypt", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := encrypt(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EncryptWhileWriting", func(b *testing.B) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		var written atomic.Int64
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := sdkClient(url, testAKID, testSecret)
				for !stop.Load() {
					if _, err := w.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("writer")}); err == nil {
						written.Add(1)
					}
				}
			}()
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := encrypt(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		stop.Store(true)
		wg.Wait()
		b.ReportMetric(float64(written.Load())/b.Elapsed().Seconds(), "writes/s")
	})
}
