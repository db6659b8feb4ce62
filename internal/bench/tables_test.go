package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTables writes results as scripts/perf.sh lays them out and checks
// the ratios, the verdicts and the replaced block of a document.
func TestTables(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sqlite")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, r *Result) {
		f, err := os.Create(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := WriteJSON(f, r); err != nil {
			t.Fatal(err)
		}
	}
	write("me", &Result{Scenario: "me", Stats: Stats{Requests: 850, Throughput: 850}, Memory: &Memory{LoadMiB: 40, PeakMiB: 45}})
	write("floor-me", &Result{Scenario: "me floor", Stats: Stats{Requests: 1000, Throughput: 1000}})
	write("login", &Result{Scenario: "login", Stats: Stats{Requests: 80, Errors: 2, ErrorsByCode: map[string]int64{"RATE_LIMITED": 2}, Throughput: 26}})
	write("floor-login", &Result{Scenario: "login floor", Stats: Stats{Requests: 30, Throughput: 30}})
	// Two more rounds of login: 50% and 100%; the median round is the first.
	write("login.2", &Result{Scenario: "login", Stats: Stats{Requests: 20, Throughput: 20}})
	write("floor-login.2", &Result{Scenario: "login floor", Stats: Stats{Requests: 40, Throughput: 40}})
	write("login.3", &Result{Scenario: "login", Stats: Stats{Requests: 30, Throughput: 30}})
	write("floor-login.3", &Result{Scenario: "login floor", Stats: Stats{Requests: 30, Throughput: 30}})
	// A fourth round without its floor is no round.
	write("login.4", &Result{Scenario: "login", Stats: Stats{Requests: 90, Throughput: 90}})
	write("floor-login-raw", &Result{Scenario: "login floor in process", Stats: Stats{Requests: 40, Throughput: 40}})
	write("mixed", &Result{Scenario: "mixed", Operations: []Stats{{Operation: "me", Throughput: 5}}})
	if err := os.WriteFile(filepath.Join(dir, idleFile), []byte("44032\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	doc := filepath.Join(t.TempDir(), "performance.md")
	if err := os.WriteFile(doc, []byte("# Before\n\n"+beginMarker+"\nold\n"+endMarker+"\n\nAfter.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteTables(&b, "Measured here.", []string{dir}); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceTables(doc, []byte(b.String())); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := string(raw)
	for _, want := range []string{
		"# Before\n\n" + beginMarker + "\nMeasured here.",
		"| `me` | sqlite | 850.0 |", "**85%** | ≥ 80% met | n/a |",
		"| `login` | sqlite | 26.0 |", "2 RATE_LIMITED", "**87%** (3 rounds: 50–100%) | ≥ 95% **missed** | 40.0 (65%) |",
		"| `refresh` | sqlite | not measured",
		"| `mixed` | sqlite | me | 5.0 |",
		"| sqlite | 43 MiB | 40 (peak 45) MiB |",
		endMarker + "\n\nAfter.\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("document = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "old") {
		t.Errorf("document = %q, want the old block replaced", got)
	}
	if err := ReplaceTables(filepath.Join(dir, "me.json"), []byte("x")); err == nil {
		t.Error("ReplaceTables(document without markers) = nil, want an error")
	}
}
