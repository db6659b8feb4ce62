// Package config holds Config and Load: the only code of the service that
// reads the environment.
//
// Each variable is declared once, in the settings table of settings.go:
// its name, default, meaning and whether it is secret. That table drives
// Load, the variables named in Validate's errors, the startup log line
// (Config.LogValue), Variables and SecretVariables, and docs/settings.md,
// which lists every variable and is generated from it. The OTEL_* variables
// other than those that turn tracing on are left to the OpenTelemetry SDK,
// which reads them itself; docs/settings.md lists them too.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the service's effective configuration. Load is the only way to
// get one from the environment; its zero value is not usable.
type Config struct {
	Port              int      // PORT; 0 picks any free port
	Database          Database // DATABASE_URI or DATABASE_URL
	Debug             bool     // DEBUG: development mode
	JWTSecretKey      Secret   // JWT_SECRET_KEY: HS256 shared secret, may be empty
	JWTPrivateKey     Secret   // JWT_PRIVATE_KEY: PEM, may be empty
	JWTPrivateKeyFile string   // JWT_PRIVATE_KEY_FILE: path of a PEM file, may be empty
	// JWTPreviousPublicKeys is JWT_PREVIOUS_PUBLIC_KEYS: PEM public keys
	// that verify beside the private key.
	JWTPreviousPublicKeys     string
	JWTPreviousPublicKeysFile string        // JWT_PREVIOUS_PUBLIC_KEYS_FILE
	JWTKeysRefreshInterval    time.Duration // JWT_KEYS_REFRESH_INTERVAL
	// KeyEncryptionKey is KEY_ENCRYPTION_KEY decoded: 32 bytes, or empty.
	KeyEncryptionKey Secret
	// KeyEncryptionKeyPrevious is KEY_ENCRYPTION_KEY_PREVIOUS decoded.
	KeyEncryptionKeyPrevious Secret
	JWTClaimsNamespace       string         // JWT_CLAIMS_NAMESPACE
	JWTIssuer                string         // JWT_ISSUER
	JWTAudience              string         // JWT_AUDIENCE
	JWTClockSkew             time.Duration  // JWT_CLOCK_SKEW
	AccessTokenTTL           time.Duration  // ACCESS_TOKEN_TTL
	RefreshTokenTTL          time.Duration  // REFRESH_TOKEN_TTL: a session's idle lifetime
	SessionMaxAge            time.Duration  // SESSION_MAX_AGE: a session's absolute lifetime
	RefreshReuseInterval     time.Duration  // REFRESH_REUSE_INTERVAL; 0 turns the grace off
	AuditLogRetention        time.Duration  // AUDIT_LOG_RETENTION: how long audit events are kept
	Playground               bool           // PLAYGROUND
	Introspection            bool           // INTROSPECTION
	CORSAllowedOrigins       []string       // CORS_ALLOWED_ORIGINS: origins as browsers send them, or "*"
	TrustedProxies           []netip.Prefix // TRUSTED_PROXIES: masked, a bare address as /32 or /128
	PasswordHash             PasswordHash   // PASSWORD_HASH_*
	Memory                   Memory         // MEMORY_*
	MaxBodyBytes             int64          // MAX_BODY_BYTES
	MaxComplexity            int            // MAX_QUERY_COMPLEXITY
	MaxQueryBytes            int            // MAX_QUERY_BYTES
	MaxDepth                 int            // MAX_QUERY_DEPTH
	MaxRootFields            int            // MAX_ROOT_FIELDS
	MaxEntities              int            // MAX_ENTITIES
	FederationAuthDirectives bool           // FEDERATION_AUTH_DIRECTIVES
	MaxQueryTokens           int            // MAX_QUERY_TOKENS
	RequestTimeout           time.Duration  // REQUEST_TIMEOUT
	Throttle                 Throttle       // LOGIN_* and RATE_LIMIT_*
	// AppURL is APP_URL: the prefix, verbatim, of the links in mails.
	AppURL string
	// RequireEmailVerification is REQUIRE_EMAIL_VERIFICATION: login and
	// register refuse an unverified account.
	RequireEmailVerification bool
	EmailVerificationTTL     time.Duration // EMAIL_VERIFICATION_TTL
	PasswordResetTTL         time.Duration // PASSWORD_RESET_TTL
	EmailChangeTTL           time.Duration // EMAIL_CHANGE_TTL
	Mail                     Mail          // MAIL_* and SMTP_*
	ShutdownTimeout          time.Duration // SHUTDOWN_TIMEOUT
	Tracing                  Tracing       // the OTEL_* variables that turn tracing on or off
}

