package drive

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/model"
)

// wrongFields checks the fields of a successful cryptographic, random or
// key deletion answer that the API reference fixes: the key ARN it names,
// the algorithm, the length of what it generates, the plaintext a Decrypt
// gives back. It returns what is wrong ("" when nothing is); Invoke keeps
// it as Answer.Wrong, and checkBody fails the call on it.
func wrongFields(c model.Call, out any, m *Mapper) string {
	key := c.KeyID
	switch o := out.(type) {
	case *kms.EncryptOutput:
		return firstOf(m.keyNamed("KeyId", o.KeyId, key), symmetric(o.EncryptionAlgorithm), nonEmpty("CiphertextBlob", o.CiphertextBlob))
	case *kms.DecryptOutput:
		if !bytes.Equal(o.Plaintext, samplePlaintext) {
			return fmt.Sprintf("Plaintext is %d bytes that are not the %d bytes encrypted", len(o.Plaintext), len(samplePlaintext))
		}
		return firstOf(m.keyNamed("KeyId", o.KeyId, key), symmetric(o.EncryptionAlgorithm))
	case *kms.ReEncryptOutput:
		return firstOf(m.keyNamed("SourceKeyId", o.SourceKeyId, key), m.keyNamed("KeyId", o.KeyId, key),
			symmetric(o.SourceEncryptionAlgorithm), symmetric(o.DestinationEncryptionAlgorithm), nonEmpty("CiphertextBlob", o.CiphertextBlob))
	case dataKey:
		if len(o.Plaintext) != o.want {
			return fmt.Sprintf("Plaintext is %d bytes; the call asked for a %d-byte data key", len(o.Plaintext), o.want)
		}
		return firstOf(m.keyNamed("KeyId", o.KeyId, key), nonEmpty("CiphertextBlob", o.CiphertextBlob))
	case *kms.GenerateDataKeyWithoutPlaintextOutput:
		return firstOf(m.keyNamed("KeyId", o.KeyId, key), nonEmpty("CiphertextBlob", o.CiphertextBlob))
	case *kms.GenerateRandomOutput:
		if c.NumberOfBytes != nil && len(o.Plaintext) != *c.NumberOfBytes {
			return fmt.Sprintf("Plaintext is %d bytes; NumberOfBytes asked for %d", len(o.Plaintext), *c.NumberOfBytes)
		}
	case *kms.ScheduleKeyDeletionOutput:
		want := int32(30) // the default waiting period
		if c.PendingWindowDays != nil {
			want = int32(*c.PendingWindowDays)
		}
		switch {
		case o.DeletionDate == nil:
			return "DeletionDate is missing"
		case aws.ToInt32(o.PendingWindowInDays) != want:
			return fmt.Sprintf("PendingWindowInDays is %d, not the %d days asked for", aws.ToInt32(o.PendingWindowInDays), want)
		}
		return m.keyNamed("KeyId", o.KeyId, key)
	case *kms.CancelKeyDeletionOutput:
		return m.keyNamed("KeyId", o.KeyId, key)
	}
	return ""
}

// dataKey is a GenerateDataKey answer with the length in bytes it asked
// for.
type dataKey struct {
	*kms.GenerateDataKeyOutput
	want int
}

// keyNamed says what is wrong with a KeyId (or SourceKeyId) field naming
// model key id: the API reference gives the key ARN, so it must be the
// ARN the key was created with or, for a key whose ARN this run never
// saw, an ARN ending in key/ and its id.
func (m *Mapper) keyNamed(field string, got *string, id string) string {
	g := aws.ToString(got)
	if arn, ok := m.arns[id]; ok {
		if g != arn {
			return fmt.Sprintf("%s is %q, not the key ARN %q", field, g, arn)
		}
		return ""
	}
	if !strings.HasPrefix(g, "arn:") || !strings.HasSuffix(g, ":key/"+m.KeyID(id)) {
		return fmt.Sprintf("%s is %q, not the key ARN of %s", field, g, m.KeyID(id))
	}
	return ""
}

func symmetric(got types.EncryptionAlgorithmSpec) string {
	if got != types.EncryptionAlgorithmSpecSymmetricDefault {
		return fmt.Sprintf("the encryption algorithm is %q, not SYMMETRIC_DEFAULT (the only one of a symmetric key)", got)
	}
	return ""
}

func nonEmpty(field string, b []byte) string {
	if len(b) == 0 {
		return field + " is empty"
	}
	return ""
}

// firstOf returns the first problem found.
func firstOf(problems ...string) string {
	for _, p := range problems {
		if p != "" {
			return p
		}
	}
	return ""
}
