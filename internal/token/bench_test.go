package token

import "testing"

func BenchmarkIssue(b *testing.B) {
	keys := keysFor(b)
	for _, alg := range algorithms {
		b.Run("alg="+alg, func(b *testing.B) {
			i := newTestIssuer(b, testNow, keys[alg])
			for b.Loop() {
				if _, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: []string{"user"}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse verifies a token the keys have not verified yet (first)
// and one they have (again: only its expiry is checked).
func BenchmarkParse(b *testing.B) {
	keys := keysFor(b)
	for _, alg := range algorithms {
		i := newTestIssuer(b, testNow, keys[alg])
		tok, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: []string{"user"}})
		if err != nil {
			b.Fatal(err)
		}
		for _, again := range []bool{false, true} {
			name := "alg=" + alg + "/first"
			if again {
				name = "alg=" + alg + "/again"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					if !again {
						i.keys.Load().verified.forget(tok)
					}
					if _, err := i.Parse(tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
