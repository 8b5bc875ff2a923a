package model

import (
	"regexp"
	"slices"
	"strings"
)

// Link is an AWS page a rule rests on: the API Reference page of an
// operation, a page of the KMS Developer Guide, or the XKS proxy API
// specification. A rule's Source cites the behaviour reference
// (spec/custom-key-stores.md), which users do not have; its links are the
// pages that reference was written from.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

const (
	apiReferenceURL   = "https://docs.aws.amazon.com/kms/latest/APIReference/"
	developerGuideURL = "https://docs.aws.amazon.com/kms/latest/developerguide/"
	// XKSSpecURL is the XKS proxy API specification, the [X] of the
	// behaviour reference.
	XKSSpecURL = "https://github.com/aws/aws-kms-xksproxy-api-spec/blob/main/xks_proxy_api_spec.md"
)

// Links returns the AWS pages the rule rests on, at most a few, each once,
// in a stable order: API Reference pages of operations, then Developer
// Guide pages, then other API Reference pages, then the XKS specification.
//
// They are derived from the Source: a § number stands for the pages that
// section was written from (an operation's section for its API Reference
// page, §5 for the key-state page, §7 for the XKS specification, §8 for the
// quota pages, a C-n contradiction for the pages that disagree); a [DG:page]
// tag is that Developer Guide page; an [M:api_op_X.go] tag is X's API
// Reference page (the same text); an operation named in the Source's words
// is that operation's page. A Developer Guide page the Source (or the id
// table) names outright replaces the ones its sections only imply. Where the
// Source is too coarse (§3, the operation × state table, says nothing of
// which operation), the rule's id names the operation.
func (r *Rule) Links() []Link {
	var explicit, implied []page
	explicit = append(explicit, idOperations(r.ID)...)
	explicit = append(explicit, idPages[r.ID]...)
	for _, ref := range sourceRefs(r.Source) {
		ps, ok := refPages(ref, r.ID)
		if !ok {
			continue
		}
		if ref.kind == refSection || ref.kind == refContradiction {
			for _, p := range ps {
				if p.kind == kindGuide {
					implied = append(implied, p)
				} else {
					explicit = append(explicit, p)
				}
			}
			continue
		}
		explicit = append(explicit, ps...)
	}
	named := false
	for _, p := range explicit {
		if p.kind == kindGuide {
			named = true
		}
	}
	all := explicit
	if !named {
		all = append(all, implied...)
	}
	var out []Link
	seen := map[page]bool{}
	for _, k := range []pageKind{kindOperation, kindGuide, kindAPI, kindXKS} {
		for _, p := range all {
			if p.kind == k && !seen[p] {
				seen[p] = true
				out = append(out, p.link())
			}
		}
	}
	return out
}

type pageKind int

const (
	kindOperation pageKind = iota // API Reference page of an operation
	kindGuide                     // Developer Guide page
	kindAPI                       // another API Reference page (a data type, the common errors)
	kindXKS                       // the XKS proxy API specification
)

type page struct {
	kind pageKind
	name string // operation, Developer Guide page or API Reference page name
}

func (p page) link() Link {
	switch p.kind {
	case kindOperation:
		return Link{Title: "API Reference: " + p.name, URL: apiReferenceURL + "API_" + p.name + ".html"}
	case kindGuide:
		return Link{Title: "Developer Guide: " + guidePages[p.name], URL: developerGuideURL + p.name + ".html"}
	case kindAPI:
		return Link{Title: "API Reference: " + apiPages[p.name].title, URL: apiReferenceURL + apiPages[p.name].file}
	default:
		return Link{Title: "XKS Proxy API specification", URL: XKSSpecURL}
	}
}

func ops(names ...string) []page {
	out := make([]page, len(names))
	for i, n := range names {
		out[i] = page{kindOperation, n}
	}
	return out
}

func guide(names ...string) []page {
	out := make([]page, len(names))
	for i, n := range names {
		out[i] = page{kindGuide, n}
	}
	return out
}

func join(pss ...[]page) []page {
	var out []page
	for _, ps := range pss {
		out = append(out, ps...)
	}
	return out
}

var (
	listEntry    = []page{{kindAPI, "CustomKeyStoresListEntry"}}
	commonErrors = []page{{kindAPI, "CommonErrors"}}
	xksSpec      = []page{{kindXKS, ""}}
)

