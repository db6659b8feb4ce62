package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/throttle"
)

// Limit allows Max attempts per Window, counted from the first; zero Max
// turns it off.
type Limit struct {
	Max    int
	Window time.Duration
}

// Backoff refuses an account's logins after Max consecutive failures: for
// Lockout, doubling with each further failure up to MaxLockout. A success
// clears the count, and so does a day without failures. Zero Max turns it
// off.
type Backoff struct {
	Max        int
	Lockout    time.Duration
	MaxLockout time.Duration
}

// Limits are the throttles of the use cases. Counts live in the database,
// so every replica sees the same.
type Limits struct {
	// LoginAccount throttles failed logins per account (per email, whether
	// or not it is registered, so a refusal tells nothing about it).
	LoginAccount Backoff
	// LoginAddress limits failed logins per client address.
	LoginAddress Limit
	// Register limits registrations per client address.
	Register Limit
	// RefreshAddress limits unknown refresh tokens per client address.
	RefreshAddress Limit
	// ValidateAddress limits forged or malformed tokens sent to
	// validateToken per client address; expired and revoked tokens, which
	// honest services see all day, do not count.
	ValidateAddress Limit
}

// accountIdle is how long without failures clears an account's count.
const accountIdle = 24 * time.Hour

// Throttle kinds, prefixes of the counted keys.
const (
	kindLoginAccount = "login-account"
	kindLoginAddress = "login-address"
	kindRegister     = "register"
	kindRefresh      = "refresh"
	kindValidate     = "validate"
)

// throttler counts attempts in the database.
type throttler struct {
	db     *ent.Client
	limits Limits
	obs    Observer

	// blocked remembers, per key, until when a limit that counts only
	// failures refuses: learned when this replica records a failure, so that
	// successful calls cost no extra database round trip. Another replica's
	// block is learned at the next failure recorded here.
	mu      sync.Mutex
	blocked map[string]time.Time
}

func newThrottler(db *ent.Client, limits Limits, obs Observer) *throttler {
	return &throttler{db: db, limits: limits, obs: obs, blocked: map[string]time.Time{}}
}

// key is the stored id of a count: a hash, so no email or address is kept.
func key(kind, subject string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + subject))
	return hex.EncodeToString(sum[:])
}

// addressSubject is the client address a limit counts: IPv6 addresses by
// their /64, which one client usually holds whole.
func addressSubject(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.Unmap().String()
}

// checkLogin refuses a login whose account or address is throttled, before
// any password is hashed, with one query for both counts. failures reports
// whether the account has failed logins counted, which a success clears.
func (t *throttler) checkLogin(ctx context.Context, email, ip string, now time.Time) (failures bool, err error) {
	acct, addr := key(kindLoginAccount, email), key(kindLoginAddress, addressSubject(ip))
	rows, err := t.db.Throttle.Query().Where(throttle.IDIn(acct, addr)).All(ctx)
	if err != nil {
		return false, fmt.Errorf("reading login throttles: %w", err)
	}
	var (
		wait  time.Duration
		which Throttle
	)
	for _, r := range rows {
		var (
			w    time.Duration
			kind Throttle
		)
		switch r.ID {
		case acct:
			failures = true
			w, kind = t.limits.LoginAccount.wait(r.Count, r.LastAt, now), ThrottleLoginAccount
		case addr:
			if ip != "" {
				w, kind = t.limits.LoginAddress.wait(r.Count, r.WindowStart, now), ThrottleLoginAddress
			}
		}
		if w > wait {
			wait, which = w, kind
		}
	}
	if wait > 0 {
		t.obs.ObserveThrottled(which)
		return false, &RateLimitedError{RetryAfter: wait}
	}
	return failures, nil
}

// loginFailed counts a failed login against the account and the address.
func (t *throttler) loginFailed(ctx context.Context, email, ip string, now time.Time) error {
	if t.limits.LoginAccount.Max > 0 {
		if _, _, err := t.count(ctx, key(kindLoginAccount, email), "last_at", now.Add(-accountIdle), now); err != nil {
			return err
		}
	}
	if t.limits.LoginAddress.Max > 0 && ip != "" {
		if _, _, err := t.count(ctx, key(kindLoginAddress, addressSubject(ip)), "window_start", now.Add(-t.limits.LoginAddress.Window), now); err != nil {
			return err
		}
	}
	return nil
}

// loginSucceeded clears the account's count of failures. A failure counted
// after checkLogin read none, by a concurrent login, is left to expire.
func (t *throttler) loginSucceeded(ctx context.Context, email string) error {
	if _, err := t.db.Throttle.Delete().Where(throttle.ID(key(kindLoginAccount, email))).Exec(ctx); err != nil {
		return fmt.Errorf("clearing login throttle: %w", err)
	}
	return nil
}

