// Command kmsconform is the command-line entry point of the conformance suite.
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// command is one subcommand. run returns the process exit code; it writes
// human output to stdout and one-line error messages to stderr.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is filled by the init functions of the files that implement each
// subcommand, so that a new subcommand is one new file.
var commands = map[string]command{}

func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("kmsconform: subcommand registered twice: " + name)
	}
	commands[name] = c
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the command args name. Exit codes, for every command: 0
// success (and -h), 1 the command's own finding (a failing cell, a
// regression), 2 a usage or setup error, said in one line on stderr.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// Not asked for: a mistake, so stderr and 2.
		topPage().write(stderr, nil)
		return 2
	}
	switch a := args[0]; {
	case a == "help" && len(args) > 1:
		// help report render is report render -h.
		c, ok := commands[args[1]]
		if !ok {
			return unknownCommand(args[1], stderr)
		}
		return c.run(append(slices.Clone(args[2:]), "-h"), stdout, stderr)
	case a == "help" || a == "-h" || a == "-help" || a == "--help":
		topPage().write(stdout, nil)
		return 0
	case a == "-version" || a == "--version":
		return commands["version"].run(args[1:], stdout, stderr)
	case strings.HasPrefix(a, "-"):
		fmt.Fprintf(stderr, "kmsconform: unknown flag %s: flags go after the command (run 'kmsconform help' for the commands)\n", a)
		return 2
	}
	c, ok := commands[args[0]]
	if !ok {
		return unknownCommand(args[0], stderr)
	}
	return c.run(args[1:], stdout, stderr)
}

func unknownCommand(name string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "kmsconform: unknown command %q (run 'kmsconform help' for the list)\n", name)
	return 2
}

// topPage is the page of kmsconform itself: the commands.
func topPage() helpPage {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var list []helpEntry
	for _, n := range names {
		list = append(list, helpEntry{n, commands[n].summary})
	}
	return helpPage{
		Usage: []string{"kmsconform <command> [flags] [arguments]"},
		About: "kmsconform is a conformance suite for the AWS KMS custom key store API (CloudHSM key stores " +
			"and external key stores): it checks a target (the embedded emulator, any KMS-compatible endpoint, " +
			"or real KMS in a sandbox account) against a reference model of the documented behaviour, and " +
			"writes compatibility reports.",
		Commands: list,
		More: []string{
			"Run 'kmsconform help <command>' or 'kmsconform <command> -h' for a command's flags.",
			"",
			"Exit status: 0 success; 1 the command's finding (a failing cell, a regression,",
			"nothing checked); 2 a usage or setup error, said in one line on stderr.",
		},
	}
}
