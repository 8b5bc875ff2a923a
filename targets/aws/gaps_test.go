package aws_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"
)

// refused checks that err is the guard's refusal of op (so nothing was
// sent).
func refused(t *testing.T, what, op string, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "aws guard: refused "+op) {
		t.Fatalf("%s: not refused: %v", what, err)
	}
}

// TestGuardDecryptNeedsTheRunsCiphertext: Decrypt names its key in the
// ciphertext, so one without KeyId could decrypt another team's data and
// hand the run its plaintext; ReEncrypt without SourceKeyId could move it
// under a key of the run. The guard lets either through only for a
// ciphertext this run was given, and refuses any other before it is sent.
func TestGuardDecryptNeedsTheRunsCiphertext(t *testing.T) {
	s, plus := plusSandbox(t)
	_, _, foreignKey := s.seedForeign(t)
	ctx := context.Background()
	secretText := []byte("the other team's plaintext")
	theirs, err := s.foreign.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(foreignKey), Plaintext: secretText})
	if err != nil {
		t.Fatal(err)
	}
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	own, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	ownKey := aws.ToString(own.KeyMetadata.KeyId)

	out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: theirs.CiphertextBlob})
	if out != nil && bytes.Equal(out.Plaintext, secretText) {
		t.Fatal("the run decrypted the other team's ciphertext")
	}
	refused(t, "Decrypt of a foreign ciphertext without KeyId", "Decrypt", err)
	if !strings.Contains(err.Error(), "KeyId") {
		t.Fatalf("the refusal does not say what would do: %v", err)
	}
	_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: theirs.CiphertextBlob, DestinationKeyId: aws.String(ownKey)})
	refused(t, "ReEncrypt of a foreign ciphertext to the run's key", "ReEncrypt", err)
	if n := plus.count("Decrypt") + plus.count("ReEncrypt"); n != 0 {
		t.Fatalf("%d refused calls were sent", n)
	}

	// The run's own ciphertexts, from each call that makes one, go through.
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ownKey), Plaintext: []byte("ours")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "ours" {
		t.Fatalf("Decrypt of the run's ciphertext without KeyId: %v", err)
	}
	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: aws.String(ownKey)})
	if err != nil {
		t.Fatalf("ReEncrypt of the run's ciphertext without SourceKeyId: %v", err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt of ReEncrypt's ciphertext: %v", err)
	}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(ownKey), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt of a data key: %v", err)
	}
	// With KeyId naming the run's key, any ciphertext may be tried: KMS
	// refuses one of another key without decrypting it.
	_, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(ownKey), CiphertextBlob: theirs.CiphertextBlob})
	if code := errCode(err); code != "IncorrectKeyException" {
		t.Fatalf("Decrypt of a foreign ciphertext with the run's KeyId: %v", err)
	}
}

