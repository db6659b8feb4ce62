// Package mail sends Latchkey's mail: a sender in each replica claims due
// mails from the outbox (which internal/auth owns), renders them from
// their templates, has their tokens minted and hands them to a transport:
// an SMTP relay, or in development the log. No request waits for it.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/latchkey/latchkey/internal/auth"
)

// Outcomes of an attempt at sending, the outcome label of
// latchkey_mail_total.
const (
	OutcomeSent    = "sent"
	OutcomeRetried = "retried"
	OutcomeFailed  = "failed"
	OutcomeDropped = "dropped"
)

// Outbox is the queue of mail the sender works through; *auth.Outbox is
// one.
type Outbox interface {
	Claim(ctx context.Context, limit int, lease time.Duration) ([]auth.Mail, error)
	Prepare(ctx context.Context, m auth.Mail) (auth.Mail, bool, error)
	Sent(ctx context.Context, m auth.Mail) error
	Failed(ctx context.Context, m auth.Mail, reason string) error
	Dropped(ctx context.Context, m auth.Mail) error
	Retry(ctx context.Context, m auth.Mail, at time.Time, reason string) error
	Oldest(ctx context.Context) (time.Time, bool, error)
}

// Transport hands one message to where mail goes and returns the reply
// that accepted it.
type Transport interface {
	Send(ctx context.Context, msg *gomail.Msg) (reply string, err error)
}

// Observer learns each attempt's outcome and the outbox's backlog;
// *telemetry.Metrics is one.
type Observer interface {
	ObserveMail(kind, outcome string)
	ObserveOutboxOldest(age time.Duration)
}

// Options configure a Sender.
type Options struct {
	From    string // the From mailbox
	AppName string
	AppURL  string // the links' prefix, verbatim
	// Timeout bounds one send; a claim is leased for three times it.
	Timeout time.Duration
	// RetryInterval is the first wait after a transient failure, doubling
	// with each attempt up to an hour, ±20%.
	RetryInterval time.Duration
	// MaxAge fails a mail still unsent this long after it was queued.
	MaxAge time.Duration
	// PollInterval is how often the outbox is read when nothing wakes the
	// sender; 0 means a second.
	PollInterval time.Duration
	Clock        func() time.Time // nil: time.Now
}

// batch is how many mails one claim takes.
const batch = 10

// maxRetryWait caps the backoff.
const maxRetryWait = time.Hour

// Sender sends the outbox's mail. Each replica runs one; claims keep two
// from sending the same mail, and its Message-ID, the outbox row's id,
// stays the same across attempts.
type Sender struct {
	outbox    Outbox
	transport Transport
	templates *Templates
	opts      Options
	logger    *slog.Logger
	obs       Observer
	wake      chan struct{}
}

// NewSender returns a sender of outbox's mail through transport. obs may
// be nil.
func NewSender(outbox Outbox, transport Transport, templates *Templates, opts Options, logger *slog.Logger, obs Observer) *Sender {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	return &Sender{outbox: outbox, transport: transport, templates: templates, opts: opts, logger: logger, obs: obs, wake: make(chan struct{}, 1)}
}

// Wake makes the sender read the outbox at once: mail was queued. It never
// blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends. A send under way when it ends is finished
// (within the timeout) and recorded, so that a shutdown neither loses nor
// repeats it.
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for ctx.Err() == nil {
		n, err := s.Round(context.WithoutCancel(ctx), ctx.Done())
		if err != nil {
			s.logger.Warn("sending mail", "error", err)
		}
		if n == batch && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
	}
}

