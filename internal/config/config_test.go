package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cmpConfig compares Configs, netip.Prefix included.
var cmpConfig = cmpopts.EquateComparable(netip.Prefix{})

// secret32 is a JWT_SECRET_KEY long enough for production.
const secret32 = "0123456789abcdef0123456789abcdef"

// getenv returns a getenv over m.
func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// defaults is what Load returns for an empty environment.
func defaults() Config {
	return Config{
		Port:                 8080,
		Database:             Database{Dialect: "sqlite", Path: "auth.db", MaxConns: 10},
		Debug:                true,
		JWTIssuer:            "http://localhost:8080",
		JWTAudience:          "api",
		AccessTokenTTL:       15 * time.Minute,
		RefreshTokenTTL:      720 * time.Hour,
		SessionMaxAge:        2160 * time.Hour,
		RefreshReuseInterval: 10 * time.Second,
		AuditLogRetention:    2160 * time.Hour,
		Playground:           true,
		Introspection:        true,
		PasswordHash: PasswordHash{
			Memory:      19456,
			Iterations:  2,
			Parallelism: 1,
			Concurrency: runtime.GOMAXPROCS(0),
			MaxWait:     2 * time.Second,
		},
		Memory:                 Memory{LimitMiB: 24, GCPercent: 400, ReleaseAfter: 10 * time.Second},
		MaxBodyBytes:           1 << 20,
		MaxComplexity:          500,
		ShutdownTimeout:        20 * time.Second,
		MaxQueryBytes:          32 << 10,
		MaxDepth:               12,
		MaxRootFields:          20,
		MaxEntities:            1000,
		MaxQueryTokens:         2000,
		RequestTimeout:         15 * time.Second,
		JWTKeysRefreshInterval: time.Minute,
		JWTClockSkew:           time.Second,
		Tracing:                Tracing{Exporter: "otlp"},
		Throttle: Throttle{
			LoginMaxFailures:     10,
			LoginLockout:         30 * time.Second,
			LoginMaxLockout:      15 * time.Minute,
			LoginKnownAddressTTL: 30 * 24 * time.Hour,
			Login:                RateLimit{50, 15 * time.Minute},
			PasswordCheck:        RateLimit{5, 15 * time.Minute},
			Register:             RateLimit{20, time.Hour},
			Refresh:              RateLimit{50, 15 * time.Minute},
			Validate:             RateLimit{100, time.Minute},
			Mail:                 RateLimit{20, time.Hour},
			MailRecipient:        RateLimit{5, time.Hour},
			Token:                RateLimit{50, 15 * time.Minute},
		},
		AppURL:               "http://localhost:5173",
		EmailVerificationTTL: 24 * time.Hour,
		PasswordResetTTL:     time.Hour,
		EmailChangeTTL:       24 * time.Hour,
		Mail: Mail{
			Driver:         MailLog,
			Timeout:        10 * time.Second,
			AppName:        "Latchkey",
			RetryInterval:  30 * time.Second,
			MaxAge:         24 * time.Hour,
			ResendInterval: time.Minute,
		},
	}
}

// problemVars returns the variable named by each problem in err, sorted.
func problemVars(t *testing.T, err error) []string {
	t.Helper()
	var names []string
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		var ve *varError
		if !errors.As(err, &ve) {
			t.Errorf("problem %q is not a *varError", err)
			return
		}
		names = append(names, ve.Name)
	}
	if err != nil {
		walk(err)
	}
	slices.Sort(names)
	return names
}

