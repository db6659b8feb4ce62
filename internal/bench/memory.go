package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
)

// memorySampler reads a process's resident set size from /proc (Linux).
type memorySampler struct {
	pid  int
	idle int64
	// load holds the samples taken during the load.
	load []int64
}

func newMemorySampler(pid int) *memorySampler { return &memorySampler{pid: pid} }

// sample returns the process's current RSS in KiB, 0 when there is no
// process to sample or it cannot be read.
func (m *memorySampler) sample() int64 {
	if m.pid == 0 {
		return 0
	}
	kib, err := RSS(m.pid)
	if err != nil {
		return 0
	}
	return kib
}

// during takes a sample of the load.
func (m *memorySampler) during() {
	if kib := m.sample(); kib > 0 {
		m.load = append(m.load, kib)
	}
}

// result returns what was sampled, nil without a process.
func (m *memorySampler) result() *Memory {
	if m.pid == 0 {
		return nil
	}
	r := &Memory{PID: m.pid, IdleMiB: mib(m.idle)}
	if len(m.load) > 0 {
		s := slices.Sorted(slices.Values(m.load))
		r.LoadMiB, r.PeakMiB = mib(s[len(s)/2]), mib(s[len(s)-1])
	}
	return r
}

// progress is the progress line's memory column.
func (m *memorySampler) progress() string {
	if len(m.load) == 0 {
		return ""
	}
	return fmt.Sprintf("  rss %6.1f MiB", mib(m.load[len(m.load)-1]))
}

// RSS returns the resident set size of process pid in KiB, the VmRSS line
// of /proc/PID/status.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("reading memory of process %d: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) == 2 && string(f[1]) == "kB" {
				return strconv.ParseInt(string(f[0]), 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("process %d: no VmRSS in /proc/%d/status", pid, pid)
}

func mib(kib int64) float64 { return float64(kib) / 1024 }
