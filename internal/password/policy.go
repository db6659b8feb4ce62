package password

import (
	_ "embed"
	"errors"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

const (
	minRunes = 8   // characters: NIST SP 800-63B
	maxRunes = 256 // characters
)

// The policy's refusals. Their text is shown to the user after the field's
// name ("newPassword must be at least 8 characters").
var (
	ErrNotText  = errors.New("must be valid text")
	ErrTooShort = errors.New("must be at least 8 characters")
	ErrTooLong  = errors.New("must be at most 256 characters")
	ErrCommon   = errors.New("is too common: choose a less guessable password")
	ErrIsEmail  = errors.New("must not be your email address")
)

// Check checks a new password against NIST SP 800-63B: valid UTF-8 of 8 to
// 256 characters (runes; any characters, no composition rules), not a
// common password and not the user's email address or its local part, all
// compared case-insensitively. The error, one of the Err variables of the
// policy, says what is wrong in words fit for the user.
func Check(password, email string) error {
	if !utf8.ValidString(password) {
		return ErrNotText
	}
	switch n := utf8.RuneCountInString(password); {
	case n < minRunes:
		return ErrTooShort
	case n > maxRunes:
		return ErrTooLong
	}
	if isCommon(password) {
		return ErrCommon
	}
	email = strings.TrimSpace(email)
	local, _, _ := strings.Cut(email, "@")
	if strings.EqualFold(password, email) || strings.EqualFold(password, local) {
		return ErrIsEmail
	}
	return nil
}

// commonpasswords.txt holds, lowercased, one to a line, the 17,950 entries of
// 8 or more characters from the passwords dictionary of the npm package
// @zxcvbn-ts/language-common 4.1.3 (src/passwords.json, most common first),
// MIT licence: Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.,
// Copyright (c) 2021 @zxcvbn-ts. Shorter entries are refused by length anyway.
//
//go:embed commonpasswords.txt
var commonPasswordsText string

// commonPasswords is commonpasswords.txt sorted, built on first use: a
// read-only table like unicode's, so package-level state does no harm. Its
// strings are the embedded text's own; a sorted slice of them holds a third
// of what a map of them would.
var commonPasswords = sync.OnceValue(func() []string {
	list := make([]string, 0, strings.Count(commonPasswordsText, "\n")+1)
	for line := range strings.Lines(commonPasswordsText) {
		p := strings.ToLower(strings.TrimRight(line, "\r\n"))
		if utf8.RuneCountInString(p) >= minRunes {
			list = append(list, p)
		}
	}
	slices.Sort(list)
	return slices.Compact(list)
})

// isCommon reports whether password is a common password, case aside.
func isCommon(password string) bool {
	_, found := slices.BinarySearch(commonPasswords(), strings.ToLower(password))
	return found
}
