package emulator

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestMutantsAreNamedAndOffByDefault(t *testing.T) {
	if len(Mutants) < 25 {
		t.Fatalf("%d mutants; the mutation score needs at least 25", len(Mutants))
	}
	seen := map[string]bool{}
	for _, m := range Mutants {
		if seen[m.Name] || m.Name == "" || m.Description == "" || m.Op == "" {
			t.Fatalf("mutant %+v: duplicate or undescribed", m)
		}
		seen[m.Name] = true
	}
	if _, err := New(Options{Mutant: "no-such-mutant"}); err == nil || !strings.Contains(err.Error(), "unknown mutant") {
		t.Fatalf("an unknown mutant was accepted: %v", err)
	}
	e, err := New(Options{})
	if err != nil || e.opts.Mutant != "" {
		t.Fatalf("the zero Options run a mutant: %q %v", e.opts.Mutant, err)
	}
	// The production constructor never runs a mutant, whatever the
	// environment says: only an explicit NewMutantTarget does.
	t.Setenv(MutantEnv, Mutants[0].Name)
	tgt, err := NewTarget(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close(context.Background())
	if tgt.Name() != "emulator" {
		t.Fatalf("target name %q", tgt.Name())
	}
	mt, err := NewMutantTarget(context.Background(), nil, Mutants[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	defer mt.Close(context.Background())
	if !strings.Contains(mt.Name(), Mutants[0].Name) {
		t.Fatalf("a mutant target must say so in its name: %q", mt.Name())
	}
}

// Every mutant has its hook: a mutant whose name no e.mut or e.pick in the
// emulator's code reads would change nothing, and would "survive" make
// mutants without saying anything about the suite.
func TestEveryMutantHasAHook(t *testing.T) {
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{} // constant → mutant name
	hooked := map[string]bool{}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if i >= len(n.Values) || !strings.HasPrefix(id.Name, "mut") {
						continue
					}
					if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						names[id.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "mut" || sel.Sel.Name == "pick") && len(n.Args) > 0 {
					if id, ok := n.Args[0].(*ast.Ident); ok {
						hooked[id.Name] = true
					}
				}
			}
			return true
		})
	}
	if len(names) != len(Mutants) {
		t.Fatalf("%d mutant constants, %d mutants listed", len(names), len(Mutants))
	}
	for c, name := range names {
		if !hooked[c] {
			t.Errorf("mutant %s (%s) has no e.mut or e.pick hook", name, c)
		}
		if !slices.Contains(MutantNames(), name) {
			t.Errorf("mutant %s (%s) is not in Mutants", name, c)
		}
	}
}
