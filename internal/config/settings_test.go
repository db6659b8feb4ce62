package config

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// variableName matches what looks like an environment variable's name.
var variableName = regexp.MustCompile(`\b[A-Z][A-Z0-9]*(_[A-Z0-9]+)+\b`)

// TestSettingsTable checks the rows themselves: a name once, a one-line
// meaning that names only real variables, a field, and rules that Load can
// follow.
func TestSettingsTable(t *testing.T) {
	seen := map[string]bool{}
	for i, s := range settings {
		switch {
		case seen[s.name]:
			t.Errorf("%s is declared twice", s.name)
		case s.meaning == "" || strings.ContainsAny(s.meaning, "\n|"):
			t.Errorf("%s: meaning %q, want one line without |", s.name, s.meaning)
		case s.field == nil:
			t.Errorf("%s has no field", s.name)
		case s.defaultFrom != nil && s.def == "":
			t.Errorf("%s computes its default but does not describe it (def)", s.name)
		case s.yieldsTo != "" && !slices.ContainsFunc(settings[:i], func(o setting) bool { return o.name == s.yieldsTo }):
			t.Errorf("%s yields to %s, which is not a row above it", s.name, s.yieldsTo)
		}
		seen[s.name] = true
		for _, name := range variableName.FindAllString(s.meaning+" "+s.def, -1) {
			if !slices.Contains(Variables(), name) && name != "RATE_LIMITED" {
				t.Errorf("%s mentions %s, which is no variable", s.name, name)
			}
		}
	}
	for _, s := range sdkSettings {
		if s.meaning == "" || strings.ContainsAny(s.meaning, "\n|") {
			t.Errorf("%v: meaning %q, want one line without |", s.names, s.meaning)
		}
		for _, name := range s.names {
			if seen[name] || !strings.HasPrefix(name, "OTEL_") {
				t.Errorf("OpenTelemetry SDK variable %s is declared twice, or is no OTEL_ variable", name)
			}
			seen[name] = true
		}
	}
}

// TestVariables records every name Load asks getenv for, over environments
// that take each branch of Load (nothing set, everything set, production),
// and checks that they are exactly the settings table, and that Variables
// adds the OpenTelemetry SDK's own to them.
func TestVariables(t *testing.T) {
	read := map[string]bool{}
	record := func(env map[string]string) func(string) string {
		return func(name string) string {
			read[name] = true
			return env[name]
		}
	}
	everything := map[string]string{}
	for _, name := range Variables() {
		everything[name] = "1"
	}
	everything["DATABASE_URI"] = "postgres://db/latchkey"
	for _, env := range []map[string]string{
		{},
		everything,
		{"DEBUG": "false", "JWT_SECRET_KEY": secret32},
		{"DATABASE_URL": "sqlite://:memory:"},
	} {
		_, _ = Load(record(env))
	}
	var got, table []string
	for name := range read {
		got = append(got, name)
	}
	for _, s := range settings {
		table = append(table, s.name)
	}
	slices.Sort(got)
	slices.Sort(table)
	if diff := cmp.Diff(table, got); diff != "" {
		t.Errorf("names Load reads differ from the settings table; diff (-table +read):\n%s", diff)
	}
	want := slices.Clone(table)
	for _, s := range sdkSettings {
		want = append(want, s.names...)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, Variables()); diff != "" {
		t.Errorf("Variables() differs from the two tables; diff (-want +got):\n%s", diff)
	}
}

// TestSecretVariables checks that every secret variable is one the service
// reads, and that the ones that always were secrets still are.
func TestSecretVariables(t *testing.T) {
	secrets := SecretVariables()
	for _, name := range secrets {
		if !slices.Contains(Variables(), name) {
			t.Errorf("secret variable %s is not read by the service (Variables)", name)
		}
	}
	for _, name := range []string{"DATABASE_URI", "DATABASE_URL", "JWT_SECRET_KEY", "JWT_PRIVATE_KEY", "KEY_ENCRYPTION_KEY", "KEY_ENCRYPTION_KEY_PREVIOUS", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		if !slices.Contains(secrets, name) {
			t.Errorf("SecretVariables() = %v, want it to contain %s", secrets, name)
		}
	}
}

// TestVariablesIsACopy checks that a caller changing the returned slice
// does not change what the next caller gets.
func TestVariablesIsACopy(t *testing.T) {
	v := Variables()
	if !slices.IsSorted(v) || len(slices.Compact(slices.Clone(v))) != len(v) {
		t.Errorf("Variables() = %v, want sorted names without repeats", v)
	}
	v[0] = "CHANGED"
	if Variables()[0] == "CHANGED" {
		t.Error("Variables() returns its own slice; a caller changed it")
	}
}

