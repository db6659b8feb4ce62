package mail

import (
	"log/slog"
	"net/http"

	"github.com/latchkey/latchkey/internal/config"
)

// FromConfig builds the sender of cfg's mail driver over outbox, its
// templates loaded (a template that does not parse is an error), and, for
// the log driver, the handler of /dev/mail. It returns a nil sender for
// MAIL_DRIVER=none. obs may be nil.
func FromConfig(cfg config.Config, outbox Outbox, logger *slog.Logger, obs Observer) (*Sender, http.Handler, error) {
	var (
		transport Transport
		devMail   http.Handler
	)
	switch cfg.Mail.Driver {
	case config.MailNone:
		return nil, nil, nil
	case config.MailLog:
		l := NewLog(logger)
		transport, devMail = l, l
	default:
		s, err := NewSMTP(cfg.Mail)
		if err != nil {
			return nil, nil, err
		}
		transport = s
	}
	templates, err := LoadTemplates(cfg.Mail.TemplatesDir)
	if err != nil {
		return nil, nil, err
	}
	return NewSender(outbox, transport, templates, Options{
		From:          cfg.Mail.Sender(),
		AppName:       cfg.Mail.AppName,
		AppURL:        cfg.AppURL,
		Timeout:       cfg.Mail.Timeout,
		RetryInterval: cfg.Mail.RetryInterval,
		MaxAge:        cfg.Mail.MaxAge,
	}, logger, obs), devMail, nil
}
