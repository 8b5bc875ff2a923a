package emulator

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

func TestPartitionOf(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1": "aws", "eu-west-1": "aws", "ap-southeast-7": "aws", "mx-central-1": "aws",
		"cn-north-1": "aws-cn", "cn-northwest-1": "aws-cn",
		"us-gov-west-1": "aws-us-gov", "us-gov-east-1": "aws-us-gov",
		"us-iso-east-1": "aws-iso", "us-isob-east-1": "aws-iso-b", "us-isof-south-1": "aws-iso-f",
		"eu-isoe-west-1": "aws-iso-e", "eusc-de-east-1": "aws-eusc",
	} {
		if got := partitionOf(region); got != want {
			t.Errorf("partitionOf(%q) = %q, want %q", region, got, want)
		}
	}
}

// Every ARN the emulator makes names the partition of its region, and a
// key ARN of another partition, region or account is not one of its keys
// (NotFoundException, as for any foreign ARN).
func TestARNsCarryThePartition(t *testing.T) {
	const acct = "111122223333"
	for _, tc := range []struct{ region, partition, other string }{
		{"cn-north-1", "aws-cn", "aws"},
		{"us-gov-west-1", "aws-us-gov", "aws"},
		{"us-east-1", "aws", "aws-cn"},
	} {
		t.Run(tc.region, func(t *testing.T) {
			e := newEnv(t, Options{Region: tc.region, AccountID: acct})
			kmsPrefix := "arn:" + tc.partition + ":kms:" + tc.region + ":" + acct + ":"
			iamRoot := "arn:" + tc.partition + ":iam::" + acct + ":root"

			k := must[*kms.CreateKeyOutput](t)(e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{}))
			id := *k.KeyMetadata.KeyId
			own := kmsPrefix + "key/" + id
			if *k.KeyMetadata.Arn != own {
				t.Fatalf("CreateKey Arn %s, want %s", *k.KeyMetadata.Arn, own)
			}
			list := must[*kms.ListKeysOutput](t)(e.kms.ListKeys(e.ctx, &kms.ListKeysInput{}))
			if len(list.Keys) != 1 || *list.Keys[0].KeyArn != own {
				t.Fatalf("ListKeys %+v", list.Keys)
			}
			// The key's own ARN finds it.
			d := must[*kms.DescribeKeyOutput](t)(e.kms.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(own)}))
			if *d.KeyMetadata.KeyId != id {
				t.Fatalf("DescribeKey by ARN: %s", *d.KeyMetadata.KeyId)
			}
			sched := must[*kms.ScheduleKeyDeletionOutput](t)(e.kms.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(own), PendingWindowInDays: aws.Int32(7)}))
			if *sched.KeyId != own {
				t.Fatalf("ScheduleKeyDeletion KeyId %s", *sched.KeyId)
			}
			// Another partition, region or account: not ours.
			for _, foreign := range []string{
				"arn:" + tc.other + ":kms:" + tc.region + ":" + acct + ":key/" + id,
				"arn:" + tc.partition + ":kms:eu-west-3:" + acct + ":key/" + id,
				"arn:" + tc.partition + ":kms:" + tc.region + ":444455556666:key/" + id,
			} {
				_, err := e.kms.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(foreign)})
				wantCode(t, err, "NotFoundException")
				wantMessage(t, err, "Invalid arn "+foreign)
			}
			// An alias is not emulated; its ARN in the message has the partition.
			_, err := e.kms.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
			wantMessage(t, err, "Alias "+kmsPrefix+"alias/app is not found.")
			_, err = e.kms.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(kmsPrefix + "alias/app")})
			wantMessage(t, err, "Alias "+kmsPrefix+"alias/app is not found.")
			// An unknown key id is reported by its would-be ARN.
			missing := "00000000-0000-4000-8000-000000000000"
			_, err = e.kms.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(missing)})
			wantMessage(t, err, "Key '"+kmsPrefix+"key/"+missing+"' does not exist")

			// STS GetCallerIdentity in the AWS-like mode.
			srv := httptest.NewServer(e.emu.AWSLikeHandler())
			defer srv.Close()
			resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var who struct {
				Arn string `xml:"GetCallerIdentityResult>Arn"`
			}
			if err := xml.Unmarshal(body, &who); err != nil || who.Arn != "arn:"+tc.partition+":iam::"+acct+":user/kmsconform" {
				t.Fatalf("GetCallerIdentity %s (%v)", body, err)
			}

			// What the XKS proxy is told: the principal and the key.
			p := e.startProxy("xks.example.com", xksproxy.Options{})
			if _, err := p.Keys().Create("ext-key-1", xksproxy.KeyOptions{}); err != nil {
				t.Fatal(err)
			}
			store := e.createXKSStore("xks-1", p)
			e.connect(store)
			xk := must[*kms.CreateKeyOutput](t)(e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore,
				CustomKeyStoreId: aws.String(store), XksKeyId: aws.String("ext-key-1")}))
			must[*kms.EncryptOutput](t)(e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: xk.KeyMetadata.KeyId, Plaintext: []byte("x")}))
			var seen bool
			for _, r := range p.Requests() {
				if r.Operation != xksproxy.OpEncrypt {
					continue
				}
				seen = true
				if r.Metadata.AWSPrincipalARN != iamRoot || r.Metadata.KMSKeyARN != kmsPrefix+"key/"+*xk.KeyMetadata.KeyId {
					t.Fatalf("encrypt metadata %+v", r.Metadata)
				}
			}
			if !seen {
				t.Fatalf("no encrypt reached the proxy: %+v", p.Requests())
			}
		})
	}
}
