package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mail drivers, the values of MAIL_DRIVER.
const (
	MailSMTP = "smtp" // send through an SMTP relay
	MailLog  = "log"  // development: log each mail and keep the last ones for /dev/mail
	MailNone = "none" // send nothing
)

// SMTP TLS modes, the values of SMTP_TLS.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSImplicit = "implicit" // TLS from the first byte (smtps, port 465)
	TLSNone     = "none"     // no TLS: credentials only to a loopback relay
)

// Mail is how the service sends mail.
type Mail struct {
	// Driver is MAIL_DRIVER: MailSMTP, MailLog or MailNone.
	Driver string
	// URL is SMTP_URL as given; it may hold the password. Use SMTP.
	URL          Secret
	Host         string        // SMTP_HOST
	Port         int           // SMTP_PORT; 0: by the TLS mode
	Username     string        // SMTP_USERNAME
	Password     Secret        // SMTP_PASSWORD
	PasswordFile string        // SMTP_PASSWORD_FILE: read when the sender starts
	From         string        // SMTP_FROM: an RFC 5322 mailbox
	TLS          string        // SMTP_TLS as given; "" decides by scheme and port
	TLSCAFile    string        // SMTP_TLS_CA_FILE: CA certificates beside the system's
	Timeout      time.Duration // SMTP_TIMEOUT: of one connection and send
	TemplatesDir string        // MAIL_TEMPLATES_DIR: templates replacing the built-in ones
	AppName      string        // MAIL_APP_NAME
	// RetryInterval is MAIL_RETRY_INTERVAL: the first wait after a
	// transient failure, doubling up to an hour.
	RetryInterval time.Duration
	MaxAge        time.Duration // MAIL_MAX_AGE: a mail unsent for this long fails
	// ResendInterval is MAIL_RESEND_INTERVAL: the least time between two
	// mails of one kind to one recipient.
	ResendInterval time.Duration
}

// Sender is the From of the mails: SMTP_FROM, or, for the log driver,
// which needs none set, MAIL_APP_NAME at no-reply@localhost.
func (m Mail) Sender() string {
	if m.From != "" {
		return m.From
	}
	return m.AppName + " <no-reply@localhost>"
}

// SMTP is the relay the service sends through, from SMTP_URL or the
// SMTP_HOST family, with the defaults applied.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password Secret // empty when it is in PasswordFile
	TLS      string // TLSStartTLS, TLSImplicit or TLSNone
}

// SMTP resolves the relay's address, credentials and TLS mode. It fails
// on a malformed SMTP_URL.
func (m Mail) SMTP() (SMTP, error) {
	s := SMTP{Host: m.Host, Port: m.Port, Username: m.Username, Password: m.Password, TLS: m.TLS}
	if m.URL != "" {
		u, err := url.Parse(m.URL.Reveal())
		if err != nil {
			// The parser's error quotes the URL, password included.
			return SMTP{}, errors.New("not a URL")
		}
		switch u.Scheme {
		case "smtp":
			if s.TLS == "" {
				s.TLS = TLSStartTLS
			}
		case "smtps":
			if s.TLS == "" {
				s.TLS = TLSImplicit
			}
		default:
			return SMTP{}, fmt.Errorf("scheme %q: want smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
		}
		s.Host = u.Hostname()
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return SMTP{}, fmt.Errorf("port %q is out of range 1..65535", p)
			}
			s.Port = n
		}
		if u.User != nil {
			// url.Parse has percent-decoded the userinfo.
			s.Username = u.User.Username()
			pw, _ := u.User.Password()
			s.Password = Secret(pw)
		}
	}
	if s.TLS == "" {
		s.TLS = TLSStartTLS
		if s.Port == 465 {
			s.TLS = TLSImplicit
		}
	}
	if s.Port == 0 {
		s.Port = 587
		if s.TLS == TLSImplicit {
			s.Port = 465
		}
	}
	return s, nil
}

// LogValue shows the relay without its password.
func (s SMTP) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", s.Host), slog.Int("port", s.Port),
		slog.String("username", s.Username), slog.String("tls", s.TLS))
}

// smtpConfigured reports whether a relay is set: SMTP_URL or SMTP_HOST.
func (m Mail) smtpConfigured() bool { return m.URL != "" || m.Host != "" }

// mailDriverDefault is MAIL_DRIVER's default: smtp when a relay is set,
// else log in development and none in production.
func mailDriverDefault(c *Config) string {
	switch {
	case c.Mail.smtpConfigured():
		return MailSMTP
	case c.Debug:
		return MailLog
	}
	return MailNone
}

// mailProblems checks the mail settings as a whole.
func (c Config) mailProblems() error {
	m := c.Mail
	var errs []error
	switch m.Driver {
	case MailSMTP, MailNone:
	case MailLog:
		if !c.Debug {
			errs = append(errs, errors.New("log is for development: refused when DEBUG=false; set SMTP_URL, or MAIL_DRIVER=none"))
		}
	default:
		errs = append(errs, fmt.Errorf("%q: want smtp, log or none", m.Driver))
	}
	if m.Driver == MailNone && c.RequireEmailVerification {
		errs = append(errs, errors.New("none cannot mail the verification REQUIRE_EMAIL_VERIFICATION=true asks for"))
	}
	if m.Driver != MailSMTP {
		return errors.Join(errs...)
	}
	if m.URL != "" && m.Host != "" {
		errs = append(errs, errors.New("set SMTP_URL or SMTP_HOST, not both"))
	}
	if !m.smtpConfigured() {
		errs = append(errs, errors.New("smtp needs SMTP_URL or SMTP_HOST"))
	}
	s, err := m.SMTP()
	if err != nil {
		errs = append(errs, fmt.Errorf("SMTP_URL: %w", err))
	} else if s.TLS == TLSNone && (s.Username != "" || s.Password != "" || m.PasswordFile != "") && !isLoopback(s.Host) {
		errs = append(errs, errors.New("SMTP_TLS=none sends credentials in the clear: only to a loopback relay"))
	}
	if m.From == "" {
		errs = append(errs, errors.New("smtp needs SMTP_FROM"))
	}
	if c.AppURL == "" {
		errs = append(errs, errors.New("smtp needs APP_URL, the prefix of the links in mails"))
	}
	return errors.Join(errs...)
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// appURLProblem checks APP_URL: an absolute http(s) URL, https in
// production.
func (c Config) appURLProblem() error {
	if c.AppURL == "" {
		return nil
	}
	u, err := url.Parse(c.AppURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q: want an absolute http:// or https:// URL", c.AppURL)
	}
	if u.Scheme != "https" && !c.Debug {
		return errors.New("must be https when DEBUG=false")
	}
	return nil
}

// fromProblem checks SMTP_FROM: one RFC 5322 mailbox.
func (m Mail) fromProblem() error {
	if m.From == "" {
		return nil
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		return fmt.Errorf("%q: want one mailbox, such as Latchkey <no-reply@example.com>", m.From)
	}
	return nil
}

// tlsProblem checks SMTP_TLS.
func (m Mail) tlsProblem() error {
	switch strings.ToLower(m.TLS) {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
		return nil
	}
	return fmt.Errorf("%q: want starttls, implicit or none", m.TLS)
}
