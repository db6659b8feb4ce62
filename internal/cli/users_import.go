package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/auth"
)

// usersSubcommands are the subcommands of users, in the order its usage
// lists them.
func usersSubcommands() []Command {
	return []Command{
		{"create", usersUsage, "create a user, such as the first administrator", usersCreate},
		{"import", importUsage, "import the users of the Flask service from JSON lines or CSV", usersImport},
		{"legacy", "users legacy", "list the accounts whose password hash is not yet argon2id", usersLegacy},
	}
}

func users(ctx context.Context, env Env, args []string) error {
	subs := usersSubcommands()
	if len(args) > 0 {
		for _, c := range subs {
			if c.Name == args[0] {
				return c.Run(ctx, env, args[1:])
			}
		}
	}
	var b strings.Builder
	b.WriteString("usage: latchkey users create|import|legacy [flags] [-h]\n\nsubcommands:\n")
	for _, c := range subs {
		fmt.Fprintf(&b, "  latchkey %s\n      %s\n", c.Usage, c.Summary)
	}
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprint(env.Stdout, b.String())
		return nil
	}
	fmt.Fprint(env.Stderr, b.String())
	return ErrUsage
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

const importUsage = "users import FILE|- [--format jsonl|csv] [--dry-run] [--on-unknown-hash reject|reset] [--report FILE]"

const importHelp = `Imports the users of the Flask service from FILE, or from standard input
with -, as JSON lines or as CSV with a header line. The fields (and CSV
columns) are email (required), password_hash, display_name, roles (a JSON
array, or names separated by spaces), email_verified, created_at (RFC 3339),
id (a UUID, kept) and legacy_id (echoed in the report only).

Each line is imported in a transaction of its own; a user whose email exists
is left untouched, so a second run changes nothing. The report has a JSON line
per input line: line, email, id, legacy_id, status (imported, exists,
duplicate, invalid, unknown_hash) and, where there is one, reason. Blank lines
are skipped, and a line longer than 16 KiB is invalid.

Exits 0 when every user was imported or exists, 1 when any was refused, 2 on
a usage error. docs/migration.md is the whole migration.`

// maxImportLine bounds an input line: a valid user takes well under 2 KiB.
const maxImportLine = 16 << 10

// maxEcho bounds what the report echoes of an email or legacy_id it refused.
const maxEcho = 320

// importFields are the fields of an imported user: the CSV columns.
var importFields = []string{"email", "password_hash", "display_name", "roles", "email_verified", "created_at", "id", "legacy_id"}

// ErrRefused is an import that refused some of its lines; its report says
// which and why.
var ErrRefused = errors.New("some users were refused")

