package keys

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/testdb"
)

// openTestDatabase opens uri as the service does and applies the schema.
func openTestDatabase(t *testing.T, uri string) *ent.Client {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return map[string]string{"DATABASE_URI": uri}[k] })
	if err != nil {
		t.Fatal(err)
	}
	_, client, err := database.Open(cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := client.Schema.Create(t.Context()); err != nil {
		t.Fatal(err)
	}
	return client
}

// states returns the kids of the keys in each state.
func states(t *testing.T, ks *Store) map[string][]string {
	t.Helper()
	infos, err := ks.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, k := range infos {
		out[k.State] = append(out[k.State], k.ID)
	}
	return out
}

var testKEK = bytes.Repeat([]byte{7}, 32)

func TestKeyStoreRotation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		ctx := t.Context()
		ks, err := NewStore(openTestDatabase(t, uri), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		times := Times{Publish: 5 * time.Minute, Drain: 17 * time.Minute}
		t0 := time.Now().UTC().Truncate(time.Second)

		if err := ks.Prepare(ctx, t0); err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		if err := ks.Prepare(ctx, t0); err != nil { // a second replica starting
			t.Fatalf("Prepare again: %v", err)
		}
		st := states(t, ks)
		if len(st[StateCurrent]) != 1 || len(st[StateNext]) != 1 || len(st[StatePrevious]) != 0 {
			t.Fatalf("after Prepare: %v, want one current and one next key", st)
		}
		first, next := st[StateCurrent][0], st[StateNext][0]
		signing, verify, err := ks.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if signing.ID() != first || len(verify) != 1 || verify[0].ID() != next {
			t.Errorf("Load = %v, %v, want %s signing and %s verifying", signing, verify, first, next)
		}

		// The next key was introduced at t0: promoting it at once is refused.
		_, _, err = ks.Rotate(ctx, t0.Add(time.Minute), times, false)
		var tooNew *TooNewError
		if !errors.As(err, &tooNew) || tooNew.KeyID != next || tooNew.Wait != 4*time.Minute {
			t.Fatalf("Rotate 1 minute after introducing = %v, want a *KeyTooNewError to wait 4m for %s", err, next)
		}
		t1 := t0.Add(6 * time.Minute)
		promoted, introduced, err := ks.Rotate(ctx, t1, times, false)
		if err != nil || promoted != next || introduced == "" || introduced == first || introduced == next {
			t.Fatalf("Rotate = %q, %q, %v, want %s promoted and a new key introduced", promoted, introduced, err, next)
		}
		st = states(t, ks)
		want := map[string][]string{StateCurrent: {next}, StatePrevious: {first}, StateNext: {introduced}}
		for state, ids := range want {
			if !slices.Equal(st[state], ids) {
				t.Errorf("after Rotate: %s keys %v, want %v", state, st[state], ids)
			}
		}
		if signing, verify, _ := ks.Load(ctx); signing.ID() != next || len(verify) != 2 {
			t.Errorf("Load after Rotate = %v, %v, want %s signing and two verifying", signing, verify, next)
		}

		// The previous key verifies until its last token expired.
		if _, err := ks.Retire(ctx, next, t1, times, false); !errors.Is(err, ErrRetireCurrent) {
			t.Errorf("Retire(current) = %v, want ErrRetireCurrent", err)
		}
		if _, err := ks.Retire(ctx, "nope", t1, times, false); !errors.Is(err, ErrKeyNotFound) {
			t.Errorf("Retire(unknown) = %v, want ErrKeyNotFound", err)
		}
		if _, err := ks.Retire(ctx, first, t1.Add(16*time.Minute), times, false); !errors.As(err, &tooNew) || tooNew.Wait != time.Minute {
			t.Errorf("Retire 16m after the rotation = %v, want a *KeyTooNewError to wait 1m", err)
		}
		if got, err := ks.Retire(ctx, "", t1.Add(16*time.Minute), times, false); err != nil || len(got) != 0 {
			t.Errorf("Retire(all expired) 16m after = %v, %v, want none retired", got, err)
		}
		if got, err := ks.Retire(ctx, "", t1.Add(17*time.Minute), times, false); err != nil || !slices.Equal(got, []string{first}) {
			t.Errorf("Retire(all expired) 17m after = %v, %v, want [%s]", got, err, first)
		}
		if st := states(t, ks); len(st[StatePrevious]) != 0 || len(st[StateCurrent]) != 1 || len(st[StateNext]) != 1 {
			t.Errorf("after Retire: %v, want current and next only", st)
		}

		// Forced: promote a key introduced a moment ago, retire at once.
		p2, _, err := ks.Rotate(ctx, t1.Add(18*time.Minute), times, true)
		if err != nil || p2 != introduced {
			t.Fatalf("forced Rotate = %q, %v, want %s", p2, err, introduced)
		}
		if got, err := ks.Retire(ctx, next, t1.Add(18*time.Minute), times, true); err != nil || !slices.Equal(got, []string{next}) {
			t.Errorf("forced Retire = %v, %v, want [%s]", got, err, next)
		}
	})
}

