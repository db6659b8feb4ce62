package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/user"
	"github.com/latchkey/latchkey/internal/password"
)

// ImportStatus is what became of one imported user, as users import reports
// it.
type ImportStatus string

// The statuses of an imported user.
const (
	// ImportImported is a user created (or, in a dry run, one that would be).
	ImportImported ImportStatus = "imported"
	// ImportExists is a user whose email was already taken, left untouched.
	ImportExists ImportStatus = "exists"
	// ImportDuplicate is a user whose email an earlier line of the same
	// import had.
	ImportDuplicate ImportStatus = "duplicate"
	// ImportInvalid is a user refused for a field; the result says why.
	ImportInvalid ImportStatus = "invalid"
	// ImportUnknownHash is a user refused because Latchkey cannot verify
	// the password hash (password.Scheme refuses it).
	ImportUnknownHash ImportStatus = "unknown_hash"
)

// Refused reports whether st is a user not imported for a fault of its
// line: anything but imported and exists.
func (st ImportStatus) Refused() bool {
	return st != ImportImported && st != ImportExists
}

// Bounds on imported roles.
const (
	maxImportRoles = 20
)

// roleName is the rule for a role's name.
var roleName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// ImportUser is a user of the Flask service to import.
type ImportUser struct {
	// ID, a UUID, is kept so that other services' references still point
	// at the user; empty means a new one.
	ID    string
	Email string
	// PasswordHash is stored as it is once password.Scheme accepts it;
	// empty means no usable password.
	PasswordHash  string
	DisplayName   *string
	Roles         []string // RoleUser is always added
	EmailVerified bool
	CreatedAt     time.Time // zero means now
}

// ImportResult is what became of an ImportUser.
type ImportResult struct {
	Status ImportStatus
	// Email is the normalized email, empty when it is invalid.
	Email string
	// ID is the user's: the one kept or made, or for exists the existing
	// user's. Empty when refused.
	ID string
	// Reason says why a user was refused, or imported without a usable
	// password, or exists under another id. It never quotes a hash.
	Reason string
}

// ImportOptions are users import's choices.
type ImportOptions struct {
	// DryRun validates and looks up, and writes nothing.
	DryRun bool
	// ResetUnknownHash imports a user whose hash cannot be verified with
	// no usable password (password.Unusable), instead of refusing it.
	ResetUnknownHash bool
}

// importBatch is how many users Importer writes in one transaction.
const importBatch = 500

// Importer imports users, and remembers the emails it has seen so that a
// second line with one is a duplicate: it holds 16 bytes per distinct
// email, and the users of one batch. It writes up to importBatch users in
// one transaction, each with one INSERT ... ON CONFLICT DO NOTHING; if any
// statement of a batch fails, the batch is rolled back and each of its
// users written again in a transaction of its own. So the outcome is the
// one a transaction per user gives (each user is written whole or not at
// all, and no user's failure touches another's), at one commit per batch
// instead of one per user. An Importer is not safe for concurrent use.
type Importer struct {
	s       *Service
	opts    ImportOptions
	seen    map[[16]byte]struct{}
	pending []pendingImport
}

// pendingImport is a user of the batch being filled.
type pendingImport struct {
	u    importedUser
	r    ImportResult
	done func(ImportResult)
}

// NewImporter returns an Importer with opts.
func (s *Service) NewImporter(opts ImportOptions) *Importer {
	return &Importer{s: s, opts: opts, seen: make(map[[16]byte]struct{})}
}

// Import validates in as the service validates a registration (email,
// display name) and checks its roles and password hash, then creates the
// user unless its email or id is taken. It hands the result to done, in
// the order of the calls: at once for a refusal or in a dry run, once its
// batch is committed for a user to write (Flush writes the last batch). A
// refusal is a result, not an error; the error is for the database
// failing, and then nothing of the batch was written.
func (im *Importer) Import(ctx context.Context, in ImportUser, done func(ImportResult)) error {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		done(ImportResult{Status: ImportInvalid, Reason: reason(err)})
		return nil
	}
	r := ImportResult{Email: email}
	// The first line with an email claims it, whatever becomes of it:
	// which of two records is the user's is for the operator to say.
	sum := sha256.Sum256([]byte(email))
	key := [16]byte(sum[:16])
	if _, dup := im.seen[key]; dup {
		r.Status, r.Reason = ImportDuplicate, "an earlier line has this email"
		done(r)
		return nil
	}
	im.seen[key] = struct{}{}

	u, status, why := im.validate(in, email)
	if status != "" {
		r.Status, r.Reason = status, why
		done(r)
		return nil
	}
	r.Reason = why
	r.ID = u.ID.String()
	if im.opts.DryRun {
		r, err := im.s.dryImport(ctx, u, r)
		if err != nil {
			return err
		}
		done(r)
		return nil
	}
	im.pending = append(im.pending, pendingImport{u: u, r: r, done: done})
	if len(im.pending) >= importBatch {
		return im.Flush(ctx)
	}
	return nil
}

