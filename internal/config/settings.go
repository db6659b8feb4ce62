package config

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"time"
)

// A setting is one environment variable, declared once: its row in
// docs/settings.md, the Config field Load parses it into, what Validate
// checks, and whether the startup log line redacts it.
type setting struct {
	name string
	// def is the default as documented and, unless defaultFrom is set,
	// as Load parses it when the variable is unset; "" for none.
	def     string
	meaning string // one line in docs/settings.md
	// secret marks a value that is, or may hold, a secret: the log line
	// shows it as [REDACTED] and deployments keep it in a secret store.
	secret bool

	// field is the Config field the variable sets.
	field func(c *Config) field
	// defaultFrom computes the default from the settings above it in the
	// table; def then only describes it.
	defaultFrom func(c *Config) string
	// yieldsTo names a variable that, when set, wins: this one is then
	// ignored. Both set the same field.
	yieldsTo string
	// raw keeps the value byte for byte instead of trimming its spaces.
	raw bool
	// check returns the problems of the loaded value, and of the rules it
	// shares with other settings; nil when there are none.
	check func(c Config) error
}

// settings is every variable Load reads, in the order of docs/settings.md.
// Load parses them in this order, so a defaultFrom reads only rows above
// its own.
var settings = []setting{
	{
		name: "PORT", def: "8080", meaning: "listen port, 0..65535 (0: any free port)",
		field: func(c *Config) field { return (*intValue)(&c.Port) },
		check: func(c Config) error { return within(c.Port, 0, 65535) },
	},
	{
		name: "DATABASE_URI", def: "sqlite://auth.db", secret: true,
		meaning: "postgres://, postgresql:// or sqlite://PATH (sqlite://:memory: works); a PostgreSQL URI may hold its password, and pgx's parameters (default_query_exec_mode=exec behind PgBouncer in transaction mode)",
		field:   func(c *Config) field { return (*databaseValue)(&c.Database) },
		check:   func(c Config) error { return c.Database.problem() },
	},
	{
		name: "DATABASE_URL", secret: true, yieldsTo: "DATABASE_URI",
		meaning: "the same as DATABASE_URI, which wins when both are set",
		field:   func(c *Config) field { return (*databaseValue)(&c.Database) },
	},
	{
		name: "DATABASE_MAX_CONNS", def: "10", meaning: "most open PostgreSQL connections of one process, >= 2 (the migration lock holds one while another migrates); (replicas + commands) x this + a margin <= max_connections - superuser_reserved_connections",
		field: func(c *Config) field { return (*intValue)(&c.Database.MaxConns) },
		check: func(c Config) error {
			if c.Database.Dialect == "postgres" {
				return atLeast(c.Database.MaxConns, 2)
			}
			return atLeast(c.Database.MaxConns, 1)
		},
	},
	{
		name: "DEBUG", def: "true", meaning: "development mode (true or false); false enforces a production signing key",
		field: func(c *Config) field { return (*boolValue)(&c.Debug) },
	},
	{
		name: "JWT_SECRET_KEY", secret: true, raw: true,
		meaning: "HS256 shared secret, used byte for byte; >= 32 bytes when DEBUG=false",
		field:   func(c *Config) field { return (*secretValue)(&c.JWTSecretKey) },
		check:   func(c Config) error { return c.productionKey() },
	},
	{
		name: "JWT_PRIVATE_KEY", secret: true,
		meaning: "PEM private key that signs access tokens: RSA >= 2048 bits, P-256 or Ed25519; a literal \\n is a line break",
		field:   func(c *Config) field { return (*pemSecretValue)(&c.JWTPrivateKey) },
		check:   func(c Config) error { return c.oneKeySource() },
	},
	{
		name:    "JWT_PRIVATE_KEY_FILE",
		meaning: "file holding that PEM (a mounted Secret), re-read every JWT_KEYS_REFRESH_INTERVAL; at most one of these three key settings",
		field:   func(c *Config) field { return (*stringValue)(&c.JWTPrivateKeyFile) },
	},
	{
		name:    "JWT_PREVIOUS_PUBLIC_KEYS",
		meaning: "PEM public keys that verify but never sign, beside a private key: the previous one after a rotation, the next before it",
		field:   func(c *Config) field { return (*pemValue)(&c.JWTPreviousPublicKeys) },
		check:   func(c Config) error { return c.previousKeys() },
	},
	{
		name:    "JWT_PREVIOUS_PUBLIC_KEYS_FILE",
		meaning: "file holding them, re-read like JWT_PRIVATE_KEY_FILE",
		field:   func(c *Config) field { return (*stringValue)(&c.JWTPreviousPublicKeysFile) },
	},
	{
		name: "JWT_KEYS_REFRESH_INTERVAL", def: "1m", meaning: "how often key files and the database's keys are re-read, >= 1s",
		field: func(c *Config) field { return (*durationValue)(&c.JWTKeysRefreshInterval) },
		check: func(c Config) error { return atLeast(c.JWTKeysRefreshInterval, time.Second) },
	},
	{
		name: "KEY_ENCRYPTION_KEY", secret: true,
		meaning: "base64 of 32 bytes (openssl rand -base64 32): encrypts the signing keys held in the database when no key is set",
		field:   func(c *Config) field { return (*keyValue)(&c.KeyEncryptionKey) },
	},
	{
		name: "KEY_ENCRYPTION_KEY_PREVIOUS", secret: true,
		meaning: "the KEY_ENCRYPTION_KEY it replaces: keys sealed with it are sealed again at the start",
		field:   func(c *Config) field { return (*keyValue)(&c.KeyEncryptionKeyPrevious) },
		check: func(c Config) error {
			if c.KeyEncryptionKeyPrevious != "" && c.KeyEncryptionKey == "" {
				return errors.New("needs KEY_ENCRYPTION_KEY, the key that replaces it")
			}
			return nil
		},
	},
	{
		name:    "JWT_CLAIMS_NAMESPACE",
		meaning: "adds Hasura-style claims under this key (e.g. https://hasura.io/jwt/claims)",
		field:   func(c *Config) field { return (*stringValue)(&c.JWTClaimsNamespace) },
		check: func(c Config) error {
			if reservedClaim(c.JWTClaimsNamespace) {
				return fmt.Errorf("%q is a claim of its own; use a URL such as https://hasura.io/jwt/claims", c.JWTClaimsNamespace)
			}
			return nil
		},
	},
	{
		name: "JWT_ISSUER", def: "http://localhost:PORT", meaning: "iss claim of the tokens",
		field:       func(c *Config) field { return (*stringValue)(&c.JWTIssuer) },
		defaultFrom: func(c *Config) string { return "http://localhost:" + strconv.Itoa(c.Port) },
	},
	{
		name: "JWT_AUDIENCE", def: "api", meaning: "aud claim of the tokens",
		field: func(c *Config) field { return (*stringValue)(&c.JWTAudience) },
	},
	{
		name: "JWT_CLOCK_SKEW", def: "1s", meaning: "leeway on exp and nbf when the service checks a token, for replicas whose clocks drift; 0..60s",
		field: func(c *Config) field { return (*durationValue)(&c.JWTClockSkew) },
		check: func(c Config) error {
			if c.JWTClockSkew < 0 || c.JWTClockSkew > time.Minute {
				return fmt.Errorf("%v must be between 0s and 1m0s", c.JWTClockSkew)
			}
			return nil
		},
	},
	{
		name: "ACCESS_TOKEN_TTL", def: "15m", meaning: "access-token lifetime, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.AccessTokenTTL) },
		check: func(c Config) error { return positive(c.AccessTokenTTL) },
	},
	{
		name: "REFRESH_TOKEN_TTL", def: "720h", meaning: "session idle lifetime, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.RefreshTokenTTL) },
		check: func(c Config) error { return positive(c.RefreshTokenTTL) },
	},
	{
		name: "SESSION_MAX_AGE", def: "2160h", meaning: "session absolute lifetime, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.SessionMaxAge) },
		check: func(c Config) error { return positive(c.SessionMaxAge) },
	},
	{
		name: "REFRESH_REUSE_INTERVAL", def: "10s", meaning: "grace for a spent refresh token, >= 0 (0: none)",
		field: func(c *Config) field { return (*durationValue)(&c.RefreshReuseInterval) },
		check: func(c Config) error { return atLeast(c.RefreshReuseInterval, 0) },
	},
	{
		name: "AUDIT_LOG_RETENTION", def: "2160h", meaning: "how long audit events are kept before the purge deletes them, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.AuditLogRetention) },
		check: func(c Config) error { return positive(c.AuditLogRetention) },
	},
	{
		name: "PLAYGROUND", def: "DEBUG", meaning: "serve GraphiQL at /",
		field:       func(c *Config) field { return (*boolValue)(&c.Playground) },
		defaultFrom: func(c *Config) string { return strconv.FormatBool(c.Debug) },
	},
	{
		name: "INTROSPECTION", def: "DEBUG", meaning: "allow schema introspection",
		field:       func(c *Config) field { return (*boolValue)(&c.Introspection) },
		defaultFrom: func(c *Config) string { return strconv.FormatBool(c.Debug) },
	},
	{
		name: "FEDERATION_AUTH_DIRECTIVES", def: "false", meaning: "keep @authenticated and @requiresScopes in the subgraph SDL, for Apollo Router to enforce (Apollo Gateway refuses a subgraph with them)",
		field: func(c *Config) field { return (*boolValue)(&c.FederationAuthDirectives) },
	},
	{
		name:    "CORS_ALLOWED_ORIGINS",
		meaning: `comma-separated origins (http or https scheme://host[:port]), or "*"`,
		field:   func(c *Config) field { return (*originsValue)(&c.CORSAllowedOrigins) },
	},
	{
		name:    "TRUSTED_PROXIES",
		meaning: "comma-separated CIDRs or IP addresses whose X-Forwarded-For is believed",
		field:   func(c *Config) field { return (*prefixesValue)(&c.TrustedProxies) },
	},
	{
		name: "PASSWORD_HASH_MEMORY", def: "19456", meaning: "argon2id memory in KiB, >= 8 per lane (19456: the OWASP minimum)",
		field: func(c *Config) field { return (*uint32Value)(&c.PasswordHash.Memory) },
		check: func(c Config) error {
			if ph := c.PasswordHash; ph.Parallelism >= 1 && ph.Memory < 8*uint32(ph.Parallelism) {
				return fmt.Errorf("%d KiB is less than 8 KiB per lane (PASSWORD_HASH_PARALLELISM=%d)", ph.Memory, ph.Parallelism)
			}
			return nil
		},
	},
	{
		name: "PASSWORD_HASH_ITERATIONS", def: "2", meaning: "argon2id passes, >= 1",
		field: func(c *Config) field { return (*uint32Value)(&c.PasswordHash.Iterations) },
		check: func(c Config) error { return atLeast(c.PasswordHash.Iterations, 1) },
	},
	{
		name: "PASSWORD_HASH_PARALLELISM", def: "1", meaning: "argon2id lanes, 1..255",
		field: func(c *Config) field { return (*uint8Value)(&c.PasswordHash.Parallelism) },
		check: func(c Config) error { return within(c.PasswordHash.Parallelism, 1, 255) },
	},
	{
		name: "PASSWORD_HASH_CONCURRENCY", def: "GOMAXPROCS", meaning: "most password hashes computed at once, >= 1",
		field:       func(c *Config) field { return (*intValue)(&c.PasswordHash.Concurrency) },
		defaultFrom: func(*Config) string { return strconv.Itoa(runtime.GOMAXPROCS(0)) },
		check:       func(c Config) error { return atLeast(c.PasswordHash.Concurrency, 1) },
	},
	{
		name: "PASSWORD_HASH_MAX_WAIT", def: "2s", meaning: "longest wait for a hashing slot before the request is shed with RATE_LIMITED; 0: no limit",
		field: func(c *Config) field { return (*durationValue)(&c.PasswordHash.MaxWait) },
		check: func(c Config) error { return atLeast(c.PasswordHash.MaxWait, 0) },
	},
	{
		name: "MEMORY_LIMIT_MIB", def: "24",
		meaning: "soft limit in MiB of the Go runtime's memory, which collects garbage sooner to stay under it; the password hashes' memory is outside it; 0 or at least 16; 0: none (GOMEMLIMIT, if set, applies)",
		field:   func(c *Config) field { return (*intValue)(&c.Memory.LimitMiB) },
		check: func(c Config) error {
			if c.Memory.LimitMiB != 0 && c.Memory.LimitMiB < 16 {
				return fmt.Errorf("%d MiB leaves the service no room to run: want 0 or at least 16", c.Memory.LimitMiB)
			}
			return atLeast(c.Memory.LimitMiB, 0)
		},
	},
	{
		name: "GOGC", def: "400; 100 when MEMORY_LIMIT_MIB is 0",
		meaning: "the Go runtime's collection target, in percent of the live heap the heap may grow by before the next collection, or off; under a soft limit the heap is bounded anyway, and collecting less often costs less CPU",
		field:   func(c *Config) field { return (*gcPercentValue)(&c.Memory.GCPercent) },
		defaultFrom: func(c *Config) string {
			if c.Memory.LimitMiB > 0 {
				return "400"
			}
			return "100"
		},
	},
	{
		name: "MEMORY_RELEASE_AFTER", def: "10s", meaning: "how long without a password hash before the service gives the hashes' memory, and the free memory of its heap, back to the system, >= 1s; 0: never (it stays resident, and the first login after an idle spell costs what a warm one costs)",
		field: func(c *Config) field { return (*durationValue)(&c.Memory.ReleaseAfter) },
		check: func(c Config) error {
			if c.Memory.ReleaseAfter != 0 && c.Memory.ReleaseAfter < time.Second {
				return fmt.Errorf("%v must be 0 or at least 1s", c.Memory.ReleaseAfter)
			}
			return nil
		},
	},
	{
		name: "MAX_BODY_BYTES", def: "1048576", meaning: "largest request body in bytes, >= 1024",
		field: func(c *Config) field { return (*int64Value)(&c.MaxBodyBytes) },
		check: func(c Config) error { return atLeast(c.MaxBodyBytes, 1024) },
	},
	{
		name: "MAX_QUERY_COMPLEXITY", def: "500", meaning: "largest GraphQL query complexity, >= 1",
		field: func(c *Config) field { return (*intValue)(&c.MaxComplexity) },
		check: func(c Config) error { return atLeast(c.MaxComplexity, 1) },
	},
	{
		name: "MAX_QUERY_TOKENS", def: "2000", meaning: "tokens of one GraphQL document (names, punctuation, values), counted before it is parsed, >= 1",
		field: func(c *Config) field { return (*intValue)(&c.MaxQueryTokens) },
		check: func(c Config) error { return atLeast(c.MaxQueryTokens, 1) },
	},
	{
		name: "MAX_QUERY_BYTES", def: "32768", meaning: "largest GraphQL document in bytes, >= 256",
		field: func(c *Config) field { return (*intValue)(&c.MaxQueryBytes) },
		check: func(c Config) error { return atLeast(c.MaxQueryBytes, 256) },
	},
	{
		name: "MAX_QUERY_DEPTH", def: "12", meaning: "deepest GraphQL selection, >= 1",
		field: func(c *Config) field { return (*intValue)(&c.MaxDepth) },
		check: func(c Config) error { return atLeast(c.MaxDepth, 1) },
	},
	{
		name: "MAX_ENTITIES", def: "1000", meaning: "representations of one federation _entities call, >= 1",
		field: func(c *Config) field { return (*intValue)(&c.MaxEntities) },
		check: func(c Config) error { return atLeast(c.MaxEntities, 1) },
	},
	{
		name: "MAX_ROOT_FIELDS", def: "20", meaning: "root fields of one operation, aliases included, >= 1",
		field: func(c *Config) field { return (*intValue)(&c.MaxRootFields) },
		check: func(c Config) error { return atLeast(c.MaxRootFields, 1) },
	},
	{
		name: "REQUEST_TIMEOUT", def: "15s", meaning: "deadline of one GraphQL request, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.RequestTimeout) },
		check: func(c Config) error { return positive(c.RequestTimeout) },
	},
	{
		name: "LOGIN_MAX_FAILURES", def: "10", meaning: "consecutive failed logins of one account before it is throttled; 0: off",
		field: func(c *Config) field { return (*intValue)(&c.Throttle.LoginMaxFailures) },
		check: func(c Config) error { return atLeast(c.Throttle.LoginMaxFailures, 0) },
	},
	{
		name: "LOGIN_LOCKOUT", def: "30s", meaning: "first throttle of an account, doubling with each further failure, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.Throttle.LoginLockout) },
		check: func(c Config) error { return positive(c.Throttle.LoginLockout) },
	},
	{
		name: "LOGIN_MAX_LOCKOUT", def: "15m", meaning: "longest throttle of an account, >= LOGIN_LOCKOUT",
		field: func(c *Config) field { return (*durationValue)(&c.Throttle.LoginMaxLockout) },
		check: func(c Config) error {
			if th := c.Throttle; th.LoginMaxLockout < th.LoginLockout {
				return fmt.Errorf("%v must be at least LOGIN_LOCKOUT (%v)", th.LoginMaxLockout, th.LoginLockout)
			}
			return nil
		},
	},
	{
		name: "LOGIN_KNOWN_ADDRESS_TTL", def: "720h", meaning: "how long after a successful login its client address keeps a budget of its own for the account, outside the account-wide lock; 0: off",
		field: func(c *Config) field { return (*durationValue)(&c.Throttle.LoginKnownAddressTTL) },
		check: func(c Config) error { return atLeast(c.Throttle.LoginKnownAddressTTL, 0) },
	},
	{
		name: "RATE_LIMIT_LOGIN", def: "50/15m", meaning: "failed logins per client address: N/window, or 0 for none",
		field: func(c *Config) field { return (*rateLimitValue)(&c.Throttle.Login) },
	},
	{
		name: "RATE_LIMIT_PASSWORD_CHECK", def: "5/15m", meaning: "wrong current passwords per session (changePassword): N/window, or 0 for none",
		field: func(c *Config) field { return (*rateLimitValue)(&c.Throttle.PasswordCheck) },
	},
	{
		name: "RATE_LIMIT_REGISTER", def: "20/1h", meaning: "registrations per client address: N/window, or 0 for none",
		field: func(c *Config) field { return (*rateLimitValue)(&c.Throttle.Register) },
	},
	{
		name: "RATE_LIMIT_REFRESH", def: "50/15m", meaning: "unknown refresh tokens per client address: N/window, or 0 for none",
		field: func(c *Config) field { return (*rateLimitValue)(&c.Throttle.Refresh) },
	},
	{
		name: "RATE_LIMIT_VALIDATE", def: "100/1m", meaning: "forged tokens sent to validateToken per client address: N/window, or 0 for none",
		field: func(c *Config) field { return (*rateLimitValue)(&c.Throttle.Validate) },
	},
	{
		name: "RATE_LIMIT_MAIL", def: "20/1h", meaning: "requestPasswordReset, resendVerificationEmail and requestEmailChange per client address: N/window, or 0 for none",
		field: func(c *Config) field { return (*rateLimitValue)(&c.Throttle.Mail) },
	},
	{
		name: "RATE_LIMIT_MAIL_RECIPIENT", def: "5/1h", meaning: "mails those and register queue per recipient, whether or not it has an account: N/window, or 0 for none",
		field: func(c *Config) field { return (*rateLimitValue)(&c.Throttle.MailRecipient) },
	},
	{
		name: "RATE_LIMIT_TOKEN", def: "50/15m", meaning: "failed mail-token mutations (verifyEmail, resetPassword, confirmEmailChange) per client address: N/window, or 0 for none",
		field: func(c *Config) field { return (*rateLimitValue)(&c.Throttle.Token) },
	},
	{
		name: "APP_URL", def: "http://localhost:5173 when DEBUG", meaning: "prefix, verbatim, of the links in mails (…/#: hash routers); https when DEBUG=false; required with MAIL_DRIVER=smtp",
		field:       func(c *Config) field { return (*stringValue)(&c.AppURL) },
		defaultFrom: func(c *Config) string { return map[bool]string{true: "http://localhost:5173"}[c.Debug] },
		check:       func(c Config) error { return c.appURLProblem() },
	},
	{
		name: "REQUIRE_EMAIL_VERIFICATION", def: "false", meaning: "login and register refuse an unverified account (true or false); needs a MAIL_DRIVER other than none",
		field: func(c *Config) field { return (*boolValue)(&c.RequireEmailVerification) },
	},
	{
		name: "EMAIL_VERIFICATION_TTL", def: "24h", meaning: "lifetime of a verifyEmail token from its sending, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.EmailVerificationTTL) },
		check: func(c Config) error { return positive(c.EmailVerificationTTL) },
	},
	{
		name: "PASSWORD_RESET_TTL", def: "1h", meaning: "lifetime of a resetPassword token from its sending, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.PasswordResetTTL) },
		check: func(c Config) error { return positive(c.PasswordResetTTL) },
	},
	{
		name: "EMAIL_CHANGE_TTL", def: "24h", meaning: "lifetime of a confirmEmailChange token from its sending, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.EmailChangeTTL) },
		check: func(c Config) error { return positive(c.EmailChangeTTL) },
	},
	{ //nolint:gosec // the form of the URL, no credential
		name: "SMTP_URL", secret: true,
		meaning: "smtp://user:pass@host:587 (STARTTLS required) or smtps://user:pass@host:465 (implicit TLS), userinfo percent-encoded; not with SMTP_HOST",
		field:   func(c *Config) field { return (*secretValue)(&c.Mail.URL) },
	},
	{
		name: "SMTP_HOST", meaning: "the relay's host name, instead of SMTP_URL",
		field: func(c *Config) field { return (*stringValue)(&c.Mail.Host) },
	},
	{
		name: "SMTP_TLS", def: "by scheme and port", meaning: "starttls (required, not opportunistic), implicit, or none (credentials only to a loopback relay); certificates are always verified",
		field:       func(c *Config) field { return (*stringValue)(&c.Mail.TLS) },
		defaultFrom: func(*Config) string { return "" }, // Mail.SMTP decides
		check:       func(c Config) error { return c.Mail.tlsProblem() },
	},
	{
		name: "SMTP_PORT", def: "587 (465 with implicit TLS)", meaning: "the relay's port with SMTP_HOST, 1..65535",
		field:       func(c *Config) field { return (*intValue)(&c.Mail.Port) },
		defaultFrom: func(*Config) string { return "" }, // Mail.SMTP decides
		check: func(c Config) error {
			if c.Mail.Port == 0 {
				return nil
			}
			return within(c.Mail.Port, 1, 65535)
		},
	},
	{
		name: "SMTP_USERNAME", meaning: "AUTH user name with SMTP_HOST",
		field: func(c *Config) field { return (*stringValue)(&c.Mail.Username) },
	},
	{
		name: "SMTP_PASSWORD", secret: true, raw: true, meaning: "AUTH password with SMTP_HOST, used byte for byte",
		field: func(c *Config) field { return (*secretValue)(&c.Mail.Password) },
	},
	{
		name: "SMTP_PASSWORD_FILE", meaning: "file holding that password (a mounted Secret; one trailing newline is dropped); not with SMTP_PASSWORD",
		field: func(c *Config) field { return (*stringValue)(&c.Mail.PasswordFile) },
		check: func(c Config) error {
			if c.Mail.PasswordFile != "" && c.Mail.Password != "" {
				return errors.New("set SMTP_PASSWORD or SMTP_PASSWORD_FILE, not both")
			}
			return nil
		},
	},
	{
		name: "SMTP_FROM", meaning: "the sender, one RFC 5322 mailbox such as Latchkey <no-reply@example.com>; required with MAIL_DRIVER=smtp",
		field: func(c *Config) field { return (*stringValue)(&c.Mail.From) },
		check: func(c Config) error { return c.Mail.fromProblem() },
	},
	{
		name: "SMTP_TLS_CA_FILE", meaning: "PEM file of CA certificates trusted beside the system's, for a relay with a private CA",
		field: func(c *Config) field { return (*stringValue)(&c.Mail.TLSCAFile) },
	},
	{
		name: "SMTP_TIMEOUT", def: "10s", meaning: "deadline of one SMTP connection and send, > 0; a claimed mail is leased for 3 times it",
		field: func(c *Config) field { return (*durationValue)(&c.Mail.Timeout) },
		check: func(c Config) error { return positive(c.Mail.Timeout) },
	},
	{
		name: "MAIL_DRIVER", def: "smtp with SMTP_URL or SMTP_HOST, else log when DEBUG, else none",
		meaning:     "smtp; log (development: each mail logged with its link, the last 100 at GET /dev/mail; refused when DEBUG=false); none (sends nothing)",
		field:       func(c *Config) field { return (*stringValue)(&c.Mail.Driver) },
		defaultFrom: mailDriverDefault,
		check:       func(c Config) error { return c.mailProblems() },
	},
	{
		name: "MAIL_TEMPLATES_DIR", meaning: "directory of templates (KIND.subject.txt, KIND.txt, KIND.html) replacing the built-in ones file by file",
		field: func(c *Config) field { return (*stringValue)(&c.Mail.TemplatesDir) },
	},
	{
		name: "MAIL_APP_NAME", def: "Latchkey", meaning: "the name the mails give the service (.AppName)",
		field: func(c *Config) field { return (*stringValue)(&c.Mail.AppName) },
	},
	{
		name: "MAIL_RETRY_INTERVAL", def: "30s", meaning: "first wait after a transient SMTP failure, doubling up to 1h, ±20%; > 0",
		field: func(c *Config) field { return (*durationValue)(&c.Mail.RetryInterval) },
		check: func(c Config) error { return positive(c.Mail.RetryInterval) },
	},
	{
		name: "MAIL_MAX_AGE", def: "24h", meaning: "a mail still unsent this long after it was queued fails, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.Mail.MaxAge) },
		check: func(c Config) error { return positive(c.Mail.MaxAge) },
	},
	{
		name: "MAIL_RESEND_INTERVAL", def: "60s", meaning: "least time between two mails of one kind to one recipient, >= 0 (a request within it answers as usual and mails nothing)",
		field: func(c *Config) field { return (*durationValue)(&c.Mail.ResendInterval) },
		check: func(c Config) error { return atLeast(c.Mail.ResendInterval, 0) },
	},
	{
		name: "SHUTDOWN_TIMEOUT", def: "20s", meaning: "graceful-shutdown deadline, > 0",
		field: func(c *Config) field { return (*durationValue)(&c.ShutdownTimeout) },
		check: func(c Config) error { return positive(c.ShutdownTimeout) },
	},
	{
		name:    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		meaning: "OTLP/HTTP traces URL, used as is; setting it turns tracing on (the exporter reads it too)",
		field:   func(c *Config) field { return (*endpointValue)(&c.Tracing.TracesEndpoint) },
	},
	{
		name:    "OTEL_EXPORTER_OTLP_ENDPOINT",
		meaning: "OTLP/HTTP base URL, traces going to its /v1/traces; setting it turns tracing on (the exporter reads it too)",
		field:   func(c *Config) field { return (*endpointValue)(&c.Tracing.Endpoint) },
	},
	{
		name: "OTEL_TRACES_EXPORTER", def: "otlp", meaning: "otlp, or none to turn tracing off",
		field: func(c *Config) field { return (*exporterValue)(&c.Tracing.Exporter) },
	},
	{
		name: "OTEL_SDK_DISABLED", def: "false", meaning: "true turns tracing off",
		field: func(c *Config) field { return (*boolValue)(&c.Tracing.Disabled) },
	},
}

