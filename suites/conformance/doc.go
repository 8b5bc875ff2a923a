// Package conformance registers one Ginkgo spec per cell of the model's
// conformance matrix (model.Cells()): every operation variant on a store of
// each type in each connection state, and on a store that does not exist.
// The specs live in this non-test package so that `kmsconform run` runs the
// very same specs as `go test` and `go tool ginkgo`.
//
// Labels: op:<Operation>, variant:<name>, state:<column>, store:<type>,
// provenance:<D|I|C|U>, needs:<capability> — e.g.
// `--label-filter 'store:EXTERNAL_KEY_STORE && provenance:D'`.
package conformance
