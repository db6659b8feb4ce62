package config

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVariables records every name Load asks getenv for, over environments
// that take each branch of Load (nothing set, everything set, production),
// and checks that Variables lists exactly those names.
func TestVariables(t *testing.T) {
	read := map[string]bool{}
	record := func(env map[string]string) func(string) string {
		return func(name string) string {
			read[name] = true
			return env[name]
		}
	}
	everything := map[string]string{}
	for _, name := range Variables() {
		everything[name] = "1"
	}
	everything["DATABASE_URI"] = "postgres://db/latchkey"
	for _, env := range []map[string]string{
		{},
		everything,
		{"DEBUG": "false", "JWT_SECRET_KEY": secret32},
		{"DATABASE_URL": "sqlite://:memory:"},
	} {
		_, _ = Load(record(env))
	}
	var got []string
	for name := range read {
		got = append(got, name)
	}
	slices.Sort(got)
	if diff := cmp.Diff(got, Variables()); diff != "" {
		t.Errorf("names Load reads (-) and Variables (+) differ:\n%s", diff)
	}
}

// TestSecretVariables checks that every secret variable is one the service
// reads.
func TestSecretVariables(t *testing.T) {
	for _, name := range SecretVariables() {
		if !slices.Contains(Variables(), name) {
			t.Errorf("secret variable %s is not read by Load (Variables)", name)
		}
	}
}

// TestVariablesIsACopy checks that a caller changing the returned slice
// does not change what the next caller gets.
func TestVariablesIsACopy(t *testing.T) {
	v := Variables()
	if !slices.IsSorted(v) || len(slices.Compact(slices.Clone(v))) != len(v) {
		t.Errorf("Variables() = %v, want sorted names without repeats", v)
	}
	v[0] = "CHANGED"
	if Variables()[0] == "CHANGED" {
		t.Error("Variables() returns its own slice; a caller changed it")
	}
}
