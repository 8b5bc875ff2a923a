package model

import (
	"sort"
	"strings"
	"testing"
)

// spec3 is the operation × ConnectionState table of spec §3, written down
// independently of the model: for each cell variant, the answers allowed in
// each column (Short names, "|"-separated), and for 200 the state the store
// moves to ("" = unchanged). A "*" entry applies to every state column.
// Entries may be split by store type with a "CloudHSM:" / "XKS:" prefix.
var spec3 = map[string]map[Column]string{
	"ConnectCustomKeyStore": {
		"DISCONNECTED": "200→CONNECTING", "CONNECTING": "200|ICS", "CONNECTED": "200|ICS",
		"DISCONNECTING": "ICS", "FAILED": "ICS", NoSuchStore: "CKSNotFound",
	},
	"DisconnectCustomKeyStore": {
		"DISCONNECTED": "ICS", "CONNECTING": "200→DISCONNECTING", "CONNECTED": "200→DISCONNECTING",
		"DISCONNECTING": "ICS", "FAILED": "200→DISCONNECTING,DISCONNECTED", NoSuchStore: "CKSNotFound",
	},
	"UpdateCustomKeyStore/name": {
		"DISCONNECTED": "200", "CONNECTED": "CloudHSM:200|ICS XKS:200",
		"CONNECTING": "CloudHSM:ICS XKS:200|ICS", "DISCONNECTING": "CloudHSM:ICS XKS:200|ICS", "FAILED": "CloudHSM:ICS XKS:200|ICS",
		NoSuchStore: "CKSNotFound",
	},
	"UpdateCustomKeyStore/xks-credential": {
		"DISCONNECTED": "200", "CONNECTED": "200|ICS", "CONNECTING": "200|ICS", "DISCONNECTING": "200|ICS", "FAILED": "200|ICS",
		NoSuchStore: "CKSNotFound",
	},
	"UpdateCustomKeyStore/other": {
		"DISCONNECTED": "200", "CONNECTING": "ICS", "CONNECTED": "ICS", "DISCONNECTING": "ICS", "FAILED": "ICS", NoSuchStore: "CKSNotFound",
	},
	"DeleteCustomKeyStore": {
		"DISCONNECTED": "200", "CONNECTING": "ICS", "CONNECTED": "ICS", "DISCONNECTING": "ICS", "FAILED": "ICS", NoSuchStore: "CKSNotFound",
	},
	"DeleteCustomKeyStore/with-keys": {
		"DISCONNECTED": "CustomKeyStoreHasCMKs", "*": "CustomKeyStoreHasCMKs|ICS",
	},
	"DescribeCustomKeyStores/by-id":       {"*": "200", NoSuchStore: "CKSNotFound"},
	"DescribeCustomKeyStores/by-name":     {"*": "200", NoSuchStore: "CKSNotFound"},
	"DescribeCustomKeyStores/all":         {"*": "200", NoSuchStore: "200"},
	"CreateCustomKeyStore/duplicate-name": {"*": "CustomKeyStoreNameInUse"},
	"CreateCustomKeyStore/identical": {
		"DISCONNECTED": "CloudHSM:200 XKS:CustomKeyStoreNameInUse|XksProxyUriInUse",
		// The FAILED route made the proxy refuse the credential, so the
		// health check of an XKS create fails as well.
		"FAILED": "CloudHSM:CloudHsmClusterInUse|CustomKeyStoreNameInUse XKS:CustomKeyStoreNameInUse|XksProxyIncorrectAuthenticationCredential|XksProxyUriInUse",
		"*":      "CloudHSM:CloudHsmClusterInUse|CustomKeyStoreNameInUse XKS:CustomKeyStoreNameInUse|XksProxyUriInUse",
	},
	"CreateCustomKeyStore/fresh":      {"*": "200", NoSuchStore: "200"},
	"CreateCustomKeyStore/over-quota": {"*": "LimitExceeded"},
	"CreateKey":                       {"CONNECTED": "200", "*": "ICS", NoSuchStore: "CKSNotFound"},
	"GenerateRandom": {
		"CONNECTED": "CloudHSM:200 XKS:UnsupportedOperation", "*": "CloudHSM:ICS XKS:UnsupportedOperation", NoSuchStore: "CKSNotFound",
	},
	"Encrypt":                         {"CONNECTED": "200", "*": "KMSInvalidState"},
	"Decrypt":                         {"CONNECTED": "200", "*": "KMSInvalidState"},
	"ReEncrypt":                       {"CONNECTED": "200", "*": "KMSInvalidState"},
	"GenerateDataKey":                 {"CONNECTED": "200", "*": "KMSInvalidState"},
	"GenerateDataKeyWithoutPlaintext": {"CONNECTED": "200", "*": "KMSInvalidState"},
	"DescribeKey":                     {"*": "200"},
	"EnableKey":                       {"*": "200"},
	"DisableKey":                      {"*": "200"},
	"ScheduleKeyDeletion":             {"*": "200"},
	"CancelKeyDeletion":               {"*": "200"},
	"CancelKeyDeletion/not-pending":   {"*": "KMSInvalidState"},
	"EnableKeyRotation":               {"CONNECTED": "UnsupportedOperation"},
	"DisableKeyRotation":              {"CONNECTED": "UnsupportedOperation"},
	"GetKeyRotationStatus":            {"CONNECTED": "UnsupportedOperation"},
	"GetParametersForImport":          {"CONNECTED": "UnsupportedOperation"},
	"ImportKeyMaterial":               {"CONNECTED": "UnsupportedOperation"},
	"DeleteImportedKeyMaterial":       {"CONNECTED": "UnsupportedOperation"},
}

