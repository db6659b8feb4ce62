package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/mailoutbox"
	"github.com/latchkey/latchkey/ent/mailtoken"
	"github.com/latchkey/latchkey/ent/predicate"
	"github.com/latchkey/latchkey/ent/user"
)

// Mail kinds: what a mail is for, and the name of its templates. The kinds
// that carry a token use the same name for the token's purpose.
const (
	MailVerifyEmail          = "verify_email"
	MailResetPassword        = "reset_password"
	MailConfirmEmailChange   = "confirm_email_change"
	MailEmailChangeRequested = "email_change_requested"
	MailEmailChanged         = "email_changed"
	MailPasswordChanged      = "password_changed"
)

// MailKinds lists every mail kind.
func MailKinds() []string {
	return []string{MailVerifyEmail, MailResetPassword, MailConfirmEmailChange, MailEmailChangeRequested, MailEmailChanged, MailPasswordChanged}
}

// Keys of a mail's Data.
const (
	DataDisplayName = "displayName"
	DataNewEmail    = "newEmail"
	DataOldEmail    = "oldEmail"
)

// Retention of finished outbox rows and of spent or expired tokens.
const (
	sentRetention   = 7 * 24 * time.Hour
	failedRetention = 30 * 24 * time.Hour
	tokenRetention  = 7 * 24 * time.Hour
)

// Mail is one queued mail as a sender works on it.
type Mail struct {
	ID     uuid.UUID
	Kind   string
	To     string
	UserID *uuid.UUID
	// Data is what the templates show: DataDisplayName, DataNewEmail,
	// DataOldEmail, as the kind has them.
	Data      map[string]string
	Attempts  int // including the current one
	CreatedAt time.Time
	// lease is the claim's locked_until: only its holder records the
	// outcome.
	lease time.Time
	// Token and ExpiresAt are set by Prepare for the kinds that carry a
	// token: the plain token, which only the mail holds, and its expiry.
	Token     string
	ExpiresAt time.Time
}

// enqueue writes a mail of kind to to the outbox in tx, unless one of the
// same kind went to the same address within the resend interval. The
// caller calls s.queued once tx has committed.
func (s *Service) enqueue(ctx context.Context, tx *ent.Tx, kind, to string, uid *uuid.UUID, data map[string]string, now time.Time) error {
	if s.mail.ResendInterval > 0 {
		recent, err := tx.MailOutbox.Query().
			Where(mailoutbox.Recipient(to), mailoutbox.Kind(kind), mailoutbox.CreatedAtGT(now.Add(-s.mail.ResendInterval))).
			Exist(ctx)
		if err != nil {
			return fmt.Errorf("reading recent mail: %w", err)
		}
		if recent {
			return nil
		}
	}
	err := tx.MailOutbox.Create().
		SetKind(kind).SetRecipient(to).SetNillableUserID(uid).SetData(data).
		SetCreatedAt(now).SetNextAttemptAt(now).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("queueing %s mail: %w", kind, err)
	}
	return nil
}

// queued wakes the sender after a commit that queued mail.
func (s *Service) queued() {
	if s.mail.Queued != nil {
		s.mail.Queued()
	}
}

// reserveRecipient counts a mail to the address to, and refuses it with a
// *RateLimitedError when the address has had its share: whether or not
// it has an account.
func (s *Service) reserveRecipient(ctx context.Context, to string, now time.Time) error {
	l := s.throttle.limits.MailRecipient
	if l.Max <= 0 {
		return nil
	}
	return s.throttle.reserve(ctx, kindMailRecipient, l, key(kindMailRecipient, to), now)
}

// askForMail checks what every mutation that asks for mail checks before
// its work: that mail is sent at all, and the throttles of the client
// address and of the recipient to.
func (s *Service) askForMail(ctx context.Context, to string, now time.Time) error {
	if !s.mail.Enabled {
		return ErrMailNotConfigured
	}
	if err := s.throttle.attempt(ctx, kindMailAddress, s.throttle.limits.MailAddress, RequestFrom(ctx).ClientIP, now); err != nil {
		return err
	}
	return s.reserveRecipient(ctx, to, now)
}

// Outbox is what a mail sender works with: it claims due mails, prepares
// each (minting its token), and records how it went. Every replica's
// sender uses one; claims keep two from sending the same mail.
type Outbox struct {
	s *Service
}

// Outbox returns the outbox of the service's database.
func (s *Service) Outbox() *Outbox { return &Outbox{s: s} }

