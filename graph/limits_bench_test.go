package graph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// worstShapes build documents of at most n bytes in the shapes that cost
// the analysis of an operation the most: each repeats a unit until the
// next would not fit.
var worstShapes = []struct {
	name  string
	build func(n int) string
}{
	// Fragments spreading the next sixteen times: the expansion is
	// exponential in the document.
	{"fan-out root fields", func(n int) string { return fanOutWithin(n, "{ ...f0 }", "Query", "__typename") }},
	{"fan-out under a field", func(n int) string { return fanOutWithin(n, "{ me { ...f0 } }", "User", "id") }},
	{"fan-out in introspection", func(n int) string { return fanOutWithin(n, `{ __type(name: "User") { ...f0 } }`, "__Type", "name") }},
	// Many aliases of one field: a long flat selection set.
	{"aliases", func(n int) string {
		return repeatWithin(n, "{", func(i int) string { return fmt.Sprintf(" a%d: me { id }", i) }, " }")
	}},
	// One field repeated under one response name: gqlparser's
	// OverlappingFieldsCanBeMerged compares every pair.
	{"one field repeated", func(n int) string { return repeatWithin(n, "{", func(int) string { return " me { id }" }, " }") }},
	// One fragment spread by many fields.
	{"one fragment spread often", func(n int) string {
		return repeatWithin(n, "{", func(i int) string { return fmt.Sprintf(" a%d: me { ...U }", i) }, " } fragment U on User { id email roles }")
	}},
	// Inline fragments nested as deep as the parser allows.
	{"nested inline fragments", func(n int) string {
		return nestWithin(n, 450, "{ me ", "{ ... on User ", "{ id }", " }")
	}},
	// Fields nested as deep as the parser allows: ofType is the schema's
	// only field of its own type.
	{"deep nesting", func(n int) string {
		return nestWithin(n, 450, `{ __type(name: "User") `, "{ ofType ", "{ name }", " }")
	}},
}

// BenchmarkAnalyse measures the analysis of a validated operation that
// the limits and the introspection gate share, against document size.
func BenchmarkAnalyse(b *testing.B) {
	es := testSchema(ComplexityRoot{})
	for _, shape := range worstShapes {
		for _, doc := range shapeDocuments(shape.build) {
			op := operation(b, es, doc)
			b.Run(fmt.Sprintf("%s/bytes=%d", shape.name, len(doc)), func(b *testing.B) {
				for b.Loop() {
					analyse(b.Context(), es, op, nil)
				}
			})
		}
	}
}

// BenchmarkValidate measures gqlparser's parsing and validation of the
// same documents, which gqlgen runs before any extension sees them, for
// comparison.
func BenchmarkValidate(b *testing.B) {
	schema := testSchema(ComplexityRoot{}).Schema()
	for _, shape := range worstShapes {
		for _, doc := range shapeDocuments(shape.build) {
			b.Run(fmt.Sprintf("%s/bytes=%d", shape.name, len(doc)), func(b *testing.B) {
				for b.Loop() {
					qd, err := parser.ParseQuery(&ast.Source{Input: doc})
					if err != nil {
						b.Fatal(err)
					}
					if errs := validator.ValidateWithRules(schema, qd, rules.NewDefaultRules()); len(errs) > 0 {
						b.Fatal(errs)
					}
				}
			})
		}
	}
}

// shapeDocuments are the documents build makes within 1, 4, 16 and 32
// KiB, the largest the service takes by default, each size once.
func shapeDocuments(build func(n int) string) []string {
	var docs []string
	for _, n := range []int{1 << 10, 4 << 10, 16 << 10, 32 << 10} {
		if doc := build(n); len(docs) == 0 || len(doc) != len(docs[len(docs)-1]) {
			docs = append(docs, doc)
		}
	}
	return docs
}

// fanOutWithin is the fragmentFanOut of fan 16 with as many levels as fit
// in n bytes.
func fanOutWithin(n int, operation, typ, leaf string) string {
	doc := fragmentFanOut(0, 16, operation, typ, leaf)
	for levels := 1; ; levels++ {
		next := fragmentFanOut(levels, 16, operation, typ, leaf)
		if len(next) > n {
			return doc
		}
		doc = next
	}
}

// repeatWithin is head, unit(0), unit(1), ... and tail, in at most n
// bytes.
func repeatWithin(n int, head string, unit func(int) string, tail string) string {
	var b strings.Builder
	b.WriteString(head)
	for i := 0; ; i++ {
		u := unit(i)
		if b.Len()+len(u)+len(tail) > n {
			break
		}
		b.WriteString(u)
	}
	b.WriteString(tail)
	return b.String()
}

// nestWithin is head, then open nested as often as fits in n bytes and
// at most limit times, then leaf and the closes.
func nestWithin(n, limit int, head, open, leaf, close string) string {
	levels := min(limit, (n-len(head)-len(leaf)-len(close))/(len(open)+len(close)))
	return head + strings.Repeat(open, levels) + leaf + strings.Repeat(close, levels+1)
}