// Tracing is what the service decides about OpenTelemetry tracing:
// whether spans are exported. The OpenTelemetry SDK reads everything else
// (where to exactly, headers, service name, sampler) from the process
// environment itself.
type Tracing struct {
	// TracesEndpoint is OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and Endpoint
	// OTEL_EXPORTER_OTLP_ENDPOINT, as set. Either turns tracing on. They
	// may hold credentials: log the Tracing, never them.
	TracesEndpoint string
	Endpoint       string
	// Exporter is OTEL_TRACES_EXPORTER: "otlp", or "none" to turn tracing
	// off.
	Exporter string
	// Disabled is OTEL_SDK_DISABLED: true turns tracing off.
	Disabled bool
}

// Enabled reports whether spans are recorded and exported: an endpoint is
// set and neither OTEL_SDK_DISABLED nor OTEL_TRACES_EXPORTER turns
// tracing off.
func (t Tracing) Enabled() bool {
	return (t.TracesEndpoint != "" || t.Endpoint != "") && !t.Disabled && t.Exporter != "none"
}

// String says whether tracing is on, without the endpoints, so that
// printing a Config with fmt reveals no credentials in them.
func (t Tracing) String() string {
	if !t.Enabled() {
		return "tracing off"
	}
	return "tracing on"
}

// GoString is String, so that %#v hides the endpoints too.
func (t Tracing) GoString() string { return t.String() }

// Database says which database to use and where it is.
type Database struct {
	Dialect string // "postgres" or "sqlite"
	// URL is the PostgreSQL URI as given. It may hold a password: log the
	// Database, never the URL itself.
	URL string
	// Path is the SQLite file path after "sqlite://" ("auth.db",
	// "./data/x.db", "/var/x.db"), or ":memory:".
	Path string
	// MaxConns caps the open PostgreSQL connections of one process.
	MaxConns int
}

// SQLiteDSN is the modernc.org/sqlite data source of Path: foreign keys on
// and, for a file, write-ahead logging with every commit synced to disk, so
// that a revocation survives a power cut. Transactions take the write lock
// when they begin: a command run beside the service (roles, users) then
// waits its turn under busy_timeout, where a read that turns into a write
// would fail as busy if the other process wrote meanwhile.
func (d Database) SQLiteDSN() string {
	params := "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)"
	if d.Path == ":memory:" {
		return "file::memory:?" + params
	}
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(d.Path) +
		"?" + params + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
}

// PasswordHash holds the argon2id cost and how many hashes may run at once.
type PasswordHash struct {
	Memory      uint32 // PASSWORD_HASH_MEMORY, in KiB
	Iterations  uint32 // PASSWORD_HASH_ITERATIONS
	Parallelism uint8  // PASSWORD_HASH_PARALLELISM
	Concurrency int    // PASSWORD_HASH_CONCURRENCY: most hashes computed at once
	// MaxWait is PASSWORD_HASH_MAX_WAIT: how long a hash may wait for a
	// slot before its request is refused; 0 waits without limit.
	MaxWait time.Duration
}

// Memory holds how the service keeps its memory in bounds.
type Memory struct {
	// LimitMiB is MEMORY_LIMIT_MIB: the soft limit the Go runtime collects
	// garbage to stay under; 0 sets none.
	LimitMiB int
	// GCPercent is GOGC: the collection target debug.SetGCPercent takes,
	// -1 for off.
	GCPercent int
	// ReleaseAfter is MEMORY_RELEASE_AFTER: how long without a password
	// hash before the free memory goes back to the system; 0 leaves it to
	// the runtime.
	ReleaseAfter time.Duration
}

// Throttle holds the limits on failed logins and per-address attempts.
type Throttle struct {
	LoginMaxFailures int           // LOGIN_MAX_FAILURES; 0 turns the account throttle off
	LoginLockout     time.Duration // LOGIN_LOCKOUT
	LoginMaxLockout  time.Duration // LOGIN_MAX_LOCKOUT
	// LoginKnownAddressTTL is LOGIN_KNOWN_ADDRESS_TTL.
	LoginKnownAddressTTL time.Duration
	Login                RateLimit // RATE_LIMIT_LOGIN: failed logins per address
	PasswordCheck        RateLimit // RATE_LIMIT_PASSWORD_CHECK: wrong current passwords per session
	Register             RateLimit // RATE_LIMIT_REGISTER
	Refresh              RateLimit // RATE_LIMIT_REFRESH: unknown refresh tokens per address
	Validate             RateLimit // RATE_LIMIT_VALIDATE: forged tokens per address
	Mail                 RateLimit // RATE_LIMIT_MAIL: mail requests per address
	MailRecipient        RateLimit // RATE_LIMIT_MAIL_RECIPIENT: mails queued per recipient
	Token                RateLimit // RATE_LIMIT_TOKEN: failed token mutations per address
}