// Claim leases up to limit due mails for lease: no other sender claims
// them until it lapses or the outcome is recorded. Each claim counts as an
// attempt. PostgreSQL skips the rows another sender is claiming (FOR
// UPDATE SKIP LOCKED); SQLite, one writer at a time, claims each row with
// a conditional update.
func (o *Outbox) Claim(ctx context.Context, limit int, lease time.Duration) ([]Mail, error) {
	s := o.s
	now := s.now()
	until := now.Add(lease)
	due := []predicate.MailOutbox{
		mailoutbox.StatusEQ(mailoutbox.StatusPending),
		mailoutbox.NextAttemptAtLTE(now),
		mailoutbox.Or(mailoutbox.LockedUntilIsNil(), mailoutbox.LockedUntilLTE(now)),
	}
	var claimed []*ent.MailOutbox
	if s.queries.dialect == dialect.Postgres {
		err := s.withTx(ctx, func(tx *ent.Tx) error {
			rows, err := tx.MailOutbox.Query().Where(due...).
				Order(ent.Asc(mailoutbox.FieldNextAttemptAt)).Limit(limit).
				ForUpdate(entsql.WithLockAction(entsql.SkipLocked)).
				All(ctx)
			if err != nil || len(rows) == 0 {
				return err
			}
			ids := make([]uuid.UUID, len(rows))
			for i, r := range rows {
				ids[i] = r.ID
			}
			if err := tx.MailOutbox.Update().Where(mailoutbox.IDIn(ids...)).SetLockedUntil(until).AddAttempts(1).Exec(ctx); err != nil {
				return err
			}
			claimed = rows
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("claiming mail: %w", err)
		}
	} else {
		rows, err := s.db.MailOutbox.Query().Where(due...).
			Order(ent.Asc(mailoutbox.FieldNextAttemptAt)).Limit(limit).
			All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading due mail: %w", err)
		}
		for _, r := range rows {
			n, err := s.db.MailOutbox.Update().Where(append([]predicate.MailOutbox{mailoutbox.ID(r.ID)}, due...)...).
				SetLockedUntil(until).AddAttempts(1).Save(ctx)
			if err != nil {
				return nil, fmt.Errorf("claiming mail: %w", err)
			}
			if n == 1 {
				claimed = append(claimed, r)
			}
		}
	}
	out := make([]Mail, len(claimed))
	for i, r := range claimed {
		out[i] = Mail{
			ID: r.ID, Kind: r.Kind, To: r.Recipient, UserID: r.UserID, Data: r.Data,
			Attempts: r.Attempts + 1, CreatedAt: r.CreatedAt, lease: until,
		}
		if out[i].Data == nil {
			out[i].Data = map[string]string{}
		}
	}
	return out, nil
}

// Prepare readies a claimed mail for sending: it looks the account up and
// mints the token of the kinds that carry one, counting its lifetime from
// now, with the PASSWORD_RESET_REQUESTED event of a reset mail. ok is false when the mail must be dropped: the account is unknown
// or disabled, or no longer in the state the mail is about (verified
// already, another email, no pending change).
func (o *Outbox) Prepare(ctx context.Context, m Mail) (_ Mail, ok bool, err error) {
	s := o.s
	var u *ent.User
	switch {
	case m.UserID != nil:
		u, err = s.db.User.Get(ctx, *m.UserID)
	case m.Kind == MailResetPassword || m.Kind == MailVerifyEmail:
		// Queued for a typed address, account or not.
		u, err = s.db.User.Query().Where(user.Email(m.To)).Only(ctx)
	}
	if ent.IsNotFound(err) {
		return m, m.UserID != nil && !hasToken(m.Kind), nil // a notice outlives its account's changes
	}
	if err != nil {
		return m, false, fmt.Errorf("loading user of mail %s: %w", m.ID, err)
	}
	if u != nil && u.DisplayName != nil {
		m.Data[DataDisplayName] = *u.DisplayName
	}
	var ttl time.Duration
	switch m.Kind {
	case MailResetPassword:
		ok, ttl = !u.Disabled && u.Email == m.To, s.mail.ResetTTL
	case MailVerifyEmail:
		ok, ttl = !u.Disabled && u.Email == m.To && !u.EmailVerified, s.mail.VerifyTTL
	case MailConfirmEmailChange:
		ok, ttl = !u.Disabled && u.PendingEmail != nil && *u.PendingEmail == m.To, s.mail.ChangeTTL
	default:
		return m, true, nil
	}
	if !ok {
		return m, false, nil
	}
	now := s.now()
	tok, hash, err := newMailToken()
	if err != nil {
		return m, false, err
	}
	err = s.withTx(ctx, func(tx *ent.Tx) error {
		err := tx.MailToken.Create().
			SetTokenHash(hash).SetPurpose(m.Kind).SetUserID(u.ID).SetAddress(m.To).
			SetCreatedAt(now).SetExpiresAt(now.Add(ttl)).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("storing mail token: %w", err)
		}
		if m.Kind != MailResetPassword {
			return nil
		}
		// Recorded here, not by the request: only the sender knows
		// whether the typed address is an account's. No actor: nobody
		// signed in asked.
		return s.audit(ctx, tx, auditEntry{Type: auditevent.TypePASSWORD_RESET_REQUESTED, UserID: u.ID})
	})
	if err != nil {
		return m, false, err
	}
	m.Token, m.ExpiresAt = tok, now.Add(ttl)
	return m, true, nil
}

