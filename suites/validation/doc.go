// Package validation registers the input constraints of the custom key store
// operations (spec §1.1) as Ginkgo specs: every length, pattern and range at
// both boundaries — just inside must not be a ValidationException, just
// outside must be — an invalid value of every enumeration, every required
// member left out (sent on drive's raw path where the Go SDK refuses to),
// plus unknown ids and parameters of the wrong store type
// (undocumented: informational only). Each check is a model cell, so what
// "just inside" must answer instead (a missing cluster, an unreachable
// proxy) comes from the model too.
package validation
