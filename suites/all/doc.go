// Package all runs every kmsconform suite (conformance, scenarios,
// validation) in one Ginkgo suite, as `kmsconform run` does: on a target
// that shares its backing between cells, the three must share one run,
// so that each store type's lane orders them all (see package drive).
package all
