package model

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// allowedPages are the AWS pages a rule may link to: the API Reference page
// of every operation of the pinned AWS model, the API Reference pages listed
// here, the Developer Guide pages the behaviour reference lists among its
// sources (spec/custom-key-stores.md §11), and the XKS proxy API
// specification.
func allowedPages(t *testing.T) map[string]bool {
	t.Helper()
	allowed := map[string]bool{
		"https://github.com/aws/aws-kms-xksproxy-api-spec/blob/main/xks_proxy_api_spec.md": true,
	}
	for op := range loadAWSModel(t).Operations {
		allowed["https://docs.aws.amazon.com/kms/latest/APIReference/API_"+op+".html"] = true
	}
	for _, p := range []string{"API_CustomKeyStoresListEntry.html", "CommonErrors.html"} {
		allowed["https://docs.aws.amazon.com/kms/latest/APIReference/"+p] = true
	}
	for _, p := range []string{
		"key-state", "fix-keystore", "disconnect-keystore", "xks-connect-disconnect", "xks-troubleshooting",
		"create-keystore", "create-xks-keystore", "create-cmk-keystore", "create-xks-keys",
		"update-keystore", "update-xks-keystore", "delete-keystore", "delete-xks", "delete-cmk-keystore", "delete-xks-key",
		"use-cmk-keystore", "use-xks-key", "view-xks-key", "keystore-external",
		"resource-limits", "requests-per-second", "programming-eventual-consistency",
	} {
		allowed["https://docs.aws.amazon.com/kms/latest/developerguide/"+p+".html"] = true
	}
	return allowed
}

// TestEveryRuleLinksToAWS: every rule of the model links to at least one
// AWS page, every link is an allowed page with a title, none twice, in the
// same order every time, and every § and tag its Source cites is one the
// mapping knows.
func TestEveryRuleLinksToAWS(t *testing.T) {
	allowed := allowedPages(t)
	used := map[string]bool{}
	for _, r := range Rules() {
		if u := unknownRefs(r.Source); len(u) > 0 {
			t.Errorf("%s: the source %q cites %q, which the link mapping does not know", r.ID, r.Source, u)
		}
		links := r.Links()
		if len(links) == 0 {
			t.Errorf("%s: no AWS page (source %q); map its sections or add it to idPages", r.ID, r.Source)
		}
		seen := map[string]bool{}
		for _, l := range links {
			if !allowed[l.URL] {
				t.Errorf("%s: %s is not an allowed page", r.ID, l.URL)
			}
			if l.Title == "" || strings.HasSuffix(l.Title, ": ") {
				t.Errorf("%s: %s has no title", r.ID, l.URL)
			}
			if seen[l.URL] {
				t.Errorf("%s: %s twice", r.ID, l.URL)
			}
			seen[l.URL] = true
			used[l.URL] = true
		}
		if len(links) > 5 {
			t.Errorf("%s: %d links; a few well-chosen ones read better", r.ID, len(links))
		}
		if again := r.Links(); !slices.Equal(links, again) {
			t.Errorf("%s: links differ between two calls: %v, %v", r.ID, links, again)
		}
	}
	t.Logf("%d rules link to %d distinct pages", len(Rules()), len(used))
}

// TestLinkTablesAllowed checks every page the mapping can give, not only
// the ones today's rules reach: a rule added tomorrow that cites §4.3 gets
// an allowed page, and an id the model no longer has is not kept in the
// table.
func TestLinkTablesAllowed(t *testing.T) {
	allowed := allowedPages(t)
	check := func(where string, ps []page) {
		t.Helper()
		for _, p := range ps {
			if u := p.link().URL; !allowed[u] {
				t.Errorf("%s: %s is not an allowed page", where, u)
			}
		}
	}
	for s, ps := range sectionPages {
		check("§"+s, ps)
	}
	for c, ps := range contradictionPages {
		check("C-"+c, ps)
	}
	for f, ps := range modelFiles {
		check("[M:"+f+"]", ps)
	}
	for p, ps := range prefixOperations {
		check(p+".*", ps)
	}
	ids := map[string]bool{}
	for _, r := range Rules() {
		ids[r.ID] = true
	}
	for id, ps := range idPages {
		check(id, ps)
		if !ids[id] {
			t.Errorf("idPages has %s, which is not a rule of the model", id)
		}
	}
	for g := range guidePages {
		check("[DG:"+g+"]", guide(g))
	}
	for a := range apiPages {
		check(a, []page{{kindAPI, a}})
	}
	for _, op := range operations {
		check(op, ops(op))
	}
	if got, want := len(operations), len(loadAWSModel(t).Operations); got != want {
		t.Errorf("links.go knows %d operations, the AWS model has %d", got, want)
	}
	// The sections and contradictions of spec/custom-key-stores.md.
	sections := []string{"1", "1.1", "2", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10",
		"3", "3.1", "3.2", "3.3", "4", "4.1", "4.2", "4.3", "5", "6", "6.1", "6.2", "6.3", "6.4",
		"7", "7.1", "7.2", "7.3", "7.4", "8", "9", "10", "11"}
	for _, s := range sections {
		if _, ok := sectionPages[s]; !ok {
			t.Errorf("§%s of the behaviour reference is not mapped", s)
		}
	}
	if len(sectionPages) != len(sections) {
		t.Errorf("%d sections mapped, the behaviour reference has %d", len(sectionPages), len(sections))
	}
	for i := 1; i <= 16; i++ {
		if _, ok := contradictionPages[strconv.Itoa(i)]; !ok {
			t.Errorf("C-%d is not mapped", i)
		}
	}
}

