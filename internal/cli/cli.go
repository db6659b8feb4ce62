// Package cli holds Latchkey's commands besides serve: each parses its own
// flags, answers -h with its usage, and works through an Env that package
// main builds.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/latchkey/latchkey/internal/auth"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/keys"
)

// Env is what the commands work with. Its functions open what a command
// needs, the schema migrated.
type Env struct {
	Config config.Config
	// Stdin is the standard input, from which a command may read a
	// password; nil when there is none.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Migrate applies the schema, and creates the keys held in the database
	// when there are none.
	Migrate func(context.Context) error
	// Service returns the use cases.
	Service func(context.Context) (*auth.Service, error)
	// KeyStore returns the store of the keys held in the database.
	KeyStore func() (*keys.Store, error)
}

// Command is one of latchkey's commands.
type Command struct {
	Name string
	// Usage is the command's synopsis, the first line of its -h.
	Usage string
	// Summary says in a line what it does.
	Summary string
	// Run runs it with the arguments after its name.
	Run func(ctx context.Context, env Env, args []string) error
}

// Commands are the commands besides serve, in the order the usage lists
// them.
func Commands() []Command {
	return []Command{
		{"migrate", "migrate", "apply the database schema and exit", migrate},
		{"roles", "roles grant|revoke EMAIL ROLE", "give a user a role, such as admin, or take it away", roles},
		{"users", "users create|import|legacy [flags]", "create a user, such as the first administrator; import the Flask service's users; list who is left on a legacy hash", users},
		{"keys", "keys list | keys rotate [-force] | keys retire [-force] [KID]", "manage the signing keys held in the database", keysCommand},
		{"mail", "mail test TO", "send one test mail through the configured relay and print its reply", mailCommand},
	}
}

// Find returns the command called name.
func Find(name string) (Command, bool) {
	for _, c := range Commands() {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// Usage is latchkey's usage: serve and the commands.
func Usage() string {
	var b strings.Builder
	b.WriteString("usage: latchkey [command] [-h]\n\ncommands:\n")
	fmt.Fprintf(&b, "  %-62s %s\n", "serve", "run the service (the default)")
	for _, c := range Commands() {
		fmt.Fprintf(&b, "  %-62s %s\n", c.Usage, c.Summary)
	}
	return b.String()
}

// ErrUsage is a command called with arguments it does not take; its usage
// has been printed.
var ErrUsage = errors.New("wrong arguments")

// ExitCode is the exit status of a command that returned err: 2 for a usage
// error, 1 for any other, 0 for none.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	}
	return 1
}

// flags returns the flag set of a command, printing its usage and flags to
// env.Stderr, and help the text after the synopsis.
func flags(env Env, usage, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(strings.Fields(usage)[0], flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: latchkey %s\n\n%s\n", usage, help)
		if hasFlags(fs) {
			fmt.Fprintln(env.Stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses args with fs, flags before, between or after the other
// arguments, which it returns. It reports done when -h was asked for, and
// the usage was printed.
func parse(fs *flag.FlagSet, args []string) (rest []string, done bool, err error) {
	for {
		err = fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, ErrUsage
		}
		if fs.NArg() == 0 {
			return rest, false, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// usageError prints fs's usage and returns ErrUsage.
func usageError(fs *flag.FlagSet) error {
	fs.Usage()
	return ErrUsage
}

func migrate(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "migrate", "Applies the database schema, under the lock replicas share, and exits:\nfor a Kubernetes Job that migrates ahead of a rollout.")
	rest, done, err := parse(fs, args)
	if done || err != nil {
		return err
	}
	if len(rest) != 0 {
		return usageError(fs)
	}
	return env.Migrate(ctx)
}

func roles(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "roles grant|revoke EMAIL ROLE", "Gives the user with EMAIL the role ROLE, or takes it away. Every user keeps\nthe role user.")
	a, done, err := parse(fs, args)
	if done || err != nil {
		return err
	}
	if len(a) != 3 || (a[0] != "grant" && a[0] != "revoke") {
		return usageError(fs)
	}
	if err := env.Migrate(ctx); err != nil {
		return err
	}
	svc, err := env.Service(ctx)
	if err != nil {
		return err
	}
	err = svc.SetRole(ctx, a[1], a[2], a[0] == "grant")
	if errors.Is(err, auth.ErrLastAdmin) {
		return fmt.Errorf("roles revoke: %s is the last enabled administrator: make another first", a[1])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "roles %s %s %s: done\n", a[0], a[1], a[2])
	return nil
}
