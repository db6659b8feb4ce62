package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent/secret"
)

// A cursor is the position of a row in a list ordered by a time, newest
// first, and an id: the time in Unix microseconds, the id, and an
// HMAC-SHA256 of both and of the list's name, cut to 16 bytes, in
// unpadded base64url. Its key is random, made once per database (the
// secrets table), so that every replica reads every cursor and a forged
// or altered one is refused; it outlives key rotations and restarts.
const (
	cursorMACLen = 16
	cursorLen    = 8 + 16 + cursorMACLen
	// cursorSecret names the key in the secrets table.
	cursorSecret = "cursor"
)

// position is a row's place in a list: the keyset of its pagination.
type position struct {
	at time.Time
	id uuid.UUID
}

// encodeCursor returns the cursor of pos in the list named list.
func encodeCursor(key []byte, list string, pos position) string {
	b := make([]byte, 0, cursorLen)
	b = binary.BigEndian.AppendUint64(b, uint64(pos.at.UnixMicro()))
	b = append(b, pos.id[:]...)
	b = append(b, cursorMAC(key, list, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the position of cursor c of the list named list,
// or a *ValidationError of the field after when c is not one of its
// cursors.
func decodeCursor(key []byte, list, c string) (position, error) {
	bad := &ValidationError{Field: "after", Message: "not a cursor of this list"}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != cursorLen {
		return position{}, bad
	}
	data, mac := b[:cursorLen-cursorMACLen], b[cursorLen-cursorMACLen:]
	if !hmac.Equal(mac, cursorMAC(key, list, data)) {
		return position{}, bad
	}
	var pos position
	pos.at = time.UnixMicro(int64(binary.BigEndian.Uint64(data[:8]))).UTC()
	copy(pos.id[:], data[8:])
	return pos, nil
}

func cursorMAC(key []byte, list string, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(list))
	m.Write([]byte{0})
	m.Write(data)
	return m.Sum(nil)[:cursorMACLen]
}

// cursorKey returns the database's cursor key, creating it on first use;
// whichever replica creates it first, every one reads the same.
func (s *Service) cursorKey(ctx context.Context) ([]byte, error) {
	if k := s.cursorKeyCache.Load(); k != nil {
		return *k, nil
	}
	row, err := s.db.Secret.Get(ctx, cursorSecret)
	if err != nil {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("making cursor key: %w", err)
		}
		err = s.db.Secret.Create().SetID(cursorSecret).SetValue(key).SetCreatedAt(s.now()).
			OnConflictColumns(secret.FieldID).DoNothing().Exec(ctx)
		if err != nil {
			return nil, fmt.Errorf("storing cursor key: %w", err)
		}
		if row, err = s.db.Secret.Get(ctx, cursorSecret); err != nil {
			return nil, fmt.Errorf("loading cursor key: %w", err)
		}
	}
	s.cursorKeyCache.Store(&row.Value)
	return row.Value, nil
}