// TestLinksMostSpecific pins the choices: an operation's rule links to the
// operation's API Reference page first, even when its Source cites only the
// operation × state table; key states go to the key-state page, quotas to
// the quota page, proxy behaviour to the XKS specification, a failed
// connection to the troubleshooting page of its store type.
func TestLinksMostSpecific(t *testing.T) {
	const (
		api   = "https://docs.aws.amazon.com/kms/latest/APIReference/"
		guide = "https://docs.aws.amazon.com/kms/latest/developerguide/"
		xks   = "https://github.com/aws/aws-kms-xksproxy-api-spec/blob/main/xks_proxy_api_spec.md"
	)
	for _, tc := range []struct {
		id          string
		first       string
		has, hasNot []string
	}{
		{id: "connect.starts", first: api + "API_ConnectCustomKeyStore.html"},
		{id: "disconnect.invalid-state", first: api + "API_DisconnectCustomKeyStore.html"}, // Source: §3 only
		{id: "createkey.store-not-found", first: api + "API_CreateKey.html"},               // Source: §3 only
		{id: "delete.invalid-state-with-keys", first: api + "API_DeleteCustomKeyStore.html"},
		{id: "key.not-found", first: api + "API_DescribeKey.html"}, // [M:api_op_DescribeKey.go]
		{id: "crypto.unavailable", has: []string{guide + "key-state.html"}},
		{id: "describekey.ok", first: api + "API_DescribeKey.html", has: []string{guide + "key-state.html"}},
		{id: "create.quota", has: []string{guide + "resource-limits.html"}, hasNot: []string{guide + "requests-per-second.html"}},
		{id: "xks.proxy-precedence", has: []string{xks}},
		{id: "createkey.xks-access-denied", has: []string{api + "API_CreateKey.html", xks}}, // C-7
		{id: "settle.failed-cloudhsm", first: api + "API_ConnectCustomKeyStore.html",
			has: []string{guide + "fix-keystore.html"}, hasNot: []string{guide + "xks-troubleshooting.html"}},
		{id: "settle.kmsuser-lockout", has: []string{guide + "fix-keystore.html"}, hasNot: []string{guide + "xks-troubleshooting.html"}},
		{id: "settle.failed-xks", has: []string{guide + "xks-troubleshooting.html", xks}, hasNot: []string{guide + "fix-keystore.html"}},
		{id: "settle.stable", has: []string{guide + "xks-connect-disconnect.html"}},
		{id: "update.xks-any-state", has: []string{api + "API_UpdateCustomKeyStore.html", guide + "update-xks-keystore.html"}},
		{id: "crypto.ok", has: []string{guide + "use-cmk-keystore.html", guide + "use-xks-key.html"}},
		// "Verify the value of the XksProxyUriPath" quotes a message, not
		// the Verify operation.
		{id: "settle.failed-xks-inferred", hasNot: []string{api + "API_Verify.html"}},
	} {
		var r *Rule
		for _, rl := range Rules() {
			if rl.ID == tc.id {
				r = rl
			}
		}
		if r == nil {
			t.Errorf("%s: no such rule", tc.id)
			continue
		}
		var urls []string
		for _, l := range r.Links() {
			urls = append(urls, l.URL)
		}
		if tc.first != "" && (len(urls) == 0 || urls[0] != tc.first) {
			t.Errorf("%s: links %v, want %s first", tc.id, urls, tc.first)
		}
		for _, u := range tc.has {
			if !slices.Contains(urls, u) {
				t.Errorf("%s: links %v lack %s", tc.id, urls, u)
			}
		}
		for _, u := range tc.hasNot {
			if slices.Contains(urls, u) {
				t.Errorf("%s: links %v include %s", tc.id, urls, u)
			}
		}
	}
}

// TestUnknownRefs: a section, contradiction, Developer Guide page or model
// file the mapping does not know is reported, so a new citation cannot go
// unlinked unnoticed.
func TestUnknownRefs(t *testing.T) {
	for _, tc := range []struct {
		source string
		want   []string
	}{
		{"§2.4, C-1 [DG:fix-keystore]; [M:api_op_DescribeKey.go] errors; [M:types/types.go X] [B] [X] [SDK:aws/retry]", nil},
		{"§12", []string{"§12"}},
		{"§2.11 and §4.4", []string{"§2.11", "§4.4"}},
		{"C-17", []string{"C-17"}},
		{"[DG:no-such-page]", []string{"[DG:no-such-page]"}},
		{"[M:api_op_NoSuchOperation.go]", []string{"[M:api_op_NoSuchOperation.go]"}},
		{"[M:foo.go]", []string{"[M:foo.go]"}},
	} {
		if got := unknownRefs(tc.source); !slices.Equal(got, tc.want) {
			t.Errorf("unknownRefs(%q) = %q, want %q", tc.source, got, tc.want)
		}
	}
	// A rule that cites nothing and whose id names nothing has no link:
	// TestEveryRuleLinksToAWS then asks for an idPages entry.
	if l := (&Rule{ID: "nothing.here", Source: "—"}).Links(); len(l) != 0 {
		t.Errorf("links of a rule that cites nothing: %v", l)
	}
	// A Developer Guide page the Source names replaces the ones its
	// section only implies.
	got := (&Rule{ID: "x.y", Source: "§8 [DG:resource-limits]"}).Links()
	want := []Link{{"Developer Guide: Resource quotas", "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html"}}
	if !slices.Equal(got, want) {
		t.Errorf("§8 [DG:resource-limits]: %v, want %v", got, want)
	}
	got = (&Rule{ID: "x.y", Source: "§8"}).Links()
	if len(got) != 2 {
		t.Errorf("§8: %v, want the resource and request quota pages", got)
	}
}
