package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/latchkey/latchkey/internal/auth"
)

//go:embed templates
var builtin embed.FS

// Data is what the templates of every kind may show.
type Data struct {
	AppName     string
	AppURL      string
	Link        string // APP_URL + the frontend page + ?token=, for the kinds with a token
	Token       string
	ExpiresAt   time.Time // the token's expiry
	Email       string    // the recipient
	DisplayName string
	NewEmail    string
	OldEmail    string
}

// kindTemplates are the three templates of one kind.
type kindTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Templates renders the mails of every kind.
type Templates struct {
	kinds map[string]kindTemplates
}

// LoadTemplates parses the built-in templates, each replaced by the file
// of the same name in dir when dir is not "" and holds one, and renders
// each kind once with sample data: a template that does not parse or does
// not render fails here, at the start, naming its file.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{kinds: map[string]kindTemplates{}}
	read := func(name string) (string, []byte, error) {
		if dir != "" {
			path := filepath.Join(dir, name)
			b, err := os.ReadFile(path) //nolint:gosec // the operator's template directory
			if err == nil {
				return path, b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return path, nil, err
			}
		}
		b, err := builtin.ReadFile("templates/" + name)
		return "built-in " + name, b, err
	}
	sample := Data{
		AppName: "Latchkey", AppURL: "https://app.example", Link: "https://app.example/x?token=t", Token: "t",
		ExpiresAt: time.Unix(0, 0), Email: "a@example.com", DisplayName: "A", NewEmail: "b@example.com", OldEmail: "c@example.com",
	}
	var errs []error
	for _, kind := range auth.MailKinds() {
		var kt kindTemplates
		var err error
		for _, part := range []struct {
			suffix string
			parse  func(name string, b []byte) error
		}{
			{".subject.txt", func(name string, b []byte) (err error) {
				kt.subject, err = texttemplate.New(name).Option("missingkey=error").Parse(string(b))
				return err
			}},
			{".txt", func(name string, b []byte) (err error) {
				kt.text, err = texttemplate.New(name).Option("missingkey=error").Parse(string(b))
				return err
			}},
			{".html", func(name string, b []byte) (err error) {
				kt.html, err = htmltemplate.New(name).Option("missingkey=error").Parse(string(b))
				return err
			}},
		} {
			name, b, rerr := read(kind + part.suffix)
			if rerr != nil {
				errs = append(errs, fmt.Errorf("mail template %s: %w", name, rerr))
				continue
			}
			if err = part.parse(name, b); err != nil {
				errs = append(errs, fmt.Errorf("mail template %s: %w", name, err))
			}
		}
		if err == nil && kt.subject != nil && kt.text != nil && kt.html != nil {
			t.kinds[kind] = kt
			if _, err := t.Render(kind, sample); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// Rendered is one mail's subject and bodies.
type Rendered struct {
	Subject, Text, HTML string
}

// Render renders the mail of kind with d. The HTML template escapes
// every value it shows.
func (t *Templates) Render(kind string, d Data) (Rendered, error) {
	kt, ok := t.kinds[kind]
	if !ok {
		return Rendered{}, fmt.Errorf("no templates for mail kind %q", kind)
	}
	var subject, text, html bytes.Buffer
	if err := kt.subject.Execute(&subject, d); err != nil {
		return Rendered{}, fmt.Errorf("mail template %s: %w", kt.subject.Name(), err)
	}
	if err := kt.text.Execute(&text, d); err != nil {
		return Rendered{}, fmt.Errorf("mail template %s: %w", kt.text.Name(), err)
	}
	if err := kt.html.Execute(&html, d); err != nil {
		return Rendered{}, fmt.Errorf("mail template %s: %w", kt.html.Name(), err)
	}
	// A subject is one line: a template's trailing newline, or a line
	// break in a value, must not start the body or a header.
	s := strings.Join(strings.Fields(subject.String()), " ")
	return Rendered{Subject: s, Text: text.String(), HTML: html.String()}, nil
}

// links are the frontend pages that spend each kind's token.
var links = map[string]string{
	auth.MailVerifyEmail:        "/verify-email?token=",
	auth.MailResetPassword:      "/reset-password?token=",
	auth.MailConfirmEmailChange: "/confirm-email?token=",
}
