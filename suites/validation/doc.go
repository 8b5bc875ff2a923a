// Package validation registers the input constraints of the custom key store
// operations (spec §1.1) as Ginkgo specs: every length, pattern and range at
// both boundaries — just inside must not be a ValidationException, just
// outside must be — plus unknown ids and parameters of the wrong store type
// (undocumented: informational only). Each check is a model cell, so what
// "just inside" must answer instead (a missing cluster, an unreachable
// proxy) comes from the model too.
package validation
