package xkscheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kmsconform/kmsconform/model"
)

// Condition is a proxy condition as the model knows it: what a failed
// check says of the proxy, in the model's words. The zero value is a
// healthy proxy.
type Condition struct {
	Fault      model.ProxyFault
	KeyStatus  model.ExternalKeyStatus // "" is ExtKeyOK
	KeyMissing bool                    // the proxy does not know the key
	WrongPath  bool                    // the proxy does not serve the store's path
	WrongCred  bool                    // the proxy refuses the store's credential
	// Approx says the model has no such condition and names the one used
	// instead (the same row of the spec's §7.4 table).
	Approx string
}

func (c Condition) String() string {
	var parts []string
	if c.Fault != "" {
		parts = append(parts, "proxy "+string(c.Fault))
	}
	if c.KeyStatus != "" {
		parts = append(parts, "key "+string(c.KeyStatus))
	}
	if c.KeyMissing {
		parts = append(parts, "key missing")
	}
	if c.WrongPath {
		parts = append(parts, "wrong path")
	}
	if c.WrongCred {
		parts = append(parts, "credential refused")
	}
	if len(parts) == 0 {
		return "healthy"
	}
	return strings.Join(parts, ", ")
}

// Consequence is what KMS would conclude from a condition, per the model.
type Consequence struct {
	Create    []string // CreateCustomKeyStore outcomes
	Connect   []string // ConnectCustomKeyStore: CONNECTED or FAILED with a code
	CreateKey []string
	Encrypt   []string
}

// Consequences asks the model what a store on a proxy in condition c gets
// for CreateCustomKeyStore, ConnectCustomKeyStore (how it settles),
// CreateKey and Encrypt.
func Consequences(c Condition) Consequence {
	base := model.NewWorld()
	px, _ := base.Proxy(model.EndpointA)
	px.Fault = c.Fault
	if c.WrongPath {
		px.Path = model.PathAlt
	}
	if c.WrongCred {
		px.Accepted = []model.Credential{model.CredentialB}
	}
	keys := px.Keys[:0:0]
	for _, k := range px.Keys {
		if k.ID == model.XksKey1 {
			if c.KeyMissing {
				continue
			}
			if c.KeyStatus != "" {
				k.Status = c.KeyStatus
			}
		}
		keys = append(keys, k)
	}
	px.Keys = keys
	w := only(model.Step(base, model.Call{Op: model.OpSetProxy, Proxy: &px}))

	var out Consequence
	out.Create = names(model.Step(w, model.Call{Op: model.OpCreateCustomKeyStore,
		Create: model.CreateXksInput("xks-check", model.EndpointA, model.PathV1, model.CredentialA)}))

	id := model.StoreIDFor(w.NextStore)
	w = w.AddStore(model.XksStore(id, "xks-check", model.EndpointA))
	for _, o := range model.Step(w, model.Call{Op: model.OpConnectCustomKeyStore, StoreID: &id}) {
		if o.Error != model.Success {
			out.Connect = appendNew(out.Connect, string(o.Error))
			continue
		}
		for _, cw := range o.Worlds {
			for _, so := range model.Step(cw, model.Call{Op: model.OpSettle, StoreID: &id}) {
				for _, sw := range so.Worlds {
					s, _ := sw.Store(id)
					st := string(s.State)
					if s.ErrorCode != "" {
						st += " with " + string(s.ErrorCode)
					}
					out.Connect = appendNew(out.Connect, st)
				}
			}
		}
	}

	// A store KMS connected before the condition arose.
	cw := w.Clone()
	for i := range cw.Stores {
		if cw.Stores[i].ID == id {
			cw.Stores[i].State = model.Connected
		}
	}
	out.CreateKey = names(model.Step(cw, model.Call{Op: model.OpCreateKey, StoreID: &id,
		CreateKey: model.CreateKeyFor(model.External, model.XksKey1)}))
	kid := model.KeyIDFor(cw.NextKey)
	cw.Keys = append(cw.Keys, model.Key{ID: kid, Store: id, State: model.KeyEnabled, XksKeyID: model.XksKey1})
	cw.NextKey++
	out.Encrypt = names(model.Step(cw, model.Call{Op: model.OpEncrypt, KeyID: kid}))
	return out
}

func only(outs []model.Outcome) model.World { return outs[0].Worlds[0] }

func names(outs []model.Outcome) []string { return model.OutcomeNames(outs) }

func appendNew(xs []string, s string) []string {
	if slices.Contains(xs, s) {
		return xs
	}
	return append(xs, s)
}

func alt(xs []string) string { return strings.Join(xs, " or ") }

// Sentence is the consequence as a report reads it.
func (c Consequence) Sentence() string {
	var b strings.Builder
	if len(c.Connect) > 0 {
		if slices.Equal(c.Connect, []string{string(model.Connected)}) {
			b.WriteString("KMS would still connect your store")
		} else {
			fmt.Fprintf(&b, "KMS would leave your store %s", alt(c.Connect))
		}
	}
	fmt.Fprintf(&b, "; CreateCustomKeyStore → %s; CreateKey → %s; Encrypt → %s",
		alt(c.Create), alt(c.CreateKey), alt(c.Encrypt))
	return b.String()
}

// consequenceText is the message of a failed check whose cause is c.
func consequenceText(c Condition) string {
	s := Consequences(c).Sentence()
	if c.Approx != "" {
		s += " (" + c.Approx + ")"
	}
	return s
}
