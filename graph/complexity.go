package graph

import (
	"math"

	"github.com/latchkey/latchkey/graph/model"
	"github.com/latchkey/latchkey/internal/auth"
)

// complexityRoot holds the schema's own complexity functions: a list costs
// its page size times its selection, so that the complexity limit bounds
// the rows an operation can read, nested lists multiplied.
func complexityRoot() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Users = func(child int, first *int, _ *string, _ *model.UserFilter) int {
		return listComplexity(child, first, 20)
	}
	c.Query.AuditEvents = func(child int, first *int, _ *string, _ *model.AuditEventFilter) int {
		return listComplexity(child, first, 50)
	}
	c.User.AuditEvents = func(child int, first *int, _ *string) int {
		return listComplexity(child, first, 50)
	}
	return c
}

// listComplexity is 1 plus first times child, first bounded to the page
// sizes a list takes (def when null), so that an out-of-range first is
// refused by its field's BAD_USER_INPUT rather than by the limit.
func listComplexity(child int, first *int, def int) int {
	n := def
	if first != nil {
		n = min(max(*first, 1), auth.MaxPageSize)
	}
	return addSat(1, mulSat(n, child))
}

// mulSat multiplies counts a and b, at least 0 each, saturating at
// math.MaxInt.
func mulSat(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}
