package xksproxy

import "slices"

// DenyRule is one rule of the proxy's secondary authorization (spec
// "Authorization"). A request matches when every non-empty field equals
// the request's; a rule with every field empty denies everything.
// GetHealthStatus is never subject to it, as the spec requires.
type DenyRule struct {
	AWSPrincipalARN string    `json:"awsPrincipalArn,omitempty"`
	KMSOperation    string    `json:"kmsOperation,omitempty"`
	Operation       Operation `json:"operation,omitempty"`
	KeyID           string    `json:"keyId,omitempty"`
}

func (r DenyRule) matches(c *call) bool {
	return (r.AWSPrincipalARN == "" || r.AWSPrincipalARN == c.Metadata.AWSPrincipalARN) &&
		(r.KMSOperation == "" || r.KMSOperation == c.Metadata.KMSOperation) &&
		(r.Operation == "" || r.Operation == c.Op) &&
		(r.KeyID == "" || r.KeyID == c.KeyID)
}

// SetDenyRules replaces the authorization rules; nil allows everything.
// A matching request gets 403 AccessDeniedException.
func (p *Proxy) SetDenyRules(rules []DenyRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.denyRules = slices.Clone(rules)
}

// DenyRules returns the authorization rules.
func (p *Proxy) DenyRules() []DenyRule {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.denyRules)
}

func (p *Proxy) denied(c *call) (DenyRule, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, r := range p.denyRules {
		if r.matches(c) {
			return r, true
		}
	}
	return DenyRule{}, false
}