func usersImport(ctx context.Context, env Env, args []string) error {
	fs := flags(env, importUsage, importHelp)
	format := fs.String("format", "", "jsonl or csv (default: csv for a FILE ending in .csv, else jsonl)")
	dryRun := fs.Bool("dry-run", false, "validate and report, writing no user")
	onUnknown := fs.String("on-unknown-hash", "reject", "for a password hash Latchkey cannot verify: reject the user, or reset (import it with no usable password until a password reset)")
	reportPath := fs.String("report", "", "write the report to `FILE` instead of standard output")
	rest, done, err := parse(fs, args)
	if done || err != nil {
		return err
	}
	if len(rest) != 1 || (*onUnknown != "reject" && *onUnknown != "reset") {
		return usageError(fs)
	}
	path := rest[0]
	if *format == "" {
		*format = "jsonl"
		if strings.HasSuffix(strings.ToLower(path), ".csv") {
			*format = "csv"
		}
	}
	if *format != "jsonl" && *format != "csv" {
		return usageError(fs)
	}

	in := env.Stdin
	if path != "-" {
		f, err := os.Open(path) //nolint:gosec // the operator names the file to import
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	if in == nil {
		return errors.New("users import: no standard input")
	}
	out := env.Stdout
	if *reportPath != "" {
		// The report holds emails: readable by its owner only.
		f, err := os.OpenFile(*reportPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}

	if err := env.Migrate(ctx); err != nil {
		return err
	}
	svc, err := env.Service(ctx)
	if err != nil {
		return err
	}
	im := svc.NewImporter(auth.ImportOptions{DryRun: *dryRun, ResetUnknownHash: *onUnknown == "reset"})
	w := bufio.NewWriter(out)
	counts, err := importLines(ctx, in, *format == "csv", im, w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if f, ok := out.(*os.File); ok && *reportPath != "" && err == nil {
		err = f.Sync()
	}
	summary := fmt.Sprintf("users import: %d imported, %d exist, %d duplicate, %d invalid, %d unknown_hash",
		counts[auth.ImportImported], counts[auth.ImportExists], counts[auth.ImportDuplicate], counts[auth.ImportInvalid], counts[auth.ImportUnknownHash])
	if *dryRun {
		summary += " (dry run: nothing was written)"
	}
	fmt.Fprintln(env.Stderr, summary)
	if err != nil {
		return err
	}
	if counts[auth.ImportDuplicate]+counts[auth.ImportInvalid]+counts[auth.ImportUnknownHash] > 0 {
		return ErrRefused
	}
	return nil
}

// reportLine is the report's line about one input line.
type reportLine struct {
	Line     int             `json:"line"`
	Email    *string         `json:"email"`
	ID       *string         `json:"id"`
	LegacyID json.RawMessage `json:"legacy_id"`
	Status   string          `json:"status"`
	Reason   string          `json:"reason,omitempty"`
}

// importLines imports each line of r, writing its report line to w, and
// counts the statuses. A CSV header that is not ours is a usage error; only
// the database failing stops it early.
func importLines(ctx context.Context, r io.Reader, isCSV bool, im *auth.Importer, w io.Writer) (map[auth.ImportStatus]int, error) {
	counts := map[auth.ImportStatus]int{}
	lines := newLineReader(r, maxImportLine)
	enc := json.NewEncoder(w)
	// The report keeps the input's order: a line waits for its batch.
	var queue []*queuedLine
	flush := func() error {
		for len(queue) > 0 && queue[0].done {
			counts[auth.ImportStatus(queue[0].rep.Status)]++
			if err := enc.Encode(queue[0].rep); err != nil {
				return fmt.Errorf("writing the report: %w", err)
			}
			queue = queue[1:]
		}
		return nil
	}
	var header []string
	for n := 1; ; n++ {
		line, tooLong, err := lines.next()
		if errors.Is(err, io.EOF) {
			if err := im.Flush(ctx); err != nil {
				return counts, err
			}
			return counts, flush()
		}
		if err != nil {
			return counts, fmt.Errorf("reading line %d: %w", n, err)
		}
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if !tooLong && len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if isCSV && header == nil {
			if header, err = csvHeader(line, tooLong); err != nil {
				return counts, fmt.Errorf("line %d: %w", n, err)
			}
			continue
		}
		q := &queuedLine{rep: reportLine{Line: n}}
		queue = append(queue, q)
		var u auth.ImportUser
		var why string
		switch {
		case tooLong:
			why = fmt.Sprintf("line longer than %d bytes", maxImportLine)
		case isCSV:
			u, q.rep.LegacyID, why = parseCSVLine(line, header)
		default:
			u, q.rep.LegacyID, why = parseJSONLine(line)
		}
		if u.Email != "" {
			q.rep.Email = echo(u.Email)
		}
		if why != "" {
			q.rep.Status, q.rep.Reason, q.done = string(auth.ImportInvalid), why, true
		} else if err := im.Import(ctx, u, q.result); err != nil {
			return counts, fmt.Errorf("line %d: %w", n, err)
		}
		if err := flush(); err != nil {
			return counts, err
		}
	}
}

// queuedLine is a report line waiting for its result, and for the lines
// before it.
type queuedLine struct {
	rep  reportLine
	done bool
}

func (q *queuedLine) result(res auth.ImportResult) {
	q.rep.Status, q.rep.Reason, q.done = string(res.Status), res.Reason, true
	if res.Email != "" {
		q.rep.Email = &res.Email
	}
	if res.ID != "" {
		q.rep.ID = &res.ID
	}
}

// echo is s as the report may show it: valid UTF-8 of at most maxEcho
// bytes. The JSON encoding escapes the rest.
func echo(s string) *string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxEcho {
		s = strings.ToValidUTF8(s[:maxEcho], "")
	}
	return &s
}

// jsonLine is a user as a JSON line spells it.
type jsonLine struct {
	Email         *string         `json:"email"`
	PasswordHash  *string         `json:"password_hash"`
	DisplayName   *string         `json:"display_name"`
	Roles         json.RawMessage `json:"roles"`
	EmailVerified *bool           `json:"email_verified"`
	CreatedAt     *string         `json:"created_at"`
	ID            *string         `json:"id"`
	LegacyID      json.RawMessage `json:"legacy_id"`
}

// parseJSONLine reads a user from a JSON object, or says why it cannot.
// What it could read of the email and legacy_id is returned either way.
func parseJSONLine(line []byte) (u auth.ImportUser, legacyID json.RawMessage, why string) {
	var j jsonLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	err := dec.Decode(&j)
	if j.Email != nil {
		u.Email = *j.Email
	}
	legacyID, lerr := checkLegacyID(j.LegacyID)
	if err != nil {
		return u, legacyID, "not a JSON object of the import's fields: " + jsonProblem(err)
	}
	if dec.More() {
		return u, legacyID, "more than one JSON value on the line"
	}
	if lerr != "" {
		return u, nil, lerr
	}
	if j.Email == nil {
		return u, legacyID, "email: required"
	}
	u.PasswordHash = deref(j.PasswordHash)
	u.DisplayName = j.DisplayName
	u.ID = deref(j.ID)
	u.EmailVerified = j.EmailVerified != nil && *j.EmailVerified
	if len(j.Roles) > 0 && string(j.Roles) != "null" {
		var list []string
		var spaced string
		if json.Unmarshal(j.Roles, &list) != nil {
			if json.Unmarshal(j.Roles, &spaced) != nil {
				return u, legacyID, "roles: must be an array of strings or a string of names separated by spaces"
			}
			list = strings.Fields(spaced)
		}
		u.Roles = list
	}
	if j.CreatedAt != nil {
		if u.CreatedAt, why = parseCreatedAt(*j.CreatedAt); why != "" {
			return u, legacyID, why
		}
	}
	return u, legacyID, ""
}

// jsonProblem names what is wrong with a JSON line without quoting it.
func jsonProblem(err error) string {
	var field *json.UnmarshalTypeError
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &field):
		return "field " + field.Field + " has the wrong type"
	case errors.As(err, &syntax):
		return fmt.Sprintf("syntax error at byte %d", syntax.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		// The name is quoted by the decoder; echo bounds it.
		return *echo(strings.TrimPrefix(err.Error(), "json: "))
	}
	return "not JSON"
}

// checkLegacyID returns raw if it is a JSON string or number of at most
// maxEcho bytes, the only legacy ids the report echoes.
func checkLegacyID(raw json.RawMessage) (json.RawMessage, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, ""
	}
	var s string
	var f json.Number
	if len(raw) > maxEcho || (json.Unmarshal(raw, &s) != nil && json.Unmarshal(raw, &f) != nil) {
		return nil, "legacy_id: must be a string or a number of at most 320 bytes"
	}
	return raw, ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// parseCreatedAt parses an RFC 3339 time.
func parseCreatedAt(s string) (time.Time, string) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, "created_at: must be an RFC 3339 time such as 2021-03-04T05:06:07Z"
	}
	return t, ""
}

