package fuzz

import (
	"bytes"
	"fmt"
	"go/format"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/model"
)

// Describe renders a model call in one line, without secrets.
func Describe(c model.Call) string {
	var b strings.Builder
	b.WriteString(string(c.Op))
	arg := func(k, v string) { fmt.Fprintf(&b, " %s=%s", k, v) }
	if c.StoreID != nil {
		arg("store", shortID(*c.StoreID))
	}
	if c.StoreName != nil {
		arg("name", *c.StoreName)
	}
	if c.KeyID != "" {
		arg("key", shortID(c.KeyID))
	}
	if in := c.Create; in != nil {
		arg("name", in.Name)
		if in.Type != nil {
			arg("type", *in.Type)
		} else {
			arg("type", string(model.CloudHSM))
		}
	}
	if u := c.Update; u != nil {
		arg("update", string(u.Variant()))
	}
	if c.Cluster != nil {
		arg("cluster", fmt.Sprintf("%s(hsms=%d kmsuser=%s password-changed=%v)", c.Cluster.ID, c.Cluster.ActiveHSMs, c.Cluster.Kmsuser, c.Cluster.Password != model.KmsuserPassword))
	}
	if c.Proxy != nil {
		var ids []string
		for _, a := range c.Proxy.Accepted {
			ids = append(ids, a.AccessKeyID)
		}
		arg("proxy", fmt.Sprintf("%s(fault=%q accepts=%s)", c.Proxy.Endpoint, c.Proxy.Fault, strings.Join(ids, "+")))
	}
	return b.String()
}

