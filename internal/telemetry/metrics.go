// Package telemetry holds what operators watch Latchkey with: Prometheus
// metrics, OpenTelemetry tracing, and the log handler that tags every line
// of a request with its request and trace ids.
package telemetry

import (
	"database/sql"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchkey/latchkey/internal/auth"
)

// Metrics is the service's Prometheus registry, its own rather than the
// global one. Every label value is known in advance and its series resolved
// once, so that counting on the hot path is an atomic add.
type Metrics struct {
	registry *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	logins    map[auth.LoginOutcome]prometheus.Counter
	refreshes map[auth.RefreshOutcome]prometheus.Counter
	throttled map[auth.Throttle]prometheus.Counter
	hashTime  prometheus.Histogram

	mails        *prometheus.CounterVec
	outboxOldest prometheus.Gauge
}

var _ auth.Observer = (*Metrics)(nil)

// NewMetrics returns the metrics of a service over db: its own, the
// connection pool's (go_sql_*), the Go runtime's (go_*) and the process's
// (process_*).
func NewMetrics(db *sql.DB) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_graphql_requests_total",
			Help: "GraphQL requests by operation (the root field asked; several different ones are \"multiple\", a document that does not validate \"invalid\") and result (ok, or error when the response has errors).",
		}, []string{"operation", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latchkey_graphql_request_duration_seconds",
			Help:    "Time from reading a GraphQL request to its response, by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		mails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_mail_total",
			Help: "Attempts at sending mail, by kind (verify_email, reset_password, ...) and outcome: sent, retried (a transient failure), failed (refused for good, or older than MAIL_MAX_AGE), dropped (no account, or no longer in the state the mail is about).",
		}, []string{"kind", "outcome"}),
		outboxOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "latchkey_mail_outbox_oldest_seconds",
			Help: "Age of the oldest mail waiting to be sent, as this replica's sender last saw it; 0 when none waits.",
		}),
		hashTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "latchkey_password_hash_duration_seconds",
			Help:    "Time one argon2id password hash takes, without the wait for a hashing slot.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .075, .1, .15, .25, .5, 1},
		}),
	}
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "latchkey_logins_total",
		Help: "Logins by outcome: success, invalid_credentials, account_disabled, rate_limited, bad_input, canceled (the client went away), error.",
	}, []string{"outcome"})
	refreshes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "latchkey_refreshes_total",
		Help: "Refresh-token exchanges by outcome: rotated, grace_reuse (a spent token back within REFRESH_REUSE_INTERVAL), reuse_detected (after it: the session is revoked), invalid, rate_limited, canceled (the client went away), error.",
	}, []string{"outcome"})
	throttled := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "latchkey_throttled_total",
		Help: "Calls refused with RATE_LIMITED, by the limit that refused them: login-account, login-address, register, refresh, validate, mail-address, mail-recipient, token, password-hash (shed waiting for a hashing slot).",
	}, []string{"limit"})
	m.logins = resolve(logins, auth.LoginOutcomes())
	m.refreshes = resolve(refreshes, auth.RefreshOutcomes())
	m.throttled = resolve(throttled, auth.Throttles())
	m.registry.MustRegister(
		m.requests, m.duration, logins, refreshes, throttled, m.hashTime, m.mails, m.outboxOldest,
		collectors.NewDBStatsCollector(db, "latchkey"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// resolve returns the counter of each label value, created now so that
// every series is exported from the start, at zero.
func resolve[L ~string](v *prometheus.CounterVec, values []L) map[L]prometheus.Counter {
	out := make(map[L]prometheus.Counter, len(values))
	for _, l := range values {
		out[l] = v.WithLabelValues(string(l))
	}
	return out
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// ObserveLogin counts a login.
func (m *Metrics) ObserveLogin(o auth.LoginOutcome) {
	if c, ok := m.logins[o]; ok {
		c.Inc()
	}
}

// ObserveRefresh counts a refresh.
func (m *Metrics) ObserveRefresh(o auth.RefreshOutcome) {
	if c, ok := m.refreshes[o]; ok {
		c.Inc()
	}
}

// ObserveThrottled counts a call refused by a throttle.
func (m *Metrics) ObserveThrottled(t auth.Throttle) {
	if c, ok := m.throttled[t]; ok {
		c.Inc()
	}
}

// ObservePasswordHash records the time of one password hash.
func (m *Metrics) ObservePasswordHash(d time.Duration) {
	m.hashTime.Observe(d.Seconds())
}

// ObserveMail counts an attempt at sending a mail of kind, by its outcome.
func (m *Metrics) ObserveMail(kind, outcome string) {
	if m == nil {
		return
	}
	m.mails.WithLabelValues(kind, outcome).Inc()
}

// ObserveOutboxOldest records the age of the oldest mail waiting.
func (m *Metrics) ObserveOutboxOldest(age time.Duration) {
	if m == nil {
		return
	}
	m.outboxOldest.Set(age.Seconds())
}