// csvHeader reads the CSV header: our field names, email among them, each
// at most once.
func csvHeader(line []byte, tooLong bool) ([]string, error) {
	err := fmt.Errorf("%w: the CSV header must name the columns, email among them, from %s", ErrUsage, strings.Join(importFields, ", "))
	if tooLong {
		return nil, err
	}
	h, rerr := csv.NewReader(bytes.NewReader(line)).Read()
	if rerr != nil || !slices.Contains(h, "email") {
		return nil, err
	}
	for i, name := range h {
		if !slices.Contains(importFields, name) || slices.Contains(h[:i], name) {
			return nil, err
		}
	}
	return h, nil
}

// parseCSVLine reads a user from a CSV line under header. A record ends
// with its line: a quoted field cannot hold a line break (no valid field
// has one). An empty cell is an absent field.
func parseCSVLine(line []byte, header []string) (u auth.ImportUser, legacyID json.RawMessage, why string) {
	r := csv.NewReader(bytes.NewReader(line))
	r.FieldsPerRecord = len(header)
	rec, err := r.Read()
	if err == nil {
		if _, err2 := r.Read(); err2 != io.EOF {
			err = errors.New("more than one record")
		}
	}
	if err != nil {
		return u, nil, fmt.Sprintf("not a CSV record of the header's %d columns", len(header))
	}
	cells := make(map[string]string, len(header))
	for i, name := range header {
		cells[name] = rec[i]
	}
	u.Email = cells["email"]
	if id := cells["legacy_id"]; id != "" {
		if len(id) > maxEcho {
			return u, nil, "legacy_id: must be at most 320 bytes"
		}
		legacyID, _ = json.Marshal(strings.ToValidUTF8(id, "\uFFFD"))
	}
	if u.Email == "" {
		return u, legacyID, "email: required"
	}
	u.PasswordHash = cells["password_hash"]
	if name, ok := cells["display_name"]; ok && name != "" {
		u.DisplayName = &name
	}
	u.Roles = strings.Fields(cells["roles"])
	u.ID = cells["id"]
	if v := cells["email_verified"]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return u, legacyID, "email_verified: must be true or false (or t, f, 1, 0)"
		}
		u.EmailVerified = b
	}
	if v := cells["created_at"]; v != "" {
		if u.CreatedAt, why = parseCreatedAt(v); why != "" {
			return u, legacyID, why
		}
	}
	return u, legacyID, ""
}