// Program prints a run's steps as a runnable Go program of SDK calls that
// replays them against the KMS endpoint of the environment
// (AWS_ENDPOINT_URL_KMS) and says, at each step, whether the answer is one
// the model allows. Secrets are read from environment variables the program
// names; they are never printed. Control-plane steps (settling a transition,
// breaking the backing) are comments and waits: a target without a control
// plane makes them happen by its own means.
func Program(steps []Step) string {
	p := &printer{vars: map[string]string{}, blobs: map[string]string{}, secrets: map[string]string{}}
	var body bytes.Buffer
	for i, st := range steps {
		if st.Action != 0 && (i == 0 || st.Action != steps[i-1].Action) {
			fmt.Fprintf(&body, "\t// ── Action %d ──\n", st.Action)
		}
		p.step(&body, i+1, st)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Command repro replays a sequence of %d steps (%d actions) that kmsconform's rapid\n", len(steps), actions(steps))
	b.WriteString("// machine shrank: the target left the reference model at the last step.\n")
	b.WriteString("// Run it with AWS_ENDPOINT_URL_KMS (and credentials) set for the target\n")
	b.WriteString("// (for the embedded emulator, `kmsconform serve`, whose control plane holds\n")
	b.WriteString("// the fixture clusters and proxies the inputs name).\n")
	if len(p.secretOrder) > 0 {
		fmt.Fprintf(&b, "// Secrets are not printed: set %s.\n", strings.Join(p.secretOrder, ", "))
	}
	b.WriteString(`package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

var (
	_ = aws.String
	_ = os.Getenv
	_ types.KeyState
	departed bool
`)
	for _, v := range p.varOrder {
		fmt.Fprintf(&b, "\t%s string\n", v)
	}
	for _, v := range p.blobOrder {
		fmt.Fprintf(&b, "\t%s []byte\n", v)
	}
	b.WriteString(`)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	client := kms.NewFromConfig(cfg)
`)
	b.Write(body.Bytes())
	b.WriteString(`	if departed {
		os.Exit(1)
	}
}

// expect prints a step's answer and whether the model allows it.
func expect(step int, op string, err error, allowed ...string) {
	got := "success"
	var api smithy.APIError
	if errors.As(err, &api) {
		got = api.ErrorCode()
	} else if err != nil {
		got = "no answer: " + err.Error()
	}
	for _, a := range allowed {
		if a == got {
			fmt.Printf("step %d %s: %s\n", step, op, got)
			return
		}
	}
	departed = true
	fmt.Printf("step %d %s: %s — the model allows %v\n", step, op, got, allowed)
}

// settle waits until a store is neither CONNECTING nor DISCONNECTING.
func settle(ctx context.Context, client *kms.Client, id string) {
	for i := 0; i < 600; i++ {
		out, err := client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
		if err != nil || len(out.CustomKeyStores) != 1 {
			return
		}
		s := out.CustomKeyStores[0].ConnectionState
		if s != types.ConnectionStateTypeConnecting && s != types.ConnectionStateTypeDisconnecting {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// show prints a store's state, as the model checks it after every step.
func show(ctx context.Context, client *kms.Client, id, want string) {
	out, err := client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	got := "gone"
	if err == nil && len(out.CustomKeyStores) == 1 {
		s := out.CustomKeyStores[0]
		got = string(s.ConnectionState)
		if s.ConnectionErrorCode != "" {
			got += " " + string(s.ConnectionErrorCode)
		}
	}
	mark := ""
	if got != want {
		departed, mark = true, " — the model expects "+want
	}
	fmt.Printf("  store %s: %s%s\n", id, got, mark)
}
`)
	out, err := format.Source(b.Bytes())
	if err != nil {
		// Never expected: the printer's output is Go by construction. Show
		// it anyway, so the sequence is not lost.
		return b.String()
	}
	return string(out)
}

// actions counts the machine's actions in steps.
func actions(steps []Step) int {
	n := 0
	for i, st := range steps {
		if i == 0 || st.Action != steps[i-1].Action {
			n++
		}
	}
	return n
}

type printer struct {
	vars        map[string]string // target id → variable
	varOrder    []string
	blobs       map[string]string // ciphertext → variable
	blobOrder   []string
	secrets     map[string]string // secret → environment variable
	secretOrder []string
}

func (p *printer) newVar(kind, value string) string {
	n := fmt.Sprintf("%s%d", kind, len(p.varOrder)+1)
	p.vars[value] = n
	p.varOrder = append(p.varOrder, n)
	return n
}

func (p *printer) secret(s string) string {
	if n, ok := p.secrets[s]; ok {
		return n
	}
	n := fmt.Sprintf("KMSCONFORM_SECRET_%d", len(p.secretOrder)+1)
	p.secrets[s] = n
	p.secretOrder = append(p.secretOrder, n)
	return n
}

func (p *printer) step(b *bytes.Buffer, n int, st Step) {
	fmt.Fprintf(b, "\t// Step %d: %s\n", n, Describe(st.Call))
	c := st.Call
	switch {
	case c.Op == model.OpSettle:
		if v, ok := p.vars[st.TargetStore]; ok {
			fmt.Fprintf(b, "\t// The machine let the transition end (a target without a control plane ends it on its own).\n\tsettle(ctx, client, %s)\n", v)
		}
	case c.Op.IsEnv():
		fmt.Fprintf(b, "\t// Control plane: %s. Make the same change to your backing, then continue.\n", Describe(c))
		fmt.Fprintf(b, "\tfmt.Println(%q)\n", fmt.Sprintf("step %d: control plane %s", n, c.Op))
	default:
		for i, sc := range st.SDK {
			p.call(b, n, st, i == len(st.SDK)-1, sc)
		}
	}
	for _, e := range st.Expect {
		if v, ok := p.vars[e.TargetID]; ok && !model.ConnectionState(strings.Fields(e.State + " x")[0]).Transient() {
			fmt.Fprintf(b, "\tshow(ctx, client, %s, %q)\n", v, e.State)
		}
	}
	if st.Failure != "" {
		for _, l := range strings.Split(st.Failure, "\n") {
			fmt.Fprintf(b, "\t// The target left the model here: %s\n", l)
		}
	}
	b.WriteString("\n")
}

func (p *printer) call(b *bytes.Buffer, n int, st Step, main bool, sc SDKCall) {
	out := "_"
	var after string
	switch o := sc.Output.(type) {
	case *kms.CreateCustomKeyStoreOutput:
		if o != nil && o.CustomKeyStoreId != nil {
			id := *o.CustomKeyStoreId
			v, known := p.vars[id]
			if !known {
				v = p.newVar("store", id)
			}
			out, after = "out", fmt.Sprintf("\t\tif err == nil {\n\t\t\t%s = aws.ToString(out.CustomKeyStoreId)\n\t\t}\n", v)
			if known {
				out, after = "_", ""
			}
		}
	case *kms.CreateKeyOutput:
		if o != nil && o.KeyMetadata != nil && o.KeyMetadata.KeyId != nil {
			v := p.newVar("key", *o.KeyMetadata.KeyId)
			out, after = "out", fmt.Sprintf("\t\tif err == nil {\n\t\t\t%s = aws.ToString(out.KeyMetadata.KeyId)\n\t\t}\n", v)
		}
	case *kms.EncryptOutput:
		if o != nil && len(o.CiphertextBlob) > 0 {
			v := fmt.Sprintf("blob%d", len(p.blobOrder)+1)
			p.blobs[string(o.CiphertextBlob)] = v
			p.blobOrder = append(p.blobOrder, v)
			out, after = "out", fmt.Sprintf("\t\tif err == nil {\n\t\t\t%s = out.CiphertextBlob\n\t\t}\n", v)
		}
	}
	allowed := []string{sc.Code}
	if main {
		allowed = st.Allowed
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	fmt.Fprintf(b, "\t{\n\t\t%s, err := client.%s(ctx, %s)\n", out, sc.Op, p.lit(reflect.ValueOf(sc.Input), ""))
	fmt.Fprintf(b, "\t\texpect(%d, %q, err, %s)\n%s\t}\n", n, sc.Op, strings.Join(quoted, ", "), after)
}

// lit prints a value as a Go expression.
func (p *printer) lit(v reflect.Value, field string) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		e := v.Elem()
		switch e.Kind() {
		case reflect.String:
			return "aws.String(" + p.str(e.String(), field) + ")"
		case reflect.Int32:
			return fmt.Sprintf("aws.Int32(%d)", e.Int())
		case reflect.Int64:
			return fmt.Sprintf("aws.Int64(%d)", e.Int())
		case reflect.Bool:
			return fmt.Sprintf("aws.Bool(%v)", e.Bool())
		case reflect.Struct:
			return "&" + p.lit(e, field)
		}
		return "nil"
	case reflect.Struct:
		t := v.Type()
		var parts []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || v.Field(i).IsZero() {
				continue
			}
			parts = append(parts, f.Name+": "+p.lit(v.Field(i), f.Name))
		}
		return qualified(t) + "{" + strings.Join(parts, ", ") + "}"
	case reflect.String:
		if v.Type().PkgPath() != "" {
			return qualified(v.Type()) + "(" + strconv.Quote(v.String()) + ")"
		}
		return p.str(v.String(), field)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if name, ok := p.blobs[string(v.Bytes())]; ok {
				return name
			}
			return "[]byte(" + strconv.Quote(string(v.Bytes())) + ")"
		}
		var parts []string
		for i := 0; i < v.Len(); i++ {
			parts = append(parts, p.lit(v.Index(i), field))
		}
		return "[]" + typeName(v.Type().Elem()) + "{" + strings.Join(parts, ", ") + "}"
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		var parts []string
		for _, k := range keys {
			parts = append(parts, strconv.Quote(k.String())+": "+p.lit(v.MapIndex(k), field))
		}
		return "map[string]" + typeName(v.Type().Elem()) + "{" + strings.Join(parts, ", ") + "}"
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	}
	return "nil"
}

// str prints a string: a known id as its variable, a secret as an
// environment lookup, anything else quoted.
func (p *printer) str(s, field string) string {
	if v, ok := p.vars[s]; ok {
		return v
	}
	switch field {
	case "KeyStorePassword", "RawSecretAccessKey":
		return "os.Getenv(" + strconv.Quote(p.secret(s)) + ")"
	}
	return strconv.Quote(s)
}

func qualified(t reflect.Type) string { return typeName(t) }

func typeName(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.Pointer:
		return "*" + typeName(t.Elem())
	case strings.HasSuffix(t.PkgPath(), "service/kms/types"):
		return "types." + t.Name()
	case strings.HasSuffix(t.PkgPath(), "service/kms"):
		return "kms." + t.Name()
	}
	return t.String()
}
