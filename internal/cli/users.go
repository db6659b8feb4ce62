package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/latchkey/latchkey/internal/auth"
)

const usersUsage = "users create EMAIL [-admin] [-if-not-exists] [flags]"

const usersHelp = `Creates a user whose email counts as verified: the way to make the first
administrator (with -admin). The password is asked for on the terminal, or
read from the first line of the standard input with -password-stdin; it is
never an argument, which other users of the machine could read. An email in
use fails, unless -if-not-exists, which leaves that user unchanged.`

func usersCreate(ctx context.Context, env Env, args []string) error {
	fs := flags(env, usersUsage, usersHelp)
	admin := fs.Bool("admin", false, "also give the user the role admin")
	displayName := fs.String("display-name", "", "the name to show, if any")
	ifNotExists := fs.Bool("if-not-exists", false, "succeed, changing nothing, when the email is in use")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from the first line of the standard input")
	rest, done, err := parse(fs, args)
	if done || err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError(fs)
	}
	email := rest[0]
	password, err := readPassword(env, *passwordStdin)
	if err != nil {
		return err
	}
	if err := env.Migrate(ctx); err != nil {
		return err
	}
	svc, err := env.Service(ctx)
	if err != nil {
		return err
	}
	in := auth.CreateUserInput{Email: email, Password: password, Admin: *admin}
	if *displayName != "" {
		in.DisplayName = displayName
	}
	u, err := svc.CreateUser(ctx, in)
	if errors.Is(err, auth.ErrEmailTaken) {
		if *ifNotExists {
			fmt.Fprintf(env.Stdout, "users create %s: exists, unchanged\n", email)
			return nil
		}
		return fmt.Errorf("users create: %s is in use already", email)
	}
	var invalid *auth.ValidationError
	if errors.As(err, &invalid) {
		return fmt.Errorf("users create: %s", invalid.Error())
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "users create %s: created %s with roles %s\n", u.Email, u.ID, strings.Join(u.Roles, ", "))
	return nil
}

// maxPasswordLine bounds what -password-stdin reads.
const maxPasswordLine = 4096

// readPassword reads the password from the first line of env.Stdin with
// fromStdin, or else asks for it twice on the terminal without echo.
func readPassword(env Env, fromStdin bool) (string, error) {
	if fromStdin {
		if env.Stdin == nil {
			return "", errors.New("no standard input to read the password from")
		}
		line, err := bufio.NewReaderSize(io.LimitReader(env.Stdin, maxPasswordLine), maxPasswordLine).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no terminal to ask for the password on: send it with -password-stdin")
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(env.Stderr, prompt)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(pw), nil
	}
	pw, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	again, err := ask("Password again: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords differ")
	}
	return pw, nil
}
