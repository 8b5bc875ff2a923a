package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestClients drives `kmsconform serve`, started as a separate process on
// a free loopback port, through the whole life of both store types with
// the clients applications use: the AWS SDK for JavaScript v3 (the version
// pinned in clients/package-lock.json, installed by `npm ci`), boto3 and the
// AWS CLI. Each client resolves the endpoint, signs, serializes and
// deserializes on its own; the test asserts what the client made of every
// answer: error codes as the client surfaces them, and the fields of
// Describe entries and KeyMetadata.
//
// Serve runs with -verify-sigv4, so each client's own signing is checked
// (X-Amz-Target and Content-Type must be signed). The backing is registered
// here through the signed control plane (a simulated cluster and an XKS
// route per client, one `kmsconform xks-proxy` for all), whatever serve
// starts with by default.
func TestClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve, an XKS proxy and real AWS clients")
	}
	start := time.Now()
	w := startClientsWorld(t, clientSpecs)
	t.Cleanup(func() { t.Logf("TestClients took %s", time.Since(start).Round(100*time.Millisecond)) })
	for _, spec := range clientSpecs {
		t.Run(spec.name, func(t *testing.T) {
			newClient := spec.prepare(t, w) // skips when the client is absent
			t.Parallel()
			for _, storeType := range []string{"AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"} {
				t.Run(storeType, func(t *testing.T) {
					t.Parallel()
					began := time.Now()
					l := &clientLife{t: t, w: w, spec: spec, c: newClient(t)}
					l.run(storeType)
					t.Logf("%s life of %s in %s", spec.name, storeType, time.Since(began).Round(100*time.Millisecond))
				})
			}
		})
	}
}

// clientSpec is one client and the backing its stores use: a cluster can
// back one store and an XKS endpoint one store, and the lives run at once.
type clientSpec struct {
	name    string
	cluster string // cluster-[2-7a-zA-Z]{11,16}
	xksHost string
	xksKey  string
	// prepare skips the test when the client is absent, installs what it
	// needs, and returns how to start one client for one life.
	prepare func(t *testing.T, w *clientsWorld) func(t *testing.T) kmsClient
	// modeled: the client raises the modeled exception type, whose name
	// is the error code.
	modeled bool
}

var clientSpecs = []clientSpec{
	{name: "aws-sdk-js-v3", cluster: "cluster-clientsnodejs", xksHost: "js.clients.kmsconform.test", xksKey: "clients-js",
		prepare: prepareJS, modeled: true},
	{name: "boto3", cluster: "cluster-clientsbotothree", xksHost: "boto3.clients.kmsconform.test", xksKey: "clients-boto3",
		prepare: prepareBoto3, modeled: true},
	{name: "aws-cli", cluster: "cluster-clientsawscli", xksHost: "cli.clients.kmsconform.test", xksKey: "clients-cli",
		prepare: prepareCLI},
}

// clientsDir is clients/ at the top of the module (go test runs in the
// package's directory).
func clientsDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "clients"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func prepareJS(t *testing.T, w *clientsWorld) func(t *testing.T) kmsClient {
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		t.Skip("node and npm are not both on the PATH: the AWS SDK for JavaScript v3 is not tested")
	}
	dir := clientsDir(t)
	// npm ci installs exactly the lock file into clients/node_modules
	// (gitignored), from npm's cache when it has the packages.
	began := time.Now()
	cmd := exec.Command(npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	t.Logf("npm ci in %s", time.Since(began).Round(100*time.Millisecond))
	return func(t *testing.T) kmsClient {
		c := startLineClient(t, w.env, dir, node, "kms-client.mjs")
		t.Logf("@aws-sdk/client-kms %s, %s, Region %s", c.Ready.SDK, clientsVersion(t, node, "--version"), c.Ready.Region)
		return c
	}
}

func prepareBoto3(t *testing.T, w *clientsWorld) func(t *testing.T) kmsClient {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on the PATH: boto3 is not tested")
	}
	if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
		t.Skipf("boto3 is not installed for %s: boto3 is not tested (%s)", py, strings.TrimSpace(string(out)))
	}
	dir := clientsDir(t)
	return func(t *testing.T) kmsClient {
		c := startLineClient(t, w.env, dir, py, "kms_client.py")
		t.Logf("%s, Region %s", c.Ready.SDK, c.Ready.Region)
		return c
	}
}

func prepareCLI(t *testing.T, w *clientsWorld) func(t *testing.T) kmsClient {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws (the AWS CLI) is not on the PATH: the AWS CLI is not tested")
	}
	t.Logf("%s", clientsVersion(t, "aws", "--version"))
	return func(t *testing.T) kmsClient { return &cliClient{env: w.env, dir: t.TempDir()} }
}

