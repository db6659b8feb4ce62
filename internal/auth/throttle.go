package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/throttle"
)

// Limit allows Max attempts per Window, counted from the first; zero Max
// turns it off.
type Limit struct {
	Max    int
	Window time.Duration
}

// Backoff refuses an account's password checks after Max consecutive
// failures: for Lockout, doubling with each further failure up to
// MaxLockout. A success clears the count, and so does a day without
// failures. Zero Max turns it off.
type Backoff struct {
	Max        int
	Lockout    time.Duration
	MaxLockout time.Duration
}

// Limits are the throttles of the use cases. Counts live in the database,
// so every replica sees the same.
type Limits struct {
	// LoginAccount throttles failed password checks per account (per
	// email, whether or not it is registered, so a refusal tells nothing
	// about it). An address that logged in to the account within
	// KnownAddressTTL is not held by it: it has a budget of its own for
	// that account, under the same backoff.
	LoginAccount Backoff
	// KnownAddressTTL is how long after a successful login its address
	// counts as the account holder's own; zero turns that off.
	KnownAddressTTL time.Duration
	// LoginAddress limits failed logins per client address.
	LoginAddress Limit
	// PasswordSession limits the failed checks of the current password per
	// session (changePassword, and every mutation that asks for it).
	PasswordSession Limit
	// Register limits registrations per client address.
	Register Limit
	// RefreshAddress limits unknown refresh tokens per client address.
	RefreshAddress Limit
	// ValidateAddress limits forged or malformed tokens sent to
	// validateToken per client address; expired and revoked tokens, which
	// honest services see all day, do not count.
	ValidateAddress Limit
	// MailAddress limits the mutations that ask for mail (a reset, a
	// verification resent, an email change) per client address.
	MailAddress Limit
	// MailRecipient limits the mails those and register queue per
	// recipient, whether or not it has an account.
	MailRecipient Limit
	// TokenAddress limits failed mail-token mutations per client address.
	TokenAddress Limit
}

// accountIdle is how long without failures clears an account's count.
const accountIdle = 24 * time.Hour

// Throttle kinds, prefixes of the counted keys.
const (
	kindLoginAccount     = "login-account"
	kindLoginKnown       = "login-known"        // an address the account logged in from
	kindLoginKnownBudget = "login-known-budget" // an account's failures at a known address
	kindLoginAddress     = "login-address"
	kindPasswordSession  = "password-session"
	kindRegister         = "register"
	kindRefresh          = "refresh"
	kindValidate         = "validate"
	kindMailAddress      = "mail-address"
	kindMailRecipient    = "mail-recipient"
	kindToken            = "token"
)

// throttler counts attempts in the database. Every attempt is counted, in
// one atomic statement, before the work it asks for (a password hash, a
// registration), and refused when its count is over the limit: so a burst
// of parallel attempts, on any number of replicas, gets no more than the
// limit through.
type throttler struct {
	db      *ent.Client
	limits  Limits
	obs     Observer
	queries queries
}

func newThrottler(db *ent.Client, limits Limits, obs Observer, q queries) *throttler {
	return &throttler{db: db, limits: limits, obs: obs, queries: q}
}

