// Package config holds Config and Load: the only code that interprets the
// environment.
//
// Variables (an empty value counts as unset; surrounding spaces are ignored,
// except in JWT_SECRET_KEY, which is used byte for byte):
//
//	PORT                       listen port, 0..65535 (0: any free port)       8080
//	DATABASE_URI, DATABASE_URL postgres://, postgresql:// or sqlite://PATH    sqlite://auth.db
//	                           (DATABASE_URI wins; sqlite://:memory: works)
//	DATABASE_MAX_CONNS         most open PostgreSQL connections, >= 1         10
//	DEBUG                      development mode (strconv.ParseBool)           true
//	JWT_SECRET_KEY             HS256 shared secret; >= 32 bytes when          none
//	                           DEBUG=false. At most one of JWT_SECRET_KEY,
//	                           JWT_PRIVATE_KEY and JWT_PRIVATE_KEY_FILE; with
//	                           none, keys are generated and held in the
//	                           database, which DEBUG=false allows only with
//	                           KEY_ENCRYPTION_KEY
//	JWT_PRIVATE_KEY            PEM private key that signs access tokens:      none
//	                           RSA >= 2048 bits (RS256), P-256 (ES256) or
//	                           Ed25519 (EdDSA); kid is its RFC 7638 thumbprint
//	JWT_PRIVATE_KEY_FILE       file holding that PEM (a mounted Kubernetes    none
//	                           Secret), re-read every JWT_KEYS_REFRESH_INTERVAL
//	JWT_PREVIOUS_PUBLIC_KEYS   PEM public keys that verify but never sign,    none
//	                           beside a private key: the previous key after
//	                           a rotation, the next one before it
//	JWT_PREVIOUS_PUBLIC_KEYS_FILE  file holding them, re-read like the        none
//	                           private key file
//	JWT_KEYS_REFRESH_INTERVAL  how often key files and the database's keys    1m
//	                           are re-read, >= 1s
//	KEY_ENCRYPTION_KEY         base64 of 32 bytes: AES-256-GCM key that       none
//	                           encrypts the private keys held in the database
//	KEY_ENCRYPTION_KEY_PREVIOUS  the KEY_ENCRYPTION_KEY it replaces: keys     none
//	                           sealed with it are sealed again at the start
//	JWT_CLAIMS_NAMESPACE       adds Hasura-style claims under this key        none
//	                           (e.g. https://hasura.io/jwt/claims)
//	JWT_ISSUER                 iss claim                                      http://localhost:PORT
//	JWT_AUDIENCE               aud claim                                      api
//	ACCESS_TOKEN_TTL           access-token lifetime, > 0                     15m
//	REFRESH_TOKEN_TTL          session idle lifetime, > 0                     720h
//	SESSION_MAX_AGE            session absolute lifetime, > 0                 2160h
//	REFRESH_REUSE_INTERVAL     grace for a spent refresh token, >= 0          10s
//	PLAYGROUND                 serve GraphiQL at /                            DEBUG
//	INTROSPECTION              allow schema introspection                     DEBUG
//	CORS_ALLOWED_ORIGINS       comma-separated origins (scheme://host[:port]  none
//	                           with http or https) or "*"
//	TRUSTED_PROXIES            comma-separated CIDRs or IPs whose             none
//	                           X-Forwarded-For is believed
//	PASSWORD_HASH_MEMORY       argon2id memory in KiB, >= 8*parallelism       19456
//	PASSWORD_HASH_ITERATIONS   argon2id passes, >= 1                          2
//	PASSWORD_HASH_PARALLELISM  argon2id lanes, 1..255                         1
//	PASSWORD_HASH_CONCURRENCY  most hashes computed at once, >= 1             GOMAXPROCS
//	MAX_BODY_BYTES             largest request body, >= 1024                  1048576
//	MAX_QUERY_COMPLEXITY       largest GraphQL query complexity, >= 1         500
//	MAX_QUERY_BYTES            largest GraphQL document, >= 256               32768
//	MAX_QUERY_DEPTH            deepest GraphQL selection, >= 1                12
//	MAX_ROOT_FIELDS            root fields of one operation, aliases          20
//	                           included, >= 1
//	REQUEST_TIMEOUT            deadline of one GraphQL request, > 0           15s
//	PASSWORD_HASH_MAX_WAIT     longest wait for a hashing slot before the     2s
//	                           request is shed with RATE_LIMITED; 0: no limit
//	LOGIN_MAX_FAILURES         consecutive failed logins of one account       10
//	                           before it is throttled; 0: off
//	LOGIN_LOCKOUT              first throttle of an account, doubling with    30s
//	                           each further failure
//	LOGIN_MAX_LOCKOUT          longest throttle of an account                 15m
//	RATE_LIMIT_LOGIN           failed logins per client address: N/window     50/15m
//	RATE_LIMIT_REGISTER        registrations per client address               20/1h
//	RATE_LIMIT_REFRESH         unknown refresh tokens per client address      50/15m
//	RATE_LIMIT_VALIDATE        forged tokens sent to validateToken per        100/1m
//	                           client address (rate limits: "0" turns off)
//	SHUTDOWN_TIMEOUT           graceful-shutdown deadline, > 0                20s
//
// OpenTelemetry tracing, with the standard OTel names; tracing is off, with
// no exporter, unless an endpoint is set:
//
//	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  OTLP/HTTP traces URL, used as is         none
//	OTEL_EXPORTER_OTLP_ENDPOINT         OTLP/HTTP base URL; traces go to         none
//	                                    its /v1/traces
//	OTEL_EXPORTER_OTLP_HEADERS          key=value,... sent with each export      none
//	                                    (_TRACES_HEADERS wins); secret
//	OTEL_EXPORTER_OTLP_PROTOCOL         http/protobuf only (_TRACES_ wins)       http/protobuf
//	OTEL_SERVICE_NAME                   service.name of the spans                latchkey
//	OTEL_RESOURCE_ATTRIBUTES            key=value,... resource attributes        none
//	OTEL_TRACES_SAMPLER                 always_on, always_off, traceidratio,     parentbased_always_on
//	                                    parentbased_always_on, _always_off,
//	                                    parentbased_traceidratio
//	OTEL_TRACES_SAMPLER_ARG             ratio of the *traceidratio samplers      1
//	OTEL_TRACES_EXPORTER                otlp, or none to turn tracing off        otlp
//	OTEL_SDK_DISABLED                   true turns tracing off                   false
//
// Durations are Go durations (time.ParseDuration): 90s, 15m, 720h.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
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
	AccessTokenTTL           time.Duration  // ACCESS_TOKEN_TTL
	RefreshTokenTTL          time.Duration  // REFRESH_TOKEN_TTL: a session's idle lifetime
	SessionMaxAge            time.Duration  // SESSION_MAX_AGE: a session's absolute lifetime
	RefreshReuseInterval     time.Duration  // REFRESH_REUSE_INTERVAL; 0 turns the grace off
	Playground               bool           // PLAYGROUND
	Introspection            bool           // INTROSPECTION
	CORSAllowedOrigins       []string       // CORS_ALLOWED_ORIGINS: origins as browsers send them, or "*"
	TrustedProxies           []netip.Prefix // TRUSTED_PROXIES: masked, a bare address as /32 or /128
	PasswordHash             PasswordHash   // PASSWORD_HASH_*
	MaxBodyBytes             int64          // MAX_BODY_BYTES
	MaxComplexity            int            // MAX_QUERY_COMPLEXITY
	MaxQueryBytes            int            // MAX_QUERY_BYTES
	MaxDepth                 int            // MAX_QUERY_DEPTH
	MaxRootFields            int            // MAX_ROOT_FIELDS
	RequestTimeout           time.Duration  // REQUEST_TIMEOUT
	Throttle                 Throttle       // LOGIN_* and RATE_LIMIT_*
	ShutdownTimeout          time.Duration  // SHUTDOWN_TIMEOUT
	Tracing                  Tracing        // OTEL_*
}

