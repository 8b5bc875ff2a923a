// Package harness is the Ginkgo glue of the kmsconform suites: the options
// of a run (from the CLI or the environment), the spec bodies (CellSpec,
// ScenarioSpec) that ask package drive for a verdict and record it, the
// specs' labels, and the recording of results into compat.json (CellReport
// and ScenarioReport are the one conversion of drive's results to it).
//
// Importing the package registers, once per test binary, a BeforeSuite that
// opens the target and a ReportAfterSuite that writes compat.json from every
// spec's report entries (so `ginkgo -p` runs merge without extra work).
package harness