func clientsVersion(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// clientsWorld is serve, the XKS proxy behind it, and what the clients need
// to know of both.
type clientsWorld struct {
	url        string
	env        []string
	anchor     string
	password   string // kmsuser password: never logged
	xksKeyID   string
	xksSecret  string // never logged
	transition time.Duration
}

// redact removes the secrets from text that is about to be logged.
func (w *clientsWorld) redact(s string) string {
	for secret, name := range map[string]string{w.password: "[kmsuser password]", w.xksSecret: "[XKS secret]"} {
		if secret != "" { // not yet known: nothing to hide
			s = strings.ReplaceAll(s, secret, name)
		}
	}
	return s
}

// startClientsWorld starts serve with short transitions and one XKS proxy
// holding every client's external key, and registers each client's
// cluster and XKS route through serve's control plane.
func startClientsWorld(t *testing.T, specs []clientSpec) *clientsWorld {
	bin := clientsCLI(t)
	w := &clientsWorld{transition: 300 * time.Millisecond}
	serveAddr := freeAddr(t)
	// -verify-sigv4: every client's signature is checked, X-Amz-Target and
	// Content-Type included, and the control plane is signed too.
	serveLog := startClientsProcessEnv(t, []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}, bin, "serve", "-addr", serveAddr,
		"-verify-sigv4", "-connect-duration", w.transition.String(), "-disconnect-duration", w.transition.String())
	w.url = "http://" + serveAddr
	waitHTTP(t, w.url)

	dir := t.TempDir()
	proxyAddr, controlAddr := freeAddr(t), freeAddr(t)
	credFile := filepath.Join(dir, "cred.json")
	args := []string{"xks-proxy", "--addr", proxyAddr, "--control-addr", controlAddr, "--tls-dir", filepath.Join(dir, "tls"), "--credential-file", credFile}
	for _, s := range specs {
		args = append(args, "--key", s.xksKey)
	}
	proxyLog := startClientsProcess(t, bin, args...)
	waitHTTP(t, "http://"+controlAddr)
	var cred struct {
		XksProxyAuthenticationCredential struct{ AccessKeyId, RawSecretAccessKey string }
	}
	for i := 0; ; i++ {
		b, err := os.ReadFile(credFile)
		if err == nil && json.Unmarshal(b, &cred) == nil && cred.XksProxyAuthenticationCredential.AccessKeyId != "" {
			break
		}
		if i == 50 {
			t.Fatalf("the XKS proxy wrote no credential to %s: %v\n%s", credFile, err, proxyLog)
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.xksKeyID, w.xksSecret = cred.XksProxyAuthenticationCredential.AccessKeyId, cred.XksProxyAuthenticationCredential.RawSecretAccessKey
	ca, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	w.anchor = selfSigned(t)
	w.password = "kmsuser" + rand.Text()[:16] // 23 characters of the 7 to 32 allowed
	control := w.url + "/_kmsconform/"
	for _, s := range specs {
		clientsControl(t, "PUT", control+"clusters/"+s.cluster, map[string]any{"trustAnchorCertificate": w.anchor, "state": "ACTIVE",
			"hsms": []map[string]any{{"id": "hsm-aaaaaaaaaaa", "availabilityZone": "us-east-1a", "state": "ACTIVE"},
				{"id": "hsm-bbbbbbbbbbb", "availabilityZone": "us-east-1b", "state": "ACTIVE"}},
			"subnets": []map[string]any{{"id": "subnet-aaaaaaaaaaaaaaaaa", "availabilityZone": "us-east-1a", "private": true, "freeAddresses": 10},
				{"id": "subnet-bbbbbbbbbbbbbbbbb", "availabilityZone": "us-east-1b", "private": true, "freeAddresses": 10}},
			"securityGroupOk": true, "kmsUser": map[string]any{"password": w.password}})
		clientsControl(t, "PUT", control+"xks-routes/"+s.xksHost, map[string]any{"addr": proxyAddr, "caPem": string(ca), "serverName": "localhost"})
	}
	w.env = clientEnv(t, w.url)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s\nthe XKS proxy's log:\n%s", w.redact(serveLog.String()), w.redact(proxyLog.String()))
		}
	})
	return w
}

// clientLife is one client taking one store through its life.
type clientLife struct {
	t    *testing.T
	w    *clientsWorld
	spec clientSpec
	c    kmsClient
}

