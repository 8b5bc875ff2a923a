package wait_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/targets/emulator"
	"github.com/kmsconform/kmsconform/wait"
)

// Connect a CloudHSM key store and wait until it is CONNECTED, or learn at
// once why it is not. The KMS here is kmsconform's embedded emulator,
// started in-process with a simulated CloudHSM cluster; against real KMS,
// client is kms.NewFromConfig(cfg) and the wait takes minutes, not a
// fraction of a second.
func Example() {
	ctx := context.Background()
	kmsURL, stop := startEmulator(ctx, "kmsPswd1")
	defer stop()
	client := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(kmsURL), Credentials: aws.AnonymousCredentials{}})

	created, err := client.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:     aws.String("example"),
		CloudHsmClusterId:      aws.String(clusterID),
		TrustAnchorCertificate: aws.String(trustAnchor),
		KeyStorePassword:       aws.String("kmsPswd1"),
	})
	if err != nil {
		log.Fatal(err)
	}
	id := aws.ToString(created.CustomKeyStoreId)
	if _, err := client.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
		log.Fatal(err)
	}

	got, err := wait.ForState(ctx, client, id, wait.Options{Timeout: 20 * time.Minute, Poll: 50 * time.Millisecond})
	var failed *wait.FailedError
	switch {
	case errors.As(err, &failed):
		fmt.Println("the store did not connect:", failed.Code) // e.g. INVALID_CREDENTIALS
	case err != nil:
		fmt.Println("wait:", err)
	default:
		fmt.Println(got.State)
	}
	// Output: CONNECTED
}

// A store whose kmsuser password is not the cluster's goes FAILED; the
// wait ends at once with the ConnectionErrorCode instead of polling until
// its deadline.
func Example_failed() {
	ctx := context.Background()
	kmsURL, stop := startEmulator(ctx, "kmsPswd1")
	defer stop()
	client := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(kmsURL), Credentials: aws.AnonymousCredentials{}})

	created, err := client.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:     aws.String("example"),
		CloudHsmClusterId:      aws.String(clusterID),
		TrustAnchorCertificate: aws.String(trustAnchor),
		KeyStorePassword:       aws.String("notThePassword"),
	})
	if err != nil {
		log.Fatal(err)
	}
	id := aws.ToString(created.CustomKeyStoreId)
	if _, err := client.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
		log.Fatal(err)
	}

	_, err = wait.ForState(ctx, client, id, wait.Options{Timeout: 20 * time.Minute, Poll: 50 * time.Millisecond})
	var failed *wait.FailedError
	if errors.As(err, &failed) {
		fmt.Println("the store did not connect:", failed.Code)
	}
	// Output: the store did not connect: INVALID_CREDENTIALS
}

const (
	clusterID   = "cluster-234567abcde"
	trustAnchor = "-----BEGIN CERTIFICATE-----\nexample trust anchor\n-----END CERTIFICATE-----"
)

// startEmulator serves the embedded emulator on a free loopback port, with
// one healthy CloudHSM cluster whose kmsuser has the given password and a
// connect that takes 200 ms.
func startEmulator(ctx context.Context, kmsuserPassword string) (url string, stop func()) {
	emu, err := emulator.New(emulator.Options{ConnectDuration: 200 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	if err := emu.PutCluster(emulator.NewHealthyCluster(clusterID, trustAnchor, kmsuserPassword)); err != nil {
		log.Fatal(err)
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	return emu.URL(), func() { _ = emu.Close(ctx) }
}
