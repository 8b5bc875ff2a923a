package main

import (
	"flag"
	"io"
)

// hiddenRunFlags are run's flags for its own use: --procs starts one child
// per shard with --shard and --shards. `run -h` does not list them.
var hiddenRunFlags = map[string]bool{"shard": true, "shards": true}

// runHelp prints run's page (helpRun, in the layout of every command's -h)
// with its flags but the hidden ones.
func runHelp(w io.Writer, fs *flag.FlagSet) {
	helpRun.write(w, visibleFlags(fs, hiddenRunFlags))
}

// visibleFlags is fs without the hidden flags, each with its default (not
// the value parsed so far: run --procs 4 -h lists 1).
func visibleFlags(fs *flag.FlagSet, hidden map[string]bool) *flag.FlagSet {
	visible := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	fs.VisitAll(func(fl *flag.Flag) {
		if hidden[fl.Name] {
			return
		}
		visible.Var(fl.Value, fl.Name, fl.Usage)
		visible.Lookup(fl.Name).DefValue = fl.DefValue
	})
	return visible
}