func TestKeyStoreEncryption(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		ctx := t.Context()
		client := openTestDatabase(t, uri)
		plain, err := NewStore(client, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Keys stored plain, as before KEY_ENCRYPTION_KEY was set, and as
		// the first release stored them: never promoted.
		if err := plain.Prepare(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := client.SigningKey.Update().ClearPromotedAt().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		before, _, err := plain.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows := client.SigningKey.Query().AllX(ctx)
		oldest := rows[0]
		for _, r := range rows[1:] {
			if r.CreatedAt.Before(oldest.CreatedAt) || r.CreatedAt.Equal(oldest.CreatedAt) && r.ID < oldest.ID {
				oldest = r
			}
		}

		plainDER := map[string][]byte{}
		for _, r := range rows {
			plainDER[r.ID] = mustDER(t, plain, r.ID)
		}

		sealed, err := NewStore(client, testKEK, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := sealed.Prepare(ctx, time.Now()); err != nil {
			t.Fatalf("Prepare with a key-encryption key: %v", err)
		}
		for _, r := range client.SigningKey.Query().AllX(ctx) {
			if r.PrivateKey[0] == 0x30 || bytes.Contains(r.PrivateKey, plainDER[r.ID]) {
				t.Errorf("key %s stored plain after Prepare with a key-encryption key", r.ID)
			}
		}
		infos, _ := sealed.List(ctx)
		for _, k := range infos {
			if !k.Encrypted {
				t.Errorf("List: key %s not encrypted", k.ID)
			}
		}
		after, _, err := sealed.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after.ID() != oldest.ID || before.ID() != oldest.ID {
			t.Errorf("signing key %s before and %s after, want the oldest key %s: keys from before rotation keep signing", before.ID(), after.ID(), oldest.ID)
		}

		if _, _, err := plain.Load(ctx); !errors.Is(err, ErrKeysEncrypted) {
			t.Errorf("Load without the key-encryption key = %v, want ErrKeysEncrypted", err)
		}
		wrong, _ := NewStore(client, bytes.Repeat([]byte{8}, 32), nil)
		if err := wrong.Prepare(ctx, time.Now()); !errors.Is(err, ErrWrongKeyEncryptionKey) {
			t.Errorf("Prepare with another key-encryption key = %v, want ErrWrongKeyEncryptionKey", err)
		}
		// A sealed key moved to another row does not open: the kid is
		// authenticated with it.
		rows = client.SigningKey.Query().AllX(ctx)
		client.SigningKey.UpdateOne(rows[0]).SetPrivateKey(rows[1].PrivateKey).ExecX(ctx)
		if _, _, err := sealed.Load(ctx); !errors.Is(err, ErrWrongKeyEncryptionKey) {
			t.Errorf("Load with a sealed key swapped between rows = %v, want ErrWrongKeyEncryptionKey", err)
		}
		if _, err := NewStore(client, []byte("short"), nil); err == nil {
			t.Error("NewKeyStore(5-byte key) = nil error, want refused")
		}
	})
}

// TestKeyStoreKEKRotation replaces the key-encryption key: a store with the
// new key and the previous one seals every key again at Prepare, after
// which the new key alone opens them, the old one no longer does, and the
// keys themselves are unchanged.
func TestKeyStoreKEKRotation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		ctx := t.Context()
		client := openTestDatabase(t, uri)
		newKEK := bytes.Repeat([]byte{9}, 32)
		old, err := NewStore(client, testKEK, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Prepare(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		before := map[string][]byte{}
		for _, r := range client.SigningKey.Query().AllX(ctx) {
			before[r.ID] = mustDER(t, old, r.ID)
		}
		if len(before) < 2 {
			t.Fatalf("%d keys after Prepare, want a current and a next one", len(before))
		}

		alone, err := NewStore(client, newKEK, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := alone.Prepare(ctx, time.Now()); !errors.Is(err, ErrWrongKeyEncryptionKey) {
			t.Fatalf("Prepare with a new key-encryption key and not the previous one = %v, want ErrWrongKeyEncryptionKey", err)
		}
		rotating, err := NewStore(client, newKEK, testKEK)
		if err != nil {
			t.Fatal(err)
		}
		if err := rotating.Prepare(ctx, time.Now()); err != nil {
			t.Fatalf("Prepare with the previous key-encryption key: %v", err)
		}
		for kid, der := range before {
			if got := mustDER(t, alone, kid); !bytes.Equal(got, der) {
				t.Errorf("key %s changed when sealed again", kid)
			}
		}
		if len(client.SigningKey.Query().AllX(ctx)) != len(before) {
			t.Errorf("Prepare with the previous key-encryption key added or removed keys")
		}
		if _, _, err := old.Load(ctx); !errors.Is(err, ErrWrongKeyEncryptionKey) {
			t.Errorf("Load with the replaced key-encryption key = %v, want ErrWrongKeyEncryptionKey", err)
		}

		if _, err := NewStore(client, nil, testKEK); err == nil {
			t.Error("NewKeyStore(no key, a previous key) = nil error, want refused")
		}
		if _, err := NewStore(client, newKEK, []byte("short")); err == nil {
			t.Error("NewKeyStore(a key, a 5-byte previous key) = nil error, want refused")
		}
	})
}

// mustDER returns the PKCS #8 DER of the key kid as ks loads it.
func mustDER(t *testing.T, ks *Store, kid string) []byte {
	t.Helper()
	signing, verify, err := ks.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range append(verify, signing) {
		if k.ID() == kid {
			der, err := k.MarshalPrivate()
			if err != nil {
				t.Fatal(err)
			}
			return der
		}
	}
	t.Fatalf("no key %s", kid)
	return nil
}
