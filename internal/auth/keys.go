package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/signingkey"
	"github.com/latchkey/latchkey/internal/token"
)

// DatabaseKeys returns the signing keys held in the database, the oldest
// first, generating an ES256 key on first start. Every replica signs with
// the oldest key, so all agree. Call it where replicas cannot race, under
// the migration lock.
func DatabaseKeys(ctx context.Context, db *ent.Client, now time.Time) ([]token.Key, error) {
	rows, err := db.SigningKey.Query().
		Order(ent.Asc(signingkey.FieldCreatedAt), ent.Asc(signingkey.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	if len(rows) == 0 {
		k, err := token.GenerateES256()
		if err != nil {
			return nil, fmt.Errorf("generating signing key: %w", err)
		}
		der, err := k.MarshalPrivate()
		if err != nil {
			return nil, fmt.Errorf("encoding signing key: %w", err)
		}
		row, err := db.SigningKey.Create().
			SetID(k.ID()).
			SetAlgorithm(k.Algorithm()).
			SetPrivateKey(der).
			SetCreatedAt(now.UTC()).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("storing signing key: %w", err)
		}
		rows = append(rows, row)
	}
	keys := make([]token.Key, 0, len(rows))
	for _, row := range rows {
		k, err := token.ParsePrivate(row.ID, row.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("decoding signing key %s: %w", row.ID, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
