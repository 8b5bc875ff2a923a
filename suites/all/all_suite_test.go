package all_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	_ "github.com/kmsconform/kmsconform/suites/conformance"
	_ "github.com/kmsconform/kmsconform/suites/scenarios"
	_ "github.com/kmsconform/kmsconform/suites/validation"
)

func TestSuites(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kmsconform")
}