// expected looks up spec3 for a cell: the allowed answers, sorted, and the
// state a 200 moves the store to.
func expected(t StoreType, col Column, variant string) (answers []string, to string, ok bool) {
	row, found := spec3[variant]
	if !found {
		return nil, "", false
	}
	e, found := row[col]
	if !found && col != NoSuchStore {
		e, found = row["*"]
	}
	if !found {
		return nil, "", false
	}
	for _, part := range strings.Fields(e) {
		if p, rest, typed := strings.Cut(part, ":"); typed {
			if (p == "CloudHSM") != (t == CloudHSM) {
				continue
			}
			part = rest
		}
		e = part
	}
	for _, a := range strings.Split(e, "|") {
		if ans, st, moves := strings.Cut(a, "→"); moves {
			a, to = ans, st
		}
		answers = append(answers, a)
	}
	sort.Strings(answers)
	return answers, to, true
}

// TestSpecTable checks every cell of the matrix that spec §3 (and the key
// state table of §5) decides against the model.
func TestSpecTable(t *testing.T) {
	checked := 0
	for _, c := range Cells() {
		want, to, ok := expected(c.StoreType, c.Column, c.Variant)
		if !ok {
			continue
		}
		checked++
		var got []string
		for _, o := range c.Expected {
			got = append(got, o.Error.Short())
		}
		sort.Strings(got)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: model allows %v, spec §3 says %v", c.ID, got, want)
			continue
		}
		for _, o := range c.Expected {
			if o.Error != Success || c.Column == NoSuchStore {
				continue
			}
			var states []string
			for _, w := range o.Worlds {
				if s, found := w.Store(SubjectStoreID); found {
					states = append(states, string(s.State))
				}
			}
			wantStates := string(c.Column)
			if to != "" {
				wantStates = to
			}
			if c.Op == OpDeleteCustomKeyStore {
				wantStates = ""
			}
			if strings.Join(states, ",") != wantStates {
				t.Errorf("%s: 200 leads to %v, spec says %s", c.ID, states, wantStates)
			}
		}
	}
	if checked < 290 {
		t.Errorf("only %d cells checked against spec §3", checked)
	}
	t.Logf("spec §3 table: %d of %d cells checked", checked, len(Cells()))
}

// TestShownKeyState is the last row of the §3 table: the KeyState a key shows
// after the store reaches each state, and that reconnecting restores it.
func TestShownKeyState(t *testing.T) {
	for _, typ := range StoreTypes {
		for _, own := range []KeyState{KeyEnabled, KeyDisabled, KeyPendingDeletion} {
			for _, col := range Columns[:5] {
				w, err := Run(NewWorld(), route(typ, col, own))
				if err != nil {
					t.Fatal(err)
				}
				k, _ := w.Key(SubjectKeyID)
				got := w.ShownKeyState(k)
				want := own
				if ConnectionState(col) != Connected && own != KeyPendingDeletion {
					want = KeyUnavailable
				}
				if got != want {
					t.Errorf("%s key %s in a %s store shows %s, want %s", typ, own, col, got, want)
				}
			}
		}
	}
}