// operations are the KMS operations (those of
// testdata/aws-kms-operations.json): each has an API Reference page
// API_<name>.html.
var operations = []string{
	"CancelKeyDeletion", "ConnectCustomKeyStore", "CreateAlias", "CreateCustomKeyStore", "CreateGrant", "CreateKey",
	"Decrypt", "DeleteAlias", "DeleteCustomKeyStore", "DeleteImportedKeyMaterial", "DeriveSharedSecret",
	"DescribeCustomKeyStores", "DescribeKey", "DisableKey", "DisableKeyRotation", "DisconnectCustomKeyStore",
	"EnableKey", "EnableKeyRotation", "Encrypt", "GenerateDataKey", "GenerateDataKeyPair",
	"GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GenerateRandom",
	"GetKeyLastUsage", "GetKeyPolicy", "GetKeyRotationStatus", "GetParametersForImport", "GetPublicKey",
	"ImportKeyMaterial", "ListAliases", "ListGrants", "ListKeyPolicies", "ListKeyRotations", "ListKeys",
	"ListResourceTags", "ListRetirableGrants", "PutKeyPolicy", "ReEncrypt", "ReplicateKey", "RetireGrant",
	"RevokeGrant", "RotateKeyOnDemand", "ScheduleKeyDeletion", "Sign", "TagResource", "UntagResource", "UpdateAlias",
	"UpdateCustomKeyStore", "UpdateKeyDescription", "UpdatePrimaryRegion", "Verify", "VerifyMac",
}

// guidePages are the Developer Guide pages the behaviour reference lists
// among its sources (§11), with their titles.
var guidePages = map[string]string{
	"key-state":                        "Key states of AWS KMS keys",
	"fix-keystore":                     "Troubleshooting a custom key store",
	"disconnect-keystore":              "Disconnect an AWS CloudHSM key store",
	"xks-connect-disconnect":           "Connect and disconnect external key stores",
	"xks-troubleshooting":              "Troubleshooting external key stores",
	"create-keystore":                  "Create an AWS CloudHSM key store",
	"create-xks-keystore":              "Create an external key store",
	"create-cmk-keystore":              "Create KMS keys in an AWS CloudHSM key store",
	"create-xks-keys":                  "Create a KMS key in external key stores",
	"update-keystore":                  "Edit AWS CloudHSM key store settings",
	"update-xks-keystore":              "Edit external key store properties",
	"delete-keystore":                  "Delete an AWS CloudHSM key store",
	"delete-xks":                       "Delete an external key store",
	"delete-cmk-keystore":              "Delete a KMS key from an AWS CloudHSM key store",
	"delete-xks-key":                   "Delete a KMS key from an external key store",
	"use-cmk-keystore":                 "Using KMS keys in an AWS CloudHSM key store",
	"use-xks-key":                      "Using KMS keys in an external key store",
	"view-xks-key":                     "View KMS keys in an external key store",
	"keystore-external":                "External key stores",
	"resource-limits":                  "Resource quotas",
	"requests-per-second":              "Request quotas",
	"programming-eventual-consistency": "Eventual consistency",
}

// apiPages are the API Reference pages that are not operations.
var apiPages = map[string]struct{ title, file string }{
	"CustomKeyStoresListEntry": {"CustomKeyStoresListEntry", "API_CustomKeyStoresListEntry.html"},
	// The errors every operation may answer that its own page does not
	// list (ValidationError, ThrottlingException, an unknown action).
	"CommonErrors": {"Common errors", "CommonErrors.html"},
}

// sectionPages are the pages each section of the behaviour reference was
// written from. A section that maps to nothing is known but rests on no AWS
// page of its own (§3 says which answer each operation gets in each state:
// the operation comes from the rule's id; §6.4 is the Go SDK's behaviour).
var sectionPages = map[string][]page{
	"1":    listEntry,
	"1.1":  ops("CreateCustomKeyStore", "UpdateCustomKeyStore"),
	"2":    nil,
	"2.1":  ops("CreateCustomKeyStore"),
	"2.2":  ops("ConnectCustomKeyStore"),
	"2.3":  ops("DisconnectCustomKeyStore"),
	"2.4":  ops("UpdateCustomKeyStore"),
	"2.5":  ops("DeleteCustomKeyStore"),
	"2.6":  ops("DescribeCustomKeyStores"),
	"2.7":  ops("CreateKey"),
	"2.8":  ops("GenerateRandom"),
	"2.9":  guide("use-cmk-keystore", "use-xks-key"),
	"2.10": guide("key-state"),
	"3":    nil,
	"3.1":  nil,
	"3.2":  nil,
	"3.3":  nil,
	"4":    guide("xks-connect-disconnect"),
	"4.1":  guide("xks-connect-disconnect"),
	"4.2":  listEntry, // and the troubleshooting page of the store type: see refPages
	"4.3":  guide("disconnect-keystore", "xks-connect-disconnect"),
	"5":    guide("key-state"),
	"6":    commonErrors,
	"6.1":  commonErrors,
	"6.2":  commonErrors,
	"6.3":  commonErrors,
	"6.4":  nil,
	"7":    xksSpec,
	"7.1":  xksSpec,
	"7.2":  xksSpec,
	"7.3":  xksSpec,
	"7.4":  xksSpec,
	"8":    guide("resource-limits", "requests-per-second"),
	"9":    nil,
	"10":   nil,
	"11":   nil,
}

