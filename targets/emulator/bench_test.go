package emulator

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// The benchmarks drive each target with the same real SDK client over
// loopback, one request at a time, so that ratios between them compare the
// servers and nothing else:
//
//	go test -run '^$' -bench . -benchtime 2000x ./targets/emulator/
//
// Bare is a net/http handler that answers a canned, well-formed response:
// the ceiling for any server behind this client. Moto runs only where
// moto_server is installed, and only for the operations it implements.

type benchTarget struct {
	url string
	// setup prepares state and returns a key id and a ciphertext under it.
	setup func(b *testing.B, c *kms.Client) (keyID string, blob []byte)
}

func benchOps(b *testing.B, t benchTarget, ops []string) {
	c := sdkClient(t.url, testAKID, testSecret)
	ctx := context.Background()
	keyID, blob := t.setup(b, c)
	calls := map[string]func() error{
		"DescribeCustomKeyStores": func() error {
			_, err := c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{})
			return err
		},
		"CreateKey": func() error { _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); return err },
		"Encrypt": func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("benchmark plaintext")})
			return err
		},
		"Decrypt": func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
			return err
		},
		"GenerateRandom": func() error {
			_, err := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
			return err
		},
	}
	for _, op := range ops {
		call := calls[op]
		b.Run(op, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var allOps = []string{"DescribeCustomKeyStores", "CreateKey", "Encrypt", "Decrypt", "GenerateRandom"}

func sdkSetup(b *testing.B, c *kms.Client) (string, []byte) {
	ctx := context.Background()
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("benchmark plaintext")})
	if err != nil {
		b.Fatal(err)
	}
	return *k.KeyMetadata.KeyId, enc.CiphertextBlob
}

func BenchmarkEmulator(b *testing.B) {
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	_ = e.PutCluster(NewHealthyCluster("cluster-abcdefghijk", testAnchor, testPassword))
	if err := e.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	benchOps(b, benchTarget{url: e.URL(), setup: func(b *testing.B, c *kms.Client) (string, []byte) {
		// One store, so that Describe has something to encode.
		_, _ = c.CreateCustomKeyStore(context.Background(), &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("bench"),
			CloudHsmClusterId: aws.String("cluster-abcdefghijk"), TrustAnchorCertificate: aws.String(testAnchor), KeyStorePassword: aws.String(testPassword)})
		return sdkSetup(b, c)
	}}, allOps)
}

func BenchmarkBare(b *testing.B) {
	const arn = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"
	answers := map[string]string{
		"TrentService.DescribeCustomKeyStores": `{"CustomKeyStores":[{"CustomKeyStoreId":"cks-0123456789abcdef0","CustomKeyStoreName":"bench","CustomKeyStoreType":"AWS_CLOUDHSM","ConnectionState":"DISCONNECTED","CreationDate":1767225600.000,"CloudHsmClusterId":"cluster-abcdefghijk","TrustAnchorCertificate":"x"}],"Truncated":false}`,
		"TrentService.CreateKey":               `{"KeyMetadata":{"AWSAccountId":"111122223333","KeyId":"00000000-0000-4000-8000-000000000000","Arn":"` + arn + `","CreationDate":1767225600.000,"Enabled":true,"Description":"","KeyUsage":"ENCRYPT_DECRYPT","KeyState":"Enabled","Origin":"AWS_KMS","KeyManager":"CUSTOMER","CustomerMasterKeySpec":"SYMMETRIC_DEFAULT","KeySpec":"SYMMETRIC_DEFAULT","EncryptionAlgorithms":["SYMMETRIC_DEFAULT"],"MultiRegion":false}}`,
		"TrentService.Encrypt":                 `{"CiphertextBlob":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFla","KeyId":"` + arn + `","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
		"TrentService.Decrypt":                 `{"Plaintext":"YmVuY2htYXJrIHBsYWludGV4dA==","KeyId":"` + arn + `","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
		"TrentService.GenerateRandom":          `{"Plaintext":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = r.Body.Read(make([]byte, 4096))
		body := answers[r.Header.Get("X-Amz-Target")]
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-RequestId", "00000000-0000-4000-8000-000000000000")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	benchOps(b, benchTarget{url: srv.URL, setup: func(b *testing.B, c *kms.Client) (string, []byte) {
		return arn, []byte("opaque")
	}}, allOps)
}

func BenchmarkMoto(b *testing.B) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		b.Skip("moto_server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for start := time.Now(); ; {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 60*time.Second {
			b.Fatal("moto_server did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// moto has no custom key store operations (spec §9).
	benchOps(b, benchTarget{url: url, setup: sdkSetup}, allOps[1:])
}

// BenchmarkMemoryPer10kKeys reports the heap held by 10,000 AWS_KMS keys.
func BenchmarkMemoryPer10kKeys(b *testing.B) {
	for i := 0; i < b.N; i++ {
		e, _ := New(Options{})
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for j := 0; j < 10000; j++ {
			if _, err := e.opCreateKey(context.Background(), []byte(`{}`)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc), "bytes/10k-keys")
		runtime.KeepAlive(e)
	}
}
