package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/latchkey/latchkey/graph"
)

// contractPath is the public contract, written for the service's users.
const contractPath = "docs/contract.md"

// TestDocsContract keeps docs/contract.md true to the service: every
// extensions.code a client can get has a row in its error table, every
// operation of schema/ a section of its own, and every type, field and
// directive of schema/ is named.
func TestDocsContract(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(contractPath)
	if err != nil {
		t.Fatal(err)
	}
	contract := string(raw)

	for _, code := range graph.ErrorCodes() {
		if !strings.Contains(contract, "\n| `"+code+"` |") {
			t.Errorf("%s has no row for the error code %s", contractPath, code)
		}
	}

	schema := readSchema(t)
	operations := 0
	for _, def := range append(slices.Clone(schema.Definitions), schema.Extensions...) {
		root := def.Name == "Query" || def.Name == "Mutation" || def.Name == "Subscription"
		if !root && def.Kind != ast.Object && def.Kind != ast.InputObject {
			if !strings.Contains(contract, "`"+def.Name+"`") {
				t.Errorf("%s does not name the %s %s of schema/", contractPath, strings.ToLower(string(def.Kind)), def.Name)
			}
			continue
		}
		if !root && !strings.Contains(contract, "`"+def.Name+"`") {
			t.Errorf("%s does not name the type %s of schema/", contractPath, def.Name)
		}
		for _, f := range def.Fields {
			if root {
				operations++
				if !strings.Contains(contract, "\n### `"+f.Name+"`\n") {
					t.Errorf("%s has no section \"### `%s`\" for the operation %s.%s", contractPath, f.Name, def.Name, f.Name)
				}
				continue
			}
			// A field is named in backquotes, alone or with its type.
			if !regexp.MustCompile("`" + regexp.QuoteMeta(f.Name) + "[`:]").MatchString(contract) {
				t.Errorf("%s does not name the field %s.%s", contractPath, def.Name, f.Name)
			}
		}
	}
	if operations == 0 {
		t.Error("schema/ has no Query or Mutation fields: is the schema where this test looks?")
	}
	for _, d := range schema.Directives {
		if !strings.Contains(contract, "`@"+d.Name) {
			t.Errorf("%s does not name the directive @%s of schema/", contractPath, d.Name)
		}
	}
}

// readSchema parses every file of schema/, without validating: the
// federation directives it uses are defined by gqlgen at generation.
func readSchema(t *testing.T) *ast.SchemaDocument {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("schema", "*.graphql*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v, %v", files, err)
	}
	var sources []*ast.Source
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: name, Input: string(data)})
	}
	doc, err := parser.ParseSchemas(sources...)
	if err != nil {
		t.Fatalf("parsing schema/: %v", err)
	}
	return doc
}

// TestDocsLinks checks every relative link and image of README.md,
// docs/*.md and k8s/README.md: it must stay inside the repository, name a
// file or directory that exists, and, when it names a heading of a
// Markdown file, a heading that exists.
func TestDocsLinks(t *testing.T) {
	t.Parallel()
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "README.md", filepath.Join("k8s", "README.md"))
	anchors := map[string]map[string]bool{} // by slash path, read once
	anchorsOf := func(file string) map[string]bool {
		if a, ok := anchors[file]; ok {
			return a
		}
		data, err := os.ReadFile(filepath.FromSlash(file))
		if err != nil {
			t.Fatal(err)
		}
		anchors[file] = headingAnchors(data)
		return anchors[file]
	}
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		from := filepath.ToSlash(doc)
		for _, l := range markdownLinks(data) {
			if strings.Contains(l.target, "://") || strings.HasPrefix(l.target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(l.target, "#")
			where := fmt.Sprintf("%s:%d: link %q", from, l.line, l.target)
			target := from
			if file != "" {
				target = path.Join(path.Dir(from), file)
				if target == ".." || strings.HasPrefix(target, "../") || path.IsAbs(file) {
					t.Errorf("%s points outside the repository", where)
					continue
				}
				info, err := os.Stat(filepath.FromSlash(target))
				if errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: %s does not exist", where, target)
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if info.IsDir() {
					if anchor != "" {
						t.Errorf("%s: a directory has no headings", where)
					}
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(target, ".md") && !anchorsOf(target)[anchor] {
				t.Errorf("%s: %s has no heading #%s", where, target, anchor)
			}
		}
	}
}

// link is a Markdown link's or image's target and the line it is on.
type link struct {
	target string
	line   int
}

var (
	linkTarget = regexp.MustCompile(`\]\(([^()\s]+)(?:\s+"[^"]*")?\)`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
)

// markdownLinks returns the inline links and images of a Markdown
// document, outside code blocks and code spans.
func markdownLinks(doc []byte) []link {
	var links []link
	fenced := false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range linkTarget.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
			links = append(links, link{target: m[1], line: n})
		}
	}
	return links
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown document: lowercased, punctuation dropped, spaces as hyphens,
// a repeated anchor numbered -1, -2, ...
func headingAnchors(doc []byte) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		text, ok := strings.CutPrefix(line, "#")
		if fenced || !ok {
			continue
		}
		text = strings.TrimLeft(text, "#")
		if !strings.HasPrefix(text, " ") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(text)) {
			switch {
			case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		anchor := b.String()
		if n := seen[anchor]; n > 0 {
			seen[anchor] = n + 1
			anchor = fmt.Sprintf("%s-%d", anchor, n)
		} else {
			seen[anchor] = 1
		}
		anchors[anchor] = true
	}
	return anchors
}

// TestDocsGraphQLExamples validates every ```graphql block of docs/*.md
// that holds operations against the served schema: the examples readers
// paste into the playground must run.
func TestDocsGraphQLExamples(t *testing.T) {
	t.Parallel()
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	block := regexp.MustCompile("(?s)```graphql\n(.*?)```")
	for _, name := range docs {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllStringSubmatch(string(raw), -1) {
			doc := m[1]
			if !regexp.MustCompile(`(?m)^\s*(query|mutation)\b`).MatchString(doc) {
				continue // SDL, not operations
			}
			if _, errs := gqlparser.LoadQueryWithRules(schema, doc, nil); len(errs) > 0 {
				t.Errorf("%s: a GraphQL example does not validate: %v\n%s", name, errs, doc)
			}
		}
	}
}