// lineReader reads lines of at most max bytes, holding no more than that:
// a longer line is read in chunks and thrown away.
type lineReader struct {
	r *bufio.Reader
}

func newLineReader(r io.Reader, max int) *lineReader {
	// Room for the line's end, "\r\n".
	return &lineReader{r: bufio.NewReaderSize(r, max+2)}
}

// next returns the next line without its end; the slice is valid until the
// next call. tooLong is a line that was longer than max, discarded. At the
// end of the input it returns io.EOF.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	line, err = lr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = lr.r.ReadSlice('\n')
		}
		if err == io.EOF {
			err = nil
		}
		return nil, true, err
	}
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		return nil, false, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, false, nil
}

func usersLegacy(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "users legacy", "Lists the accounts whose password hash is not yet argon2id: those imported\nwith a legacy hash who have not logged in since (scheme werkzeug-pbkdf2,\nwerkzeug-scrypt or bcrypt), and those without a usable password (none),\nthen their count. The migration is complete when the count is 0.")
	rest, done, err := parse(fs, args)
	if done || err != nil {
		return err
	}
	if len(rest) != 0 {
		return usageError(fs)
	}
	if err := env.Migrate(ctx); err != nil {
		return err
	}
	svc, err := env.Service(ctx)
	if err != nil {
		return err
	}
	// Fixed columns, not a tabwriter, which would hold every line.
	w := bufio.NewWriter(env.Stdout)
	fmt.Fprintf(w, "%-36s  %-40s  %s\n", "ID", "EMAIL", "SCHEME")
	n, err := svc.LegacyAccounts(ctx, func(a auth.LegacyAccount) error {
		_, err := fmt.Fprintf(w, "%-36s  %-40s  %s\n", a.ID, a.Email, a.Scheme)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d accounts on a legacy scheme or without a usable password\n", n)
	return w.Flush()
}
