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

func BenchmarkParse(b *testing.B) {
	keys := keysFor(b)
	for _, alg := range algorithms {
		b.Run("alg="+alg, func(b *testing.B) {
			i := newTestIssuer(b, testNow, keys[alg])
			tok, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: []string{"user"}})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := i.Parse(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
