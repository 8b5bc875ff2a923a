// Package reports holds compat.json, the one result format of a kmsconform
// run: every spec and property run records per-cell results in it, and
// every renderer reads it (never Ginkgo's own output). See README.md in this
// folder for the schema.
package reports
