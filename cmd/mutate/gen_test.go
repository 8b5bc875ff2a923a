package main

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"os"
	"slices"
	"strings"
	"testing"
)

const sample = `package p

func f(a, b int, s, t string) (int, string, bool) {
	x := a + b
	y := s + t
	if a < b && !(a == b) {
		x++
	}
	x -= 2
	y += "?"
	return x * b, y + "!", a >= b || s != t
}

type T struct{ n int }

func (t *T) g(u bool) bool {
	if t.n > 0 {
		t.n--
	}
	return !u
}

func (t *T) mut(string) bool { return false }

func (t *T) pick(name string, mutated, real int) int { return real }

func h(t *T, n int) int {
	if t.mut("m") {
		n = n + 1
	}
	if t.n <= 1 && t.mut("m") && n != 2 {
		return 0
	}
	return t.pick("m", n-1, n/2)
}
`

// The mutants of sample: string concatenations (s + t, y + "!", y += "?")
// and code reached only with a deliberate mutant on (the body of
// if t.mut(…), the operands of a conjunction with t.mut, pick's mutated
// argument) have none.
var wantIDs = []string{
	"sample.go:f:arith:+→-:1",
	"sample.go:f:negate:<→>=:1",
	"sample.go:f:boundary:<→<=:1",
	"sample.go:f:logical:&&→||:1",
	"sample.go:f:not:!→:1",
	"sample.go:f:negate:==→!=:1",
	"sample.go:f:incdec:++→--:1",
	"sample.go:f:arith:-=→+=:1",
	"sample.go:f:arith:*→/:1",
	"sample.go:f:negate:>=→<:1",
	"sample.go:f:boundary:>=→>:1",
	"sample.go:f:logical:||→&&:1",
	"sample.go:f:negate:!=→==:1",
	"sample.go:T.g:negate:>→<=:1",
	"sample.go:T.g:boundary:>→>=:1",
	"sample.go:T.g:incdec:--→++:1",
	"sample.go:T.g:not:!→:1",
	"sample.go:h:logical:&&→||:1",
	"sample.go:h:logical:&&→||:2",
	"sample.go:h:arith:/→*:1",
}

func gen(t *testing.T, src string) []mutant {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "dir/sample.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	if _, err := (&types.Config{}).Check("p", fset, []*ast.File{f}, info); err != nil {
		t.Fatal(err)
	}
	return generate(fset, f, info)
}

func ids(ms []mutant) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestGenerate(t *testing.T) {
	ms := gen(t, sample)
	if got := ids(ms); !slices.Equal(got, wantIDs) {
		t.Fatalf("mutants:\n  got  %s\n  want %s", strings.Join(got, "\n       "), strings.Join(wantIDs, "\n       "))
	}
	orig := tokens(t, sample)
	for _, m := range ms {
		mut, err := m.apply([]byte(sample))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "m.go", mut, 0); err != nil {
			t.Errorf("%s does not parse: %v", m.ID, err)
			continue
		}
		if !oneTokenApart(orig, tokens(t, string(mut))) {
			t.Errorf("%s changes more or less than one token:\n%s", m.ID, m.line([]byte(sample)))
		}
	}
}

func TestIDsStable(t *testing.T) {
	a := ids(gen(t, sample))
	if b := ids(gen(t, sample)); !slices.Equal(a, b) {
		t.Fatalf("two generations differ:\n%v\n%v", a, b)
	}
	// Lines added above move every position but no id.
	moved := strings.Replace(sample, "package p\n", "package p\n\n// a comment\nvar _ = 0\n\n", 1)
	ms := gen(t, moved)
	if b := ids(ms); !slices.Equal(a, b) {
		t.Fatalf("moving the code changed the ids:\n%v\n%v", a, b)
	}
	if ms[0].Pos.Line != gen(t, sample)[0].Pos.Line+4 {
		t.Errorf("the position did not move with the code: %v", ms[0].Pos)
	}
}

func TestNoStringConcatenation(t *testing.T) {
	at := map[int]bool{}
	for _, concat := range []string{"s + t", `y += "?"`, `y + "!"`} {
		i := strings.Index(sample, concat)
		if i < 0 {
			t.Fatalf("%q is not in the sample", concat)
		}
		at[i+2] = true
	}
	for _, m := range gen(t, sample) {
		if at[m.Offset] {
			t.Errorf("%s mutates a string concatenation: %s", m.ID, m.line([]byte(sample)))
		}
	}
}

type tok struct {
	tok token.Token
	lit string
}

func tokens(t *testing.T, src string) []tok {
	t.Helper()
	var s scanner.Scanner
	fset := token.NewFileSet()
	s.Init(fset.AddFile("x.go", -1, len(src)), []byte(src), func(pos token.Position, msg string) { t.Fatalf("%v: %s", pos, msg) }, 0)
	var out []tok
	for {
		_, tk, lit := s.Scan()
		if tk == token.EOF {
			return out
		}
		out = append(out, tok{tk, lit})
	}
}

// oneTokenApart reports whether b is a with exactly one token replaced by
// another, or with exactly one token removed.
func oneTokenApart(a, b []tok) bool {
	switch len(a) - len(b) {
	case 0:
		diff := 0
		for i := range a {
			if a[i] != b[i] {
				diff++
			}
		}
		return diff == 1
	case 1:
		for i := range b {
			if a[i] != b[i] {
				return slices.Equal(a[i+1:], b[i:])
			}
		}
		return true // the last token was removed
	}
	return false
}

func TestReadEquivalent(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/eq.txt"
	if err := writeFile(p, "# comment\n\nstores.go:f:not:!→:1 the reason\n"); err != nil {
		t.Fatal(err)
	}
	eq, err := readEquivalent(p)
	if err != nil || eq["stores.go:f:not:!→:1"] != "the reason" || len(eq) != 1 {
		t.Fatalf("got %v, %v", eq, err)
	}
	if err := writeFile(p, "stores.go:f:not:!→:1\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := readEquivalent(p); err == nil {
		t.Fatal("an id without a reason was accepted")
	}
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }
