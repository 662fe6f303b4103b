package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	sqlite "modernc.org/sqlite"
)

// ErrConflict: a write hit a unique key (duplicate username, token hash).
var ErrConflict = errors.New("conflict: duplicate key")

// timeLayout is how every datetime is written: whole seconds, no zone. It
// is fixed width, so on SQLite text order is time order. Having no
// fraction, it drops one when formatting, where MySQL would round a
// time.Time argument up to the next second.
const timeLayout = "2006-01-02 15:04:05"

// UserTime is the argument for one of wx_user's datetime columns: the wall
// clock in the configured zone in whole seconds, as a string (with loc=UTC
// the MySQL driver would convert a time.Time to UTC). Zero is NULL.
func (d *DB) UserTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.In(d.loc).Format(timeLayout)
}

// UTCTime is the argument for one of wx_session's (UTC) datetime columns,
// in whole seconds. Zero is NULL.
func (d *DB) UTCTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// TimeIn scans a datetime column into *Dst, reading its wall clock as a
// time in Loc (NULL is the zero time). Both drivers may hand back a
// time.Time (whose zone is meaningless here) or text.
type TimeIn struct {
	Dst *time.Time
	Loc *time.Location
}

// Scan implements sql.Scanner.
func (s TimeIn) Scan(v any) error {
	loc := s.Loc
	if loc == nil {
		loc = time.UTC
	}
	switch x := v.(type) {
	case nil:
		*s.Dst = time.Time{}
	case time.Time:
		if x.IsZero() {
			*s.Dst = time.Time{}
			return nil
		}
		*s.Dst = time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), loc)
	case []byte:
		return s.parse(string(x), loc)
	case string:
		return s.parse(x, loc)
	default:
		return fmt.Errorf("scan datetime: unexpected %T", v)
	}
	return nil
}

func (s TimeIn) parse(text string, loc *time.Location) error {
	if text == "" || strings.HasPrefix(text, "0000-00-00") {
		*s.Dst = time.Time{}
		return nil
	}
	if t, ok := parseTimeLayout(text, loc); ok {
		*s.Dst = t
		return nil
	}
	for _, layout := range []string{timeLayout, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, text, loc); err == nil {
			*s.Dst = t
			return nil
		}
	}
	// Text with an offset (written by another tool): keep the instant.
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, text); err == nil {
			*s.Dst = t.In(loc)
			return nil
		}
	}
	return fmt.Errorf("scan datetime: cannot parse %q", text)
}

// parseTimeLayout reads text written in timeLayout ("2006-01-02
// 15:04:05", what oactl writes) without time.Parse: an authenticated
// request reads four such columns. Anything else is left to time.Parse.
func parseTimeLayout(text string, loc *time.Location) (time.Time, bool) {
	if len(text) != len(timeLayout) || text[4] != '-' || text[7] != '-' || text[10] != ' ' || text[13] != ':' || text[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range []byte(text[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc)
	if t.Day() != day {
		return time.Time{}, false // 2026-02-30 and the like: time.Parse refuses them too
	}
	return t, true
}

// mysqlRetryable are the error numbers after which the whole transaction
// is retried: deadlock, lock wait timeout, Group Replication certification
// failure, and TiDB's write conflicts and lock errors.
var mysqlRetryable = map[uint16]bool{1213: true, 1205: true, 3101: true, 9007: true, 8002: true, 8005: true, 8022: true, 8028: true}

const (
	sqliteBusy       = 5
	sqliteLocked     = 6
	sqliteConstraint = 19
)

// retryableError marks a race of our own that a fresh attempt of the
// whole transaction resolves (as a deadlock does).
type retryableError struct{ error }

func (e *retryableError) Unwrap() error { return e.error }

// isRetryable reports whether err is a transient conflict worth retrying
// the whole transaction for.
func isRetryable(err error) bool {
	var re *retryableError
	if errors.As(err, &re) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return mysqlRetryable[me.Number]
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqliteBusy || c == sqliteLocked
	}
	return false
}

// isDuplicate reports whether err is a unique-key violation.
func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// SQLITE_CONSTRAINT_UNIQUE and _PRIMARYKEY; not NOT NULL or FK.
		return se.Code() == sqliteConstraint|8<<8 || se.Code() == sqliteConstraint|6<<8
	}
	return false
}

// translate turns driver errors into the domain's once: no rows →
// auth.ErrNotFound (by the caller's choice of notFound), duplicate key →
// ErrConflict; everything else is wrapped with what was being done.
func translate(err error, what string, notFound error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows) && notFound != nil:
		return notFound
	case isDuplicate(err):
		return fmt.Errorf("%s: %w", what, ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// maxAttempts bounds transaction retries; the backoff doubles from
// retryBase with jitter.
const (
	maxAttempts = 8
	retryBase   = 5 * time.Millisecond
)

// inTx runs fn in a write transaction and retries the whole transaction
// on deadlocks, lock timeouts and SQLITE_BUSY. fn must be safe to re-run.
func (d *DB) inTx(ctx context.Context, what string, fn func(tx *sqlx.Tx) error) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			back := retryBase << (attempt - 1)
			back += time.Duration(rand.Int64N(int64(back)))
			d.log.Debug("retrying transaction", "op", what, "attempt", attempt+1, "err", err)
			if serr := d.sleep(ctx, back); serr != nil {
				return fmt.Errorf("%s: %w (after %v)", what, serr, err)
			}
		}
		err = d.tryTx(ctx, fn)
		if err == nil || !isRetryable(err) {
			return err
		}
	}
	return fmt.Errorf("%s: gave up after %d attempts: %w", what, maxAttempts, err)
}

func (d *DB) tryTx(ctx context.Context, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := d.w.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// retry runs a single autocommit statement with the same retry rules.
func (d *DB) retry(ctx context.Context, what string, fn func() error) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			back := retryBase << (attempt - 1)
			if serr := d.sleep(ctx, back); serr != nil {
				return fmt.Errorf("%s: %w (after %v)", what, serr, err)
			}
		}
		if err = fn(); err == nil || !isRetryable(err) {
			return err
		}
	}
	return fmt.Errorf("%s: gave up after %d attempts: %w", what, maxAttempts, err)
}

// forUpdate is the locking-read suffix: MySQL's FOR UPDATE, which reads
// the newest committed rows and locks them; nothing on SQLite, whose one
// writer runs transactions one at a time.
func (d *DB) forUpdate() string {
	if d.cfg.Dialect == MySQL {
		return " FOR UPDATE"
	}
	return ""
}

// scanIDs reads a column of ids and closes rows.
func scanIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// pageLimit is a listing's LIMIT for a requested n: DefaultListLimit for
// 0 or less, never more than MaxListLimit.
func pageLimit(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return min(n, MaxListLimit)
}

// queryAll runs query on q and scans each row with scan; what names the
// operation in errors.
func queryAll[T any](ctx context.Context, q Queryer, what, query string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// inList is "?, ?, ..." for n placeholders and the ids as arguments.
func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "?" + strings.Repeat(", ?", len(ids)-1), args
}
