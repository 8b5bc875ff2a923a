package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

func TestServeFlags(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-addr", "0.0.0.0:4599"}, 2, "not a loopback address"},
		{[]string{"-addr", "nonsense"}, 2, "is not host:port"},
		{[]string{"-state-file", "/tmp/x"}, 2, "KMSCONFORM_STATE_PASSPHRASE"},
		{[]string{"extra"}, 2, "unexpected argument"},
	}
	t.Setenv("KMSCONFORM_STATE_PASSPHRASE", "")
	for _, tc := range cases {
		var out, errb lockedBuffer
		code := serve(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.out) || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: code %d, stderr %q", tc.args, code, errb.String())
		}
	}
	var out, errb lockedBuffer
	if code := serve(context.Background(), []string{"-h"}, &out, &errb); code != 0 {
		t.Fatalf("-h: %d", code)
	}
	for _, flagName := range []string{"-addr", "-allow-remote", "-verify-sigv4", "-connect-duration", "-state-file", "-xks-timeout", "-no-control", "-bare", "-log-format"} {
		if !strings.Contains(out.String(), flagName) {
			t.Errorf("help does not explain %s", flagName)
		}
	}
}

func TestServeRunsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() { done <- serve(ctx, []string{"-addr", "127.0.0.1:0"}, &out, &errb) }()
	re := regexp.MustCompile(`export AWS_ENDPOINT_URL_KMS=(http://127\.0\.0\.1:\d+)`)
	var url string
	for url == "" {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	client := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), HTTPClient: &http.Client{}})
	if _, err := client.DescribeCustomKeyStores(context.Background(), &kms.DescribeCustomKeyStoresInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := client.CreateCustomKeyStore(context.Background(), &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("n"), KeyStorePassword: aws.String("supersecretpw")})
	if err == nil {
		t.Fatal("create without cluster accepted")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	logs := errb.String()
	if !strings.Contains(logs, "op=DescribeCustomKeyStores status=200") || !strings.Contains(logs, "error=ValidationException") {
		t.Fatalf("request log: %s", logs)
	}
	if strings.Contains(logs, "supersecretpw") {
		t.Fatal("secret in the log")
	}
}
