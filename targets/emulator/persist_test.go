package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// A state file derives its key with PBKDF2; tests open hundreds of them.
func init() { kdfIterations = 1000 }

// checkEveryCommit compares, after every commit, the state the file holds
// with the state in memory; the first difference fails t.
func checkEveryCommit(t *testing.T, e *Emulator) {
	var mu sync.Mutex
	var first string
	e.afterCommit = func() {
		if diff := fileDiffersFromMemory(e); diff != "" {
			mu.Lock()
			if first == "" {
				first = diff
			}
			mu.Unlock()
		}
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if first != "" {
			t.Errorf("the state file does not hold what memory does after a commit: %s", first)
		}
	})
}

// fileDiffersFromMemory is called under e.mu.
func fileDiffersFromMemory(e *Emulator) string {
	onDisk, err := e.persist.load()
	if err != nil {
		return err.Error()
	}
	want, _ := json.Marshal(e.st)
	got, _ := json.Marshal(onDisk)
	if !bytes.Equal(want, got) {
		return "memory " + string(want) + "\nfile   " + string(got)
	}
	return ""
}

func openTestEmulator(t *testing.T, path string) *Emulator {
	t.Helper()
	e, err := New(Options{StateFile: path, Passphrase: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPersistence(t *testing.T) {
	path := t.TempDir() + "/state.db"
	e1 := openTestEmulator(t, path)
	srv := httptest.NewServer(e1.Handler())
	client := sdkClient(srv.URL, testAKID, testSecret)
	ctx := context.Background()
	key := must[*kms.CreateKeyOutput](t)(client.CreateKey(ctx, &kms.CreateKeyInput{}))
	enc := must[*kms.EncryptOutput](t)(client.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("kept")}))
	_ = e1.PutCluster(NewHealthyCluster("cluster-abcdefghijk", testAnchor, testPassword))
	srv.Close()
	if err := e1.Close(ctx); err != nil {
		t.Fatal(err)
	}

	raw, _ := os.ReadFile(path)
	for _, clear := range []string{testPassword, *key.KeyMetadata.KeyId, "cluster-abcdefghijk"} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Fatalf("the state file holds %q in clear", clear)
		}
	}
	if _, err := New(Options{StateFile: path, Passphrase: "wrong"}); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	e2 := openTestEmulator(t, path)
	defer e2.Close(ctx)
	srv2 := httptest.NewServer(e2.Handler())
	defer srv2.Close()
	dec := must[*kms.DecryptOutput](t)(sdkClient(srv2.URL, testAKID, testSecret).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))
	if string(dec.Plaintext) != "kept" {
		t.Fatalf("after restart: %q", dec.Plaintext)
	}
	if _, err := e2.Cluster("cluster-abcdefghijk"); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{StateFile: path}); !errors.Is(err, errNoPassphrase) {
		t.Fatalf("state file without passphrase: %v", err)
	}
}

// TestFailedSaveChangesNothing: a change whose commit fails is answered
// 500 and undone, so the client's retry is a first attempt, and what the
// retry is told is what a restart finds.
func TestFailedSaveChangesNothing(t *testing.T) {
	path := t.TempDir() + "/state.db"
	e := openTestEmulator(t, path)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	client := sdkClient(srv.URL, testAKID, testSecret)
	ctx := context.Background()
	_ = e.PutCluster(NewHealthyCluster("cluster-abcdefghijk", testAnchor, testPassword))

	e.mu.Lock()
	e.persist.failCommit = errors.New("no space left on device")
	e.mu.Unlock()
	_, err := client.CreateKey(ctx, &kms.CreateKeyInput{})
	wantCode(t, err, "KMSInternalException")
	create := &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("kept-store"), CloudHsmClusterId: aws.String("cluster-abcdefghijk"),
		TrustAnchorCertificate: aws.String(testAnchor), KeyStorePassword: aws.String(testPassword)}
	_, err = client.CreateCustomKeyStore(ctx, create)
	wantCode(t, err, "KMSInternalException")
	keys := must[*kms.ListKeysOutput](t)(client.ListKeys(ctx, &kms.ListKeysInput{}))
	stores := must[*kms.DescribeCustomKeyStoresOutput](t)(client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{}))
	if len(keys.Keys) != 0 || len(stores.CustomKeyStores) != 0 {
		t.Fatalf("a refused change is visible: %d keys, %d stores", len(keys.Keys), len(stores.CustomKeyStores))
	}

	e.mu.Lock()
	e.persist.failCommit = nil
	e.mu.Unlock()
	key := must[*kms.CreateKeyOutput](t)(client.CreateKey(ctx, &kms.CreateKeyInput{}))
	store := must[*kms.CreateCustomKeyStoreOutput](t)(client.CreateCustomKeyStore(ctx, create))
	srv.Close()
	_ = e.Close(ctx)

	e2 := openTestEmulator(t, path)
	defer e2.Close(ctx)
	e2.mu.Lock()
	defer e2.mu.Unlock()
	if len(e2.st.Keys) != 1 || e2.st.Keys[*key.KeyMetadata.KeyId] == nil {
		t.Fatalf("after restart: %d keys, want only %s", len(e2.st.Keys), *key.KeyMetadata.KeyId)
	}
	if len(e2.st.Stores) != 1 || e2.st.Stores[*store.CustomKeyStoreId] == nil {
		t.Fatalf("after restart: %d stores, want only %s", len(e2.st.Stores), *store.CustomKeyStoreId)
	}
}

// TestStateFileStartUpErrors: every problem with the file is found at
// start-up, told in one line, and leaves the file as it was.
func TestStateFileStartUpErrors(t *testing.T) {
	dir := t.TempDir()
	held := filepath.Join(dir, "held.db")
	first := openTestEmulator(t, held)
	defer first.Close(context.Background())

	valid := filepath.Join(dir, "valid.db")
	v := openTestEmulator(t, valid)
	_ = v.PutCluster(NewHealthyCluster("cluster-abcdefghijk", testAnchor, testPassword))
	_ = v.Close(context.Background())
	good, _ := os.ReadFile(valid)

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Every page but the two meta pages changed: the meta pages still check.
	damaged := bytes.Clone(good)
	for i := 2 * 4096; i < len(damaged); i++ {
		damaged[i] ^= 0x5a
	}
	noMeta := bytes.Clone(good)
	for i := 0; i < 2*4096 && i < len(noMeta); i++ {
		noMeta[i] = 0
	}
	cases := []struct {
		name, path, want string
	}{
		{"second server", held, "in use by another process"},
		{"missing directory", filepath.Join(dir, "nope", "state.db"), "does not exist"},
		{"directory is a file", filepath.Join(write("plain", []byte("x")), "state.db"), "is not a directory"},
		{"JSON state file of an earlier version", write("old.json", []byte(`{"version":1,"salt":"AAAA","nonce":"AA==","data":""}`)), "JSON state file of an earlier kmsconform"},
		{"not a database", write("garbage.db", bytes.Repeat([]byte("garbage!"), 2048)), "not a kmsconform state database or is damaged"},
		{"meta pages zeroed", write("nometa.db", noMeta), "not a kmsconform state database or is damaged"},
		{"data pages damaged", write("damaged.db", damaged), "damaged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := os.ReadFile(c.path)
			_, err := New(Options{StateFile: c.path, Passphrase: "correct horse"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is more than one line: %q", err)
			}
			after, _ := os.ReadFile(c.path)
			if !bytes.Equal(before, after) {
				t.Fatal("the file was changed")
			}
		})
	}
}
