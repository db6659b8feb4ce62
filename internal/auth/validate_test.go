package auth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// wantValidationError fails t unless err is a *ValidationError for field.
func wantValidationError(t *testing.T, call string, err error, field string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("%s = %v, want a *ValidationError", call, err)
		return
	}
	if ve.Field != field {
		t.Errorf("%s = %v with Field %q, want Field %q", call, err, ve.Field, field)
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	local64 := strings.Repeat("l", 64)
	// 64 + 1 + 189 = 254 bytes.
	domain189 := strings.Repeat("d", 62) + "." + strings.Repeat("e", 62) + "." + strings.Repeat("f", 59) + ".com"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "ada@example.com", "ada@example.com"},
		{"upper case lowered", "Ada.Lovelace@Example.COM", "ada.lovelace@example.com"},
		{"surrounding spaces trimmed", "  ada@example.com \t\n", "ada@example.com"},
		{"plus tag", "ada+tag@example.com", "ada+tag@example.com"},
		{"html atext", "a!#$%&'*/=?^_`{|}~-b@example.com", "a!#$%&'*/=?^_`{|}~-b@example.com"},
		{"subdomains and hyphen", "x@mail.my-host.example.co.uk", "x@mail.my-host.example.co.uk"},
		{"digits in domain", "x@123.example", "x@123.example"},
		{"punycode domain", "x@xn--bcher-kva.example", "x@xn--bcher-kva.example"},
		{"local part of 64 bytes", local64 + "@example.com", local64 + "@example.com"},
		{"254 bytes", local64 + "@" + domain189, local64 + "@" + domain189},
		{"label of 63 bytes", "x@" + strings.Repeat("a", 63) + ".com", "x@" + strings.Repeat("a", 63) + ".com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeEmail(tt.in)
			if err != nil {
				t.Fatalf("NormalizeEmail(%q) = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeEmailInvalid(t *testing.T) {
	t.Parallel()
	local64 := strings.Repeat("l", 64)
	domain190 := strings.Repeat("d", 62) + "." + strings.Repeat("e", 62) + "." + strings.Repeat("f", 60) + ".com"
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"spaces only", "   "},
		{"no at", "ada.example.com"},
		{"no dot in domain", "a@b"},
		{"two ats", "a@b@example.com"},
		{"empty local part", "@example.com"},
		{"empty domain", "ada@"},
		{"space in local part", "a b@c.de"},
		{"space in domain", "a@c .de"},
		{"tab inside", "a\tb@c.de"},
		{"newline inside", "a@c.de\nbcc@evil.example"},
		{"nul", "a\x00@c.de"},
		{"del", "a\x7f@c.de"},
		{"angle brackets", "<a@b.c>"},
		{"display name", "A <a@b.c>"},
		{"quoted display name", `"A" <a@b.c>`},
		{"quoted local part", `"a"@b.c`},
		{"comment", "a(comment)@b.c"},
		{"comma", "a,b@c.de"},
		{"ip literal", "a@[127.0.0.1]"},
		{"leading dot in domain", "a@.example.com"},
		{"trailing dot in domain", "a@example.com."},
		{"double dot in domain", "a@example..com"},
		{"leading hyphen in label", "a@-example.com"},
		{"trailing hyphen in label", "a@example-.com"},
		{"underscore in domain", "a@ex_ample.com"},
		{"unicode local part", "josé@example.com"},
		{"unicode domain", "a@bücher.example"},
		{"invalid utf-8", "a\xff@example.com"},
		{"local part of 65 bytes", local64 + "l@example.com"},
		{"label of 64 bytes", "x@" + strings.Repeat("a", 64) + ".com"},
		{"255 bytes", local64 + "@" + domain190},
		{"huge", strings.Repeat("a", 1<<20) + "@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeEmail(tt.in)
			call := fmt.Sprintf("NormalizeEmail(%.80q)", tt.in)
			if got != "" {
				t.Errorf("%s = %q, want \"\"", call, got)
			}
			wantValidationError(t, call, err, "email")
		})
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	const email = "ada.lovelace@example.com"
	tests := []struct {
		name     string
		password string
		email    string
		wantErr  bool
	}{
		{"7 characters", "gh7#kQz", email, true},
		{"8 characters", "gh7#kQzm", email, false},
		{"256 characters", strings.Repeat("gh7#kQzm", 32), email, false},
		{"257 characters", strings.Repeat("gh7#kQzm", 32) + "x", email, true},
		{"empty", "", email, true},
		{"7 runes of 2 bytes", strings.Repeat("é", 7), email, true},
		{"8 runes of 2 bytes", strings.Repeat("é", 8), email, false},
		{"8 runes of 4 bytes", strings.Repeat("🔑", 8), email, false},
		{"256 runes of 3 bytes", strings.Repeat("鍵", 256), email, false},
		{"257 runes of 3 bytes", strings.Repeat("鍵", 257), email, true},
		{"spaces count", "a b c d ", email, false},
		{"no composition rules", "zqxwvjkmphbtsfnl", email, false},
		{"invalid utf-8", "gh7#kQz\xff", email, true},
		{"password", "password", email, true},
		{"password1", "password1", email, true},
		{"12345678", "12345678", email, true},
		{"qwertyuiop", "qwertyuiop", email, true},
		{"iloveyou", "iloveyou", email, true},
		{"common in other case", "PassWord1", email, true},
		{"common upper case", "QWERTYUIOP", email, true},
		{"the email", email, email, true},
		{"the email in other case", "Ada.Lovelace@Example.com", email, true},
		{"the email unnormalized", email, "  ADA.Lovelace@example.COM ", true},
		{"the local part", "ada.lovelace", email, true},
		{"the local part in other case", "ADA.LOVELACE", email, true},
		{"contains the local part", "ada.lovelace!1984", email, false},
		{"no email given", "gh7#kQzm", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidatePassword("password", tt.password, tt.email)
			call := fmt.Sprintf("ValidatePassword(%.80q)", tt.password)
			if !tt.wantErr {
				if err != nil {
					t.Errorf("%s = %v, want nil", call, err)
				}
				return
			}
			wantValidationError(t, call, err, "password")
		})
	}
}

