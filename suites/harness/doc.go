// Package harness is what every kmsconform suite shares: the target a run
// checks, the translation of model calls into AWS SDK calls, the
// classification of answers, the per-cell runner that turns a model.Cell into
// a verdict, and the recording of results into compat.json.
//
// Importing the package registers, once per test binary, a BeforeSuite that
// opens the target and a ReportAfterSuite that writes compat.json from every
// spec's report entries (so `ginkgo -p` runs merge without extra work).
package harness