// TestEverySettingLoads sets each variable of the table to a valid value
// other than its default, and checks that the Config changes: no row is
// declared but not loaded. A new row needs a value here.
func TestEverySettingLoads(t *testing.T) {
	const kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	// values holds a valid non-default value of each variable, with the
	// other variables its rules need.
	values := map[string]map[string]string{
		"PORT":                               {"PORT": "9000"},
		"DATABASE_URI":                       {"DATABASE_URI": "postgres://db/auth"},
		"DATABASE_URL":                       {"DATABASE_URL": "sqlite://other.db"},
		"DATABASE_MAX_CONNS":                 {"DATABASE_MAX_CONNS": "3"},
		"DEBUG":                              {"DEBUG": "false", "JWT_SECRET_KEY": secret32},
		"JWT_SECRET_KEY":                     {"JWT_SECRET_KEY": "k"},
		"JWT_PRIVATE_KEY":                    {"JWT_PRIVATE_KEY": "pem"},
		"JWT_PRIVATE_KEY_FILE":               {"JWT_PRIVATE_KEY_FILE": "/k.pem"},
		"JWT_PREVIOUS_PUBLIC_KEYS":           {"JWT_PREVIOUS_PUBLIC_KEYS": "pem", "JWT_PRIVATE_KEY_FILE": "/k.pem"},
		"JWT_PREVIOUS_PUBLIC_KEYS_FILE":      {"JWT_PREVIOUS_PUBLIC_KEYS_FILE": "/p.pem", "JWT_PRIVATE_KEY_FILE": "/k.pem"},
		"JWT_KEYS_REFRESH_INTERVAL":          {"JWT_KEYS_REFRESH_INTERVAL": "5s"},
		"KEY_ENCRYPTION_KEY":                 {"KEY_ENCRYPTION_KEY": kek},
		"KEY_ENCRYPTION_KEY_PREVIOUS":        {"KEY_ENCRYPTION_KEY_PREVIOUS": kek, "KEY_ENCRYPTION_KEY": "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4="},
		"JWT_CLAIMS_NAMESPACE":               {"JWT_CLAIMS_NAMESPACE": "https://hasura.io/jwt/claims"},
		"JWT_ISSUER":                         {"JWT_ISSUER": "https://auth.example.com"},
		"JWT_AUDIENCE":                       {"JWT_AUDIENCE": "shop"},
		"ACCESS_TOKEN_TTL":                   {"ACCESS_TOKEN_TTL": "1m"},
		"REFRESH_TOKEN_TTL":                  {"REFRESH_TOKEN_TTL": "1h"},
		"AUDIT_LOG_RETENTION":                {"AUDIT_LOG_RETENTION": "720h"},
		"SESSION_MAX_AGE":                    {"SESSION_MAX_AGE": "2h"},
		"REFRESH_REUSE_INTERVAL":             {"REFRESH_REUSE_INTERVAL": "0"},
		"PLAYGROUND":                         {"PLAYGROUND": "false"},
		"INTROSPECTION":                      {"INTROSPECTION": "false"},
		"CORS_ALLOWED_ORIGINS":               {"CORS_ALLOWED_ORIGINS": "https://a.example"},
		"TRUSTED_PROXIES":                    {"TRUSTED_PROXIES": "10.0.0.0/8"},
		"PASSWORD_HASH_MEMORY":               {"PASSWORD_HASH_MEMORY": "64"},
		"PASSWORD_HASH_ITERATIONS":           {"PASSWORD_HASH_ITERATIONS": "3"},
		"PASSWORD_HASH_PARALLELISM":          {"PASSWORD_HASH_PARALLELISM": "2"},
		"PASSWORD_HASH_CONCURRENCY":          {"PASSWORD_HASH_CONCURRENCY": "1000"},
		"PASSWORD_HASH_MAX_WAIT":             {"PASSWORD_HASH_MAX_WAIT": "0"},
		"MEMORY_LIMIT_MIB":                   {"MEMORY_LIMIT_MIB": "0"},
		"GOGC":                               {"GOGC": "off"},
		"MEMORY_RELEASE_AFTER":               {"MEMORY_RELEASE_AFTER": "1m"},
		"MAX_BODY_BYTES":                     {"MAX_BODY_BYTES": "2048"},
		"MAX_QUERY_COMPLEXITY":               {"MAX_QUERY_COMPLEXITY": "7"},
		"MAX_QUERY_BYTES":                    {"MAX_QUERY_BYTES": "300"},
		"MAX_QUERY_DEPTH":                    {"MAX_QUERY_DEPTH": "3"},
		"MAX_ROOT_FIELDS":                    {"MAX_ROOT_FIELDS": "2"},
		"MAX_ENTITIES":                       {"MAX_ENTITIES": "5"},
		"FEDERATION_AUTH_DIRECTIVES":         {"FEDERATION_AUTH_DIRECTIVES": "true"},
		"MAX_QUERY_TOKENS":                   {"MAX_QUERY_TOKENS": "50"},
		"REQUEST_TIMEOUT":                    {"REQUEST_TIMEOUT": "1s"},
		"LOGIN_MAX_FAILURES":                 {"LOGIN_MAX_FAILURES": "0"},
		"LOGIN_LOCKOUT":                      {"LOGIN_LOCKOUT": "1s"},
		"LOGIN_MAX_LOCKOUT":                  {"LOGIN_MAX_LOCKOUT": "1h"},
		"LOGIN_KNOWN_ADDRESS_TTL":            {"LOGIN_KNOWN_ADDRESS_TTL": "0"},
		"RATE_LIMIT_LOGIN":                   {"RATE_LIMIT_LOGIN": "0"},
		"RATE_LIMIT_PASSWORD_CHECK":          {"RATE_LIMIT_PASSWORD_CHECK": "2/1m"},
		"JWT_CLOCK_SKEW":                     {"JWT_CLOCK_SKEW": "30s"},
		"RATE_LIMIT_REGISTER":                {"RATE_LIMIT_REGISTER": "1/1s"},
		"RATE_LIMIT_REFRESH":                 {"RATE_LIMIT_REFRESH": "1/1s"},
		"RATE_LIMIT_VALIDATE":                {"RATE_LIMIT_VALIDATE": "1/1s"},
		"RATE_LIMIT_MAIL":                    {"RATE_LIMIT_MAIL": "1/1s"},
		"RATE_LIMIT_MAIL_RECIPIENT":          {"RATE_LIMIT_MAIL_RECIPIENT": "1/1s"},
		"RATE_LIMIT_TOKEN":                   {"RATE_LIMIT_TOKEN": "1/1s"},
		"APP_URL":                            {"APP_URL": "https://app.example/#"},
		"REQUIRE_EMAIL_VERIFICATION":         {"REQUIRE_EMAIL_VERIFICATION": "true"},
		"EMAIL_VERIFICATION_TTL":             {"EMAIL_VERIFICATION_TTL": "1h"},
		"PASSWORD_RESET_TTL":                 {"PASSWORD_RESET_TTL": "5m"},
		"EMAIL_CHANGE_TTL":                   {"EMAIL_CHANGE_TTL": "1h"},
		"SMTP_URL":                           {"SMTP_URL": "smtps://u:p%40ss@relay.example", "SMTP_FROM": "a@example.com", "APP_URL": "https://app.example"},
		"SMTP_HOST":                          {"SMTP_HOST": "relay.example", "SMTP_FROM": "a@example.com", "APP_URL": "https://app.example"},
		"SMTP_TLS":                           {"SMTP_TLS": "implicit", "SMTP_HOST": "relay.example", "SMTP_FROM": "a@example.com", "APP_URL": "https://app.example"},
		"SMTP_PORT":                          {"SMTP_PORT": "2525", "SMTP_HOST": "relay.example", "SMTP_FROM": "a@example.com", "APP_URL": "https://app.example"},
		"SMTP_USERNAME":                      {"SMTP_USERNAME": "u", "SMTP_HOST": "relay.example", "SMTP_FROM": "a@example.com", "APP_URL": "https://app.example"},
		"SMTP_PASSWORD":                      {"SMTP_PASSWORD": "p", "SMTP_HOST": "relay.example", "SMTP_FROM": "a@example.com", "APP_URL": "https://app.example"},
		"SMTP_PASSWORD_FILE":                 {"SMTP_PASSWORD_FILE": "/run/p", "SMTP_HOST": "relay.example", "SMTP_FROM": "a@example.com", "APP_URL": "https://app.example"},
		"SMTP_FROM":                          {"SMTP_FROM": "Me <a@example.com>"},
		"SMTP_TLS_CA_FILE":                   {"SMTP_TLS_CA_FILE": "/ca.pem"},
		"SMTP_TIMEOUT":                       {"SMTP_TIMEOUT": "1s"},
		"MAIL_DRIVER":                        {"MAIL_DRIVER": "none"},
		"MAIL_TEMPLATES_DIR":                 {"MAIL_TEMPLATES_DIR": "/t"},
		"MAIL_APP_NAME":                      {"MAIL_APP_NAME": "Shop"},
		"MAIL_RETRY_INTERVAL":                {"MAIL_RETRY_INTERVAL": "1s"},
		"MAIL_MAX_AGE":                       {"MAIL_MAX_AGE": "1h"},
		"MAIL_RESEND_INTERVAL":               {"MAIL_RESEND_INTERVAL": "0"},
		"SHUTDOWN_TIMEOUT":                   {"SHUTDOWN_TIMEOUT": "1s"},
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"},
		"OTEL_EXPORTER_OTLP_ENDPOINT":        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
		"OTEL_TRACES_EXPORTER":               {"OTEL_TRACES_EXPORTER": "none"},
		"OTEL_SDK_DISABLED":                  {"OTEL_SDK_DISABLED": "true"},
	}
	for _, s := range settings {
		t.Run(s.name, func(t *testing.T) {
			env, ok := values[s.name]
			if !ok {
				t.Fatalf("no value for %s: add one to TestEverySettingLoads", s.name)
			}
			without := map[string]string{}
			for k, v := range env {
				if k != s.name {
					without[k] = v
				}
			}
			got, err := Load(getenv(env))
			if err != nil {
				t.Fatalf("Load(%v) = _, %v, want nil error", env, err)
			}
			base, err := Load(getenv(without))
			if err != nil {
				t.Fatalf("Load(%v) = _, %v, want nil error", without, err)
			}
			if cmp.Equal(base, got, cmpConfig) {
				t.Errorf("Load(%v) = Load(%v): %s is not loaded", env, without, s.name)
			}
		})
	}
}
