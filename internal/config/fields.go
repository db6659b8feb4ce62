package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A field is a Config field seen through its environment variable, as
// flag.Value sees a flag's variable.
type field interface {
	// Set parses a value, non-empty, into the field. It leaves the field
	// unchanged when it returns an error, which never contains a secret.
	Set(v string) error
	// Get returns the field for the startup log line.
	Get() any
}

type intValue int

func (i *intValue) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*i = intValue(n)
	return nil
}

func (i *intValue) Get() any { return int(*i) }

// gcPercentValue is GOGC as the Go runtime reads it: a percentage, or
// "off" (-1).
type gcPercentValue int

func (p *gcPercentValue) Set(v string) error {
	if v == "off" {
		*p = -1
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is neither a percentage nor off", v)
	}
	*p = gcPercentValue(n)
	return nil
}

func (p *gcPercentValue) Get() any {
	if *p < 0 {
		return "off"
	}
	return int(*p)
}

type int64Value int64

func (i *int64Value) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*i = int64Value(n)
	return nil
}

func (i *int64Value) Get() any { return int64(*i) }

// parseUint parses an unsigned integer of bitSize bits.
func parseUint(v string, bitSize int) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, bitSize)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number from 0 to %d", v, uint64(1)<<bitSize-1)
	}
	return n, nil
}

type uint32Value uint32

func (u *uint32Value) Set(v string) error {
	n, err := parseUint(v, 32)
	if err == nil {
		*u = uint32Value(n)
	}
	return err
}

func (u *uint32Value) Get() any { return uint32(*u) }

type uint8Value uint8

func (u *uint8Value) Set(v string) error {
	n, err := parseUint(v, 8)
	if err == nil {
		*u = uint8Value(n)
	}
	return err
}

func (u *uint8Value) Get() any { return uint8(*u) }

type boolValue bool

func (b *boolValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%q is not a boolean (true or false)", v)
	}
	*b = boolValue(x)
	return nil
}

func (b *boolValue) Get() any { return bool(*b) }

// durationValue is a Go duration (time.ParseDuration): 90s, 15m, 720h.
type durationValue time.Duration

func (d *durationValue) Set(v string) error {
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration (like 15m)", v)
	}
	*d = durationValue(x)
	return nil
}

func (d *durationValue) Get() any { return time.Duration(*d).String() }

type stringValue string

func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }

func (s *stringValue) Get() any { return string(*s) }

type secretValue Secret

func (s *secretValue) Set(v string) error { *s = secretValue(v); return nil }

func (s *secretValue) Get() any { return Secret(*s) }

// pemText returns a PEM value from the environment with surrounding white
// space dropped and, when it has no line breaks but literal "\n"s (as some
// platforms flatten multi-line values), those made line breaks.
func pemText(v string) string {
	v = strings.TrimSpace(v)
	if strings.ContainsRune(v, '\n') {
		return v
	}
	return strings.TrimSpace(strings.ReplaceAll(v, `\n`, "\n"))
}

// pemSecretValue is a PEM private key.
type pemSecretValue Secret

func (p *pemSecretValue) Set(v string) error { *p = pemSecretValue(pemText(v)); return nil }

func (p *pemSecretValue) Get() any { return Secret(*p) }

// pemValue is PEM text that is no secret; the log line says whether it is
// set, as the text is long.
type pemValue string

func (p *pemValue) Set(v string) error { *p = pemValue(pemText(v)); return nil }

func (p *pemValue) Get() any { return *p != "" }

// keyEncryptionKeyBytes is the size of an AES-256 key.
const keyEncryptionKeyBytes = 32

// keyValue is a base64 AES-256 key (standard or URL alphabet, padded or
// not), held decoded. The value is never echoed.
type keyValue Secret

func (k *keyValue) Set(v string) error {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			if len(b) != keyEncryptionKeyBytes {
				return fmt.Errorf("decodes to %d bytes, want %d (openssl rand -base64 32)", len(b), keyEncryptionKeyBytes)
			}
			*k = keyValue(b)
			return nil
		}
	}
	return errors.New("not base64 (openssl rand -base64 32); the value is not shown")
}

func (k *keyValue) Get() any { return Secret(*k) }

// databaseValue is a database URI; it sets the dialect and where the
// database is, keeping MaxConns. Values are never echoed in errors, since
// a PostgreSQL URI may hold a password.
type databaseValue Database