// hasToken reports whether mails of kind carry a token.
func hasToken(kind string) bool {
	return kind == MailVerifyEmail || kind == MailResetPassword || kind == MailConfirmEmailChange
}

// newMailToken returns a new mail token, 32 random bytes in base64url, and
// the SHA-256 it is stored as.
func newMailToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("making mail token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, hashMailToken(tok), nil
}

// hashMailToken is the stored form of a mail token.
func hashMailToken(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}

// Sent records that m was handed to the relay.
func (o *Outbox) Sent(ctx context.Context, m Mail) error {
	return o.finish(ctx, m, mailoutbox.StatusSent, "")
}

// Failed records that m will not be sent: refused for good, or too old.
func (o *Outbox) Failed(ctx context.Context, m Mail, reason string) error {
	return o.finish(ctx, m, mailoutbox.StatusFailed, reason)
}

// Dropped records that m is not to be sent, and forgets its address.
func (o *Outbox) Dropped(ctx context.Context, m Mail) error {
	return o.finish(ctx, m, mailoutbox.StatusDropped, "")
}

// finish records the final status of m, if m's claim still holds.
func (o *Outbox) finish(ctx context.Context, m Mail, status mailoutbox.Status, reason string) error {
	up := o.s.db.MailOutbox.Update().
		Where(mailoutbox.ID(m.ID), mailoutbox.StatusEQ(mailoutbox.StatusPending), mailoutbox.LockedUntil(m.lease)).
		SetStatus(status).SetDoneAt(o.s.now()).ClearLockedUntil()
	if reason != "" {
		up.SetLastError(*truncated(reason, 1000))
	}
	if status == mailoutbox.StatusDropped {
		up.SetRecipient("")
	}
	if err := up.Exec(ctx); err != nil {
		return fmt.Errorf("recording mail %s %s: %w", m.ID, status, err)
	}
	return nil
}

// Retry puts m back to be tried again at at, after a transient failure.
func (o *Outbox) Retry(ctx context.Context, m Mail, at time.Time, reason string) error {
	err := o.s.db.MailOutbox.Update().
		Where(mailoutbox.ID(m.ID), mailoutbox.StatusEQ(mailoutbox.StatusPending), mailoutbox.LockedUntil(m.lease)).
		SetNextAttemptAt(at).ClearLockedUntil().SetLastError(*truncated(reason, 1000)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("recording retry of mail %s: %w", m.ID, err)
	}
	return nil
}

// Oldest returns when the oldest unsent mail was queued; ok is false when
// none waits.
func (o *Outbox) Oldest(ctx context.Context) (t time.Time, ok bool, err error) {
	r, err := o.s.db.MailOutbox.Query().
		Where(mailoutbox.StatusEQ(mailoutbox.StatusPending)).
		Order(ent.Asc(mailoutbox.FieldCreatedAt)).
		First(ctx)
	if ent.IsNotFound(err) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading oldest mail: %w", err)
	}
	return r.CreatedAt, true, nil
}

// PurgeMail deletes mails sent or dropped over 7 days ago, failed over 30
// days ago, and tokens 7 days past their expiry.
func (s *Service) PurgeMail(ctx context.Context) (int, error) {
	now := s.now()
	n, err := s.db.MailOutbox.Delete().Where(mailoutbox.Or(
		mailoutbox.And(mailoutbox.StatusIn(mailoutbox.StatusSent, mailoutbox.StatusDropped), mailoutbox.DoneAtLT(now.Add(-sentRetention))),
		mailoutbox.And(mailoutbox.StatusEQ(mailoutbox.StatusFailed), mailoutbox.DoneAtLT(now.Add(-failedRetention))),
	)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("purging mail: %w", err)
	}
	t, err := s.db.MailToken.Delete().Where(mailtoken.ExpiresAtLT(now.Add(-tokenRetention))).Exec(ctx)
	if err != nil {
		return n, fmt.Errorf("purging mail tokens: %w", err)
	}
	return n + t, nil
}