// call makes one call and checks that it reached serve; it fails the test
// on a client that did not answer (crashed, hung, unparsable output).
func (l *clientLife) call(op string, input map[string]any) clientAnswer {
	l.t.Helper()
	a, err := l.c.call(op, input)
	if err != nil {
		l.t.Fatalf("%s: %s", op, l.w.redact(fmt.Sprintf("%v\nclient stderr:\n%s", err, l.c.diag())))
	}
	if a.SentTo != "" && !strings.HasPrefix(a.SentTo, l.w.url) {
		l.t.Fatalf("%s was sent to %s, not to serve at %s: the client ignored AWS_ENDPOINT_URL_KMS", op, a.SentTo, l.w.url)
	}
	return a
}

// ok makes a call that must succeed and returns the client's output.
func (l *clientLife) ok(op string, input map[string]any) map[string]any {
	l.t.Helper()
	a := l.call(op, input)
	if a.Err != nil {
		l.t.Fatalf("%s: %s: %s", op, a.Err.Code, l.w.redact(a.Err.Message))
	}
	l.t.Logf("%s: ok", op)
	return a.Output
}

// fails makes a call that must be refused with code, as the client
// surfaces it.
func (l *clientLife) fails(op string, input map[string]any, code string) {
	l.t.Helper()
	a := l.call(op, input)
	if a.Err == nil {
		l.t.Fatalf("%s succeeded; want %s: %s", op, code, l.w.redact(fmt.Sprint(a.Output)))
	}
	if a.Err.Code != code {
		l.t.Fatalf("%s: the client saw %s (%s); want %s", op, a.Err.Code, l.w.redact(a.Err.Message), code)
	}
	if l.spec.modeled && a.Err.Class != code {
		l.t.Errorf("%s: the client raised %s for %s, not the modeled exception", op, a.Err.Class, code)
	}
	if a.Err.Status != 0 && a.Err.Status != 400 {
		l.t.Errorf("%s: %s with HTTP %d; want 400", op, code, a.Err.Status)
	}
	l.t.Logf("%s: %s", op, code)
}

// want checks the fields of an entry as the client deserialized them.
func (l *clientLife) want(what string, m map[string]any, fields map[string]any) {
	l.t.Helper()
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		got := clientField(m, strings.Split(k, ".")...)
		if fmt.Sprint(got) != fmt.Sprint(fields[k]) {
			l.t.Errorf("%s: %s is %v; want %v", what, k, got, fields[k])
		}
	}
}

// absent checks that the client shows no value at each path.
func (l *clientLife) absent(what string, m map[string]any, paths ...string) {
	l.t.Helper()
	for _, p := range paths {
		if v := clientField(m, strings.Split(p, ".")...); v != nil && v != "" {
			l.t.Errorf("%s: %s is %v; want none", what, p, v)
		}
	}
}

// describeStore is the one entry DescribeCustomKeyStores returns for id.
func (l *clientLife) describeStore(id string) map[string]any {
	l.t.Helper()
	a := l.call("DescribeCustomKeyStores", map[string]any{"CustomKeyStoreId": id})
	if a.Err != nil {
		l.t.Fatalf("DescribeCustomKeyStores: %s: %s", a.Err.Code, a.Err.Message)
	}
	entries, _ := a.Output["CustomKeyStores"].([]any)
	if len(entries) != 1 {
		l.t.Fatalf("DescribeCustomKeyStores %s: %d entries; want 1", id, len(entries))
	}
	e, _ := entries[0].(map[string]any)
	if e == nil {
		l.t.Fatalf("DescribeCustomKeyStores %s: entry %v", id, entries[0])
	}
	// The answer never carries a secret, whatever the client does with it.
	b, _ := json.Marshal(e)
	if strings.Contains(string(b), l.w.password) || strings.Contains(string(b), l.w.xksSecret) {
		l.t.Errorf("DescribeCustomKeyStores shows a secret: %s", l.w.redact(string(b)))
	}
	return e
}

