package drive

import (
	"os"
	"path/filepath"
)

// FindConfig looks for ginkgo.yml in the working directory and its parents,
// so `go test ./suites/...` (run in a package folder) finds the repo's file.
func FindConfig() string {
	dir, err := os.Getwd()
	if err != nil {
		return "ginkgo.yml"
	}
	for {
		p := filepath.Join(dir, "ginkgo.yml")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "ginkgo.yml"
		}
		dir = parent
	}
}
