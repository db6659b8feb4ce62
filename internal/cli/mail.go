package cli

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/mail"
)

// mailCommand is `latchkey mail test TO`: one synchronous send through the
// configured relay, the relay's reply printed, to check the settings.
func mailCommand(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "mail test TO", "Sends one test mail to TO through the configured relay (MAIL_DRIVER=smtp),\nnow and not through the outbox, and prints the relay's reply.")
	rest, done, err := parse(fs, args)
	if done || err != nil {
		return err
	}
	if len(rest) != 2 || rest[0] != "test" {
		return usageError(fs)
	}
	cfg := env.Config.Mail
	var transport mail.Transport
	switch cfg.Driver {
	case config.MailSMTP:
		s, err := mail.NewSMTP(cfg)
		if err != nil {
			return err
		}
		transport = s
	case config.MailLog:
		transport = mail.NewLog(slog.New(slog.NewJSONHandler(env.Stdout, nil)))
	default:
		return errors.New("MAIL_DRIVER=none: set SMTP_URL or SMTP_HOST to send mail")
	}
	from := cfg.Sender()
	text := fmt.Sprintf("This is a test mail from %s, sent by `latchkey mail test`.\n\nIf you read it, the relay works.\n", cfg.AppName)
	msg, err := mail.Message(from, rest[1], "<test-"+uuid.NewString()+"@latchkey>", mail.Rendered{
		Subject: cfg.AppName + " test mail",
		Text:    text,
		HTML:    "<p>This is a test mail from " + html.EscapeString(cfg.AppName) + ", sent by <code>latchkey mail test</code>.</p><p>If you read it, the relay works.</p>",
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	start := time.Now()
	reply, err := transport.Send(ctx, msg)
	if err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	fmt.Fprintf(env.Stdout, "sent to %s in %v: %s\n", rest[1], time.Since(start).Round(time.Millisecond), reply)
	return nil
}