// TestGuardChecksAliasesAndGrants: CreateAlias, UpdateAlias, DeleteAlias
// and RetireGrant name resources too. An alias must carry the run's prefix
// and point at a key of the run; only the run's aliases may be updated or
// deleted; a grant is retired only by a token the run was given or under
// a key of the run. The run's aliases are deleted by the cleanup.
func TestGuardChecksAliasesAndGrants(t *testing.T) {
	s, plus := plusSandbox(t)
	_, _, foreignKey := s.seedForeign(t)
	ctx := context.Background()
	if _, err := s.foreign.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/team-prod"), TargetKeyId: aws.String(foreignKey)}); err != nil {
		t.Fatal(err)
	}
	grant, err := s.foreign.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(foreignKey), GranteePrincipal: aws.String("arn:aws:iam::123456789012:role/app"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		t.Fatal(err)
	}
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	own, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	ownKey := aws.ToString(own.KeyMetadata.KeyId)
	for _, a := range []struct {
		what, op string
		call     func() error
	}{
		{"an alias of the run's name to a foreign key", "CreateAlias", func() error {
			_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/kmsconform-x"), TargetKeyId: aws.String(foreignKey)})
			return err
		}},
		{"an alias without the run's prefix", "CreateAlias", func() error {
			_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/team-prod-2"), TargetKeyId: aws.String(ownKey)})
			return err
		}},
		{"pointing a foreign alias at the run's key", "UpdateAlias", func() error {
			_, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/team-prod"), TargetKeyId: aws.String(ownKey)})
			return err
		}},
		{"deleting a foreign alias", "DeleteAlias", func() error {
			_, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/team-prod")})
			return err
		}},
		{"retiring a foreign grant by its token", "RetireGrant", func() error {
			_, err := c.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: grant.GrantToken})
			return err
		}},
		{"retiring a grant by its id alone", "RetireGrant", func() error {
			_, err := c.RetireGrant(ctx, &kms.RetireGrantInput{GrantId: grant.GrantId})
			return err
		}},
		{"retiring a foreign grant under its key", "RetireGrant", func() error {
			_, err := c.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(foreignKey), GrantId: grant.GrantId})
			return err
		}},
		{"encrypting under a foreign alias", "Encrypt", func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/team-prod"), Plaintext: []byte("x")})
			return err
		}},
	} {
		refused(t, a.what, a.op, a.call())
	}
	for _, op := range []string{"CreateAlias", "UpdateAlias", "DeleteAlias", "RetireGrant", "Encrypt"} {
		if n := plus.count(op); n != map[string]int{"CreateAlias": 1}[op] {
			t.Fatalf("%s sent %d times", op, n)
		}
	}

	// The run's own alias and grant.
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/kmsconform-mine"), TargetKeyId: aws.String(ownKey)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/kmsconform-mine"), TargetKeyId: aws.String(ownKey)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/kmsconform-mine"), TargetKeyId: aws.String(foreignKey)}); err == nil {
		t.Fatal("the run's alias was pointed at a foreign key")
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/kmsconform-second"), TargetKeyId: aws.String(ownKey)}); err != nil {
		t.Fatal(err)
	}
	mine, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(ownKey), GranteePrincipal: aws.String("arn:aws:iam::123456789012:role/app"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: mine.GrantToken}); err != nil {
		t.Fatalf("retiring the run's grant: %v", err)
	}
	if _, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/kmsconform-second")}); err != nil {
		t.Fatal(err)
	}
	left := tgt.Guard().Cleanup(ctx, time.Millisecond, time.Minute)
	if len(left) != 0 || plus.count("DeleteAlias") != 2 {
		t.Fatalf("leftovers %v, DeleteAlias sent %d times", left, plus.count("DeleteAlias"))
	}
	plus.mu.Lock()
	defer plus.mu.Unlock()
	if len(plus.aliases) != 1 || plus.aliases["alias/team-prod"] != foreignKey {
		t.Fatalf("aliases after the cleanup: %v", plus.aliases)
	}
}

// TestGuardRefusesWhatItDoesNotKnow: a multi-Region key's replica would
// be in another Region, beyond the ledger; a single-Region key cannot be
// replicated, so ReplicateKey goes through for it (KMS refuses it). An
// operation the guard does not know is refused.
func TestGuardRefusesWhatItDoesNotKnow(t *testing.T) {
	s, _ := plusSandbox(t)
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	ctx := context.Background()
	single, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: single.KeyMetadata.KeyId, ReplicaRegion: aws.String("us-west-2")})
	if err == nil || strings.Contains(err.Error(), "aws guard") {
		t.Fatalf("ReplicateKey of a single-Region key: %v", err)
	}
	multi, err := c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: multi.KeyMetadata.KeyId, ReplicaRegion: aws.String("us-west-2")})
	refused(t, "ReplicateKey of a multi-Region key", "ReplicateKey", err)
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{}, func(o *kms.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("rename", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(awsmiddleware.SetOperationName(ctx, "CreateWidget"), in)
			}), middleware.Before)
		})
	})
	refused(t, "an operation the guard does not know", "CreateWidget", err)
}
