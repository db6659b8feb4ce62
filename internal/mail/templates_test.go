package mail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/auth"
)

// TestBuiltinTemplates renders every kind's built-in templates: a
// subject on one line, both bodies, the link in both, user data escaped in
// the HTML and kept as it is in the text.
func TestBuiltinTemplates(t *testing.T) {
	tm, err := LoadTemplates("")
	if err != nil {
		t.Fatalf("LoadTemplates(\"\") = %v", err)
	}
	d := Data{
		AppName: "Shop", AppURL: "https://shop.example", Link: "https://shop.example/x?token=TOKEN", Token: "TOKEN",
		ExpiresAt: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), Email: "a@example.com",
		DisplayName: `<script>alert("x")</script>`, NewEmail: "n***@example.com", OldEmail: "old@example.com",
	}
	for _, kind := range auth.MailKinds() {
		r, err := tm.Render(kind, d)
		if err != nil {
			t.Fatalf("Render(%s) = %v", kind, err)
		}
		if r.Subject == "" || strings.ContainsAny(r.Subject, "\r\n") || !strings.Contains(r.Subject, "Shop") {
			t.Errorf("Render(%s).Subject = %q, want one line naming the app", kind, r.Subject)
		}
		if strings.Contains(r.HTML, "<script>") || !strings.Contains(r.HTML, "&lt;script&gt;") {
			t.Errorf("Render(%s).HTML does not escape the display name: %s", kind, r.HTML)
		}
		if !strings.Contains(r.Text, `<script>alert("x")</script>`) {
			t.Errorf("Render(%s).Text changes the display name: %s", kind, r.Text)
		}
		if _, ok := links[kind]; ok && (!strings.Contains(r.Text, d.Link) || !strings.Contains(r.HTML, "token=TOKEN")) {
			t.Errorf("Render(%s) lacks the link in a body:\n%s\n%s", kind, r.Text, r.HTML)
		}
	}
}

// TestTemplateOverrides: a file in the directory replaces its built-in
// alone; one that does not parse, or names a field the data lacks, stops
// LoadTemplates with the file's name.
func TestTemplateOverrides(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("reset_password.subject.txt", "Your {{.AppName}} reset")
	tm, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tm.Render(auth.MailResetPassword, Data{AppName: "Shop"})
	if r.Subject != "Your Shop reset" {
		t.Errorf("overridden subject = %q, want %q", r.Subject, "Your Shop reset")
	}
	if !strings.Contains(r.Text, "reset the Shop password") {
		t.Errorf("the text body is not the built-in one: %q", r.Text)
	}
	for name, text := range map[string]string{
		"verify_email.html":    "<p>{{.Link</p>",
		"password_changed.txt": "{{.NoSuchField}}",
	} {
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadTemplates(bad); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("LoadTemplates with a broken %s = %v, want an error naming it", name, err)
		}
	}
}
