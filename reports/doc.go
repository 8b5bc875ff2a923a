// Package reports holds compat.json, the one result format of a kmsconform
// run: every spec and property run records per-cell results in it, and
// every renderer reads it (never Ginkgo's own output). See README.md in this
// folder for the schema.
//
// The renderings: Markdown (a job summary or a pull-request comment), HTML
// (one self-contained page with a heat map, a filter and a cell panel), JUnit
// XML and an SVG badge, all byte-identical for the same document so they can
// be committed and diffed. Diff compares two runs; Gate judges a run against
// an Expectations file of a target's known deviations.
package reports
