package database

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// encodeUUIDs teaches conn's pgx to encode uuid.UUID, the type of every id,
// as the UUID it is. pgx knows no plan for the type itself but its
// driver.Valuer: for each UUID parameter of each statement it would take
// the value's string, try to encode that as a binary uuid, fail, format
// the failure with fmt, parse the string back and encode the result (a
// few allocations and, deep in a request, the frames that push its
// goroutine's stack from 16 to 32 KiB).
func encodeUUIDs(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{wrapUUID}, m.TryWrapEncodePlanFuncs...)
	return nil
}

// wrapUUID is a pgtype.TryWrapEncodePlanFunc: a uuid.UUID, or a pointer
// to one (nil is NULL before any plan), is encoded as the pgtype.UUID of
// its bytes. pgx itself does not look through a pointer to a
// driver.Valuer.
func wrapUUID(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	u, ok := asUUID(value)
	if !ok {
		return nil, nil, false
	}
	return &uuidEncodePlan{}, pgtype.UUID{Bytes: u, Valid: true}, true
}

// asUUID is the UUID value holds, if it is one or points to one.
func asUUID(value any) (uuid.UUID, bool) {
	switch u := value.(type) {
	case uuid.UUID:
		return u, true
	case *uuid.UUID:
		return *u, true
	}
	return uuid.Nil, false
}

type uuidEncodePlan struct{ next pgtype.EncodePlan }

func (p *uuidEncodePlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *uuidEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	u, _ := asUUID(value) // the plan is only ever chosen for these types
	return p.next.Encode(pgtype.UUID{Bytes: u, Valid: true}, buf)
}
