// Package xkscheck checks any XKS proxy against the XKS Proxy API
// specification the way KMS calls it (spec §7): its own client (HTTPS,
// SigV4 for service kms-xks-proxy), the request shapes KMS sends, the
// answers' shapes, the errors a client can provoke, TLS, latency against
// KMS's 250 ms budget and a bounded load phase.
//
// Every check is a compat.json cell "xks/<API>/<case>" with the spec
// section it rests on; a failed check says what KMS would conclude from it,
// computed from the model (consequence.go), never from this package's own
// reading.
//
// The package is an independent client: it imports model and reports only,
// never targets/*, so that it judges our proxy as it judges anybody's.
package xkscheck