// RateLimit is at most Max events per Window; zero Max is no limit.
type RateLimit struct {
	Max    int
	Window time.Duration
}

// String is the setting's form: "50/15m0s", or "0".
func (r RateLimit) String() string {
	if r.Max == 0 {
		return "0"
	}
	return strconv.Itoa(r.Max) + "/" + r.Window.String()
}

// Secret is a string that never appears in logs or fmt output.
type Secret string

const redacted = "[REDACTED]"

// String returns "[REDACTED]", or "" when s is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, so that %#v hides the value too.
func (s Secret) GoString() string { return s.String() }

// LogValue returns String as a slog value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// minSecretBytes is the shortest JWT_SECRET_KEY production accepts: 256
// bits, the size of an HS256 output.
const minSecretBytes = 32

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests), applies defaults and validates it, following the settings table.
// An empty value counts as unset; surrounding spaces are ignored except
// where the table keeps a value byte for byte. The error lists every
// problem, one line each, starting with the variable's name; it never
// contains a secret. The only fact Load reads from elsewhere is
// runtime.GOMAXPROCS, the default PASSWORD_HASH_CONCURRENCY.
func Load(getenv func(string) string) (Config, error) {
	values := make(map[string]string, len(settings))
	for _, s := range settings {
		v := getenv(s.name)
		if !s.raw {
			v = strings.TrimSpace(v)
		}
		values[s.name] = v
	}
	var c Config
	var errs []error
	for _, s := range settings {
		if s.yieldsTo != "" && values[s.yieldsTo] != "" {
			continue
		}
		def := s.def
		if s.defaultFrom != nil {
			def = s.defaultFrom(&c)
		}
		v := values[s.name]
		if v == "" {
			v = def
		}
		if v == "" {
			continue
		}
		f := s.field(&c)
		if err := f.Set(v); err != nil {
			errs = append(errs, s.problems(err)...)
			// A value that did not parse takes the default, which
			// Validate accepts: each variable is reported once.
			if def != "" && def != v {
				errs = append(errs, s.problems(f.Set(def))...)
			}
		}
	}
	if err := errors.Join(append(errs, c.problems()...)...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// problems returns err, and each error it joins, as problems of s's
// variable; nil when err is nil.
func (s setting) problems(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []error
		for _, e := range joined.Unwrap() {
			errs = append(errs, s.problems(e)...)
		}
		return errs
	}
	return []error{&varError{Name: s.name, Msg: err.Error()}}
}

// Validate checks the ranges of c's values and the rules between them,
// naming the environment variable of each problem. Load calls it; tests
// that build a Config by hand may too.
func (c Config) Validate() error {
	return errors.Join(c.problems()...)
}

// problems returns what Validate reports, one error per problem.
func (c Config) problems() []error {
	var errs []error
	for _, s := range settings {
		if s.check != nil {
			errs = append(errs, s.problems(s.check(c))...)
		}
	}
	return errs
}

// within returns an error unless lo <= v <= hi.
func within[T int | uint8](v, lo, hi T) error {
	if v < lo || v > hi {
		return fmt.Errorf("%d is out of range %d..%d", v, lo, hi)
	}
	return nil
}

// atLeast returns an error unless v >= lo.
func atLeast[T int | int64 | uint32 | time.Duration](v, lo T) error {
	switch {
	case v >= lo:
		return nil
	case lo == 0:
		return fmt.Errorf("%v must not be negative", v)
	}
	return fmt.Errorf("%v must be at least %v", v, lo)
}

// positive returns an error unless d > 0.
func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%v must be more than 0", d)
	}
	return nil
}

// oneKeySource returns an error when more than one signing key is set.
func (c Config) oneKeySource() error {
	sources := 0
	for _, set := range []bool{c.JWTSecretKey != "", c.JWTPrivateKey != "", c.JWTPrivateKeyFile != ""} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return errors.New("set at most one of JWT_SECRET_KEY, JWT_PRIVATE_KEY and JWT_PRIVATE_KEY_FILE")
	}
	return nil
}