// An sdkSetting is a variable, or a family of them, that the
// OpenTelemetry SDK reads from the process environment itself when tracing
// is on. Load does not read it; it is listed so that docs/settings.md
// names it and deployments may set it.
type sdkSetting struct {
	names   []string
	meaning string
	secret  bool
}

// sdkSettings are the variables of the OpenTelemetry SDK (the OTLP/HTTP
// trace exporter, the tracer provider, its resource and batch span
// processor) that the service leaves to it.
var sdkSettings = []sdkSetting{
	{names: []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}, secret: true,
		meaning: "key=value,... sent with each export, values percent-encoded (often a token)"},
	{names: []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		meaning: "http/protobuf (default) or http/json"},
	{names: []string{"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"},
		meaning: "export timeout in milliseconds (10000)"},
	{names: []string{"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"},
		meaning: "gzip, or none"},
	{names: []string{"OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"},
		meaning: "file of the CA certificates that verify the collector"},
	{names: []string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"},
		meaning: "files of the client certificate and key for mutual TLS"},
	{names: []string{"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE"},
		meaning: "true sends without TLS (an http:// endpoint already does)"},
	{names: []string{"OTEL_SERVICE_NAME"},
		meaning: "service.name of the spans (" + DefaultServiceName + ")"},
	{names: []string{"OTEL_RESOURCE_ATTRIBUTES"},
		meaning: "key=value,... resource attributes of the spans"},
	{names: []string{"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"},
		meaning: "sampler (parentbased_always_on) and the ratio of the traceidratio ones"},
	{names: []string{"OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"},
		meaning: "batching of the exports: delay and timeout in milliseconds, queue and batch sizes"},
	{names: []string{"OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		"OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"},
		meaning: "limits on the attributes, events and links of a span"},
}

// DefaultServiceName is the spans' service.name unless OTEL_SERVICE_NAME
// or OTEL_RESOURCE_ATTRIBUTES gives another.
const DefaultServiceName = "latchkey"

// Variables returns the name of every environment variable the service
// reads, itself or through the OpenTelemetry SDK, sorted. Deployments
// check their manifests against it, so that a misspelt or retired setting
// is caught before it is silently ignored.
func Variables() []string {
	var names []string
	for _, s := range settings {
		names = append(names, s.name)
	}
	for _, s := range sdkSettings {
		names = append(names, s.names...)
	}
	slices.Sort(names)
	return names
}

// SecretVariables returns the variables whose values are secrets, or may
// hold one (a database password in a URI, a token in exporter headers),
// sorted: deployments keep them in secret stores, not in plain
// configuration.
func SecretVariables() []string {
	var names []string
	for _, s := range settings {
		if s.secret {
			names = append(names, s.name)
		}
	}
	for _, s := range sdkSettings {
		if s.secret {
			names = append(names, s.names...)
		}
	}
	slices.Sort(names)
	return names
}
