package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
)

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r as a table for people.
func WriteText(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "scenario %s against %s: %d clients for %.1fs (GOMAXPROCS %d)\n",
		r.Scenario, r.Target, r.Concurrency, r.Seconds, r.GoMaxProcs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\trequests\terrors\tok/s\tmean ms\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	row := func(name string, s Stats) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", name, s.Requests, s.Errors,
			s.Throughput, s.Latency.Mean, s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.Max)
	}
	for _, op := range r.Operations {
		row(op.Operation, op)
	}
	name := r.Scenario
	if len(r.Operations) > 0 {
		name = "all"
	}
	row(name, r.Stats)
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Errors > 0 {
		fmt.Fprintf(w, "errors:")
		for _, code := range slices.Sorted(maps.Keys(r.ErrorsByCode)) {
			fmt.Fprintf(w, " %s %d", code, r.ErrorsByCode[code])
		}
		fmt.Fprintln(w)
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "memory of process %d: %.1f MiB before, %.1f MiB during the load (median), %.1f MiB at most\n", m.PID, m.IdleMiB, m.LoadMiB, m.PeakMiB)
	}
	return nil
}
