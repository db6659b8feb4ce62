package main

import (
	"testing"
)

// BenchmarkLoginFlood measures logins sent by concurrent clients: "right"
// logs in (a LOGIN_SUCCEEDED row in the login's transaction), "wrong"
// fails (a LOGIN_FAILED row, one insert of its own). With hashing=default
// argon2id runs at its defaults, as in production, and bounds the rate;
// with hashing=cheap it costs next to nothing, so that the figure is the
// database's work alone: the throttle counts, the session, the audit row.
// The throttles count every attempt but never refuse one. docs/
// performance.md compares it with the service before the audit trail.
func BenchmarkLoginFlood(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		for _, hashing := range []string{"default", "cheap"} {
			b.Run("hashing="+hashing, func(b *testing.B) {
				env := testEnv(uri, "LOGIN_MAX_FAILURES", "1000000000", "RATE_LIMIT_LOGIN", "1000000000/1m")
				if hashing == "default" {
					env = productionHashing(uri, "LOGIN_MAX_FAILURES", "1000000000", "RATE_LIMIT_LOGIN", "1000000000/1m")
				}
				s := startServer(b, env)
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
	})
}
