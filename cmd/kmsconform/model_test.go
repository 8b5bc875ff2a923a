package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kmsconform/kmsconform/model"
)

func TestModelCommandPrintsEveryCell(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"model"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	md := out.String()
	if !strings.Contains(md, model.Revision()) {
		t.Error("the table does not name the model revision")
	}
	// Count the rendered cells: non-empty matrix entries of each store type's table.
	sections := strings.Split(md, "\n## ")
	rendered := 0
	for _, sec := range sections {
		if !strings.HasPrefix(sec, string(model.CloudHSM)) && !strings.HasPrefix(sec, string(model.External)) {
			continue
		}
		for _, line := range strings.Split(sec, "\n") {
			if !strings.HasPrefix(line, "| `") {
				continue
			}
			cols := strings.Split(strings.TrimSuffix(strings.TrimPrefix(line, "| "), " |"), " | ")
			if len(cols) != 1+len(model.Columns) {
				t.Fatalf("row has %d columns: %s", len(cols), line)
			}
			for _, c := range cols[1:] {
				if strings.TrimSpace(c) != "" {
					rendered++
				}
			}
		}
	}
	if want := len(model.Cells()); rendered != want {
		t.Errorf("rendered %d cells, the model has %d", rendered, want)
	}
	for _, r := range model.Rules() {
		if !strings.Contains(md, "| `"+r.ID+"` | "+string(r.Status)+" |") {
			t.Errorf("rule %s missing from the rule table", r.ID)
		}
		// Each rule's row links to the AWS pages it rests on.
		links := r.Links()
		if len(links) == 0 {
			t.Errorf("rule %s has no AWS page", r.ID)
		}
		row := "| `" + r.ID + "` | " + string(r.Status) + " | " + escape(r.Source) + " | " + linksText(links) + " |"
		if !strings.Contains(md, row) {
			t.Errorf("rule %s: the table lacks %q", r.ID, row)
		}
		for _, l := range links {
			if !strings.Contains(md, "]("+l.URL+")") {
				t.Errorf("rule %s: no Markdown link to %s", r.ID, l.URL)
			}
		}
	}
	if want := "| `connect.starts` | D | §2.2, §3 | [API Reference: ConnectCustomKeyStore](https://docs.aws.amazon.com/kms/latest/APIReference/API_ConnectCustomKeyStore.html) |"; !strings.Contains(md, want) {
		t.Errorf("table lacks %q", want)
	}
	for _, want := range []string{"200 →CONNECTING", "200 (the existing id)", "key Enabled (shown Unavailable)", "200 →DISCONNECTING/DISCONNECTED"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

func TestModelCommandRejectsArguments(t *testing.T) {
	for _, args := range [][]string{{"model", "--nope"}, {"model", "extra"}} {
		var out, errOut bytes.Buffer
		if code := dispatch(args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if errOut.Len() == 0 {
			t.Errorf("%v: no message", args)
		}
	}
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"no-such-command"}, &out, &errOut); code != 2 || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("unknown command: exit %d, message %q", code, errOut.String())
	}
}
