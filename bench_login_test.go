package main

import (
	"testing"
)

// BenchmarkLoginFlood measures logins sent by concurrent clients, with
// cheap password hashing so that what it measures is the database's work:
// the throttle counts, the session, the audit row. "right" logs in (a
// LOGIN_SUCCEEDED row in the login's transaction), "wrong" fails (a
// LOGIN_FAILED row, one insert of its own). The throttles are off: every
// attempt does the whole work. docs/performance.md compares it with the
// service before the audit trail.
func BenchmarkLoginFlood(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		s := startServer(b, testEnv(uri, "LOGIN_MAX_FAILURES", "0", "RATE_LIMIT_LOGIN", "0"))
		email := uniqueEmail(b, "flood")
		s.register(b, email)
		for _, tc := range []struct{ name, password, code string }{
			{"right", testPassword, ""},
			{"wrong", "not the password", "INVALID_CREDENTIALS"},
		} {
			b.Run(tc.name, func(b *testing.B) {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						r := s.post(b, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": tc.password}})
						if r.code() != tc.code {
							b.Errorf("login = %q, want %q: %s", r.code(), tc.code, r.Body)
							return
						}
					}
				})
			})
		}
	})
}
