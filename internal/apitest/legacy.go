package apitest

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// LegacyFixture is a record of internal/password/testdata/legacy.json: a
// password hashed by real Werkzeug, bcrypt or htpasswd
// (scripts/legacy-fixtures.py).
type LegacyFixture struct {
	Password  string `json:"password"`
	Hash      string `json:"hash"`
	Scheme    string `json:"scheme"`
	Refused   bool   `json:"refused"`
	MadeBy    string `json:"made_by"`
	StandsFor string `json:"stands_for"`
}

// Expensive reports whether the fixture is at a library's default cost,
// which takes seconds to verify under -race.
func (f LegacyFixture) Expensive() bool {
	return strings.Contains(f.StandsFor, "default")
}

// LegacyFixtures reads the fixtures from path, the test's way to
// internal/password/testdata/legacy.json.
func LegacyFixtures(t testing.TB, path string) []LegacyFixture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fs []LegacyFixture
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatal(err)
	}
	return fs
}
