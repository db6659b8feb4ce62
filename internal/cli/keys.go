package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
)

const keysHelp = `Manages the signing keys held in the database (with neither JWT_SECRET_KEY
nor JWT_PRIVATE_KEY set). There is always a current key, which signs, and a
next key, published ahead in the JWKS.

  list           lists the keys, their states and when each may move on
  rotate         promotes the next key to current and introduces a new next
                 key; refused until the next key has been published for the
                 JWKS cache time plus JWT_KEYS_REFRESH_INTERVAL
  retire [KID]   deletes a previous key (without KID: every one whose tokens
                 have all expired); refused until ACCESS_TOKEN_TTL plus
                 JWT_KEYS_REFRESH_INTERVAL plus 60 s of clock skew have passed
                 since it stopped signing`

func keysCommand(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "keys list | keys rotate [-force] | keys retire [-force] [KID]", keysHelp)
	force := fs.Bool("force", false, "rotate or retire without waiting: tokens or cached JWKS of verifiers may then fail")
	rest, done, err := parse(fs, args)
	if done || err != nil {
		return err
	}
	cfg := env.Config
	if len(rest) == 0 {
		return usageError(fs)
	}
	if !cfg.DatabaseKeys() {
		return errors.New("keys: the signing keys come from JWT_SECRET_KEY or JWT_PRIVATE_KEY(_FILE), not the database; rotate them as docs/keys.md says")
	}
	if err := env.Migrate(ctx); err != nil {
		return err
	}
	store, err := env.KeyStore()
	if err != nil {
		return err
	}
	now, times := time.Now(), keys.RotationTimes(cfg)
	switch command, rest := rest[0], rest[1:]; {
	case command == "list" && len(rest) == 0 && !*force:
	case command == "rotate" && len(rest) == 0:
		promoted, introduced, err := store.Rotate(ctx, now, times, *force)
		if err != nil {
			return keys.StoreError(err)
		}
		fmt.Fprintf(env.Stdout, "promoted %s: it signs new tokens within %s on every replica\nintroduced %s for the next rotation\n",
			promoted, cfg.JWTKeysRefreshInterval, introduced)
	case command == "retire" && len(rest) <= 1:
		kid := ""
		if len(rest) == 1 {
			kid = rest[0]
		}
		retired, err := store.Retire(ctx, kid, now, times, *force)
		if err != nil {
			return keys.StoreError(err)
		}
		if len(retired) == 0 {
			fmt.Fprintln(env.Stdout, "no key to retire")
		}
		for _, id := range retired {
			fmt.Fprintf(env.Stdout, "retired %s: its tokens are refused within %s on every replica\n", id, cfg.JWTKeysRefreshInterval)
		}
	default:
		return usageError(fs)
	}
	infos, err := store.List(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%-44s %-6s %-9s %-9s %-20s %s\n", "KID", "ALG", "STATE", "ENCRYPTED", "CREATED", "NOTE")
	for _, k := range infos {
		fmt.Fprintf(env.Stdout, "%-44s %-6s %-9s %-9t %-20s %s\n", k.ID, k.Algorithm, k.State, k.Encrypted, k.CreatedAt.UTC().Format(time.RFC3339), note(k, now, times))
	}
	return nil
}

// note says when a key may take its next step.
func note(k keys.Info, now time.Time, times keys.Times) string {
	switch k.State {
	case keys.StateNext:
		if at := k.CreatedAt.Add(times.Publish); at.After(now) {
			return "rotate after " + at.UTC().Format(time.RFC3339)
		}
		return "ready to rotate"
	case keys.StateCurrent:
		return "signing since " + k.PromotedAt.UTC().Format(time.RFC3339)
	case keys.StatePrevious:
		if at := k.DemotedAt.Add(times.Drain); at.After(now) {
			return "retire after " + at.UTC().Format(time.RFC3339)
		}
		return "ready to retire"
	}
	return ""
}
