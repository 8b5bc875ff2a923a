package xksproxy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

// An XKS client (here, a few lines standing in for KMS) calls the proxy
// with SigV4-signed JSON; faults change what it sees.
func Example() {
	p, err := xksproxy.New(xksproxy.Options{ServerName: "xks.example.com"})
	if err != nil {
		panic(err)
	}
	if err := p.Start(); err != nil {
		panic(err)
	}
	defer p.Close()
	if _, err := p.Keys().Create("ext-key-1", xksproxy.KeyOptions{}); err != nil {
		panic(err)
	}

	// KMS's endpoint format has no port; Transport dials the proxy anyway
	// and verifies its certificate against the proxy's CA.
	client := &http.Client{Transport: p.Transport(), Timeout: 5 * time.Second}
	call := func(op string) string {
		body := []byte(`{"requestMetadata":{"awsPrincipalArn":"arn:aws:iam::111122223333:role/app","kmsOperation":"CreateKey","kmsRequestId":"e1"}}`)
		req, _ := http.NewRequest("POST", "https://xks.example.com"+p.URIPath()+op, bytes.NewReader(body))
		sum := sha256.Sum256(body)
		cred := p.Credential()
		_ = v4.NewSigner().SignHTTP(context.Background(),
			aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey},
			req, hex.EncodeToString(sum[:]), xksproxy.ServiceName, "us-east-1", time.Now())
		resp, err := client.Do(req)
		if err != nil {
			return "transport error"
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}

	fmt.Println(call("/keys/ext-key-1/metadata"))
	_ = p.SetKeyFault("ext-key-1", xksproxy.FaultThrottling)
	fmt.Println(call("/keys/ext-key-1/metadata"))
	_ = p.ClearFaults()
	_ = p.Keys().Disable("ext-key-1")
	fmt.Println(call("/keys/ext-key-1/metadata"))
	fmt.Println(len(p.Requests()), p.Requests()[0].Metadata.KMSOperation, p.Requests()[0].SignatureValid)
	// Output:
	// 200 {"keySpec":"AES_256","keyUsage":["ENCRYPT","DECRYPT"],"keyStatus":"ENABLED"}
	// 429 {"errorName":"ThrottlingException","errorMessage":"injected fault: throttling"}
	// 200 {"keySpec":"AES_256","keyUsage":["ENCRYPT","DECRYPT"],"keyStatus":"DISABLED"}
	// 3 CreateKey true
}
