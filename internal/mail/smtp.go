package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/latchkey/latchkey/internal/config"
)

// SMTP sends through a relay: STARTTLS required, or implicit TLS, the
// relay's certificate always verified against the system's roots and
// SMTP_TLS_CA_FILE, AUTH when a user name is set. Each send opens its own
// connection.
type SMTP struct {
	relay    config.SMTP
	password string
	tls      *tls.Config
}

// NewSMTP returns the transport of the relay m configures, reading its
// password file and CA file.
func NewSMTP(m config.Mail) (*SMTP, error) {
	relay, err := m.SMTP()
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	password := relay.Password.Reveal()
	if m.PasswordFile != "" {
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("SMTP_PASSWORD_FILE: %w", err)
		}
		password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if m.TLSCAFile != "" {
		pem, err := os.ReadFile(m.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("SMTP_TLS_CA_FILE: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, errors.New("SMTP_TLS_CA_FILE: no PEM certificate in it")
		}
	}
	return &SMTP{
		relay:    relay,
		password: password,
		tls:      &tls.Config{ServerName: relay.Host, RootCAs: roots, MinVersion: tls.VersionTLS12},
	}, nil
}

// Send sends msg through the relay and returns its reply to the DATA.
func (s *SMTP) Send(ctx context.Context, msg *gomail.Msg) (string, error) {
	opts := []gomail.Option{gomail.WithPort(s.relay.Port), gomail.WithTLSConfig(s.tls)}
	if deadline, ok := ctx.Deadline(); ok {
		opts = append(opts, gomail.WithTimeout(max(0, time.Until(deadline))))
	}
	switch s.relay.TLS {
	case config.TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case config.TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.relay.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.relay.Username), gomail.WithPassword(s.password))
	}
	c, err := gomail.NewClient(s.relay.Host, opts...)
	if err != nil {
		return "", fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return "", err
	}
	return msg.ServerResponse(), nil
}
