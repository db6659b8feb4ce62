package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/password"
)

const (
	emailMaxLen         = 254 // bytes: RFC 5321's path limit less the brackets
	emailMaxLocalLen    = 64  // bytes: RFC 5321
	emailMaxLabelLen    = 63  // bytes: RFC 1035
	displayNameMaxRunes = 100 // characters
	emailInvalidMessage = "must be a valid email address"
)

// NormalizeEmail trims surrounding white space from s and lowercases it, and
// returns the result if it is a valid email address: at most 254 bytes, one
// "@", a local part of at most 64 bytes, and a domain of at least two
// dot-separated labels of letters, digits and inner hyphens. Characters are
// those of the HTML "valid email address" (what a browser's type=email field
// accepts), so ASCII only: internationalized domains go in their xn-- form.
// Anything else is a *ValidationError for the field "email".
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > emailMaxLen {
		return "", &ValidationError{Field: "email", Message: "must be at most 254 characters"}
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || !validEmailLocal(local) || !validEmailDomain(domain) {
		return "", &ValidationError{Field: "email", Message: emailInvalidMessage}
	}
	// Only ASCII is left, so ASCII lowercasing is all of it.
	return asciiLower(s), nil
}

// validEmailLocal accepts the HTML spec's local part: one or more of
// letters, digits and .!#$%&'*+/=?^_`{|}~- . That leaves out white space,
// control characters, quotes, "@" and the angle brackets of a display-name
// form such as "A <a@b.c>".
func validEmailLocal(local string) bool {
	if local == "" || len(local) > emailMaxLocalLen {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !isASCIIAlnum(c) && !strings.ContainsRune(".!#$%&'*+/=?^_`{|}~-", rune(c)) {
			return false
		}
	}
	return true
}

// validEmailDomain accepts two or more dot-separated labels of 1 to 63
// letters, digits and hyphens, with no hyphen first or last.
func validEmailDomain(domain string) bool {
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > emailMaxLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isASCIIAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ValidatePassword checks a new password against the password policy
// (password.Check). field names the input field in the returned
// *ValidationError ("password", "newPassword").
func ValidatePassword(field, pw, email string) error {
	if err := password.Check(pw, email); err != nil {
		return &ValidationError{Field: field, Message: err.Error()}
	}
	return nil
}

// NormalizeDisplayName trims surrounding white space from *s and returns the
// result, or nil when s is nil or nothing is left. A name of more than 100
// characters, or with invalid UTF-8, control characters or bidirectional
// formatting characters (which can make a name display as another), is a
// *ValidationError for the field "displayName".
func NormalizeDisplayName(s *string) (*string, error) {
	if s == nil {
		return nil, nil
	}
	if !utf8.ValidString(*s) {
		return nil, &ValidationError{Field: "displayName", Message: "must be valid text"}
	}
	name := strings.TrimSpace(*s)
	if name == "" {
		return nil, nil
	}
	if utf8.RuneCountInString(name) > displayNameMaxRunes {
		return nil, &ValidationError{Field: "displayName", Message: "must be at most 100 characters"}
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return nil, &ValidationError{Field: "displayName", Message: "must not contain control characters"}
		}
	}
	return &name, nil
}
