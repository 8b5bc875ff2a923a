package main

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strings"
)

// A mutant changes exactly one operator token of one source file.
type mutant struct {
	ID      string // file:Func:operator:from→to:ordinal
	File    string // the file's base name
	Func    string // the enclosing top-level function (Recv.Name for methods)
	Op      string // negate, boundary, logical, not, arith, incdec
	From    string // the token as written
	To      string // its replacement ("" drops it)
	Ordinal int    // 1-based, among the function's mutants with the same Op, From and To
	Offset  int    // byte offset of the token in the file
	Pos     token.Position
}

// apply returns src with the mutant's token replaced.
func (m mutant) apply(src []byte) ([]byte, error) {
	end := m.Offset + len(m.From)
	if end > len(src) || string(src[m.Offset:end]) != m.From {
		return nil, fmt.Errorf("%s: %q is not at offset %d (the file changed since the mutants were generated)", m.ID, m.From, m.Offset)
	}
	out := make([]byte, 0, len(src)-len(m.From)+len(m.To))
	out = append(out, src[:m.Offset]...)
	out = append(out, m.To...)
	return append(out, src[end:]...), nil
}

// line returns the source line the mutant sits on, mutated.
func (m mutant) line(src []byte) string {
	mut, err := m.apply(src)
	if err != nil {
		return "?"
	}
	start := strings.LastIndexByte(string(mut[:m.Offset]), '\n') + 1
	end := strings.IndexByte(string(mut[m.Offset:]), '\n')
	if end < 0 {
		end = len(mut) - m.Offset
	}
	return strings.TrimSpace(string(mut[start : m.Offset+end]))
}

// Replacements per operator token. A comparison is negated (its complement)
// and shifted (its boundary moved); the other operators are swapped.
var (
	negations = map[token.Token]token.Token{
		token.EQL: token.NEQ, token.NEQ: token.EQL,
		token.LSS: token.GEQ, token.GEQ: token.LSS,
		token.GTR: token.LEQ, token.LEQ: token.GTR,
	}
	boundaries = map[token.Token]token.Token{
		token.LSS: token.LEQ, token.LEQ: token.LSS,
		token.GTR: token.GEQ, token.GEQ: token.GTR,
	}
	logicals = map[token.Token]token.Token{token.LAND: token.LOR, token.LOR: token.LAND}
	arith    = map[token.Token]token.Token{
		token.ADD: token.SUB, token.SUB: token.ADD, token.MUL: token.QUO, token.QUO: token.MUL,
		token.ADD_ASSIGN: token.SUB_ASSIGN, token.SUB_ASSIGN: token.ADD_ASSIGN,
		token.MUL_ASSIGN: token.QUO_ASSIGN, token.QUO_ASSIGN: token.MUL_ASSIGN,
	}
	incdec = map[token.Token]token.Token{token.INC: token.DEC, token.DEC: token.INC}
)

// generate returns the mutants of one parsed file, in source order. info
// must hold the types of the file's expressions: arithmetic is mutated only
// where the operands are numeric (never a string concatenation), and not
// where the type is unknown.
//
// Code the emulator runs only with one of its own deliberate mutants on
// (Options.Mutant, which `kmsconform run --target emulator` never sets) is
// left out: the body of `if e.mut(…)` and of `case … && e.mut(…):`, and
// the mutated argument of e.pick(…). A change there cannot be observed.
func generate(fset *token.FileSet, f *ast.File, info *types.Info) []mutant {
	name := fset.Position(f.Pos()).Filename
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	g := &generator{fset: fset, file: name, info: info}
	for _, d := range f.Decls {
		g.fn = declName(d)
		if _, out := outsideScope[g.fn]; out {
			continue
		}
		ast.Inspect(d, g.visit)
	}
	// Number in source order (Inspect visits an operator before its
	// operands' operators).
	sort.SliceStable(g.out, func(i, j int) bool { return g.out[i].Offset < g.out[j].Offset })
	seen := map[string]int{}
	for i := range g.out {
		m := &g.out[i]
		key := m.Func + "\x00" + m.Op + "\x00" + m.From + "\x00" + m.To
		seen[key]++
		m.Ordinal = seen[key]
		m.ID = fmt.Sprintf("%s:%s:%s:%s→%s:%d", m.File, m.Func, m.Op, m.From, m.To, m.Ordinal)
	}
	return g.out
}

// outsideScope names the functions of the behaviour files that implement
// no part of the custom key store API, with the reason; they get no
// mutants (the suites do not call them, by design, so their mutants would
// measure nothing about them).
var outsideScope = map[string]string{
	"Emulator.opListKeys":        "ListKeys lists every key of the account; it has no custom key store parameter or rule, and no cell calls it",
	"Emulator.kmsKeyAdminLocked": "the import, rotation and replication answers for AWS_KMS keys, which no custom key store holds and no cell creates",
	"xksClient.forgetRoutes":     "housekeeping of the XKS transport cache (which idle transports are closed): the next call rebuilds a transport, so no answer depends on it",
}

