package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// Guard refuses bodies over limit bytes with 413 and JSON array batches
// with 400, before they reach the GraphQL handler, and gives each
// request a deadline so that nothing waits on a stuck database for ever.
func Guard(limit int64, timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			refuse(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				refuse(w, http.StatusRequestEntityTooLarge, "request body too large")
				return
			}
			refuse(w, http.StatusBadRequest, "unreadable request body")
			return
		}
		if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
			refuse(w, http.StatusBadRequest, "batched requests are not supported: send one operation per request")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		cw := &codedRefusals{ResponseWriter: w}
		next.ServeHTTP(cw, r.WithContext(ctx))
		cw.flush()
	})
}

// codedRefusals gives extensions.code BAD_REQUEST to the errors of the
// refusals gqlgen writes itself, past the error presenter, with status 400
// or 406: a POST that is not JSON, GET variables that do not decode, a
// mutation sent by GET. It holds such a response until flush.
type codedRefusals struct {
	http.ResponseWriter
	status int // the held refusal's, 0 while none
	held   bytes.Buffer
}

func (w *codedRefusals) WriteHeader(status int) {
	if status == http.StatusBadRequest || status == http.StatusNotAcceptable {
		w.status = status
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *codedRefusals) Write(b []byte) (int, error) {
	if w.status != 0 {
		return w.held.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// flush writes the held refusal, if any, each error given a code.
func (w *codedRefusals) flush() {
	if w.status == 0 {
		return
	}
	var resp struct {
		Errors []map[string]any `json:"errors"`
	}
	if json.Unmarshal(w.held.Bytes(), &resp) != nil || len(resp.Errors) == 0 {
		w.ResponseWriter.WriteHeader(w.status)
		_, _ = w.ResponseWriter.Write(w.held.Bytes())
		return
	}
	for _, e := range resp.Errors {
		ext, _ := e["extensions"].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			e["extensions"] = ext
		}
		if _, ok := ext["code"]; !ok {
			ext["code"] = codeBadRequest
		}
	}
	writeJSON(w.ResponseWriter, w.status, map[string]any{"errors": resp.Errors, "data": nil})
}

// refuse writes a GraphQL error response of status with one error, coded
// BAD_REQUEST, for a request refused before it reached the GraphQL handler.
func refuse(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{
		"message":    message,
		"extensions": map[string]any{"code": codeBadRequest},
	}}})
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