// contradictionPages are the pages that disagree in each contradiction of
// §10.
var contradictionPages = map[string][]page{
	"1":  join(ops("UpdateCustomKeyStore"), guide("update-xks-keystore")),
	"2":  ops("UpdateCustomKeyStore"),
	"3":  join(ops("ConnectCustomKeyStore"), guide("xks-connect-disconnect")),
	"4":  join(ops("GenerateDataKey"), guide("use-cmk-keystore", "use-xks-key")),
	"5":  guide("fix-keystore"),
	"6":  join(ops("ConnectCustomKeyStore"), guide("xks-troubleshooting")),
	"7":  join(ops("CreateKey"), xksSpec),
	"8":  join(ops("DescribeKey"), xksSpec),
	"9":  guide("resource-limits"),
	"10": ops("CreateCustomKeyStore", "UpdateCustomKeyStore"),
	"11": join(ops("ConnectCustomKeyStore"), guide("fix-keystore")),
	"12": ops("ScheduleKeyDeletion"),
	"13": ops("GenerateRandom", "CreateKey"),
	"14": guide("xks-troubleshooting", "key-state"),
	"15": join(ops("CreateCustomKeyStore"), guide("create-keystore")),
	"16": ops("CreateCustomKeyStore", "CreateKey"),
}

// modelFiles are the files of the Go SDK module ([M:file]) that are not an
// operation's api_op_X.go, with the page their doc comments are published
// on (none for files that are code, not documentation).
var modelFiles = map[string][]page{
	"types/types.go":     listEntry,
	"types/errors.go":    nil,
	"types/enums.go":     nil,
	"schemas/schemas.go": nil,
	"schemas":            nil,
	"validators.go":      nil,
}

// prefixOperations name the operation of a rule by its id's first segment.
var prefixOperations = map[string][]page{
	"connect":           ops("ConnectCustomKeyStore"),
	"disconnect":        ops("DisconnectCustomKeyStore"),
	"update":            ops("UpdateCustomKeyStore"),
	"delete":            ops("DeleteCustomKeyStore"),
	"describe":          ops("DescribeCustomKeyStores"),
	"create":            ops("CreateCustomKeyStore"),
	"createkey":         ops("CreateKey"),
	"random":            ops("GenerateRandom"),
	"describekey":       ops("DescribeKey"),
	"enable-disable":    ops("EnableKey", "DisableKey"),
	"schedule-deletion": ops("ScheduleKeyDeletion"),
	"cancel-deletion":   ops("CancelKeyDeletion"),
}

// idPages add the pages of rules whose Source is too coarse for them:
// the operation a settle step follows, the operations a check happens in,
// the page that documents what the Source only cites by section.
var idPages = map[string][]page{
	"settle.connected":               ops("ConnectCustomKeyStore"),
	"settle.failed-cloudhsm":         ops("ConnectCustomKeyStore"),
	"settle.failed-cloudhsm-late":    ops("ConnectCustomKeyStore"),
	"settle.kmsuser-lockout":         ops("ConnectCustomKeyStore"),
	"settle.failed-xks":              ops("ConnectCustomKeyStore"),
	"settle.failed-xks-inferred":     ops("ConnectCustomKeyStore"),
	"settle.failed-xks-undocumented": ops("ConnectCustomKeyStore"),
	"settle.disconnected":            ops("DisconnectCustomKeyStore"),
	"precedence.content":             ops("CreateCustomKeyStore", "UpdateCustomKeyStore"),
	"create.cloudhsm-idempotent":     guide("create-keystore"),
	"xks.vpc-service-checks":         ops("UpdateCustomKeyStore", "ConnectCustomKeyStore"),
	"xks.health-check-tls":           ops("CreateCustomKeyStore", "UpdateCustomKeyStore"),
	"xks.health-check-access-denied": ops("CreateCustomKeyStore", "UpdateCustomKeyStore"),
	"createkey.unsupported-key":      guide("create-xks-keys"),
	"describekey.transient":          guide("key-state"),
	"crypto.unavailable-transient":   guide("disconnect-keystore", "xks-connect-disconnect"),
	"crypto.cloudhsm-transient":      guide("fix-keystore"),
	"keyop.unsupported":              ops("EnableKeyRotation", "GetParametersForImport"),
	"keyop.unsupported-unavailable":  ops("EnableKeyRotation", "GetParametersForImport", "GenerateDataKeyPair"),
	"keyop.unsupported-inferred":     ops("GenerateDataKeyPair"),
	"out-of-scope.plain-key":         ops("CreateKey"),
	// A change of the backing never changes a key's state; it only makes
	// operations fail (the key-state page says so).
	"env.change":               guide("key-state"),
	"env.deletion-window-ends": ops("ScheduleKeyDeletion"),
}

