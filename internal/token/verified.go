package token

import "sync"

// maxVerified bounds the tokens a verified cache holds: a few MiB with
// tokens of the usual size.
const maxVerified = 4096

// verified remembers the access tokens a keySet verified, so that a token
// sent again (by a client on each request until it expires, by a gateway on
// each call to this subgraph) is not verified again: the same string under
// the same keys has the same signature and claims, and only its expiry can
// change. It belongs to one keySet, so new keys start it afresh and a token
// of a key taken out is checked against the keys as they are. Only tokens
// that passed every check are in it.
type verified struct {
	mu     sync.RWMutex
	claims map[string]*Claims
}

// get returns the claims of token when it verified before. Callers must
// not change them.
func (v *verified) get(token string) (*Claims, bool) {
	v.mu.RLock()
	c, ok := v.claims[token]
	v.mu.RUnlock()
	return c, ok
}

// put remembers that token verified with claims; when full, it first
// forgets an arbitrary token (Go's map order is random).
func (v *verified) put(token string, c *Claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.claims == nil {
		v.claims = make(map[string]*Claims)
	}
	if len(v.claims) >= maxVerified {
		for k := range v.claims {
			delete(v.claims, k)
			break
		}
	}
	v.claims[token] = c
}

// forget removes token, once expired.
func (v *verified) forget(token string) {
	v.mu.Lock()
	delete(v.claims, token)
	v.mu.Unlock()
}
