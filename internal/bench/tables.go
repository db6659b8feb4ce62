package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Targets are the shares of their floors, served over HTTP, that the
// scenarios must reach.
var Targets = map[string]float64{"me": 0.80, "login": 0.95, "refresh": 0.80}

// floored are the scenarios measured against a floor, in the tables' order,
// and rawFloors the in-process floors shown beside theirs.
var (
	floored   = []string{"me", "login", "refresh"}
	rawFloors = map[string]string{"login": "login-raw", "refresh": "refresh-raw"}
)

// Run files, as scripts/perf.sh writes them into a database's directory:
// SCENARIO.json for a scenario against the service, floor-FLOOR.json for a
// floor, and idle.kib for the service's RSS once ready.
const idleFile = "idle.kib"

// Markers delimit the part of a document that WriteTables output replaces.
const (
	beginMarker = "<!-- perf.sh: begin -->"
	endMarker   = "<!-- perf.sh: end -->"
)

// WriteTables writes the Markdown tables of the runs in dirs, one directory
// per database named after it: each scenario next to its floor with their
// ratio, the other scenarios, and the service's memory.
func WriteTables(w io.Writer, note string, dirs []string) error {
	// Each result is read once, though the tables show it twice.
	type read struct {
		res *Result
		err error
	}
	cache := map[string]read{}
	result := func(dir, name string) (*Result, error) {
		path := filepath.Join(dir, name+".json")
		r, ok := cache[path]
		if !ok {
			r.res, r.err = readResult(path)
			cache[path] = r
		}
		return r.res, r.err
	}
	var b strings.Builder
	if note != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(note))
	}
	fmt.Fprintln(&b, "| scenario | database | service ok/s | p50 / p90 / p99 ms | errors | floor ok/s | floor p50 / p99 ms | service / floor | target | in-process floor ok/s (service / it) |")
	fmt.Fprintln(&b, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, name := range floored {
		for _, dir := range dirs {
			svc, err1 := result(dir, name)
			floor, err2 := result(dir, "floor-"+name)
			if err := errors.Join(err1, err2); err != nil {
				fmt.Fprintf(&b, "| `%s` | %s | not measured: %v | | | | | | | |\n", name, filepath.Base(dir), oneLine(err))
				continue
			}
			ratio := "n/a"
			verdict := ""
			if floor.Throughput > 0 {
				r := svc.Throughput / floor.Throughput
				ratio = fmt.Sprintf("**%.0f%%**", 100*r)
				verdict = "met"
				if r < Targets[name] {
					verdict = "**missed**"
				}
			}
			raw := "n/a"
			if rawName, ok := rawFloors[name]; ok {
				raw = "not measured"
				if r, err := result(dir, "floor-"+rawName); err == nil && r.Throughput > 0 {
					raw = fmt.Sprintf("%.1f (%.0f%%)", r.Throughput, 100*svc.Throughput/r.Throughput)
				}
			}
			fmt.Fprintf(&b, "| `%s` | %s | %.1f | %s | %s | %.1f | %.2f / %.2f | %s | ≥ %.0f%% %s | %s |\n",
				name, filepath.Base(dir), svc.Throughput, percentiles(svc.Latency), errorsCell(svc.Stats),
				floor.Throughput, floor.Latency.P50, floor.Latency.P99, ratio, 100*Targets[name], verdict, raw)
		}
	}

	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| scenario | database | operation | ok/s | p50 / p90 / p99 ms | errors |")
	fmt.Fprintln(&b, "| --- | --- | --- | ---: | ---: | ---: |")
	for _, name := range []string{"register", "mixed"} {
		for _, dir := range dirs {
			res, err := result(dir, name)
			if err != nil {
				fmt.Fprintf(&b, "| `%s` | %s | not measured: %v | | | |\n", name, filepath.Base(dir), oneLine(err))
				continue
			}
			for _, op := range res.Operations {
				fmt.Fprintf(&b, "| `%s` | %s | %s | %.1f | %s | %s |\n", name, filepath.Base(dir), op.Operation, op.Throughput, percentiles(op.Latency), errorsCell(op))
			}
			fmt.Fprintf(&b, "| `%s` | %s | all | %.1f | %s | %s |\n", name, filepath.Base(dir), res.Throughput, percentiles(res.Latency), errorsCell(res.Stats))
		}
	}

	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| database | idle | "+strings.Join(Scenarios, " | ")+" |")
	fmt.Fprintln(&b, "| --- | ---: |"+strings.Repeat(" ---: |", len(Scenarios)))
	for _, dir := range dirs {
		idle := "?"
		if raw, err := os.ReadFile(filepath.Join(dir, idleFile)); err == nil { //nolint:gosec // the operator names the directories
			var kib int64
			if _, err := fmt.Sscan(string(raw), &kib); err == nil {
				idle = fmt.Sprintf("%.0f MiB", mib(kib))
			}
		}
		fmt.Fprintf(&b, "| %s | %s |", filepath.Base(dir), idle)
		for _, name := range Scenarios {
			res, err := result(dir, name)
			if err != nil || res.Memory == nil {
				fmt.Fprint(&b, " ? |")
				continue
			}
			fmt.Fprintf(&b, " %.0f (peak %.0f) MiB |", res.Memory.LoadMiB, res.Memory.PeakMiB)
		}
		fmt.Fprintln(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ReplaceTables rewrites the part of the document at path between the
// perf.sh markers with tables, which may be any Markdown.
func ReplaceTables(path string, tables []byte) error {
	doc, err := os.ReadFile(path) //nolint:gosec // the operator names the document
	if err != nil {
		return err
	}
	before, rest, ok1 := bytes.Cut(doc, []byte(beginMarker))
	_, after, ok2 := bytes.Cut(rest, []byte(endMarker))
	if !ok1 || !ok2 {
		return fmt.Errorf("%s: no %s ... %s block to replace", path, beginMarker, endMarker)
	}
	var out bytes.Buffer
	out.Write(before)
	out.WriteString(beginMarker + "\n")
	out.Write(bytes.TrimSpace(tables))
	out.WriteString("\n" + endMarker)
	out.Write(after)
	return os.WriteFile(path, out.Bytes(), 0o644) //nolint:gosec // a document of the repository
}

func readResult(path string) (*Result, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // a report in a directory the operator names
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func percentiles(l Latency) string {
	return fmt.Sprintf("%.2f / %.2f / %.2f", l.P50, l.P90, l.P99)
}

func errorsCell(s Stats) string {
	if s.Errors == 0 {
		return "0"
	}
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(s.ErrorsByCode)) {
		parts = append(parts, fmt.Sprintf("%d %s", s.ErrorsByCode[code], code))
	}
	return strings.Join(parts, ", ")
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