// await polls DescribeCustomKeyStores until the store is in want; a state
// that is neither want nor pending fails at once (a settled wrong answer
// does not become right by waiting).
func (l *clientLife) await(id, want, pending string) map[string]any {
	l.t.Helper()
	began := time.Now()
	deadline := began.Add(30*time.Second + 20*l.w.transition)
	var seen []string
	for {
		e := l.describeStore(id)
		s, _ := e["ConnectionState"].(string)
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
		switch {
		case s == want:
			l.t.Logf("DescribeCustomKeyStores: %s after %s (seen %s)", want, time.Since(began).Round(10*time.Millisecond), strings.Join(seen, " → "))
			return e
		case s != pending:
			l.t.Fatalf("store %s went %s; want %s (pending %s); ConnectionErrorCode %v", id, strings.Join(seen, " → "), want, pending, e["ConnectionErrorCode"])
		case time.Now().After(deadline):
			l.t.Fatalf("store %s still %s after %s; want %s", id, s, time.Since(began).Round(time.Second), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var storeIDPattern = regexp.MustCompile(`^cks-[0-9a-f]{17}$`)

// run is the life: create, connect, a key, encrypt; disconnect, the key
// Unavailable and refused; reconnect, decrypt; then clean up, down to the
// store's deletion (the control plane ends the key's waiting period).
func (l *clientLife) run(storeType string) {
	t, w, s := l.t, l.w, l.spec
	name := "kmsconform-clients-" + s.name + "-" + storeType
	create := map[string]any{"CustomKeyStoreName": name}
	entry := map[string]any{"CustomKeyStoreName": name, "CustomKeyStoreType": storeType}
	keyIn := map[string]any{"Description": "kmsconform clients test: " + s.name}
	keyWant := map[string]any{"KeyManager": "CUSTOMER", "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "MultiRegion": false,
		"Description": keyIn["Description"]}
	if storeType == "AWS_CLOUDHSM" {
		// CustomKeyStoreType left out: AWS_CLOUDHSM is the default.
		create["CloudHsmClusterId"], create["TrustAnchorCertificate"], create["KeyStorePassword"] = s.cluster, w.anchor, w.password
		entry["CloudHsmClusterId"], entry["TrustAnchorCertificate"] = s.cluster, w.anchor
		keyIn["Origin"] = "AWS_CLOUDHSM"
		keyWant["Origin"], keyWant["CloudHsmClusterId"] = "AWS_CLOUDHSM", s.cluster
	} else {
		endpoint := "https://" + s.xksHost // the CLI must not fetch it (cli_follow_urlparam)
		create["CustomKeyStoreType"] = storeType
		create["XksProxyConnectivity"], create["XksProxyUriEndpoint"], create["XksProxyUriPath"] = "PUBLIC_ENDPOINT", endpoint, "/kms/xks/v1"
		create["XksProxyAuthenticationCredential"] = map[string]any{"AccessKeyId": w.xksKeyID, "RawSecretAccessKey": w.xksSecret}
		entry["XksProxyConfiguration.Connectivity"], entry["XksProxyConfiguration.UriEndpoint"] = "PUBLIC_ENDPOINT", endpoint
		entry["XksProxyConfiguration.UriPath"], entry["XksProxyConfiguration.AccessKeyId"] = "/kms/xks/v1", w.xksKeyID
		keyIn["Origin"], keyIn["XksKeyId"] = "EXTERNAL_KEY_STORE", s.xksKey
		keyWant["Origin"], keyWant["XksKeyConfiguration.Id"] = "EXTERNAL_KEY_STORE", s.xksKey
	}

	out := l.ok("CreateCustomKeyStore", create)
	id, _ := out["CustomKeyStoreId"].(string)
	if !storeIDPattern.MatchString(id) {
		t.Fatalf("CreateCustomKeyStore: CustomKeyStoreId %q", id)
	}
	entry["CustomKeyStoreId"], keyIn["CustomKeyStoreId"], keyWant["CustomKeyStoreId"] = id, id, id
	e := l.describeStore(id)
	l.want("new store", e, clientWith(entry, "ConnectionState", "DISCONNECTED"))
	l.recent("new store: CreationDate", e["CreationDate"], 0)
	l.absent("new store", e, "ConnectionErrorCode")

	l.connect(id)
	e = l.await(id, "CONNECTED", "CONNECTING")
	l.want("connected store", e, entry)
	l.absent("connected store", e, "ConnectionErrorCode")

	md, _ := l.ok("CreateKey", keyIn)["KeyMetadata"].(map[string]any)
	keyID, _ := md["KeyId"].(string)
	arn, _ := md["Arn"].(string)
	if keyID == "" || !strings.HasPrefix(arn, "arn:aws:kms:us-east-1:") || !strings.HasSuffix(arn, ":key/"+keyID) {
		t.Fatalf("CreateKey: KeyId %q, Arn %q", keyID, arn)
	}
	keyWant["KeyId"], keyWant["Arn"] = keyID, arn
	l.want("CreateKey", md, clientWith(keyWant, "KeyState", "Enabled", "Enabled", true))
	l.recent("CreateKey: CreationDate", md["CreationDate"], 0)
	// Keys in a custom key store have no key material id and never expire.
	l.absent("CreateKey", md, "CurrentKeyMaterialId", "ExpirationModel")

	plaintext := base64.StdEncoding.EncodeToString([]byte("kmsconform " + s.name + " " + storeType))
	enc := l.ok("Encrypt", map[string]any{"KeyId": keyID, "Plaintext": plaintext})
	l.want("Encrypt", enc, map[string]any{"KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
	ciphertext, _ := enc["CiphertextBlob"].(string)
	if b, err := base64.StdEncoding.DecodeString(ciphertext); err != nil || len(b) == 0 {
		t.Fatalf("Encrypt: CiphertextBlob %q: %v", ciphertext, err)
	}

	l.disconnect(id)
	l.want("disconnected store", l.await(id, "DISCONNECTED", "DISCONNECTING"), entry)
	md, _ = l.ok("DescribeKey", map[string]any{"KeyId": keyID})["KeyMetadata"].(map[string]any)
	l.want("DescribeKey, store disconnected", md, clientWith(keyWant, "KeyState", "Unavailable", "Enabled", false))
	l.fails("Encrypt", map[string]any{"KeyId": keyID, "Plaintext": plaintext}, "KMSInvalidStateException")
	l.fails("Decrypt", map[string]any{"CiphertextBlob": ciphertext}, "KMSInvalidStateException")

	l.connect(id)
	l.await(id, "CONNECTED", "CONNECTING")
	md, _ = l.ok("DescribeKey", map[string]any{"KeyId": keyID})["KeyMetadata"].(map[string]any)
	l.want("DescribeKey, store reconnected", md, clientWith(keyWant, "KeyState", "Enabled", "Enabled", true))
	// No KeyId: the ciphertext names its key.
	dec := l.ok("Decrypt", map[string]any{"CiphertextBlob": ciphertext})
	l.want("Decrypt", dec, map[string]any{"KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "Plaintext": plaintext})

	// Cleanup, asserted like the rest: a store is deleted only disconnected
	// and empty, and a key pending deletion still counts.
	l.disconnect(id)
	l.await(id, "DISCONNECTED", "DISCONNECTING")
	sched := l.ok("ScheduleKeyDeletion", map[string]any{"KeyId": keyID, "PendingWindowInDays": 7})
	l.want("ScheduleKeyDeletion", sched, map[string]any{"KeyId": arn, "KeyState": "PendingDeletion", "PendingWindowInDays": 7})
	l.recent("ScheduleKeyDeletion: DeletionDate", sched["DeletionDate"], 7*24*time.Hour)
	md, _ = l.ok("DescribeKey", map[string]any{"KeyId": keyID})["KeyMetadata"].(map[string]any)
	l.want("DescribeKey, deletion scheduled", md, clientWith(keyWant, "KeyState", "PendingDeletion", "Enabled", false))
	l.fails("DeleteCustomKeyStore", map[string]any{"CustomKeyStoreId": id}, "CustomKeyStoreHasCMKsException")
	clientsControl(t, "POST", w.url+"/_kmsconform/keys/"+keyID+"/expire-deletion", nil)
	l.fails("DescribeKey", map[string]any{"KeyId": keyID}, "NotFoundException")
	if out := l.ok("DeleteCustomKeyStore", map[string]any{"CustomKeyStoreId": id}); len(out) != 0 {
		t.Errorf("DeleteCustomKeyStore: %v; want an empty answer", out)
	}
	l.fails("DescribeCustomKeyStores", map[string]any{"CustomKeyStoreId": id}, "CustomKeyStoreNotFoundException")
}

// recent checks a timestamp as the client shows it: about now plus ahead
// (a generous margin: serve's clock is the machine's).
func (l *clientLife) recent(what string, v any, ahead time.Duration) {
	l.t.Helper()
	ts, ok := clientTime(v)
	if !ok {
		l.t.Errorf("%s: %v (%T) is not a timestamp", what, v, v)
		return
	}
	if d := ts.Sub(time.Now().Add(ahead)); d < -time.Hour || d > time.Hour {
		l.t.Errorf("%s: %s; want about %s", what, ts, time.Now().Add(ahead).Round(time.Second))
	}
}

func (l *clientLife) connect(id string) {
	l.t.Helper()
	if out := l.ok("ConnectCustomKeyStore", map[string]any{"CustomKeyStoreId": id}); len(out) != 0 {
		l.t.Errorf("ConnectCustomKeyStore: %v; want an empty answer", out)
	}
}

func (l *clientLife) disconnect(id string) {
	l.t.Helper()
	if out := l.ok("DisconnectCustomKeyStore", map[string]any{"CustomKeyStoreId": id}); len(out) != 0 {
		l.t.Errorf("DisconnectCustomKeyStore: %v; want an empty answer", out)
	}
}

// clientWith is m plus the key/value pairs kv, in a copy.
func clientWith(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}