// Round claims the due mails, up to a batch, and sends them one by one,
// stopping early when stop closes. It returns how many it claimed.
func (s *Sender) Round(ctx context.Context, stop <-chan struct{}) (int, error) {
	if oldest, ok, err := s.outbox.Oldest(ctx); err == nil && s.obs != nil {
		age := time.Duration(0)
		if ok {
			age = max(0, s.opts.Clock().Sub(oldest))
		}
		s.obs.ObserveOutboxOldest(age)
	}
	mails, err := s.outbox.Claim(ctx, batch, 3*s.opts.Timeout)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, m := range mails {
		select {
		case <-stop:
			// Left claimed: its lease lapses and any sender takes it.
			return len(mails), errors.Join(errs...)
		default:
		}
		if err := s.send(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return len(mails), errors.Join(errs...)
}

// send tries to send one claimed mail and records the outcome.
func (s *Sender) send(ctx context.Context, m auth.Mail) error {
	log := s.logger.With("mail_id", m.ID.String(), "kind", m.Kind, "attempt", m.Attempts)
	if s.opts.Clock().Sub(m.CreatedAt) > s.opts.MaxAge {
		s.observe(m.Kind, OutcomeFailed)
		log.Warn("mail failed", "reason", "older than MAIL_MAX_AGE")
		return s.outbox.Failed(ctx, m, "older than MAIL_MAX_AGE")
	}
	m, ok, err := s.outbox.Prepare(ctx, m)
	if err != nil {
		return s.retry(ctx, log, m, err)
	}
	if !ok {
		s.observe(m.Kind, OutcomeDropped)
		log.Info("mail dropped")
		return s.outbox.Dropped(ctx, m)
	}
	msg, err := s.message(m)
	if err != nil {
		// A template that rendered at the start fails on this data: no
		// retry will do better.
		s.observe(m.Kind, OutcomeFailed)
		log.Error("mail failed", "error", err)
		return s.outbox.Failed(ctx, m, err.Error())
	}
	sendCtx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	reply, err := s.transport.Send(sendCtx, msg)
	if err != nil {
		if Permanent(err) {
			s.observe(m.Kind, OutcomeFailed)
			log.Warn("mail refused", "error", err)
			return s.outbox.Failed(ctx, m, err.Error())
		}
		return s.retry(ctx, log, m, err)
	}
	s.observe(m.Kind, OutcomeSent)
	log.Info("mail sent", "reply", reply)
	return s.outbox.Sent(ctx, m)
}

// retry puts m back after a transient failure, with backoff.
func (s *Sender) retry(ctx context.Context, log *slog.Logger, m auth.Mail, cause error) error {
	wait := s.backoff(m.Attempts)
	s.observe(m.Kind, OutcomeRetried)
	log.Warn("mail not sent, retrying", "error", cause, "retry_in", wait.String())
	return s.outbox.Retry(ctx, m, s.opts.Clock().Add(wait), cause.Error())
}

// backoff is the wait after the attempt-th failed attempt: RetryInterval
// doubled per earlier attempt, up to an hour, ±20%.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.opts.RetryInterval
	for i := 1; i < attempt && d < maxRetryWait; i++ {
		d *= 2
	}
	d = min(d, maxRetryWait)
	jitter := 0.8 + 0.4*rand.Float64() //nolint:gosec // spreading retries, not a secret
	return time.Duration(float64(d) * jitter)
}

func (s *Sender) observe(kind, outcome string) {
	if s.obs != nil {
		s.obs.ObserveMail(kind, outcome)
	}
}

// data is what m's templates show.
func (s *Sender) data(m auth.Mail) Data {
	d := Data{
		AppName: s.opts.AppName, AppURL: s.opts.AppURL, Token: m.Token, ExpiresAt: m.ExpiresAt, Email: m.To,
		DisplayName: m.Data[auth.DataDisplayName], NewEmail: m.Data[auth.DataNewEmail], OldEmail: m.Data[auth.DataOldEmail],
	}
	if m.Kind == auth.MailConfirmEmailChange {
		d.NewEmail = m.To
	}
	if path, ok := links[m.Kind]; ok && m.Token != "" {
		d.Link = s.opts.AppURL + path + m.Token
	}
	return d
}

// message renders m into a multipart text and HTML message.
func (s *Sender) message(m auth.Mail) (*gomail.Msg, error) {
	r, err := s.templates.Render(m.Kind, s.data(m))
	if err != nil {
		return nil, err
	}
	return Message(s.opts.From, m.To, "<"+m.ID.String()+"@latchkey>", r)
}

// Message builds a multipart/alternative message of r from from to to,
// automatically generated (RFC 3834), with the Message-ID id.
func Message(from, to, id string, r Rendered) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(to); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	msg.Subject(r.Subject)
	msg.SetMessageIDWithValue(id[1 : len(id)-1])
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, r.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, r.HTML)
	return msg, nil
}

// Permanent reports whether err is a relay's refusal for good: a 5xx
// answer to RCPT TO or DATA. Anything else (connection, TLS, AUTH, a 4xx)
// is worth another try.
func Permanent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) || se.IsTemp() {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose, gomail.ErrWriteContent:
		return se.ErrorCode() >= 500 && se.ErrorCode() < 600
	}
	return false
}
