package cli

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestHelp asks each command for -h: it prints its usage and returns nil,
// touching nothing of the Env but its writers.
func TestHelp(t *testing.T) {
	for _, c := range Commands() {
		for _, h := range []string{"-h", "--help"} {
			var out bytes.Buffer
			if err := c.Run(context.Background(), Env{Stdout: &out, Stderr: &out}, []string{h}); err != nil {
				t.Errorf("latchkey %s %s = %v, want nil", c.Name, h, err)
			}
			if !strings.HasPrefix(out.String(), "usage: latchkey "+c.Name) {
				t.Errorf("latchkey %s %s printed %q, want its usage", c.Name, h, out.String())
			}
		}
	}
	if u := Usage(); !strings.Contains(u, "serve") || !strings.Contains(u, "keys list") {
		t.Errorf("Usage() = %q, want serve and every command", u)
	}
}

// TestParse takes flags before, between and after the other arguments.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		rest  []string
		force bool
	}{
		{[]string{"retire", "KID"}, []string{"retire", "KID"}, false},
		{[]string{"-force", "retire", "KID"}, []string{"retire", "KID"}, true},
		{[]string{"retire", "--force", "KID"}, []string{"retire", "KID"}, true},
		{[]string{"retire", "KID", "--force"}, []string{"retire", "KID"}, true},
	} {
		var out bytes.Buffer
		fs := flags(Env{Stderr: &out}, "keys", "")
		force := fs.Bool("force", false, "")
		rest, done, err := parse(fs, tc.args)
		if err != nil || done || !slices.Equal(rest, tc.rest) || *force != tc.force {
			t.Errorf("parse(%q) = %q, %t, %v, force %t; want %q, force %t", tc.args, rest, done, err, *force, tc.rest, tc.force)
		}
	}
	var out bytes.Buffer
	fs := flags(Env{Stderr: &out}, "keys", "")
	if _, _, err := parse(fs, []string{"rotate", "-nope"}); !errors.Is(err, ErrUsage) {
		t.Errorf("parse with an unknown flag = %v, want ErrUsage", err)
	}
}
