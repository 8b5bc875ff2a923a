package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// pkgDir is the emulator package, relative to the module root.
const pkgDir = "targets/emulator"

// behaviourFiles are the emulator files whose code decides what the KMS API
// answers: the custom key store engine (stores, update, state), keys and
// their states, cryptography, the CloudHSM simulation, the XKS client, VPC
// endpoint service checks and input validation. Left out: tests, mutants.go
// (the deliberate mutants), server and SigV4 plumbing (server.go,
// sigv4.go, emulator.go, awslike.go, errors.go), the control plane and the
// Target adapter (control.go, target.go: the harness's capabilities, not
// the API), persistence (persist.go) and the clock (clock.go).
var behaviourFiles = []string{
	"stores.go", "keys.go", "update.go", "cloudhsm.go", "xks.go",
	"vpc.go", "validate.go", "crypto.go", "state.go",
}

// source is one file mutants are drawn from.
type source struct {
	rel string // path relative to the module root
	src []byte
}

// load parses and type-checks the emulator package under root and returns
// the mutants of its behaviour files, in file order, with their sources.
func load(root string) ([]mutant, map[string]*source, error) {
	dir := filepath.Join(root, pkgDir)
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, nil, err
	}
	var files []*ast.File
	byName := map[string]*ast.File{}
	srcs := map[string]*source{}
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, nil, err
		}
		f, err := parser.ParseFile(fset, n, b, parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f)
		base := filepath.Base(n)
		byName[base] = f
		srcs[base] = &source{rel: filepath.ToSlash(filepath.Join(pkgDir, base)), src: b}
	}
	exports, err := exportData(root, "./"+pkgDir)
	if err != nil {
		return nil, nil, err
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		p, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(p)
	})
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: imp}
	if _, err := conf.Check("github.com/kmsconform/kmsconform/"+pkgDir, fset, files, info); err != nil {
		return nil, nil, fmt.Errorf("type-checking %s: %w", pkgDir, err)
	}
	var all []mutant
	for _, name := range behaviourFiles {
		f, ok := byName[name]
		if !ok {
			return nil, nil, fmt.Errorf("%s/%s is missing", pkgDir, name)
		}
		ms := generate(fset, f, info)
		for i := range ms {
			ms[i].Pos.Filename = srcs[name].rel
		}
		all = append(all, ms...)
	}
	return all, srcs, nil
}

// exportData builds pkg's dependencies and returns where the compiler left
// each one's export data, by import path.
func exportData(root, pkg string) (map[string]string, error) {
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -export %s: %w\n%s", pkg, err, stderr.String())
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, file, ok := strings.Cut(sc.Text(), "\t")
		if ok && file != "" {
			m[path] = file
		}
	}
	return m, sc.Err()
}

// counts tabulates mutants per file and operator.
func counts(ms []mutant) string {
	ops := []string{"negate", "boundary", "logical", "not", "arith", "incdec"}
	per := map[string]map[string]int{}
	for _, m := range ms {
		if per[m.File] == nil {
			per[m.File] = map[string]int{}
		}
		per[m.File][m.Op]++
	}
	var files []string
	for f := range per {
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return order(files[i]) < order(files[j]) })
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s", "file")
	for _, op := range ops {
		fmt.Fprintf(&b, " %8s", op)
	}
	fmt.Fprintf(&b, " %8s\n", "total")
	tot := map[string]int{}
	for _, f := range files {
		fmt.Fprintf(&b, "%-12s", f)
		n := 0
		for _, op := range ops {
			fmt.Fprintf(&b, " %8d", per[f][op])
			n += per[f][op]
			tot[op] += per[f][op]
		}
		fmt.Fprintf(&b, " %8d\n", n)
	}
	fmt.Fprintf(&b, "%-12s", "total")
	for _, op := range ops {
		fmt.Fprintf(&b, " %8d", tot[op])
	}
	fmt.Fprintf(&b, " %8d\n", len(ms))
	return b.String()
}

func order(file string) int {
	for i, f := range behaviourFiles {
		if f == file {
			return i
		}
	}
	return len(behaviourFiles)
}
