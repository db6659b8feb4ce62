package bench

import (
	"bytes"
	"cmp"
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
			m, ratios, err := medianRound(func(name string) (*Result, error) { return result(dir, name) }, name)
			if err != nil {
				fmt.Fprintf(&b, "| `%s` | %s | not measured: %v | | | | | | | |\n", name, filepath.Base(dir), oneLine(err))
				continue
			}
			svc, floor := m.svc, m.floor
			ratio, verdict := "n/a", ""
			if len(ratios) > 0 {
				ratio = fmt.Sprintf("**%.0f%%**", 100*m.ratio)
				if len(ratios) > 1 {
					ratio += fmt.Sprintf(" (%d rounds: %.0f–%.0f%%)", len(ratios), 100*ratios[0], 100*ratios[len(ratios)-1])
				}
				verdict = "met"
				if m.ratio < Targets[name] {
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

// round is one floor run and the service's run after it.
type round struct {
	svc, floor *Result
	ratio      float64 // service / floor throughput, when the floor served any
}

// medianRound reads the rounds of the floored scenario name through
// result (NAME.json and floor-NAME.json, then NAME.2.json and
// floor-NAME.2.json, … as far as both go) and returns the round of the
// median ratio (the lower one of an even count) with every round's ratio,
// sorted; no ratios when no floor served anything.
func medianRound(result func(name string) (*Result, error), name string) (round, []float64, error) {
	var rounds []round
	for i := 1; ; i++ {
		suffix := ""
		if i > 1 {
			suffix = fmt.Sprintf(".%d", i)
		}
		svc, err1 := result(name + suffix)
		floor, err2 := result("floor-" + name + suffix)
		if err := errors.Join(err1, err2); err != nil {
			if i == 1 {
				return round{}, nil, err
			}
			break
		}
		r := round{svc: svc, floor: floor}
		if floor.Throughput > 0 {
			r.ratio = svc.Throughput / floor.Throughput
		}
		rounds = append(rounds, r)
	}
	measured := slices.DeleteFunc(slices.Clone(rounds), func(r round) bool { return r.floor.Throughput <= 0 })
	if len(measured) == 0 {
		return rounds[0], nil, nil
	}
	slices.SortFunc(measured, func(a, b round) int { return cmp.Compare(a.ratio, b.ratio) })
	ratios := make([]float64, len(measured))
	for i, r := range measured {
		ratios[i] = r.ratio
	}
	return measured[(len(measured)-1)/2], ratios, nil
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