// attempt counts an attempt of kind from ip under l, and refuses it when
// it is over the limit.
func (t *throttler) attempt(ctx context.Context, kind string, l Limit, ip string, now time.Time) error {
	if l.Max <= 0 || ip == "" {
		return nil
	}
	n, start, err := t.count(ctx, key(kind, addressSubject(ip)), "window_start", now.Add(-l.Window), now)
	if err != nil {
		return err
	}
	if n > l.Max {
		t.obs.ObserveThrottled(Throttle(kind))
		return &RateLimitedError{RetryAfter: time.UnixMilli(start).Add(l.Window).Sub(now)}
	}
	return nil
}

// checkFailures refuses a call of kind from ip that this replica knows to
// be over its limit of failures. It costs no database round trip.
func (t *throttler) checkFailures(kind, ip string, now time.Time) error {
	if ip == "" {
		return nil
	}
	k := key(kind, addressSubject(ip))
	t.mu.Lock()
	until, ok := t.blocked[k]
	t.mu.Unlock()
	if ok && now.Before(until) {
		t.obs.ObserveThrottled(Throttle(kind))
		return &RateLimitedError{RetryAfter: until.Sub(now)}
	}
	return nil
}

// failed counts a failure of kind from ip under l, and remembers a block.
func (t *throttler) failed(ctx context.Context, kind string, l Limit, ip string, now time.Time) error {
	if l.Max <= 0 || ip == "" {
		return nil
	}
	k := key(kind, addressSubject(ip))
	n, start, err := t.count(ctx, k, "window_start", now.Add(-l.Window), now)
	if err != nil {
		return err
	}
	if n >= l.Max {
		t.mu.Lock()
		defer t.mu.Unlock()
		if len(t.blocked) > 100_000 {
			for k, until := range t.blocked {
				if !now.Before(until) {
					delete(t.blocked, k)
				}
			}
		}
		t.blocked[k] = time.UnixMilli(start).Add(l.Window)
	}
	return nil
}

// count adds one to the count of key in one atomic statement, starting it
// afresh when column (window_start or last_at) is at or before cutoff, and
// returns the new count and when it started.
func (t *throttler) count(ctx context.Context, key, column string, cutoff, now time.Time) (int, int64, error) {
	// PostgreSQL and SQLite (which reads $N as parameter N) both take this
	// statement as it is.
	q := `INSERT INTO throttles (id, count, window_start, last_at) VALUES ($1, 1, $2, $3)
ON CONFLICT (id) DO UPDATE SET
  count = CASE WHEN throttles.` + column + ` <= $4 THEN 1 ELSE throttles.count + 1 END,
  window_start = CASE WHEN throttles.` + column + ` <= $5 THEN excluded.window_start ELSE throttles.window_start END,
  last_at = excluded.last_at
RETURNING count, window_start`
	nowMS, cutMS := now.UnixMilli(), cutoff.UnixMilli()
	var (
		n     int
		start int64
	)
	if err := queryRow(ctx, t.db, q, []any{key, nowMS, nowMS, cutMS, cutMS}, &n, &start); err != nil {
		return 0, 0, fmt.Errorf("counting attempt: %w", err)
	}
	return n, start, nil
}

// wait is how long a fixed-window limit still refuses, given the count and
// the window's start in Unix milliseconds.
func (l Limit) wait(count int, startMS int64, now time.Time) time.Duration {
	if l.Max <= 0 || count < l.Max {
		return 0
	}
	return max(0, time.UnixMilli(startMS).Add(l.Window).Sub(now))
}

// wait is how long the backoff still refuses, given the count of
// consecutive failures and the last one's time in Unix milliseconds.
func (b Backoff) wait(count int, lastMS int64, now time.Time) time.Duration {
	if b.Max <= 0 || count < b.Max || time.UnixMilli(lastMS).Before(now.Add(-accountIdle)) {
		return 0
	}
	return max(0, time.UnixMilli(lastMS).Add(b.lockout(count)).Sub(now))
}

// lockout is Lockout doubled for each failure past Max, at most MaxLockout.
func (b Backoff) lockout(count int) time.Duration {
	d := b.Lockout
	for i := b.Max; i < count && d < b.MaxLockout; i++ {
		d *= 2
	}
	return min(d, b.MaxLockout)
}

// purge deletes counts untouched for longer than any limit looks back.
func (t *throttler) purge(ctx context.Context, now time.Time) (int, error) {
	horizon := accountIdle
	for _, l := range []Limit{t.limits.LoginAddress, t.limits.Register, t.limits.RefreshAddress, t.limits.ValidateAddress} {
		horizon = max(horizon, l.Window)
	}
	n, err := t.db.Throttle.Delete().Where(throttle.LastAtLT(now.Add(-horizon).UnixMilli())).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("purging throttles: %w", err)
	}
	return n, nil
}