// Tracing configures OpenTelemetry tracing over OTLP/HTTP.
type Tracing struct {
	// Endpoint is the URL spans are exported to; "" turns tracing off.
	Endpoint string
	// Headers go with each export; their values may be credentials.
	Headers map[string]Secret
	// ServiceName is the spans' service.name.
	ServiceName string
	// ResourceAttributes describe the service further.
	ResourceAttributes map[string]string
	// Sampler is an OTEL_TRACES_SAMPLER name; SamplerArg the ratio of the
	// traceidratio samplers.
	Sampler    string
	SamplerArg float64
}

// Enabled reports whether spans are recorded and exported.
func (t Tracing) Enabled() bool { return t.Endpoint != "" }

// String describes the settings without header values or a password in
// the endpoint, so that printing a Config with fmt reveals neither.
func (t Tracing) String() string {
	if !t.Enabled() {
		return "tracing off"
	}
	return fmt.Sprintf("tracing to %s as %s, sampler %s %g", redactURL(t.Endpoint), t.ServiceName, t.Sampler, t.SamplerArg)
}

// GoString is String, so that %#v hides the secrets too.
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
// and, for a file, write-ahead logging.
func (d Database) SQLiteDSN() string {
	params := "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)"
	if d.Path == ":memory:" {
		return "file::memory:?" + params
	}
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(d.Path) +
		"?" + params + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
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

// Throttle holds the limits on failed logins and per-address attempts.
type Throttle struct {
	LoginMaxFailures int           // LOGIN_MAX_FAILURES; 0 turns the account throttle off
	LoginLockout     time.Duration // LOGIN_LOCKOUT
	LoginMaxLockout  time.Duration // LOGIN_MAX_LOCKOUT
	Login            RateLimit     // RATE_LIMIT_LOGIN: failed logins per address
	Register         RateLimit     // RATE_LIMIT_REGISTER
	Refresh          RateLimit     // RATE_LIMIT_REFRESH: unknown refresh tokens per address
	Validate         RateLimit     // RATE_LIMIT_VALIDATE: forged tokens per address
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

// Defaults not derived from other settings.
const (
	defaultPort                 = 8080
	defaultDatabasePath         = "auth.db"
	defaultMaxConns             = 10
	defaultAudience             = "api"
	defaultAccessTokenTTL       = 15 * time.Minute
	defaultRefreshTokenTTL      = 720 * time.Hour
	defaultSessionMaxAge        = 2160 * time.Hour
	defaultRefreshReuseInterval = 10 * time.Second
	defaultHashMemory           = 19456 // KiB: the OWASP argon2id minimum
	defaultHashIterations       = 2
	defaultHashParallelism      = 1
	defaultMaxBodyBytes         = 1 << 20
	defaultMaxComplexity        = 500
	defaultShutdownTimeout      = 20 * time.Second
	defaultMaxQueryBytes        = 32 << 10
	defaultMaxDepth             = 12
	defaultMaxRootFields        = 20
	defaultRequestTimeout       = 15 * time.Second
	defaultHashMaxWait          = 2 * time.Second
	defaultLoginMaxFailures     = 10
	defaultLoginLockout         = 30 * time.Second
	defaultLoginMaxLockout      = 15 * time.Minute

	// minSecretBytes is the shortest JWT_SECRET_KEY production accepts:
	// 256 bits, the size of an HS256 output.
	minSecretBytes = 32

	defaultKeysRefreshInterval = time.Minute
	// keyEncryptionKeyBytes is the size of an AES-256 key.
	keyEncryptionKeyBytes = 32
)

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests), applies defaults and validates it. The error lists every problem,
// one line each, starting with the variable's name; it never contains a
// secret. The only fact Load reads from elsewhere is runtime.GOMAXPROCS, the
// default PASSWORD_HASH_CONCURRENCY.
func Load(getenv func(string) string) (Config, error) {
	e := env{getenv: getenv}
	var c Config

	c.Port = e.int("PORT", defaultPort)
	c.Database = e.database()
	c.Debug = e.bool("DEBUG", true)
	c.JWTSecretKey = Secret(getenv("JWT_SECRET_KEY"))
	c.JWTPrivateKey = Secret(pemText(getenv("JWT_PRIVATE_KEY")))
	c.JWTPrivateKeyFile = e.lookup("JWT_PRIVATE_KEY_FILE")
	c.JWTPreviousPublicKeys = pemText(getenv("JWT_PREVIOUS_PUBLIC_KEYS"))
	c.JWTPreviousPublicKeysFile = e.lookup("JWT_PREVIOUS_PUBLIC_KEYS_FILE")
	c.JWTKeysRefreshInterval = e.duration("JWT_KEYS_REFRESH_INTERVAL", defaultKeysRefreshInterval)
	c.KeyEncryptionKey = e.keyEncryptionKey("KEY_ENCRYPTION_KEY")
	c.KeyEncryptionKeyPrevious = e.keyEncryptionKey("KEY_ENCRYPTION_KEY_PREVIOUS")
	c.JWTClaimsNamespace = e.lookup("JWT_CLAIMS_NAMESPACE")
	c.JWTIssuer = e.string("JWT_ISSUER", "http://localhost:"+strconv.Itoa(c.Port))
	c.JWTAudience = e.string("JWT_AUDIENCE", defaultAudience)
	c.AccessTokenTTL = e.duration("ACCESS_TOKEN_TTL", defaultAccessTokenTTL)
	c.RefreshTokenTTL = e.duration("REFRESH_TOKEN_TTL", defaultRefreshTokenTTL)
	c.SessionMaxAge = e.duration("SESSION_MAX_AGE", defaultSessionMaxAge)
	c.RefreshReuseInterval = e.duration("REFRESH_REUSE_INTERVAL", defaultRefreshReuseInterval)
	c.Playground = e.bool("PLAYGROUND", c.Debug)
	c.Introspection = e.bool("INTROSPECTION", c.Debug)
	c.CORSAllowedOrigins = e.origins("CORS_ALLOWED_ORIGINS")
	c.TrustedProxies = e.prefixes("TRUSTED_PROXIES")
	c.PasswordHash = PasswordHash{
		Memory:      uint32(e.uint("PASSWORD_HASH_MEMORY", defaultHashMemory, 32)),
		Iterations:  uint32(e.uint("PASSWORD_HASH_ITERATIONS", defaultHashIterations, 32)),
		Parallelism: uint8(e.uint("PASSWORD_HASH_PARALLELISM", defaultHashParallelism, 8)),
		Concurrency: e.int("PASSWORD_HASH_CONCURRENCY", runtime.GOMAXPROCS(0)),
	}
	c.MaxBodyBytes = int64(e.int("MAX_BODY_BYTES", defaultMaxBodyBytes))
	c.MaxComplexity = e.int("MAX_QUERY_COMPLEXITY", defaultMaxComplexity)
	c.ShutdownTimeout = e.duration("SHUTDOWN_TIMEOUT", defaultShutdownTimeout)
	c.MaxQueryBytes = e.int("MAX_QUERY_BYTES", defaultMaxQueryBytes)
	c.MaxDepth = e.int("MAX_QUERY_DEPTH", defaultMaxDepth)
	c.MaxRootFields = e.int("MAX_ROOT_FIELDS", defaultMaxRootFields)
	c.RequestTimeout = e.duration("REQUEST_TIMEOUT", defaultRequestTimeout)
	c.PasswordHash.MaxWait = e.duration("PASSWORD_HASH_MAX_WAIT", defaultHashMaxWait)
	c.Tracing = e.tracing()
	c.Throttle = Throttle{
		LoginMaxFailures: e.int("LOGIN_MAX_FAILURES", defaultLoginMaxFailures),
		LoginLockout:     e.duration("LOGIN_LOCKOUT", defaultLoginLockout),
		LoginMaxLockout:  e.duration("LOGIN_MAX_LOCKOUT", defaultLoginMaxLockout),
		Login:            e.rateLimit("RATE_LIMIT_LOGIN", RateLimit{50, 15 * time.Minute}),
		Register:         e.rateLimit("RATE_LIMIT_REGISTER", RateLimit{20, time.Hour}),
		Refresh:          e.rateLimit("RATE_LIMIT_REFRESH", RateLimit{50, 15 * time.Minute}),
		Validate:         e.rateLimit("RATE_LIMIT_VALIDATE", RateLimit{100, time.Minute}),
	}

	// A value that did not parse kept its default, which Validate accepts:
	// each variable is reported once.
	if err := errors.Join(append(e.errs, c.problems()...)...); err != nil {
		return Config{}, err
	}
	return c, nil
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
	check := func(ok bool, name, format string, args ...any) {
		if !ok {
			errs = append(errs, varErrorf(name, format, args...))
		}
	}
	check(c.Port >= 0 && c.Port <= 65535, "PORT", "%d is out of range 0..65535", c.Port)
	switch c.Database.Dialect {
	case "postgres":
		check(c.Database.URL != "", "DATABASE_URI", "PostgreSQL needs a URI")
	case "sqlite":
		check(c.Database.Path != "", "DATABASE_URI", "SQLite needs a path")
	default:
		check(false, "DATABASE_URI", "unsupported dialect %q (want postgres or sqlite)", c.Database.Dialect)
	}
	check(c.Database.MaxConns >= 1, "DATABASE_MAX_CONNS", "%d must be at least 1", c.Database.MaxConns)
	check(c.AccessTokenTTL > 0, "ACCESS_TOKEN_TTL", "%v must be more than 0", c.AccessTokenTTL)
	check(c.RefreshTokenTTL > 0, "REFRESH_TOKEN_TTL", "%v must be more than 0", c.RefreshTokenTTL)
	check(c.SessionMaxAge > 0, "SESSION_MAX_AGE", "%v must be more than 0", c.SessionMaxAge)
	check(c.RefreshReuseInterval >= 0, "REFRESH_REUSE_INTERVAL", "%v must not be negative", c.RefreshReuseInterval)
	ph := c.PasswordHash
	check(ph.Parallelism >= 1, "PASSWORD_HASH_PARALLELISM", "%d is out of range 1..255", ph.Parallelism)
	check(ph.Parallelism < 1 || ph.Memory >= 8*uint32(ph.Parallelism), "PASSWORD_HASH_MEMORY",
		"%d KiB is less than 8 KiB per lane (PASSWORD_HASH_PARALLELISM=%d)", ph.Memory, ph.Parallelism)
	check(ph.Iterations >= 1, "PASSWORD_HASH_ITERATIONS", "%d must be at least 1", ph.Iterations)
	check(ph.Concurrency >= 1, "PASSWORD_HASH_CONCURRENCY", "%d must be at least 1", ph.Concurrency)
	check(c.MaxBodyBytes >= 1024, "MAX_BODY_BYTES", "%d must be at least 1024", c.MaxBodyBytes)
	check(c.MaxComplexity >= 1, "MAX_QUERY_COMPLEXITY", "%d must be at least 1", c.MaxComplexity)
	check(c.ShutdownTimeout > 0, "SHUTDOWN_TIMEOUT", "%v must be more than 0", c.ShutdownTimeout)
	check(c.MaxQueryBytes >= 256, "MAX_QUERY_BYTES", "%d must be at least 256", c.MaxQueryBytes)
	check(c.MaxDepth >= 1, "MAX_QUERY_DEPTH", "%d must be at least 1", c.MaxDepth)
	check(c.MaxRootFields >= 1, "MAX_ROOT_FIELDS", "%d must be at least 1", c.MaxRootFields)
	check(c.RequestTimeout > 0, "REQUEST_TIMEOUT", "%v must be more than 0", c.RequestTimeout)
	check(ph.MaxWait >= 0, "PASSWORD_HASH_MAX_WAIT", "%v must not be negative", ph.MaxWait)
	th := c.Throttle
	check(th.LoginMaxFailures >= 0, "LOGIN_MAX_FAILURES", "%d must not be negative", th.LoginMaxFailures)
	check(th.LoginLockout > 0, "LOGIN_LOCKOUT", "%v must be more than 0", th.LoginLockout)
	check(th.LoginMaxLockout >= th.LoginLockout, "LOGIN_MAX_LOCKOUT", "%v must be at least LOGIN_LOCKOUT (%v)", th.LoginMaxLockout, th.LoginLockout)
	check(c.JWTKeysRefreshInterval >= time.Second, "JWT_KEYS_REFRESH_INTERVAL", "%v must be at least 1s", c.JWTKeysRefreshInterval)
	sources := 0
	for _, set := range []bool{c.JWTSecretKey != "", c.JWTPrivateKey != "", c.JWTPrivateKeyFile != ""} {
		if set {
			sources++
		}
	}
	check(sources <= 1, "JWT_PRIVATE_KEY", "set at most one of JWT_SECRET_KEY, JWT_PRIVATE_KEY and JWT_PRIVATE_KEY_FILE")
	previous := c.JWTPreviousPublicKeys != "" || c.JWTPreviousPublicKeysFile != ""
	check(!previous || c.PrivateKeySet(), "JWT_PREVIOUS_PUBLIC_KEYS", "needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE")
	check(c.JWTPreviousPublicKeys == "" || c.JWTPreviousPublicKeysFile == "", "JWT_PREVIOUS_PUBLIC_KEYS", "set it or JWT_PREVIOUS_PUBLIC_KEYS_FILE, not both")
	check(c.KeyEncryptionKeyPrevious == "" || c.KeyEncryptionKey != "", "KEY_ENCRYPTION_KEY_PREVIOUS", "needs KEY_ENCRYPTION_KEY, the key that replaces it")
	check(!reservedClaim(c.JWTClaimsNamespace), "JWT_CLAIMS_NAMESPACE", "%q is a claim of its own; use a URL such as https://hasura.io/jwt/claims", c.JWTClaimsNamespace)
	if !c.Debug {
		if err := c.validateProduction(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validateProduction holds the rules that only production (DEBUG=false)
// enforces: tokens must be signed with a key nobody can guess.
func (c Config) validateProduction() error {
	switch {
	case c.JWTSecretKey != "":
		if len(c.JWTSecretKey) < minSecretBytes {
			return varErrorf("JWT_SECRET_KEY", "production (DEBUG=false) needs a secret of at least %d bytes", minSecretBytes)
		}
	case c.PrivateKeySet(), c.KeyEncryptionKey != "":
	default:
		return varErrorf("JWT_SECRET_KEY", "production (DEBUG=false) needs a signing key: JWT_PRIVATE_KEY_FILE, JWT_PRIVATE_KEY, "+
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

// LogValue returns the effective configuration as a group with snake_case
// keys, secrets redacted: the startup log line.
func (c Config) LogValue() slog.Value {
	proxies := make([]string, len(c.TrustedProxies))
	for i, p := range c.TrustedProxies {
		proxies[i] = p.String()
	}
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.Any("database", c.Database),
		slog.Bool("debug", c.Debug),
		slog.Any("jwt_secret_key", c.JWTSecretKey),
		slog.Any("jwt_private_key", c.JWTPrivateKey),
		slog.String("jwt_private_key_file", c.JWTPrivateKeyFile),
		slog.Bool("jwt_previous_public_keys", c.JWTPreviousPublicKeys != ""),
		slog.String("jwt_previous_public_keys_file", c.JWTPreviousPublicKeysFile),
		slog.String("jwt_keys_refresh_interval", c.JWTKeysRefreshInterval.String()),
		slog.Any("key_encryption_key", c.KeyEncryptionKey),
		slog.Any("key_encryption_key_previous", c.KeyEncryptionKeyPrevious),
		slog.String("jwt_claims_namespace", c.JWTClaimsNamespace),
		slog.String("jwt_issuer", c.JWTIssuer),
		slog.String("jwt_audience", c.JWTAudience),
		slog.String("access_token_ttl", c.AccessTokenTTL.String()),
		slog.String("refresh_token_ttl", c.RefreshTokenTTL.String()),
		slog.String("session_max_age", c.SessionMaxAge.String()),
		slog.String("refresh_reuse_interval", c.RefreshReuseInterval.String()),
		slog.Bool("playground", c.Playground),
		slog.Bool("introspection", c.Introspection),
		slog.Any("cors_allowed_origins", c.CORSAllowedOrigins),
		slog.Any("trusted_proxies", proxies),
		slog.Group("password_hash",
			slog.Any("memory_kib", c.PasswordHash.Memory),
			slog.Any("iterations", c.PasswordHash.Iterations),
			slog.Any("parallelism", c.PasswordHash.Parallelism),
			slog.Int("concurrency", c.PasswordHash.Concurrency),
		),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.Int("max_query_complexity", c.MaxComplexity),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.Int("max_query_bytes", c.MaxQueryBytes),
		slog.Int("max_query_depth", c.MaxDepth),
		slog.Int("max_root_fields", c.MaxRootFields),
		slog.String("request_timeout", c.RequestTimeout.String()),
		slog.String("password_hash_max_wait", c.PasswordHash.MaxWait.String()),
		slog.Any("tracing", c.Tracing),
		slog.Group("throttle",
			slog.Int("login_max_failures", c.Throttle.LoginMaxFailures),
			slog.String("login_lockout", c.Throttle.LoginLockout.String()),
			slog.String("login_max_lockout", c.Throttle.LoginMaxLockout.String()),
			slog.String("login", c.Throttle.Login.String()),
			slog.String("register", c.Throttle.Register.String()),
			slog.String("refresh", c.Throttle.Refresh.String()),
			slog.String("validate", c.Throttle.Validate.String()),
		),
	)
}

// LogValue returns the tracing settings as a group: header names, never
// their values.
func (t Tracing) LogValue() slog.Value {
	if !t.Enabled() {
		return slog.GroupValue(slog.Bool("enabled", false))
	}
	headers := make([]string, 0, len(t.Headers))
	for k := range t.Headers {
		headers = append(headers, k)
	}
	slices.Sort(headers)
	return slog.GroupValue(
		slog.Bool("enabled", true),
		slog.String("endpoint", redactURL(t.Endpoint)),
		slog.Any("headers", headers),
		slog.String("service_name", t.ServiceName),
		slog.Any("resource_attributes", t.ResourceAttributes),
		slog.String("sampler", t.Sampler),
		slog.Float64("sampler_arg", t.SamplerArg),
	)
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

func varErrorf(name, format string, args ...any) error {
	return &varError{Name: name, Msg: fmt.Sprintf(format, args...)}
}

// env reads variables and collects the problems found in their values.
type env struct {
	getenv func(string) string
	errs   []error
}

func (e *env) errorf(name, format string, args ...any) {
	e.errs = append(e.errs, varErrorf(name, format, args...))
}

// lookup returns the trimmed value of name; "" means unset.
func (e *env) lookup(name string) string {
	return strings.TrimSpace(e.getenv(name))
}

func (e *env) string(name, def string) string {
	if v := e.lookup(name); v != "" {
		return v
	}
	return def
}

func (e *env) bool(name string, def bool) bool {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errorf(name, "%q is not a boolean (true or false)", v)
		return def
	}
	return b
}

func (e *env) int(name string, def int) int {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errorf(name, "%q is not a whole number", v)
		return def
	}
	return n
}

// uint parses an unsigned integer of bitSize bits.
func (e *env) uint(name string, def uint64, bitSize int) uint64 {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, bitSize)
	if err != nil {
		e.errorf(name, "%q is not a whole number from 0 to %d", v, uint64(1)<<bitSize-1)
		return def
	}
	return n
}

func (e *env) duration(name string, def time.Duration) time.Duration {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.errorf(name, "%q is not a duration (like 15m)", v)
		return def
	}
	return d
}

// keyEncryptionKey reads a base64 (standard or URL alphabet, padded or not)
// AES-256 key. The value is never echoed.
func (e *env) keyEncryptionKey(name string) Secret {
	v := e.lookup(name)
	if v == "" {
		return ""
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			if len(b) != keyEncryptionKeyBytes {
				e.errorf(name, "decodes to %d bytes, want %d (openssl rand -base64 32)", len(b), keyEncryptionKeyBytes)
				return ""
			}
			return Secret(b)
		}
	}
	e.errorf(name, "not base64 (openssl rand -base64 32); the value is not shown")
	return ""
}

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

// database reads DATABASE_URI, else DATABASE_URL. Values are never echoed
// in errors, since a PostgreSQL URI may hold a password.
func (e *env) database() Database {
	name := "DATABASE_URI"
	v := e.lookup(name)
	if v == "" {
		name = "DATABASE_URL"
		v = e.lookup(name)
	}
	maxConns := e.int("DATABASE_MAX_CONNS", defaultMaxConns)
	def := Database{Dialect: "sqlite", Path: defaultDatabasePath, MaxConns: maxConns}
	if v == "" {
		return def
	}
	const want = "(want postgres://, postgresql:// or sqlite://)"
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok || !isScheme(scheme) {
		e.errorf(name, "not a URI %s; the value is not shown, as it may hold a password", want)
		return def
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		if _, err := url.Parse(v); err != nil {
			e.errorf(name, "not a valid URI (percent-encode special characters in the password); the value is not shown, as it may hold a password")
			return def
		}
		return Database{Dialect: "postgres", URL: v, MaxConns: maxConns}
	case "sqlite":
		// Not url.Parse: in "sqlite://./data/x.db" the "." is no host.
		if rest == "" {
			e.errorf(name, "sqlite:// needs a path, like sqlite://auth.db or sqlite://:memory:")
			return def
		}
		return Database{Dialect: "sqlite", Path: rest, MaxConns: maxConns}
	}
	e.errorf(name, "unsupported scheme %q %s", scheme, want)
	return def
}

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
func (e *env) list(name string) []string {
	var items []string
	for item := range strings.SplitSeq(e.lookup(name), ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// origins reads a list of CORS origins. Each is kept in the form browsers
// send in the Origin header (lowercase, no default port), so that the
// middleware may compare strings.
func (e *env) origins(name string) []string {
	var origins []string
	for _, item := range e.list(name) {
		o, ok := canonicalOrigin(item)
		if !ok {
			e.errorf(name, "%q is neither * nor an origin like https://app.example.com:8443 (http or https, a host, an optional port, no path)", item)
			continue
		}
		origins = append(origins, o)
	}
	return origins
}

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

// prefixes reads a list of CIDRs; a bare address means that one address.
func (e *env) prefixes(name string) []netip.Prefix {
	var prefixes []netip.Prefix
	for _, item := range e.list(name) {
		var p netip.Prefix
		var err error
		if strings.Contains(item, "/") {
			p, err = netip.ParsePrefix(item)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(item)
			if err == nil && a.Zone() != "" {
				err = errors.New("zone")
			}
			if err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			e.errorf(name, "%q is not a CIDR (like 10.0.0.0/8) or an IP address", item)
			continue
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes
}

// rateLimit parses "N/duration" (50/15m), or "0" for no limit.
func (e *env) rateLimit(name string, def RateLimit) RateLimit {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	if v == "0" {
		return RateLimit{}
	}
	n, w, ok := strings.Cut(v, "/")
	max, err1 := strconv.Atoi(strings.TrimSpace(n))
	window, err2 := time.ParseDuration(strings.TrimSpace(w))
	if !ok || err1 != nil || err2 != nil || max < 1 || window <= 0 {
		e.errorf(name, "%q is not a rate limit (like 50/15m, or 0 for none)", v)
		return def
	}
	return RateLimit{Max: max, Window: window}
}

// Tracing defaults and the settings this service supports.
const (
	defaultServiceName = "latchkey"
	defaultSampler     = "parentbased_always_on"
	otlpHTTPProtobuf   = "http/protobuf"
)

// tracing reads the standard OpenTelemetry variables.
func (e *env) tracing() Tracing {
	t := Tracing{
		ServiceName: e.string("OTEL_SERVICE_NAME", defaultServiceName),
		Sampler:     strings.ToLower(e.string("OTEL_TRACES_SAMPLER", defaultSampler)),
		SamplerArg:  1,
	}
	// Of a variable and its OTEL_EXPORTER_OTLP_TRACES_ override, the one
	// that wins is checked.
	samplerArg := e.lookup("OTEL_TRACES_SAMPLER_ARG")
	name := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	endpoint, base := e.lookup(name), e.lookup("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" && base != "" {
		name, endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT", strings.TrimSuffix(base, "/")+"/v1/traces"
	}
	off := e.bool("OTEL_SDK_DISABLED", false)
	switch exporter := strings.ToLower(e.string("OTEL_TRACES_EXPORTER", "otlp")); exporter {
	case "otlp":
	case "none":
		off = true
	default:
		e.errorf("OTEL_TRACES_EXPORTER", "%q is not supported (want otlp or none)", exporter)
	}
	protocolName := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	protocol, baseProtocol := e.lookup(protocolName), e.string("OTEL_EXPORTER_OTLP_PROTOCOL", otlpHTTPProtobuf)
	if protocol == "" {
		protocolName, protocol = "OTEL_EXPORTER_OTLP_PROTOCOL", baseProtocol
	}
	if protocol != otlpHTTPProtobuf {
		e.errorf(protocolName, "%q is not supported (want %s)", protocol, otlpHTTPProtobuf)
	}
	switch t.Sampler {
	case "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
	case "traceidratio", "parentbased_traceidratio":
		if v := samplerArg; v != "" {
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 || r > 1 {
				e.errorf("OTEL_TRACES_SAMPLER_ARG", "%q is not a ratio from 0 to 1", v)
			} else {
				t.SamplerArg = r
			}
		}
	default:
		e.errorf("OTEL_TRACES_SAMPLER", "%q is not a sampler (want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio)", t.Sampler)
		t.Sampler = defaultSampler
	}
	t.ResourceAttributes = e.pairs("OTEL_RESOURCE_ATTRIBUTES")
	headersName := "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	if e.lookup(headersName) == "" {
		headersName = "OTEL_EXPORTER_OTLP_HEADERS"
	}
	if headers := e.pairs(headersName); len(headers) > 0 {
		t.Headers = make(map[string]Secret, len(headers))
		for k, v := range headers {
			t.Headers[k] = Secret(v)
		}
	}
	if endpoint == "" || off {
		return t
	}
	// The URL may carry credentials: it is never echoed.
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.errorf(name, "not an http:// or https:// URL; the value is not shown, as it may hold credentials")
		return t
	}
	t.Endpoint = endpoint
	return t
}

// pairs reads key=value pairs separated by commas, values percent-decoded,
// as the OpenTelemetry variables write them. Values are never echoed: they
// may be credentials.
func (e *env) pairs(name string) map[string]string {
	items := e.list(name)
	if len(items) == 0 {
		return nil
	}
	out := make(map[string]string, len(items))
	for _, item := range items {
		k, v, found := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		value, err := url.PathUnescape(strings.TrimSpace(v))
		if !found || k == "" || err != nil {
			e.errorf(name, "not a list of key=value pairs separated by commas; the value is not shown, as it may hold credentials")
			return nil
		}
		out[k] = value
	}
	return out
}