func TestLoad(t *testing.T) {
	prefix := netip.MustParsePrefix
	tests := []struct {
		name string
		env  map[string]string
		want func(c *Config) // changes to defaults()
	}{
		{name: "defaults", env: nil, want: func(c *Config) {}},
		{name: "empty values are unset", env: map[string]string{"PORT": "", "DEBUG": "", "DATABASE_URI": "", "ACCESS_TOKEN_TTL": ""}, want: func(c *Config) {}},
		{name: "spaces are trimmed", env: map[string]string{"PORT": " 9000 ", "DEBUG": " 1"}, want: func(c *Config) {
			c.Port = 9000
			c.JWTIssuer = "http://localhost:9000"
		}},
		{name: "PORT", env: map[string]string{"PORT": "9000"}, want: func(c *Config) {
			c.Port = 9000
			c.JWTIssuer = "http://localhost:9000"
		}},
		{name: "PORT any", env: map[string]string{"PORT": "0"}, want: func(c *Config) {
			c.Port = 0
			c.JWTIssuer = "http://localhost:0"
		}},
		{name: "DATABASE_URI postgres", env: map[string]string{"DATABASE_URI": "postgres://u:p@db:5432/auth?sslmode=require"}, want: func(c *Config) {
			c.Database = Database{Dialect: "postgres", URL: "postgres://u:p@db:5432/auth?sslmode=require", MaxConns: 10}
		}},
		{name: "DATABASE_URI postgresql", env: map[string]string{"DATABASE_URI": "postgresql://db/auth"}, want: func(c *Config) {
			c.Database = Database{Dialect: "postgres", URL: "postgresql://db/auth", MaxConns: 10}
		}},
		{name: "DATABASE_URI sqlite relative", env: map[string]string{"DATABASE_URI": "sqlite://./data/x.db"}, want: func(c *Config) {
			c.Database.Path = "./data/x.db"
		}},
		{name: "DATABASE_URI sqlite absolute", env: map[string]string{"DATABASE_URI": "sqlite:///var/x.db"}, want: func(c *Config) {
			c.Database.Path = "/var/x.db"
		}},
		{name: "DATABASE_URI sqlite memory", env: map[string]string{"DATABASE_URI": "sqlite://:memory:"}, want: func(c *Config) {
			c.Database.Path = ":memory:"
		}},
		{name: "DATABASE_URL", env: map[string]string{"DATABASE_URL": "postgres://db/auth"}, want: func(c *Config) {
			c.Database = Database{Dialect: "postgres", URL: "postgres://db/auth", MaxConns: 10}
		}},
		{name: "DATABASE_URI beats DATABASE_URL", env: map[string]string{"DATABASE_URI": "sqlite://uri.db", "DATABASE_URL": "postgres://db/url"}, want: func(c *Config) {
			c.Database.Path = "uri.db"
		}},
		{name: "DATABASE_URI beats a bad DATABASE_URL", env: map[string]string{"DATABASE_URI": "sqlite://uri.db", "DATABASE_URL": "mysql://db/url"}, want: func(c *Config) {
			c.Database.Path = "uri.db"
		}},
		{name: "DATABASE_MAX_CONNS", env: map[string]string{"DATABASE_URI": "postgres://db/auth", "DATABASE_MAX_CONNS": "3"}, want: func(c *Config) {
			c.Database = Database{Dialect: "postgres", URL: "postgres://db/auth", MaxConns: 3}
		}},
		{name: "DEBUG false", env: map[string]string{"DEBUG": "false", "JWT_SECRET_KEY": secret32}, want: func(c *Config) {
			c.Debug = false
			c.AppURL, c.Mail.Driver = "", MailNone // production mails nothing unless told
			c.JWTSecretKey = secret32
			c.Playground = false
			c.Introspection = false
		}},
		{name: "DEBUG 0 with PLAYGROUND and INTROSPECTION", env: map[string]string{"DEBUG": "0", "JWT_SECRET_KEY": secret32, "PLAYGROUND": "true", "INTROSPECTION": "T"}, want: func(c *Config) {
			c.Debug = false
			c.AppURL, c.Mail.Driver = "", MailNone // production mails nothing unless told
			c.JWTSecretKey = secret32
		}},
		{name: "PLAYGROUND and INTROSPECTION off in development", env: map[string]string{"PLAYGROUND": "false", "INTROSPECTION": "0"}, want: func(c *Config) {
			c.Playground = false
			c.Introspection = false
		}},
		{name: "production with a private key file", env: map[string]string{"DEBUG": "false", "JWT_PRIVATE_KEY_FILE": " /run/secrets/jwt/private.pem "}, want: func(c *Config) {
			c.Debug, c.Playground, c.Introspection = false, false, false
			c.AppURL, c.Mail.Driver = "", MailNone
			c.JWTPrivateKeyFile = "/run/secrets/jwt/private.pem"
		}},
		{name: "private key with escaped line breaks", env: map[string]string{"JWT_PRIVATE_KEY": `-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`, "JWT_PREVIOUS_PUBLIC_KEYS": "\n-----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----\n"}, want: func(c *Config) {
			c.JWTPrivateKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
			c.JWTPreviousPublicKeys = "-----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----"
		}},
		{name: "production with database keys encrypted", env: map[string]string{"DEBUG": "false", "KEY_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "KEY_ENCRYPTION_KEY_PREVIOUS": "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=", "JWT_KEYS_REFRESH_INTERVAL": "10s", "JWT_CLAIMS_NAMESPACE": "https://hasura.io/jwt/claims"}, want: func(c *Config) {
			c.Debug, c.Playground, c.Introspection = false, false, false
			c.AppURL, c.Mail.Driver = "", MailNone
			c.KeyEncryptionKey = Secret([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31})
			c.KeyEncryptionKeyPrevious = Secret([]byte{31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62})
			c.JWTKeysRefreshInterval = 10 * time.Second
			c.JWTClaimsNamespace = "https://hasura.io/jwt/claims"
		}},
		{name: "JWT_SECRET_KEY short in development", env: map[string]string{"JWT_SECRET_KEY": "dev"}, want: func(c *Config) {
			c.JWTSecretKey = "dev"
		}},
		{name: "JWT_SECRET_KEY kept byte for byte", env: map[string]string{"JWT_SECRET_KEY": " dev\n"}, want: func(c *Config) {
			c.JWTSecretKey = " dev\n"
		}},
		{name: "JWT_ISSUER and JWT_AUDIENCE", env: map[string]string{"JWT_ISSUER": "https://auth.example.com", "JWT_AUDIENCE": "shop"}, want: func(c *Config) {
			c.JWTIssuer = "https://auth.example.com"
			c.JWTAudience = "shop"
		}},
		{name: "durations", env: map[string]string{
			"ACCESS_TOKEN_TTL":       "5m",
			"REFRESH_TOKEN_TTL":      "24h",
			"SESSION_MAX_AGE":        "1h30m",
			"REFRESH_REUSE_INTERVAL": "0",
			"SHUTDOWN_TIMEOUT":       "500ms",
		}, want: func(c *Config) {
			c.AccessTokenTTL = 5 * time.Minute
			c.RefreshTokenTTL = 24 * time.Hour
			c.SessionMaxAge = 90 * time.Minute
			c.RefreshReuseInterval = 0
			c.ShutdownTimeout = 500 * time.Millisecond
		}},
		{name: "throttles and limits", env: map[string]string{
			"LOGIN_MAX_FAILURES":     "5",
			"LOGIN_LOCKOUT":          "1m",
			"LOGIN_MAX_LOCKOUT":      "1h",
			"RATE_LIMIT_LOGIN":       "10/1m",
			"RATE_LIMIT_REGISTER":    "0",
			"RATE_LIMIT_REFRESH":     " 7 / 2h ",
			"MAX_QUERY_DEPTH":        "8",
			"MAX_ROOT_FIELDS":        "3",
			"MAX_QUERY_BYTES":        "4096",
			"REQUEST_TIMEOUT":        "3s",
			"PASSWORD_HASH_MAX_WAIT": "0",
		}, want: func(c *Config) {
			c.Throttle.LoginMaxFailures = 5
			c.Throttle.LoginLockout = time.Minute
			c.Throttle.LoginMaxLockout = time.Hour
			c.Throttle.Login = RateLimit{10, time.Minute}
			c.Throttle.Register = RateLimit{}
			c.Throttle.Refresh = RateLimit{7, 2 * time.Hour}
			c.MaxDepth = 8
			c.MaxRootFields = 3
			c.MaxQueryBytes = 4096
			c.RequestTimeout = 3 * time.Second
			c.PasswordHash.MaxWait = 0
		}},
		{name: "SESSION_MAX_AGE below REFRESH_TOKEN_TTL", env: map[string]string{"SESSION_MAX_AGE": "1h", "REFRESH_TOKEN_TTL": "2h"}, want: func(c *Config) {
			c.SessionMaxAge = time.Hour
			c.RefreshTokenTTL = 2 * time.Hour
		}},
		{name: "CORS_ALLOWED_ORIGINS", env: map[string]string{"CORS_ALLOWED_ORIGINS": " https://app.example.com, ,http://localhost:3000,,*"}, want: func(c *Config) {
			c.CORSAllowedOrigins = []string{"https://app.example.com", "http://localhost:3000", "*"}
		}},
		{name: "CORS_ALLOWED_ORIGINS as browsers send them", env: map[string]string{"CORS_ALLOWED_ORIGINS": "HTTPS://App.Example.com:443,http://x.test:80,http://[::1]:8080"}, want: func(c *Config) {
			c.CORSAllowedOrigins = []string{"https://app.example.com", "http://x.test", "http://[::1]:8080"}
		}},
		{name: "CORS_ALLOWED_ORIGINS only commas", env: map[string]string{"CORS_ALLOWED_ORIGINS": " , ,"}, want: func(c *Config) {}},
		{name: "TRUSTED_PROXIES", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1,172.16.5.4/12"}, want: func(c *Config) {
			c.TrustedProxies = []netip.Prefix{
				prefix("10.0.0.0/8"), prefix("192.168.1.7/32"), prefix("fd00::/8"), prefix("::1/128"), prefix("172.16.0.0/12"),
			}
		}},
		{name: "password hash", env: map[string]string{
			"PASSWORD_HASH_MEMORY":      "64",
			"PASSWORD_HASH_ITERATIONS":  "1",
			"PASSWORD_HASH_PARALLELISM": "8",
			"PASSWORD_HASH_CONCURRENCY": "4",
		}, want: func(c *Config) {
			c.PasswordHash = PasswordHash{Memory: 64, Iterations: 1, Parallelism: 8, Concurrency: 4, MaxWait: 2 * time.Second}
		}},
		{name: "memory", env: map[string]string{
			"PASSWORD_HASH_CONCURRENCY": "2",
			"MEMORY_LIMIT_MIB":          "100",
			"MEMORY_RELEASE_AFTER":      "0",
		}, want: func(c *Config) {
			c.PasswordHash.Concurrency = 2
			c.Memory = Memory{LimitMiB: 100, GCPercent: 400}
		}},
		{name: "no soft limit: the runtime's collection target", env: map[string]string{"MEMORY_LIMIT_MIB": "0"}, want: func(c *Config) {
			c.Memory.LimitMiB, c.Memory.GCPercent = 0, 100
		}},
		{name: "GOGC", env: map[string]string{"GOGC": "50"}, want: func(c *Config) { c.Memory.GCPercent = 50 }},
		{name: "GOGC off", env: map[string]string{"GOGC": "off"}, want: func(c *Config) { c.Memory.GCPercent = -1 }},
		{name: "OTEL_EXPORTER_OTLP_ENDPOINT", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
			// The OpenTelemetry SDK reads these itself; Load does not.
			"OTEL_SERVICE_NAME":          "auth",
			"OTEL_EXPORTER_OTLP_HEADERS": "api-key=k%3D1,x-tenant=a",
			"OTEL_TRACES_SAMPLER":        "sometimes",
		}, want: func(c *Config) {
			c.Tracing.Endpoint = "http://collector:4318/"
		}},
		{name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://collector:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example.com/otlp",
			"OTEL_TRACES_EXPORTER":               "OTLP",
		}, want: func(c *Config) {
			c.Tracing = Tracing{Endpoint: "http://collector:4318", TracesEndpoint: "https://traces.example.com/otlp", Exporter: "otlp"}
		}},
		{name: "OTEL_SDK_DISABLED", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, want: func(c *Config) {
			c.Tracing.Endpoint = "http://collector:4318"
			c.Tracing.Disabled = true
		}},
		{name: "OTEL_TRACES_EXPORTER none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, want: func(c *Config) {
			c.Tracing.Endpoint = "http://collector:4318"
			c.Tracing.Exporter = "none"
		}},
		{name: "request limits", env: map[string]string{"MAX_BODY_BYTES": "1024", "MAX_QUERY_COMPLEXITY": "1"}, want: func(c *Config) {
			c.MaxBodyBytes = 1024
			c.MaxComplexity = 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := defaults()
			tt.want(&want)
			got, err := Load(getenv(tt.env))
			if err != nil {
				t.Fatalf("Load(%v) = _, %v, want nil error", tt.env, err)
			}
			if diff := cmp.Diff(want, got, cmpConfig); diff != "" {
				t.Errorf("Load(%v) = %v, want %v; diff (-want +got):\n%s", tt.env, got, want, diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // the variables named, sorted
	}{
		{name: "PORT not a number", env: map[string]string{"PORT": "http"}, want: []string{"PORT"}},
		{name: "PORT too large", env: map[string]string{"PORT": "65536"}, want: []string{"PORT"}},
		{name: "PORT negative", env: map[string]string{"PORT": "-1"}, want: []string{"PORT"}},
		{name: "DATABASE_URI mysql", env: map[string]string{"DATABASE_URI": "mysql://db/auth"}, want: []string{"DATABASE_URI"}},
		{name: "DATABASE_URI no scheme", env: map[string]string{"DATABASE_URI": "auth.db"}, want: []string{"DATABASE_URI"}},
		{name: "DATABASE_URI key-value DSN", env: map[string]string{"DATABASE_URI": "host=db password=x"}, want: []string{"DATABASE_URI"}},
		{name: "DATABASE_URI sqlite without path", env: map[string]string{"DATABASE_URI": "sqlite://"}, want: []string{"DATABASE_URI"}},
		{name: "DATABASE_URI postgres unparsable", env: map[string]string{"DATABASE_URI": "postgres://u:p%zz@db/auth"}, want: []string{"DATABASE_URI"}},
		{name: "DATABASE_URL mysql", env: map[string]string{"DATABASE_URL": "mysql://db/auth"}, want: []string{"DATABASE_URL"}},
		{name: "DATABASE_MAX_CONNS zero", env: map[string]string{"DATABASE_MAX_CONNS": "0"}, want: []string{"DATABASE_MAX_CONNS"}},
		{name: "DEBUG yes", env: map[string]string{"DEBUG": "yes"}, want: []string{"DEBUG"}},
		{name: "PLAYGROUND on", env: map[string]string{"PLAYGROUND": "on"}, want: []string{"PLAYGROUND"}},
		{name: "INTROSPECTION maybe", env: map[string]string{"INTROSPECTION": "maybe"}, want: []string{"INTROSPECTION"}},
		{name: "ACCESS_TOKEN_TTL not a duration", env: map[string]string{"ACCESS_TOKEN_TTL": "abc"}, want: []string{"ACCESS_TOKEN_TTL"}},
		{name: "ACCESS_TOKEN_TTL without unit", env: map[string]string{"ACCESS_TOKEN_TTL": "900"}, want: []string{"ACCESS_TOKEN_TTL"}},
		{name: "ACCESS_TOKEN_TTL zero", env: map[string]string{"ACCESS_TOKEN_TTL": "0s"}, want: []string{"ACCESS_TOKEN_TTL"}},
		{name: "REFRESH_TOKEN_TTL negative", env: map[string]string{"REFRESH_TOKEN_TTL": "-1h"}, want: []string{"REFRESH_TOKEN_TTL"}},
		{name: "AUDIT_LOG_RETENTION zero", env: map[string]string{"AUDIT_LOG_RETENTION": "0"}, want: []string{"AUDIT_LOG_RETENTION"}},
		{name: "SESSION_MAX_AGE zero", env: map[string]string{"SESSION_MAX_AGE": "0"}, want: []string{"SESSION_MAX_AGE"}},
		{name: "REFRESH_REUSE_INTERVAL negative", env: map[string]string{"REFRESH_REUSE_INTERVAL": "-1s"}, want: []string{"REFRESH_REUSE_INTERVAL"}},
		{name: "REFRESH_REUSE_INTERVAL 10 days", env: map[string]string{"REFRESH_REUSE_INTERVAL": "10d"}, want: []string{"REFRESH_REUSE_INTERVAL"}},
		{name: "rate limit without window", env: map[string]string{"RATE_LIMIT_LOGIN": "50"}, want: []string{"RATE_LIMIT_LOGIN"}},
		{name: "rate limit negative", env: map[string]string{"RATE_LIMIT_VALIDATE": "-1/1m"}, want: []string{"RATE_LIMIT_VALIDATE"}},
		{name: "one PostgreSQL connection", env: map[string]string{"DATABASE_URI": "postgres://u@db/auth", "DATABASE_MAX_CONNS": "1"}, want: []string{"DATABASE_MAX_CONNS"}},
		{name: "clock skew over a minute", env: map[string]string{"JWT_CLOCK_SKEW": "2m"}, want: []string{"JWT_CLOCK_SKEW"}},
		{name: "negative clock skew", env: map[string]string{"JWT_CLOCK_SKEW": "-1s"}, want: []string{"JWT_CLOCK_SKEW"}},
		{name: "max lockout below lockout", env: map[string]string{"LOGIN_LOCKOUT": "1h", "LOGIN_MAX_LOCKOUT": "1m"}, want: []string{"LOGIN_MAX_LOCKOUT"}},
		{name: "SHUTDOWN_TIMEOUT zero", env: map[string]string{"SHUTDOWN_TIMEOUT": "0"}, want: []string{"SHUTDOWN_TIMEOUT"}},
		{name: "CORS_ALLOWED_ORIGINS path", env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.example/"}, want: []string{"CORS_ALLOWED_ORIGINS"}},
		{name: "CORS_ALLOWED_ORIGINS scheme", env: map[string]string{"CORS_ALLOWED_ORIGINS": "ftp://a.example"}, want: []string{"CORS_ALLOWED_ORIGINS"}},
		{name: "CORS_ALLOWED_ORIGINS bare host", env: map[string]string{"CORS_ALLOWED_ORIGINS": "a.example"}, want: []string{"CORS_ALLOWED_ORIGINS"}},
		{name: "CORS_ALLOWED_ORIGINS query", env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.example?x"}, want: []string{"CORS_ALLOWED_ORIGINS"}},
		{name: "CORS_ALLOWED_ORIGINS user", env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://u@a.example"}, want: []string{"CORS_ALLOWED_ORIGINS"}},
		{name: "CORS_ALLOWED_ORIGINS port", env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.example:99999"}, want: []string{"CORS_ALLOWED_ORIGINS"}},
		{name: "CORS_ALLOWED_ORIGINS two bad", env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://ok.example,x,y"}, want: []string{"CORS_ALLOWED_ORIGINS", "CORS_ALLOWED_ORIGINS"}},
		{name: "TRUSTED_PROXIES host name", env: map[string]string{"TRUSTED_PROXIES": "proxy.local"}, want: []string{"TRUSTED_PROXIES"}},
		{name: "TRUSTED_PROXIES bad bits", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, want: []string{"TRUSTED_PROXIES"}},
		{name: "TRUSTED_PROXIES zone", env: map[string]string{"TRUSTED_PROXIES": "fe80::1%eth0"}, want: []string{"TRUSTED_PROXIES"}},
		{name: "PASSWORD_HASH_MEMORY below 8 per lane", env: map[string]string{"PASSWORD_HASH_MEMORY": "31", "PASSWORD_HASH_PARALLELISM": "4"}, want: []string{"PASSWORD_HASH_MEMORY"}},
		{name: "PASSWORD_HASH_MEMORY negative", env: map[string]string{"PASSWORD_HASH_MEMORY": "-1"}, want: []string{"PASSWORD_HASH_MEMORY"}},
		{name: "PASSWORD_HASH_MEMORY too large", env: map[string]string{"PASSWORD_HASH_MEMORY": "4294967296"}, want: []string{"PASSWORD_HASH_MEMORY"}},
		{name: "PASSWORD_HASH_ITERATIONS zero", env: map[string]string{"PASSWORD_HASH_ITERATIONS": "0"}, want: []string{"PASSWORD_HASH_ITERATIONS"}},
		{name: "PASSWORD_HASH_PARALLELISM zero", env: map[string]string{"PASSWORD_HASH_PARALLELISM": "0"}, want: []string{"PASSWORD_HASH_PARALLELISM"}},
		{name: "PASSWORD_HASH_PARALLELISM 256", env: map[string]string{"PASSWORD_HASH_PARALLELISM": "256"}, want: []string{"PASSWORD_HASH_PARALLELISM"}},
		{name: "PASSWORD_HASH_CONCURRENCY zero", env: map[string]string{"PASSWORD_HASH_CONCURRENCY": "0"}, want: []string{"PASSWORD_HASH_CONCURRENCY"}},
		{name: "MEMORY_LIMIT_MIB under 16", env: map[string]string{"MEMORY_LIMIT_MIB": "15"}, want: []string{"MEMORY_LIMIT_MIB"}},
		{name: "MEMORY_LIMIT_MIB negative", env: map[string]string{"MEMORY_LIMIT_MIB": "-1"}, want: []string{"MEMORY_LIMIT_MIB"}},
		{name: "GOGC negative", env: map[string]string{"GOGC": "-1"}, want: []string{"GOGC"}},
		{name: "GOGC a word", env: map[string]string{"GOGC": "on"}, want: []string{"GOGC"}},
		{name: "MEMORY_RELEASE_AFTER under a second", env: map[string]string{"MEMORY_RELEASE_AFTER": "500ms"}, want: []string{"MEMORY_RELEASE_AFTER"}},
		{name: "MAX_BODY_BYTES small", env: map[string]string{"MAX_BODY_BYTES": "1023"}, want: []string{"MAX_BODY_BYTES"}},
		{name: "MAX_BODY_BYTES unit", env: map[string]string{"MAX_BODY_BYTES": "1MiB"}, want: []string{"MAX_BODY_BYTES"}},
		{name: "MAX_QUERY_COMPLEXITY zero", env: map[string]string{"MAX_QUERY_COMPLEXITY": "0"}, want: []string{"MAX_QUERY_COMPLEXITY"}},
		{name: "OTEL_EXPORTER_OTLP_ENDPOINT no scheme", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, want: []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}},
		{name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT grpc scheme", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://collector:4317"}, want: []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}},
		{name: "OTEL_EXPORTER_OTLP_ENDPOINT no host", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http:///v1"}, want: []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}},
		{name: "OTEL_EXPORTER_OTLP_ENDPOINT bad even when disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector", "OTEL_SDK_DISABLED": "true"}, want: []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}},
		{name: "OTEL_TRACES_EXPORTER jaeger", env: map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, want: []string{"OTEL_TRACES_EXPORTER"}},
		{name: "OTEL_SDK_DISABLED maybe", env: map[string]string{"OTEL_SDK_DISABLED": "maybe"}, want: []string{"OTEL_SDK_DISABLED"}},
		{name: "production without secret", env: map[string]string{"DEBUG": "false"}, want: []string{"JWT_SECRET_KEY"}},
		{name: "secret and private key", env: map[string]string{"JWT_SECRET_KEY": secret32, "JWT_PRIVATE_KEY": "pem"}, want: []string{"JWT_PRIVATE_KEY"}},
		{name: "private key and its file", env: map[string]string{"JWT_PRIVATE_KEY": "pem", "JWT_PRIVATE_KEY_FILE": "/k.pem"}, want: []string{"JWT_PRIVATE_KEY"}},
		{name: "previous keys without private key", env: map[string]string{"JWT_PREVIOUS_PUBLIC_KEYS": "pem"}, want: []string{"JWT_PREVIOUS_PUBLIC_KEYS"}},
		{name: "previous keys twice", env: map[string]string{"JWT_PRIVATE_KEY": "pem", "JWT_PREVIOUS_PUBLIC_KEYS": "pem", "JWT_PREVIOUS_PUBLIC_KEYS_FILE": "/p.pem"}, want: []string{"JWT_PREVIOUS_PUBLIC_KEYS"}},
		{name: "KEY_ENCRYPTION_KEY short", env: map[string]string{"KEY_ENCRYPTION_KEY": "c2hvcnQ="}, want: []string{"KEY_ENCRYPTION_KEY"}},
		{name: "previous key-encryption key alone", env: map[string]string{"KEY_ENCRYPTION_KEY_PREVIOUS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}, want: []string{"KEY_ENCRYPTION_KEY_PREVIOUS"}},
		{name: "previous key-encryption key short", env: map[string]string{"KEY_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "KEY_ENCRYPTION_KEY_PREVIOUS": "c2hvcnQ="}, want: []string{"KEY_ENCRYPTION_KEY_PREVIOUS"}},
		{name: "KEY_ENCRYPTION_KEY not base64", env: map[string]string{"KEY_ENCRYPTION_KEY": "not base64!"}, want: []string{"KEY_ENCRYPTION_KEY"}},
		{name: "production with short KEY_ENCRYPTION_KEY", env: map[string]string{"DEBUG": "false", "KEY_ENCRYPTION_KEY": "c2hvcnQ="}, want: []string{"JWT_SECRET_KEY", "KEY_ENCRYPTION_KEY"}},
		{name: "JWT_KEYS_REFRESH_INTERVAL small", env: map[string]string{"JWT_KEYS_REFRESH_INTERVAL": "500ms"}, want: []string{"JWT_KEYS_REFRESH_INTERVAL"}},
		{name: "JWT_CLAIMS_NAMESPACE a claim", env: map[string]string{"JWT_CLAIMS_NAMESPACE": "roles"}, want: []string{"JWT_CLAIMS_NAMESPACE"}},
		{name: "production with 31-byte secret", env: map[string]string{"DEBUG": "false", "JWT_SECRET_KEY": secret32[:31]}, want: []string{"JWT_SECRET_KEY"}},
		{name: "several at once", env: map[string]string{
			"PORT":                 "x",
			"DEBUG":                "false",
			"ACCESS_TOKEN_TTL":     "abc",
			"REFRESH_TOKEN_TTL":    "-1h",
			"DATABASE_URI":         "mysql://db",
			"TRUSTED_PROXIES":      "nope",
			"MAX_QUERY_COMPLEXITY": "0",
		}, want: []string{
			"ACCESS_TOKEN_TTL", "DATABASE_URI", "JWT_SECRET_KEY", "MAX_QUERY_COMPLEXITY", "PORT", "REFRESH_TOKEN_TTL", "TRUSTED_PROXIES",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(getenv(tt.env))
			if err == nil {
				t.Fatalf("Load(%v) = %v, nil, want an error naming %v", tt.env, got, tt.want)
			}
			if diff := cmp.Diff(tt.want, problemVars(t, err)); diff != "" {
				t.Errorf("Load(%v) = %v, want problems with %v; diff (-want +got):\n%s", tt.env, err, tt.want, diff)
			}
			// Each problem is one line that starts with its variable: the
			// operator reads them, not code.
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("Load(%v) error has %d lines, want %d:\n%v", tt.env, len(lines), len(tt.want), err)
			}
			for _, line := range lines {
				name, _, _ := strings.Cut(line, ": ")
				if !slices.Contains(tt.want, name) {
					t.Errorf("Load(%v) error line %q does not start with one of %v", tt.env, line, tt.want)
				}
			}
			if diff := cmp.Diff(Config{}, got, cmpConfig); diff != "" {
				t.Errorf("Load(%v) = %v with an error, want the zero Config", tt.env, got)
			}
		})
	}
}

func TestLoadDatabaseErrorNamesScheme(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "mysql://u:p@db/auth"}
	_, err := Load(getenv(env))
	want := `DATABASE_URL: unsupported scheme "mysql" (want postgres://, postgresql:// or sqlite://)`
	if err == nil || err.Error() != want {
		t.Errorf("Load(%v) = _, %v, want %v", env, err, want)
	}
}

func TestValidateZeroConfig(t *testing.T) {
	// A hand-built Config is checked like a loaded one.
	got := problemVars(t, Config{}.Validate())
	want := []string{
		"ACCESS_TOKEN_TTL", "AUDIT_LOG_RETENTION", "DATABASE_MAX_CONNS", "DATABASE_URI", "JWT_KEYS_REFRESH_INTERVAL", "JWT_SECRET_KEY", "LOGIN_LOCKOUT", "MAX_BODY_BYTES", "MAX_ENTITIES",
		"MAX_QUERY_BYTES", "MAX_QUERY_COMPLEXITY", "MAX_QUERY_DEPTH", "MAX_QUERY_TOKENS", "MAX_ROOT_FIELDS",
		"PASSWORD_HASH_CONCURRENCY", "PASSWORD_HASH_ITERATIONS",
		"PASSWORD_HASH_PARALLELISM", "REFRESH_TOKEN_TTL", "REQUEST_TIMEOUT", "SESSION_MAX_AGE", "SHUTDOWN_TIMEOUT",
		"EMAIL_CHANGE_TTL", "EMAIL_VERIFICATION_TTL", "MAIL_DRIVER", "MAIL_MAX_AGE", "MAIL_RETRY_INTERVAL", "PASSWORD_RESET_TTL", "SMTP_TIMEOUT",
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Config{}.Validate() names %v, want %v; diff (-want +got):\n%s", got, want, diff)
	}
	if err := defaults().Validate(); err != nil {
		t.Errorf("defaults().Validate() = %v, want nil", err)
	}
}

// TestSecretsHidden checks that neither the JWT secret nor a database
// password shows in errors, logs or fmt output.
func TestSecretsHidden(t *testing.T) {
	const (
		jwtSecret  = "jwt-secret-do-not-show"
		dbPassword = "db-password-do-not-show"
	)
	tests := []struct {
		name string
		env  map[string]string
	}{
		{name: "valid development", env: map[string]string{
			"JWT_SECRET_KEY": jwtSecret,
			"DATABASE_URI":   "postgres://app:" + dbPassword + "@db:5432/auth?sslmode=disable",
		}},
		{name: "private key and encryption key", env: map[string]string{
			"JWT_PRIVATE_KEY":    jwtSecret,
			"KEY_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		}},
		{name: "unparsable encryption key", env: map[string]string{
			"KEY_ENCRYPTION_KEY": jwtSecret,
		}},
		{name: "unparsable previous encryption key", env: map[string]string{
			"KEY_ENCRYPTION_KEY":          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
			"KEY_ENCRYPTION_KEY_PREVIOUS": jwtSecret,
		}},
		{name: "valid production", env: map[string]string{
			"DEBUG":          "false",
			"JWT_SECRET_KEY": jwtSecret + secret32,
			"DATABASE_URL":   "postgresql://app@db/auth?password=" + dbPassword + "&sslpassword=" + dbPassword,
		}},
		{name: "short production secret", env: map[string]string{
			"DEBUG":          "false",
			"JWT_SECRET_KEY": jwtSecret,
		}},
		{name: "unparsable database URI", env: map[string]string{
			"DATABASE_URI": "postgres://app:" + dbPassword + "%zz@db/auth",
		}},
		{name: "database DSN", env: map[string]string{
			"DATABASE_URI": "host=db password=" + dbPassword,
		}},
		{name: "unsupported scheme", env: map[string]string{
			"DATABASE_URI": "mysql://app:" + dbPassword + "@db/auth",
		}},
		{name: "password in scheme position", env: map[string]string{
			"DATABASE_URI": "app:" + dbPassword + "@db://x",
		}},
		{name: "tracing credentials", env: map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://user:" + dbPassword + "@collector/v1/traces",
			"OTEL_EXPORTER_OTLP_HEADERS":         "authorization=Bearer%20" + jwtSecret,
		}},
		{name: "bad tracing headers", env: map[string]string{
			"OTEL_EXPORTER_OTLP_HEADERS": "authorization " + jwtSecret,
		}},
		{name: "bad tracing endpoint", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://user:" + dbPassword + "@collector",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(getenv(tt.env))
			var outputs []string
			if err != nil {
				outputs = append(outputs, err.Error())
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", cfg, "database", cfg.Database, "secret", cfg.JWTSecretKey)
			slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", cfg)
			outputs = append(outputs, buf.String(),
				fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s", cfg.JWTSecretKey)) //nolint:staticcheck // fmt's %s verb is what is tested
			for _, out := range outputs {
				for _, secret := range []string{jwtSecret, dbPassword} {
					if strings.Contains(out, secret) {
						t.Errorf("Load(%v) output shows %q:\n%s", tt.env, secret, out)
					}
				}
			}
		})
	}
}

func TestSecret(t *testing.T) {
	tests := []struct {
		s    Secret
		want string
	}{
		{s: "", want: ""},
		{s: "hunter2", want: "[REDACTED]"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Secret(%d bytes).String() = %q, want %q", len(tt.s), got, tt.want)
		}
		if got := tt.s.LogValue().String(); got != tt.want {
			t.Errorf("Secret(%d bytes).LogValue() = %q, want %q", len(tt.s), got, tt.want)
		}
		if got := tt.s.Reveal(); got != string(tt.s) {
			t.Errorf("Secret(%d bytes).Reveal() = %q, want the value", len(tt.s), got)
		}
	}
}

func TestConfigLogValue(t *testing.T) {
	env := map[string]string{
		"DATABASE_URI":         "postgres://app:pw@db:5432/auth?sslmode=disable",
		"JWT_SECRET_KEY":       "k",
		"TRUSTED_PROXIES":      "10.0.0.0/8",
		"CORS_ALLOWED_ORIGINS": "https://a.example",
	}
	cfg, err := Load(getenv(env))
	if err != nil {
		t.Fatalf("Load(%v) = _, %v, want nil error", env, err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", cfg)
	for _, want := range []string{
		"config.port=8080",
		"config.database.dialect=postgres",
		`config.database.url="postgres://app:xxxxx@db:5432/auth?sslmode=disable"`,
		"config.database.max_conns=10",
		"config.jwt_secret_key=[REDACTED]",
		"config.access_token_ttl=15m0s",
		"config.refresh_reuse_interval=10s",
		"config.trusted_proxies=[10.0.0.0/8]",
		"config.cors_allowed_origins=[https://a.example]",
		"config.password_hash_memory=19456",
		"config.rate_limit_login=50/15m0s",
		"config.tracing.enabled=false",
		"config.max_query_complexity=500",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("logging Load(%v) = %s, want it to contain %s", env, buf.String(), want)
		}
	}
}
