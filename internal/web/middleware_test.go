package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientIP walks X-Forwarded-For from the right past trusted proxies,
// and believes forwarding headers only from a trusted peer.
func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.8.0.0/26"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name, peer string
		headers    map[string]string
		want       string
	}{
		{"untrusted peer, headers ignored", "203.0.113.5:4000", map[string]string{"X-Forwarded-For": "198.51.100.1", "X-Real-IP": "198.51.100.2"}, "203.0.113.5"},
		{"trusted peer, one hop", "10.8.0.3:4000", map[string]string{"X-Forwarded-For": "198.51.100.1"}, "198.51.100.1"},
		{"trusted peer, client-written hops ignored", "10.8.0.3:4000", map[string]string{"X-Forwarded-For": "1.2.3.4, 198.51.100.1, 10.8.0.9"}, "198.51.100.1"},
		{"trusted peer, X-Real-IP without X-Forwarded-For", "10.8.0.3:4000", map[string]string{"X-Real-IP": "198.51.100.7"}, "198.51.100.7"},
		{"trusted peer, garbage hop", "10.8.0.3:4000", map[string]string{"X-Forwarded-For": "nonsense"}, "10.8.0.3"},
		{"IPv6 loopback proxy", "[::1]:4000", map[string]string{"X-Forwarded-For": "2001:db8::1"}, "2001:db8::1"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.5]:4000", nil, "203.0.113.5"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/query", nil)
		r.RemoteAddr = tc.peer
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		peer := remoteAddr(r)
		if got := clientIP(r, trusted, peer, isTrusted(trusted, peer)); got != tc.want {
			t.Errorf("%s: clientIP = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestValidRequestID accepts a proxy's plain, short ids only.
func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc-123_x.y": true, "": false, "has space": false, "new\nline": false,
		string(make([]byte, 129)): false,
	} {
		if got := validRequestID(id); got != want {
			t.Errorf("validRequestID(%q) = %t, want %t", id, got, want)
		}
	}
}