// key is the stored id of a count: a hash, so no email or address is kept.
func key(kind string, subject ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, s := range subject {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
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

// passwordCheck is the reservation of one password check: the counts it
// added, which its success clears or gives back.
type passwordCheck struct {
	email, ip string
	// account is the count of failures it was charged to: the account's,
	// or the account's at a known address.
	account string
	// address and session are the counts of the client address and the
	// session it added to, "" when none.
	address, session string
}

// reservePasswordCheck counts a check of email's password, from the
// request's address and, when sid is not nil, in that session, and
// refuses it with a *RateLimitedError when a count is over its limit. It
// runs before the hash, so that refused checks cost none.
func (t *throttler) reservePasswordCheck(ctx context.Context, email, ip string, sid *uuid.UUID, now time.Time) (*passwordCheck, error) {
	pc := &passwordCheck{email: email, ip: ip, account: key(kindLoginAccount, email)}
	if ip != "" {
		known, err := t.isKnownAddress(ctx, email, ip, now)
		if err != nil {
			return nil, err
		}
		if known {
			pc.account = key(kindLoginKnownBudget, email, addressSubject(ip))
		}
		if sid == nil && t.limits.LoginAddress.Max > 0 {
			if err := t.reserve(ctx, kindLoginAddress, t.limits.LoginAddress, key(kindLoginAddress, addressSubject(ip)), now); err != nil {
				return nil, err
			}
			pc.address = key(kindLoginAddress, addressSubject(ip))
		}
	}
	if sid != nil && t.limits.PasswordSession.Max > 0 {
		k := key(kindPasswordSession, sid.String())
		if err := t.reserve(ctx, kindPasswordSession, t.limits.PasswordSession, k, now); err != nil {
			return nil, err
		}
		pc.session = k
	}
	if b := t.limits.LoginAccount; b.Max > 0 {
		var count int
		err := queryRow(ctx, t.db, t.queries.reserveBackoff,
			[]any{pc.account, now.UnixMilli(), b.Max, b.Lockout.Milliseconds(), now.Add(-accountIdle).UnixMilli(), b.MaxLockout.Milliseconds()}, &count)
		if ent.IsNotFound(err) {
			// The address's and session's counts were charged for nothing.
			if rerr := t.release(ctx, t.db, pc.address, pc.session); rerr != nil {
				return nil, rerr
			}
			return nil, t.refused(ctx, ThrottleLoginAccount, pc.account, func(r *ent.Throttle) int64 { return r.BlockedUntil }, now)
		}
		if err != nil {
			return nil, fmt.Errorf("counting password check: %w", err)
		}
	}
	return pc, nil
}

// succeeded clears, in tx, the failures the check was charged to, gives
// back what it added to the address's and session's counts, and remembers
// the address as one the account logs in from.
func (t *throttler) succeeded(ctx context.Context, tx *ent.Tx, pc *passwordCheck, now time.Time) error {
	if _, err := tx.Throttle.Delete().Where(throttle.ID(pc.account)).Exec(ctx); err != nil {
		return fmt.Errorf("clearing password failures: %w", err)
	}
	if err := t.release(ctx, tx.Client(), pc.address, pc.session); err != nil {
		return err
	}
	k := t.rememberKey(pc)
	if k == "" {
		return nil
	}
	err := tx.Throttle.Create().
		SetID(k).
		SetCount(0).SetWindowStart(now.UnixMilli()).SetLastAt(now.UnixMilli()).
		OnConflictColumns(throttle.FieldID).UpdateLastAt().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("remembering login address: %w", err)
	}
	return nil
}

// rememberKey is the count that remembers pc's address as one the account
// logs in from, "" when none is kept.
func (t *throttler) rememberKey(pc *passwordCheck) string {
	if pc.ip == "" || t.limits.KnownAddressTTL <= 0 {
		return ""
	}
	return key(kindLoginKnown, pc.email, addressSubject(pc.ip))
}

// abandon gives back what the check added to every count, when it ended
// before the password was compared (the hasher shed it, the client went
// away): it was no failure. The lockout the account's count may have
// reached stays until it ends.
func (t *throttler) abandon(ctx context.Context, pc *passwordCheck) {
	_ = t.release(context.WithoutCancel(ctx), t.db, pc.account, pc.address, pc.session)
}

// isKnownAddress reports whether the account email logged in from ip
// within KnownAddressTTL.
func (t *throttler) isKnownAddress(ctx context.Context, email, ip string, now time.Time) (bool, error) {
	if t.limits.KnownAddressTTL <= 0 {
		return false, nil
	}
	known, err := t.db.Throttle.Query().
		Where(throttle.ID(key(kindLoginKnown, email, addressSubject(ip))), throttle.LastAtGT(now.Add(-t.limits.KnownAddressTTL).UnixMilli())).
		Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("reading login addresses: %w", err)
	}
	return known, nil
}

// release gives back one attempt of each of the counts keys names ("" for
// none).
func (t *throttler) release(ctx context.Context, db *ent.Client, keys ...string) error {
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := db.Throttle.Update().Where(throttle.ID(k), throttle.CountGT(0)).AddCount(-1).Exec(ctx); err != nil {
			return fmt.Errorf("releasing attempt: %w", err)
		}
	}
	return nil
}

// attempt counts an attempt of kind from ip under l, and refuses it when
// the count is at the limit already.
func (t *throttler) attempt(ctx context.Context, kind string, l Limit, ip string, now time.Time) error {
	if l.Max <= 0 || ip == "" {
		return nil
	}
	return t.reserve(ctx, kind, l, key(kind, addressSubject(ip)), now)
}

// reserve adds one to the count k of kind unless it has reached l.Max in
// its window, and refuses with a *RateLimitedError when it has.
func (t *throttler) reserve(ctx context.Context, kind string, l Limit, k string, now time.Time) error {
	var count int
	err := queryRow(ctx, t.db, t.queries.reserveWindow, []any{k, now.UnixMilli(), now.Add(-l.Window).UnixMilli(), l.Max}, &count)
	if ent.IsNotFound(err) {
		return t.refused(ctx, Throttle(kind), k, func(r *ent.Throttle) int64 { return r.WindowStart + l.Window.Milliseconds() }, now)
	}
	if err != nil {
		return fmt.Errorf("counting attempt: %w", err)
	}
	return nil
}

// refused observes a refusal by the throttle which and returns it, with
// the time until the count k lets attempts through again: until(row), in
// Unix milliseconds.
func (t *throttler) refused(ctx context.Context, which Throttle, k string, until func(*ent.Throttle) int64, now time.Time) error {
	t.obs.ObserveThrottled(which)
	wait := time.Second
	if r, err := t.db.Throttle.Get(ctx, k); err == nil {
		wait = max(time.Second, time.UnixMilli(until(r)).Sub(now))
	}
	return &RateLimitedError{RetryAfter: wait}
}

// purge deletes counts untouched for longer than any limit looks back.
func (t *throttler) purge(ctx context.Context, now time.Time) (int, error) {
	horizon := max(accountIdle, t.limits.LoginAccount.MaxLockout, t.limits.KnownAddressTTL)
	for _, l := range []Limit{t.limits.LoginAddress, t.limits.PasswordSession, t.limits.Register, t.limits.RefreshAddress, t.limits.ValidateAddress, t.limits.MailAddress, t.limits.MailRecipient, t.limits.TokenAddress} {
		horizon = max(horizon, l.Window)
	}
	n, err := t.db.Throttle.Delete().Where(throttle.LastAtLT(now.Add(-horizon).UnixMilli())).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("purging throttles: %w", err)
	}
	return n, nil
}
