package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/kmsconform/kmsconform/model"
)

// kmsModule is the SDK module whose version says which KMS API the suite
// speaks (its operations, fields and exception names).
const kmsModule = "github.com/aws/aws-sdk-go-v2/service/kms"

var helpVersion = helpPage{
	Usage: []string{"kmsconform version", "kmsconform --version"},
	About: "Prints the version of kmsconform (the module version, or (devel) for a build from a clone, with " +
		"the commit and its time when the build recorded them), the revision of the reference model (the " +
		"model_revision of every compat.json it writes), the version of the AWS SDK for Go's KMS client it " +
		"was built with, and the Go version.",
}

func init() {
	register("version", command{
		summary: "print the version of kmsconform, of its model and of the AWS SDK's KMS client",
		run:     runVersion,
	})
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if code, done := parseFlags(fs, helpVersion, args, stdout, stderr); done {
		return code
	}
	if code, done := unexpectedArgs(fs, stderr); done {
		return code
	}
	info, _ := debug.ReadBuildInfo()
	writeVersion(stdout, info, model.Revision())
	return 0
}

// writeVersion prints the version from the build information (nil when
// the binary has none).
func writeVersion(w io.Writer, info *debug.BuildInfo, modelRevision string) {
	if info == nil {
		fmt.Fprintln(w, "kmsconform (no build information)")
		fmt.Fprintf(w, "  model     %s\n", modelRevision)
		return
	}
	version := info.Main.Version
	if version == "" {
		// A test binary has no main module version.
		version = "(devel)"
	}
	fmt.Fprintln(w, "kmsconform", version)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		line := rev
		if t := settings["vcs.time"]; t != "" {
			line += " " + t
		}
		if settings["vcs.modified"] == "true" {
			line += " (with uncommitted changes)"
		}
		fmt.Fprintf(w, "  commit    %s\n", line)
	}
	fmt.Fprintf(w, "  model     %s\n", modelRevision)
	sdk := "(not linked)"
	for _, d := range info.Deps {
		if d.Path != kmsModule {
			continue
		}
		sdk = d.Path + " " + d.Version
		if r := d.Replace; r != nil {
			sdk += " => " + r.Path
			if r.Version != "" {
				sdk += " " + r.Version
			}
		}
	}
	fmt.Fprintf(w, "  sdk       %s\n", sdk)
	fmt.Fprintf(w, "  go        %s\n", info.GoVersion)
}
