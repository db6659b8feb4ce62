package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
)

// BaseURL is the URL of a server that logged addr as its listening
// address: the unspecified address becomes loopback.
func BaseURL(addr string) string {
	return "http://" + strings.Replace(addr, "[::]", "127.0.0.1", 1)
}

// LogBuffer keeps a process's JSON log lines and reports the address of
// its first {"msg": "listening", "addr": ...} line, as the service and the
// tests' Node servers write it. A LogBuffer is safe for concurrent use.
type LogBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	addr    chan string
}

// NewLogBuffer returns an empty LogBuffer.
func NewLogBuffer() *LogBuffer {
	return &LogBuffer{addr: make(chan string, 1)}
}

// Addr receives the listening address once it is logged.
func (l *LogBuffer) Addr() <-chan string { return l.addr }

// Write keeps p and looks for the listening line in the complete lines
// written so far.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		line, rest, ok := bytes.Cut(l.partial, []byte("\n"))
		if !ok {
			break
		}
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &entry) == nil && entry.Msg == "listening" {
			select {
			case l.addr <- entry.Addr:
			default:
			}
		}
		l.partial = rest
	}
	return l.buf.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
