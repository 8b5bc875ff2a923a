package aws_test

import (
	"strings"
	"testing"

	awstarget "github.com/kmsconform/kmsconform/targets/aws"
)

func TestNormalizeRecording(t *testing.T) {
	in := `{"target":{"name":"aws 210987654321 eu-west-1"},"cells":[
 {"id":"a","evidence":"arn:aws:kms:eu-west-1:210987654321:key/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9 in cks-0123456789abcdef0",
  "note":"store kmsconform-k3x9-p1-c12-subject, password kmsuserSECRET1 quoted\"secret other arn:aws:iam::123412341234:role/x"},
 {"id":"b","evidence":"cks-0123456789abcdef0 cks-00000000000000fff 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"}]}`
	out, err := awstarget.NormalizeRecording([]byte(in), "210987654321", []string{"kmsuserSECRET1", `quoted"secret`, "x"})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, bad := range []string{"210987654321", "123412341234", "kmsuserSECRET1", "quoted", "cks-0123456789abcdef0", "0f1e2d3c", "k3x9"} {
		if strings.Contains(got, bad) {
			t.Fatalf("%q left in %s", bad, got)
		}
	}
	for _, want := range []string{"aws 000000000000 eu-west-1", "arn:aws:kms:eu-west-1:000000000000:key/00000000-0000-4000-8000-000000000001",
		"in cks-00000000000000001", `"evidence":"cks-00000000000000001 cks-00000000000000002 00000000-0000-4000-8000-000000000001"`,
		"kmsconform-run-subject", "arn:aws:iam::000000000000:role/x", `"id":"a"`} {
		if !strings.Contains(got, want) {
			t.Fatalf("%q missing from %s", want, got)
		}
	}
	if _, err := awstarget.NormalizeRecording([]byte("{"), "", nil); err == nil {
		t.Fatal("not JSON accepted")
	}
}
