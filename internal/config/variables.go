package config

import "slices"

// variables is every environment variable Load reads, in the order of the
// package documentation.
var variables = []string{
	"PORT",
	"DATABASE_URI",
	"DATABASE_URL",
	"DATABASE_MAX_CONNS",
	"DEBUG",
	"JWT_SECRET_KEY",
	"JWT_PRIVATE_KEY",
	"JWT_PRIVATE_KEY_FILE",
	"JWT_PREVIOUS_PUBLIC_KEYS",
	"JWT_PREVIOUS_PUBLIC_KEYS_FILE",
	"JWT_KEYS_REFRESH_INTERVAL",
	"KEY_ENCRYPTION_KEY",
	"KEY_ENCRYPTION_KEY_PREVIOUS",
	"JWT_CLAIMS_NAMESPACE",
	"JWT_ISSUER",
	"JWT_AUDIENCE",
	"ACCESS_TOKEN_TTL",
	"REFRESH_TOKEN_TTL",
	"SESSION_MAX_AGE",
	"REFRESH_REUSE_INTERVAL",
	"PLAYGROUND",
	"INTROSPECTION",
	"CORS_ALLOWED_ORIGINS",
	"TRUSTED_PROXIES",
	"PASSWORD_HASH_MEMORY",
	"PASSWORD_HASH_ITERATIONS",
	"PASSWORD_HASH_PARALLELISM",
	"PASSWORD_HASH_CONCURRENCY",
	"MAX_BODY_BYTES",
	"MAX_QUERY_COMPLEXITY",
	"MAX_QUERY_BYTES",
	"MAX_QUERY_DEPTH",
	"MAX_ROOT_FIELDS",
	"REQUEST_TIMEOUT",
	"PASSWORD_HASH_MAX_WAIT",
	"LOGIN_MAX_FAILURES",
	"LOGIN_LOCKOUT",
	"LOGIN_MAX_LOCKOUT",
	"RATE_LIMIT_LOGIN",
	"RATE_LIMIT_REGISTER",
	"RATE_LIMIT_REFRESH",
	"RATE_LIMIT_VALIDATE",
	"SHUTDOWN_TIMEOUT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_HEADERS",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_SERVICE_NAME",
	"OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_SAMPLER",
	"OTEL_TRACES_SAMPLER_ARG",
	"OTEL_TRACES_EXPORTER",
	"OTEL_SDK_DISABLED",
}

// secretVariables are the variables whose values are secrets, or may hold
// one (a database password in a URI, a token in exporter headers).
var secretVariables = []string{
	"DATABASE_URI",
	"DATABASE_URL",
	"JWT_SECRET_KEY",
	"JWT_PRIVATE_KEY",
	"KEY_ENCRYPTION_KEY",
	"KEY_ENCRYPTION_KEY_PREVIOUS",
	"OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_HEADERS",
}

// SecretVariables returns the variables whose values are secrets, sorted:
// deployments keep them in secret stores, not in plain configuration.
func SecretVariables() []string {
	names := slices.Clone(secretVariables)
	slices.Sort(names)
	return names
}

// Variables returns the name of every environment variable the service
// reads, sorted. Deployments check their manifests against it, so that a
// misspelt or retired setting is caught before it is silently ignored.
func Variables() []string {
	names := slices.Clone(variables)
	slices.Sort(names)
	return names
}
