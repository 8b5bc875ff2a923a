package wait_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/wait"
)

// Connect a custom key store and wait until it is CONNECTED, or learn at
// once why it is not.
func Example() {
	ctx := context.Background()
	client := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:4599")})
	id := "cks-1234567890abcdef0"
	if _, err := client.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
		fmt.Println("connect:", err)
		return
	}
	_, err := wait.ForState(ctx, client, id, wait.Options{Timeout: 20 * time.Minute, Poll: 10 * time.Second})
	var failed *wait.FailedError
	switch {
	case errors.As(err, &failed):
		fmt.Println("the store failed to connect:", failed.Code) // e.g. INVALID_CREDENTIALS
	case err != nil:
		fmt.Println("wait:", err)
	default:
		fmt.Println("connected")
	}
}