// previousKeys checks that previous public keys are set once, beside a
// private key.
func (c Config) previousKeys() error {
	var errs []error
	if (c.JWTPreviousPublicKeys != "" || c.JWTPreviousPublicKeysFile != "") && !c.PrivateKeySet() {
		errs = append(errs, errors.New("needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE"))
	}
	if c.JWTPreviousPublicKeys != "" && c.JWTPreviousPublicKeysFile != "" {
		errs = append(errs, errors.New("set it or JWT_PREVIOUS_PUBLIC_KEYS_FILE, not both"))
	}
	return errors.Join(errs...)
}

// problem checks that d says where its database is.
func (d Database) problem() error {
	switch d.Dialect {
	case "postgres":
		if d.URL == "" {
			return errors.New("PostgreSQL needs a URI")
		}
	case "sqlite":
		if d.Path == "" {
			return errors.New("SQLite needs a path")
		}
	default:
		return fmt.Errorf("unsupported dialect %q (want postgres or sqlite)", d.Dialect)
	}
	return nil
}

// productionKey holds the rule that only production (DEBUG=false)
// enforces: tokens must be signed with a key nobody can guess.
func (c Config) productionKey() error {
	if c.Debug {
		return nil
	}
	switch {
	case c.JWTSecretKey != "":
		if len(c.JWTSecretKey) < minSecretBytes {
			return fmt.Errorf("production (DEBUG=false) needs a secret of at least %d bytes", minSecretBytes)
		}
	case c.PrivateKeySet(), c.KeyEncryptionKey != "":
	default:
		return fmt.Errorf("production (DEBUG=false) needs a signing key: JWT_PRIVATE_KEY_FILE, JWT_PRIVATE_KEY, "+
			"a JWT_SECRET_KEY of at least %d bytes, or KEY_ENCRYPTION_KEY to encrypt the keys held in the database", minSecretBytes)
	}
	return nil
}

// PrivateKeySet reports whether a PEM private key signs tokens
// (JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE).
func (c Config) PrivateKeySet() bool {
	return c.JWTPrivateKey != "" || c.JWTPrivateKeyFile != ""
}

// DatabaseKeys reports whether the signing keys are generated and held in
// the database: when no key is configured.
func (c Config) DatabaseKeys() bool {
	return c.JWTSecretKey == "" && !c.PrivateKeySet()
}

// reservedClaim reports whether name is a claim of the access token, which
// JWT_CLAIMS_NAMESPACE may not replace.
func reservedClaim(name string) bool {
	switch name {
	case "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "roles", "scope", "email":
		return true
	}
	return false
}

// LogValue returns the effective configuration as a group, the startup log
// line: one attribute per variable of the settings table, keyed by its
// name in lowercase, secrets [REDACTED]; then what they decide, the
// database (password hidden) and whether tracing is on.
func (c Config) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(settings)+2)
	for _, s := range settings {
		if s.yieldsTo != "" {
			continue // its value shows under the variable it yields to
		}
		v := s.field(&c).Get()
		if s.secret {
			v = Secret(fmt.Sprint(v))
		}
		attrs = append(attrs, slog.Any(strings.ToLower(s.name), v))
	}
	attrs = append(attrs, slog.Any("database", c.Database), slog.Any("tracing", c.Tracing))
	return slog.GroupValue(attrs...)
}

// LogValue says whether tracing is on.
func (t Tracing) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("enabled", t.Enabled()))
}

// LogValue returns the database as a group, any password in the URL
// replaced by "xxxxx".
func (d Database) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("dialect", d.Dialect)}
	if d.Dialect == "postgres" {
		attrs = append(attrs, slog.String("url", redactURL(d.URL)), slog.Int("max_conns", d.MaxConns))
	} else {
		attrs = append(attrs, slog.String("path", d.Path))
	}
	return slog.GroupValue(attrs...)
}

// String describes the database without its password, so that printing a
// Config with fmt does not reveal it either.
func (d Database) String() string {
	if d.Dialect == "postgres" {
		return redactURL(d.URL)
	}
	return "sqlite://" + d.Path
}

// GoString is String, so that %#v hides the password too.
func (d Database) GoString() string { return d.String() }

// redactURL returns uri with its password, in the user info or in a query
// parameter (password=, sslpassword=), replaced by "xxxxx"; or "[REDACTED]"
// when uri does not parse and so cannot be shown safely.
func redactURL(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return redacted
	}
	if q := u.Query(); len(q) > 0 {
		changed := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// varError is one configuration problem: Name is the environment variable.
type varError struct {
	Name string
	Msg  string
}

func (e *varError) Error() string { return e.Name + ": " + e.Msg }