func (d *databaseValue) Set(v string) error {
	const want = "(want postgres://, postgresql:// or sqlite://)"
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok || !isScheme(scheme) {
		return fmt.Errorf("not a URI %s; the value is not shown, as it may hold a password", want)
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		if _, err := url.Parse(v); err != nil {
			return errors.New("not a valid URI (percent-encode special characters in the password); the value is not shown, as it may hold a password")
		}
		d.Dialect, d.URL, d.Path = "postgres", v, ""
		return nil
	case "sqlite":
		// Not url.Parse: in "sqlite://./data/x.db" the "." is no host.
		if rest == "" {
			return errors.New("sqlite:// needs a path, like sqlite://auth.db, or sqlite://:memory: for a database in memory")
		}
		d.Dialect, d.URL, d.Path = "sqlite", "", rest
		return nil
	}
	return fmt.Errorf("unsupported scheme %q %s", scheme, want)
}

func (d *databaseValue) Get() any { return Database(*d) }

// isScheme reports whether s is a URI scheme (RFC 3986): a letter, then
// letters, digits, "+", "-" or ".".
func isScheme(s string) bool {
	for i, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && ('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// list splits a comma-separated value, trimming items and dropping empty
// ones.
func list(v string) []string {
	var items []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// originsValue is a list of CORS origins. Each is kept in the form
// browsers send in the Origin header (lowercase, no default port), so that
// the middleware may compare strings.
type originsValue []string

func (o *originsValue) Set(v string) error {
	var origins []string
	var errs []error
	for _, item := range list(v) {
		origin, ok := canonicalOrigin(item)
		if !ok {
			errs = append(errs, fmt.Errorf("%q is neither * nor an origin like https://app.example.com:8443 (http or https, a host, an optional port, no path)", item))
			continue
		}
		origins = append(origins, origin)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	*o = origins
	return nil
}

func (o *originsValue) Get() any { return []string(*o) }

// canonicalOrigin returns s as an Origin header would carry it.
func canonicalOrigin(s string) (string, bool) {
	if s == "*" {
		return s, true
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" ||
		u.ForceQuery || u.Fragment != "" || strings.HasSuffix(s, "#") || u.Hostname() == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	switch port := u.Port(); {
	case port == "", scheme == "http" && port == "80", scheme == "https" && port == "443":
	default:
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", false
		}
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// prefixesValue is a list of CIDRs, masked; a bare address means that one
// address.
type prefixesValue []netip.Prefix

func (p *prefixesValue) Set(v string) error {
	var prefixes []netip.Prefix
	var errs []error
	for _, item := range list(v) {
		prefix, err := parsePrefix(item)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is not a CIDR (like 10.0.0.0/8) or an IP address", item))
			continue
		}
		prefixes = append(prefixes, prefix.Masked())
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	*p = prefixes
	return nil
}

func (p *prefixesValue) Get() any {
	s := make([]string, len(*p))
	for i, prefix := range *p {
		s[i] = prefix.String()
	}
	return s
}

// parsePrefix parses a CIDR, or an address without a zone as the prefix
// of that one address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("zone")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// rateLimitValue is "N/duration" (50/15m), or "0" for no limit.
type rateLimitValue RateLimit

func (r *rateLimitValue) Set(v string) error {
	if v == "0" {
		*r = rateLimitValue{}
		return nil
	}
	n, w, ok := strings.Cut(v, "/")
	maxEvents, err1 := strconv.Atoi(strings.TrimSpace(n))
	window, err2 := time.ParseDuration(strings.TrimSpace(w))
	if !ok || err1 != nil || err2 != nil || maxEvents < 1 || window <= 0 {
		return fmt.Errorf("%q is not a rate limit (like 50/15m, or 0 for none)", v)
	}
	*r = rateLimitValue{Max: maxEvents, Window: window}
	return nil
}

func (r *rateLimitValue) Get() any { return RateLimit(*r).String() }

// endpointValue is an OTLP/HTTP URL. It may carry credentials: it is never
// echoed, and logged with its password redacted.
type endpointValue string

func (e *endpointValue) Set(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http:// or https:// URL; the value is not shown, as it may hold credentials")
	}
	*e = endpointValue(v)
	return nil
}

func (e *endpointValue) Get() any {
	if *e == "" {
		return ""
	}
	return redactURL(string(*e))
}

// exporterValue is an OTEL_TRACES_EXPORTER the service supports.
type exporterValue string

func (e *exporterValue) Set(v string) error {
	switch v = strings.ToLower(v); v {
	case "otlp", "none":
		*e = exporterValue(v)
		return nil
	}
	return fmt.Errorf("%q is not supported (want otlp or none)", v)
}

func (e *exporterValue) Get() any { return string(*e) }