func idOperations(id string) []page {
	prefix, _, _ := strings.Cut(id, ".")
	return prefixOperations[prefix]
}

type refKind int

const (
	refSection       refKind = iota // §2.4
	refContradiction                // C-1
	refGuide                        // [DG:page]
	refModel                        // [M:file]
	refTag                          // [B], [X], [SG:…], [SDK:…]
	refOperation                    // an operation named in the Source's words
	refKeyState                     // the key-state table (and its footnotes)
	refErrorCode                    // the SDK's ConnectionErrorCode
)

type ref struct {
	kind refKind
	text string // as written
	arg  string // the section, contradiction number, page, file or tag
}

var refRE = regexp.MustCompile(`§(\d+(?:\.\d+)*)` +
	`|\bC-(\d+)\b` +
	`|\[(DG|M|B|X|SG|SDK)(?::([^\]]*))?\]` +
	`|\b(` + strings.Join(mentionable(), "|") + `)\b` +
	`|\b(key-state|footnotes?)\b` +
	`|\b(ConnectionErrorCode)\b`)

// sourceRefs lists what a Source cites, in order.
func sourceRefs(source string) []ref {
	var out []ref
	for _, m := range refRE.FindAllStringSubmatch(source, -1) {
		switch {
		case m[1] != "":
			out = append(out, ref{refSection, m[0], m[1]})
		case m[2] != "":
			out = append(out, ref{refContradiction, m[0], m[2]})
		case m[3] == "DG":
			out = append(out, ref{refGuide, m[0], m[4]})
		case m[3] == "M":
			out = append(out, ref{refModel, m[0], m[4]})
		case m[3] != "":
			out = append(out, ref{refTag, m[0], m[3]})
		case m[5] != "":
			out = append(out, ref{refOperation, m[0], m[5]})
		case m[6] != "":
			out = append(out, ref{refKeyState, m[0], m[6]})
		default:
			out = append(out, ref{refErrorCode, m[0], m[7]})
		}
	}
	return out
}

// refPages returns the pages a reference stands for, and whether the
// mapping knows it.
func refPages(r ref, id string) ([]page, bool) {
	switch r.kind {
	case refSection:
		ps, ok := sectionPages[r.arg]
		if r.arg == "4.2" {
			// The ConnectionErrorCode values and what to do about them:
			// each store type has its own troubleshooting page.
			cloudHSM := strings.Contains(id, "cloudhsm") || strings.Contains(id, "kmsuser")
			xks := strings.Contains(id, "xks")
			if cloudHSM || !xks {
				ps = append(append([]page(nil), ps...), guide("fix-keystore")...)
			}
			if xks || !cloudHSM {
				ps = append(append([]page(nil), ps...), guide("xks-troubleshooting")...)
			}
		}
		return ps, ok
	case refContradiction:
		ps, ok := contradictionPages[r.arg]
		return ps, ok
	case refGuide:
		_, ok := guidePages[r.arg]
		return guide(r.arg), ok
	case refModel:
		file, _, _ := strings.Cut(r.arg, " ")
		if op, ok := strings.CutPrefix(file, "api_op_"); ok {
			op, ok = strings.CutSuffix(op, ".go")
			return ops(op), ok && slices.Contains(operations, op)
		}
		ps, ok := modelFiles[file]
		return ps, ok
	case refTag:
		if r.arg == "X" {
			return xksSpec, true
		}
		// botocore, smithy-go and the SDK core: code, not published pages.
		return nil, true
	case refOperation:
		return ops(r.arg), true
	case refKeyState:
		return guide("key-state"), true
	default:
		return listEntry, true
	}
}

// mentionable are the operations a Source cites by naming them in its
// words: those whose name is not also an English word that may start a
// quoted sentence ("Verify the value of …"), that is, names of two words
// or more.
func mentionable() []string {
	var out []string
	for _, op := range operations {
		if strings.IndexFunc(op[1:], func(r rune) bool { return r >= 'A' && r <= 'Z' }) >= 0 {
			out = append(out, op)
		}
	}
	return out
}

// unknownRefs returns the references of a Source the mapping does not know
// (a section the behaviour reference does not have, a Developer Guide page
// it does not list, a model file with no known page).
func unknownRefs(source string) []string {
	var out []string
	for _, r := range sourceRefs(source) {
		if _, ok := refPages(r, ""); !ok {
			out = append(out, r.text)
		}
	}
	return out
}