func TestValidatePasswordField(t *testing.T) {
	t.Parallel()
	for _, field := range []string{"password", "newPassword", "currentPassword"} {
		for _, password := range []string{"short", "password", "ada@example.com", strings.Repeat("x", 257)} {
			err := ValidatePassword(field, password, "ada@example.com")
			wantValidationError(t, fmt.Sprintf("ValidatePassword(%q, %.80q)", field, password), err, field)
		}
	}
}

func TestNormalizeDisplayName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   *string
		want *string
	}{
		{"nil", nil, nil},
		{"empty", new(""), nil},
		{"spaces only", new(" \t\n "), nil},
		{"plain", new("Ada Lovelace"), new("Ada Lovelace")},
		{"trimmed", new("  Ada Lovelace\n"), new("Ada Lovelace")},
		{"unicode", new("José Ñúñez 李雷 🦀"), new("José Ñúñez 李雷 🦀")},
		{"emoji with zero-width joiner", new("👩‍💻"), new("👩‍💻")},
		{"right-to-left script", new("مرحبا"), new("مرحبا")},
		{"100 runes", new(strings.Repeat("é", 100)), new(strings.Repeat("é", 100))},
		{"100 runes after trimming", new("  " + strings.Repeat("a", 100) + "  "), new(strings.Repeat("a", 100))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := "nil"
			if tt.in != nil {
				in = strconv.Quote(*tt.in)
			}
			got, err := NormalizeDisplayName(tt.in)
			if err != nil {
				t.Fatalf("NormalizeDisplayName(%s) = %v", in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NormalizeDisplayName(%s) mismatch (-want +got):\n%s", in, diff)
			}
		})
	}
}

func TestNormalizeDisplayNameInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"101 runes", strings.Repeat("é", 101)},
		{"newline inside", "Ada\nLovelace"},
		{"tab inside", "Ada\tLovelace"},
		{"nul", "Ada\x00"},
		{"escape sequence", "Ada \x1b[31mred"},
		{"c1 control", "Ada\u0085Lovelace"},
		{"right-to-left override", "Ada\u202eecalevoL"},
		{"invalid utf-8", "Ada \xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeDisplayName(&tt.in)
			if got != nil {
				t.Errorf("NormalizeDisplayName(%q) = %q, want nil", tt.in, *got)
			}
			wantValidationError(t, fmt.Sprintf("NormalizeDisplayName(%.80q)", tt.in), err, "displayName")
		})
	}
}
