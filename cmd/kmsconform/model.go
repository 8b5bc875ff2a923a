package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kmsconform/kmsconform/model"
)

func init() {
	register("model", command{
		summary: "print the reference model as Markdown: the matrix and the rule table",
		run:     runModel,
	})
}

var helpModel = helpPage{
	Usage: []string{"kmsconform model"},
	About: "Prints, as Markdown, the conformance matrix the reference model defines (store type × connection " +
		"state × operation → the allowed outcomes, with the status and ids of the rules behind each cell) and " +
		"the rule table (status, source in spec/custom-key-stores.md, the AWS pages each rule rests on).",
}

func runModel(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("model", flag.ContinueOnError)
	if code, done := parseFlags(fs, helpModel, args, stdout, stderr); done {
		return code
	}
	if code, done := unexpectedArgs(fs, stderr); done {
		return code
	}
	writeModelMarkdown(stdout, model.Cells(), model.Rules())
	return 0
}

func writeModelMarkdown(w io.Writer, cells []model.Cell, rules []*model.Rule) {
	fmt.Fprintln(w, "# kmsconform reference model")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Model revision `%s`: %d cells, %d rules.\n\n", model.Revision(), len(cells), len(rules))
	fmt.Fprintln(w, "Each cell lists the answers the documentation allows for the call on a store of that type in that")
	fmt.Fprintln(w, "state (`200` is success; `→STATE` is where the store goes; `or` separates allowed answers), then the")
	fmt.Fprintln(w, "status of the rules behind them and their ids (see the rule table below). Status: **D** documented,")
	fmt.Fprintln(w, "**I** inferred, **C** the sources contradict each other (every reading allowed), **U** undocumented")
	fmt.Fprintln(w, "(every plausible answer allowed; never asserted against real KMS). `ICS` is")
	fmt.Fprintln(w, "CustomKeyStoreInvalidStateException, `CKSNotFound` CustomKeyStoreNotFoundException; other names drop")
	fmt.Fprintln(w, "the `Exception` suffix. A blank cell does not apply.")
	for _, t := range model.StoreTypes {
		fmt.Fprintf(w, "\n## %s (%s key stores)\n\n", t, t.Short())
		header := []string{"Operation"}
		for _, col := range model.Columns {
			header = append(header, strings.ReplaceAll(strings.ToLower(string(col)), "_", " "))
		}
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
		byRow := map[string]map[model.Column]model.Cell{}
		var rows []string
		for _, c := range cells {
			if c.StoreType != t {
				continue
			}
			if byRow[c.Variant] == nil {
				byRow[c.Variant] = map[model.Column]model.Cell{}
				rows = append(rows, c.Variant)
			}
			byRow[c.Variant][c.Column] = c
		}
		for _, row := range rows {
			line := []string{"`" + row + "`"}
			for _, col := range model.Columns {
				c, ok := byRow[row][col]
				if !ok {
					line = append(line, "")
					continue
				}
				line = append(line, cellText(c))
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(line, " | "))
		}
	}
	fmt.Fprintln(w, "\n## Rules")
	fmt.Fprintln(w, "\nSources point into the project's behaviour reference (`spec/custom-key-stores.md`: sections, C-n contradictions) and the AWS pages and model files it cites;")
	fmt.Fprintln(w, "the AWS pages column links to the pages the rule rests on: the operation's API Reference page, the Developer Guide, the XKS proxy API specification.")
	fmt.Fprintln(w, "\n| Rule | Status | Source | AWS pages | Rule |\n|---|---|---|---|---|")
	for _, r := range rules {
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s |\n", r.ID, r.Status, escape(r.Source), linksText(r.Links()), escape(r.Text))
	}
}

// linksText renders a rule's AWS pages as Markdown links for a table cell.
func linksText(links []model.Link) string {
	var out []string
	for _, l := range links {
		title := strings.NewReplacer("[", `\[`, "]", `\]`).Replace(escape(l.Title))
		url := strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "|", "%7C").Replace(l.URL)
		out = append(out, "["+title+"]("+url+")")
	}
	return strings.Join(out, "<br>")
}

// cellText renders a cell: its allowed answers, then status and rule ids.
func cellText(c model.Cell) string {
	var answers []string
	for _, o := range c.Expected {
		answers = append(answers, outcomeText(c, o))
	}
	var ids []string
	for _, r := range c.Rules {
		ids = append(ids, r.ID)
	}
	return escape(strings.Join(answers, " or ")) + "<br>**" + string(c.Status) + "** " + strings.Join(ids, ", ")
}

// outcomeText renders one outcome with what it does to the cell's store and key.
func outcomeText(c model.Cell, o model.Outcome) string {
	s := o.Error.Short()
	if o.Error != model.Success || c.Column == model.NoSuchStore {
		return s
	}
	if c.Op == model.OpCreateCustomKeyStore && o.StoreID == model.SubjectStoreID {
		return s + " (the existing id)"
	}
	var states []string
	for _, w := range o.Worlds {
		st, found := w.Store(model.SubjectStoreID)
		switch {
		case !found:
			states = append(states, "deleted")
		case model.Column(st.State) != c.Column:
			states = append(states, string(st.State))
		}
	}
	if len(states) > 0 {
		s += " →" + strings.Join(states, "/")
	}
	before, had := c.Setup.Key(model.SubjectKeyID)
	if had && len(o.Worlds) == 1 {
		after, _ := o.Worlds[0].Key(model.SubjectKeyID)
		if after.State != before.State {
			s += ", key " + string(after.State)
			if shown := o.Worlds[0].ShownKeyState(after); shown != after.State {
				s += " (shown " + string(shown) + ")"
			}
		}
	}
	return s
}

func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
