package xksproxy

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"log/slog"
	"regexp"
)

// Credential is one SigV4 credential the proxy accepts. Its String,
// GoString and LogValue hide the secret, so printing or logging a
// Credential by mistake does not leak it.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
}

func (c Credential) String() string   { return "Credential{" + c.AccessKeyID + ", secret redacted}" }
func (c Credential) GoString() string { return c.String() }

// LogValue implements slog.LogValuer.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accessKeyId", c.AccessKeyID))
}

// Format keeps %v, %+v and %#v from printing the secret field.
func (c Credential) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(c.String())) }

// The patterns KMS enforces on XksProxyAuthenticationCredential, so a
// credential the proxy accepts is one CreateCustomKeyStore accepts.
var (
	accessKeyIDPattern = regexp.MustCompile(`^[A-Z2-7]{20,30}$`)
	secretPattern      = regexp.MustCompile(`^[a-zA-Z0-9/+=]{43,64}$`)
)

// Validate reports whether KMS would accept the credential.
func (c Credential) Validate() error {
	if !accessKeyIDPattern.MatchString(c.AccessKeyID) {
		return fmt.Errorf("xksproxy: access key id must be 20-30 characters of A-Z and 2-7")
	}
	if !secretPattern.MatchString(c.SecretAccessKey) {
		return fmt.Errorf("xksproxy: secret access key of %s must be 43-64 characters of a-z, A-Z, 0-9, /, + and =", c.AccessKeyID)
	}
	return nil
}

// GenerateCredential makes a random credential in KMS's format: a 24
// character base32 access key id (120 bits) and a base64 secret of 256
// bits, as the spec recommends.
func GenerateCredential() (Credential, error) {
	id := make([]byte, 15)
	secret := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return Credential{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return Credential{}, err
	}
	return Credential{
		AccessKeyID:     base32.StdEncoding.EncodeToString(id),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret),
	}, nil
}