// Flush writes the users Import has not written yet, and hands their
// results to their done functions.
func (im *Importer) Flush(ctx context.Context) error {
	batch := im.pending
	defer func() { im.pending = batch[:0] }()
	if len(batch) == 0 {
		return nil
	}
	inserted := make([]bool, len(batch))
	err := im.s.withTx(ctx, func(tx *ent.Tx) error {
		for i, p := range batch {
			ok, err := im.s.insertImported(ctx, tx, p.u)
			if err != nil {
				return err
			}
			inserted[i] = ok
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// Rolled back: each user again on its own, so that one user's
		// failure is that user's only.
		for i, p := range batch {
			var ok bool
			err := im.s.withTx(ctx, func(tx *ent.Tx) (err error) {
				ok, err = im.s.insertImported(ctx, tx, p.u)
				return err
			})
			if err != nil {
				return fmt.Errorf("importing user %s: %w", p.u.Email, err)
			}
			inserted[i] = ok
		}
	}
	// The users not written: one query for the batch finds whose email
	// is taken.
	var emails []string
	for i, p := range batch {
		if !inserted[i] {
			emails = append(emails, p.u.Email)
		}
	}
	owners := map[string]uuid.UUID{}
	if len(emails) > 0 {
		found, err := im.s.db.User.Query().Where(user.EmailIn(emails...)).Select(user.FieldID, user.FieldEmail).All(ctx)
		if err != nil {
			return fmt.Errorf("looking up users: %w", err)
		}
		for _, u := range found {
			owners[u.Email] = u.ID
		}
	}
	for i, p := range batch {
		r := p.r
		if inserted[i] {
			r.Status = ImportImported
		} else {
			id, ok := owners[p.u.Email]
			r = takenBy(p.u, r, id, ok)
		}
		p.done(r)
	}
	return nil
}

// importedUser is a validated ImportUser.
type importedUser struct {
	ID            uuid.UUID
	idGiven       bool
	Email         string
	PasswordHash  string
	DisplayName   *string
	Roles         []string
	EmailVerified bool
	CreatedAt     time.Time
}

// validate checks in's fields but the email, and returns the user to
// store, or a refusal's status and reason. A reason with no status is a
// note on an imported user.
func (im *Importer) validate(in ImportUser, email string) (u importedUser, status ImportStatus, why string) {
	u = importedUser{Email: email, EmailVerified: in.EmailVerified, CreatedAt: in.CreatedAt}
	if in.ID == "" {
		u.ID = uuid.New()
	} else {
		id, err := uuid.Parse(in.ID)
		if err != nil || id == uuid.Nil || len(in.ID) != 36 {
			return u, ImportInvalid, "id: must be a UUID such as 0b5c3b9e-7d1f-4c8e-9a5e-2f1d3c4b5a69"
		}
		u.ID, u.idGiven = id, true
	}
	var err error
	if u.DisplayName, err = NormalizeDisplayName(in.DisplayName); err != nil {
		return u, ImportInvalid, reason(err)
	}
	if u.Roles, err = importRoles(in.Roles); err != nil {
		return u, ImportInvalid, reason(err)
	}
	if in.PasswordHash == "" {
		u.PasswordHash = password.Unusable
		return u, "", "no password hash: no usable password until a reset"
	}
	if _, err := password.Scheme(in.PasswordHash); err != nil {
		if !im.opts.ResetUnknownHash {
			return u, ImportUnknownHash, err.Error()
		}
		u.PasswordHash = password.Unusable
		return u, "", err.Error() + ": no usable password until a reset"
	}
	u.PasswordHash = in.PasswordHash
	return u, "", ""
}

// importRoles checks roles by the rule every role follows, and returns
// them without repeats, RoleUser first.
func importRoles(roles []string) ([]string, error) {
	out := []string{RoleUser}
	for _, r := range roles {
		if !roleName.MatchString(r) {
			return nil, &ValidationError{Field: "roles", Message: "each must be a lowercase letter then up to 31 lowercase letters, digits, _ or -"}
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) > maxImportRoles {
		return nil, &ValidationError{Field: "roles", Message: fmt.Sprintf("must be at most %d, user included", maxImportRoles)}
	}
	return out, nil
}

// reason is the text a report shows for a validation error.
func reason(err error) string {
	var v *ValidationError
	if errors.As(err, &v) {
		return v.Field + ": " + v.Message
	}
	return err.Error()
}

// insertImported creates u in tx unless its email or id is taken, in one
// statement, records its USER_CREATED event (no actor: an operator's
// command), and reports whether it did.
func (s *Service) insertImported(ctx context.Context, tx *ent.Tx, u importedUser) (bool, error) {
	now := s.now()
	created := now
	if !u.CreatedAt.IsZero() {
		created = u.CreatedAt.UTC()
	}
	err := tx.User.Create().
		SetID(u.ID).
		SetEmail(u.Email).
		SetPasswordHash(u.PasswordHash).
		SetNillableDisplayName(u.DisplayName).
		SetRoles(u.Roles).
		SetEmailVerified(u.EmailVerified).
		SetCreatedAt(created).
		SetUpdatedAt(now).
		OnConflict(entsql.DoNothing()).
		Exec(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		// Nothing was written: the email or the id is taken.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("importing user: %w", err)
	}
	event := auditEntry{Type: auditevent.TypeUSER_CREATED, UserID: u.ID, Roles: u.Roles, Email: u.Email}
	if err := s.audit(ctx, tx, event); err != nil {
		return false, err
	}
	return true, nil
}

// dryImport is what Flush would do for u, without the write.
func (s *Service) dryImport(ctx context.Context, u importedUser, r ImportResult) (ImportResult, error) {
	n, err := s.db.User.Query().Where(user.Or(user.Email(u.Email), user.ID(u.ID))).Count(ctx)
	if err != nil {
		return ImportResult{}, fmt.Errorf("looking up user: %w", err)
	}
	if n > 0 {
		return s.taken(ctx, u, r)
	}
	r.Status = ImportImported
	return r, nil
}

// taken reports u, whose email or id a user has: exists with that user's
// id when it is the email, else invalid.
func (s *Service) taken(ctx context.Context, u importedUser, r ImportResult) (ImportResult, error) {
	id, err := s.db.User.Query().Where(user.Email(u.Email)).OnlyID(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return ImportResult{}, fmt.Errorf("looking up user: %w", err)
	}
	return takenBy(u, r, id, err == nil), nil
}

// takenBy is taken's result, given the id of the user with u's email if
// found.
func takenBy(u importedUser, r ImportResult, id uuid.UUID, found bool) ImportResult {
	if !found {
		r.ID, r.Status, r.Reason = "", ImportInvalid, "id: another user has it"
		return r
	}
	r.ID, r.Status, r.Reason = id.String(), ImportExists, ""
	if u.idGiven && id != u.ID {
		r.Reason = "the email's user has another id"
	}
	return r
}

// LegacyAccount is a user whose password is not yet an argon2id hash.
type LegacyAccount struct {
	ID    uuid.UUID
	Email string
	// Scheme is the hash's legacy scheme (password.SchemeBcrypt and the
	// others), "none" for an account without a usable password, or
	// "unknown".
	Scheme string
}

// legacyPage is how many accounts LegacyAccounts reads at a time.
const legacyPage = 1000

// LegacyAccounts calls fn with each user whose password hash is not
// argon2id, in the order of their ids, and returns how many there were. It
// reads them a page at a time, so that it holds a page however many there
// are.
func (s *Service) LegacyAccounts(ctx context.Context, fn func(LegacyAccount) error) (int, error) {
	n := 0
	var after *uuid.UUID
	for {
		q := s.db.User.Query().
			Where(user.Not(user.PasswordHashHasPrefix("$"+password.SchemeArgon2id+"$"))).
			Order(ent.Asc(user.FieldID)).
			Limit(legacyPage).
			Select(user.FieldID, user.FieldEmail, user.FieldPasswordHash)
		if after != nil {
			q.Where(user.IDGT(*after))
		}
		page, err := q.All(ctx)
		if err != nil {
			return n, fmt.Errorf("listing legacy accounts: %w", err)
		}
		for _, u := range page {
			a := LegacyAccount{ID: u.ID, Email: u.Email, Scheme: password.LegacyScheme(u.PasswordHash)}
			switch {
			case u.PasswordHash == password.Unusable:
				a.Scheme = "none"
			case a.Scheme == "":
				a.Scheme = "unknown"
			}
			if err := fn(a); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < legacyPage {
			return n, nil
		}
		after = &page[len(page)-1].ID
	}
}
