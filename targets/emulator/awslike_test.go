package emulator

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func awsLikeServer(t *testing.T, speedup float64) (*Emulator, *AWSLikeHandler, string) {
	t.Helper()
	emu, err := New(AWSLikeOptions("eu-west-1", testAKID, testSecret, speedup))
	if err != nil {
		t.Fatal(err)
	}
	h := emu.AWSLikeHandler()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return emu, h, srv.URL
}

func stsClient(url, akid, secret string) *sts.Client {
	return sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})
}

func TestAWSLikeAnswersSTSAndRequiresSignatures(t *testing.T) {
	_, h, url := awsLikeServer(t, 1)
	ctx := context.Background()
	id, err := stsClient(url, testAKID, testSecret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != AWSLikeAccount || !strings.Contains(aws.ToString(id.Arn), AWSLikeAccount) {
		t.Fatalf("identity %s %s", aws.ToString(id.Account), aws.ToString(id.Arn))
	}
	_, err = stsClient(url, testAKID, "not-the-secret").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("wrong secret: %v", err)
	}
	_, err = stsClient(url, "AKIDUNKNOWN", testSecret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidClientTokenId" {
		t.Fatalf("unknown key: %v", err)
	}
	// KMS on the same endpoint, signed for kms, in the emulator's region.
	k := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")})
	if _, err := k.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{}); err != nil {
		t.Fatal(err)
	}
	bad := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, "wrong", "")})
	if _, err := bad.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{}); !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("unsigned KMS call: %v", err)
	}
	calls := h.Calls()
	if calls["sts:GetCallerIdentity"] != 3 || calls["DescribeCustomKeyStores"] != 2 {
		t.Fatalf("calls %v", calls)
	}
}

func TestAWSLikeHasNoControlPlane(t *testing.T) {
	_, h, url := awsLikeServer(t, 1)
	_ = h
	k := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(url + ControlPrefix + "v1/clusters"), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")})
	var ae smithy.APIError
	if _, err := k.ListKeys(context.Background(), &kms.ListKeysInput{}); !errors.As(err, &ae) || ae.ErrorCode() != errUnknownOperation {
		t.Fatalf("control path: %v", err)
	}
}

func TestScaledClock(t *testing.T) {
	start := time.Now()
	c := NewScaledClock(start, 1e6)
	// A millisecond of real time is over 16 minutes of emulator time; the
	// clock never runs backwards and never slower than real time.
	a := c.Now()
	time.Sleep(time.Millisecond)
	b := c.Now()
	if b.Sub(a) < 16*time.Minute || a.Before(start) {
		t.Fatalf("scaled clock: %s then %s", a.Sub(start), b.Sub(start))
	}
	if NewScaledClock(start, 0).speedup != 1 {
		t.Fatal("speedup below 1")
	}
}