type generator struct {
	fset *token.FileSet
	file string
	info *types.Info
	fn   string
	out  []mutant
}

func declName(d ast.Decl) string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil || len(d.Recv.List) == 0 {
			return d.Name.Name
		}
		t := d.Recv.List[0].Type
		for {
			switch x := t.(type) {
			case *ast.StarExpr:
				t = x.X
				continue
			case *ast.IndexExpr:
				t = x.X
				continue
			case *ast.IndexListExpr:
				t = x.X
				continue
			}
			break
		}
		if id, ok := t.(*ast.Ident); ok {
			return id.Name + "." + d.Name.Name
		}
		return d.Name.Name
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				if len(s.Names) > 0 {
					return d.Tok.String() + "." + s.Names[0].Name
				}
			case *ast.TypeSpec:
				return "type." + s.Name.Name
			}
		}
	}
	return "-"
}

func (g *generator) add(op string, at token.Pos, from, to token.Token) {
	g.addText(op, at, from.String(), to.String())
}

func (g *generator) addText(op string, at token.Pos, from, to string) {
	pos := g.fset.Position(at)
	g.out = append(g.out, mutant{File: g.file, Func: g.fn, Op: op, From: from, To: to, Offset: pos.Offset, Pos: pos})
}

func (g *generator) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.IfStmt:
		if needsMutant(n.Cond) {
			for _, c := range []ast.Node{n.Init, n.Cond, n.Else} { // all but the body
				if c != nil {
					ast.Inspect(c, g.visit)
				}
			}
			return false
		}
	case *ast.CaseClause:
		if len(n.List) == 1 && needsMutant(n.List[0]) {
			ast.Inspect(n.List[0], g.visit)
			return false
		}
	case *ast.CallExpr:
		if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "pick" && len(n.Args) == 3 {
			ast.Inspect(n.Fun, g.visit)
			ast.Inspect(n.Args[0], g.visit)
			ast.Inspect(n.Args[2], g.visit)
			return false
		}
	case *ast.BinaryExpr:
		if n.Op == token.LAND && needsMutant(n) {
			g.guard(n)
			return false
		}
		if to, ok := negations[n.Op]; ok {
			g.add("negate", n.OpPos, n.Op, to)
		}
		if to, ok := boundaries[n.Op]; ok {
			g.add("boundary", n.OpPos, n.Op, to)
		}
		if to, ok := logicals[n.Op]; ok {
			g.add("logical", n.OpPos, n.Op, to)
		}
		if to, ok := arith[n.Op]; ok && g.numeric(n.X) && g.numeric(n.Y) {
			g.add("arith", n.OpPos, n.Op, to)
		}
	case *ast.AssignStmt:
		if to, ok := arith[n.Tok]; ok && len(n.Lhs) == 1 && len(n.Rhs) == 1 && g.numeric(n.Lhs[0]) && g.numeric(n.Rhs[0]) {
			g.add("arith", n.TokPos, n.Tok, to)
		}
	case *ast.UnaryExpr:
		if n.Op == token.NOT {
			g.addText("not", n.OpPos, "!", "")
		}
	case *ast.IncDecStmt:
		g.add("incdec", n.TokPos, n.Tok, incdec[n.Tok])
	}
	return true
}

// numeric reports whether e's type is known and numeric (untyped constants
// included); a string, or an expression the type checker could not type, is
// not.
func (g *generator) numeric(e ast.Expr) bool {
	if g.info == nil {
		return false
	}
	t := g.info.TypeOf(e)
	if t == nil {
		return false
	}
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsNumeric != 0
}

// needsMutant reports whether a guard is true only when one of the
// emulator's deliberate mutants is on: a call of the method mut, or a
// conjunction with one.
func needsMutant(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.ParenExpr:
		return needsMutant(e.X)
	case *ast.CallExpr:
		sel, ok := e.Fun.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "mut"
	case *ast.BinaryExpr:
		return e.Op == token.LAND && (needsMutant(e.X) || needsMutant(e.Y))
	}
	return false
}

// guard mutates a conjunction that is false unless a deliberate mutant is
// on: only its && operators on the way to the mut call can change what it
// yields (to ||); anything inside the other operands cannot.
func (g *generator) guard(e ast.Expr) {
	switch e := e.(type) {
	case *ast.ParenExpr:
		g.guard(e.X)
	case *ast.BinaryExpr:
		if e.Op != token.LAND {
			return
		}
		if needsMutant(e.X) {
			g.guard(e.X)
		}
		g.add("logical", e.OpPos, e.Op, token.LOR)
		if needsMutant(e.Y) {
			g.guard(e.Y)
		}
	}
}
