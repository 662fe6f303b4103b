package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the schema version this binary needs.
const SchemaVersion = 3

// VersionTable records applied migration steps.
const VersionTable = "oactl_schema_migrations"

// migrationLockName is the MySQL GET_LOCK name every migrate run takes.
const migrationLockName = "oactl_migrate"

// ErrLockTimeout: another migration run held the lock for the whole lock
// timeout.
var ErrLockTimeout = errors.New("timed out waiting for the migration lock (another `oactl migrate` is running?)")

// SessionDownWarning is written before the down step that drops wx_session.
const SessionDownWarning = "WARNING: dropping wx_session logs everyone out: every token stops working"

//go:embed migrations
var migrationFS embed.FS

// step is one migration.
type step struct {
	Version  int
	Name     string
	Up       string
	Down     string // "" when the step cannot be undone
	Checksum string // hex SHA-256 of Up
}

// StepStatus is one step of Status.
type StepStatus struct {
	Version   int       `json:"version"`
	Name      string    `json:"name"`
	Applied   bool      `json:"applied"`
	AppliedAt time.Time `json:"appliedAt,omitzero"`
	HasDown   bool      `json:"hasDown"`
	// ChecksumMismatch: the step was applied from different SQL than this
	// binary embeds.
	ChecksumMismatch bool `json:"checksumMismatch,omitempty"`
}

// Status is the schema state of a database.
type Status struct {
	Current int          `json:"current"` // highest applied step; 0 for none
	Latest  int          `json:"latest"`  // highest step this binary knows
	Steps   []StepStatus `json:"steps"`
	// Adoptable: wx_user exists without version control and matches the
	// seed's columns, so `up` will adopt it without touching its rows.
	Adoptable bool `json:"adoptable"`
}

// Pending reports whether steps this binary knows are not applied yet.
func (s Status) Pending() bool { return s.Current < s.Latest }

// Migrator applies the embedded migrations of one database.
type Migrator struct {
	d     *DB
	steps []step
	err   error
	now   func() time.Time
}

// Migrator returns the database's migration runner.
func (d *DB) Migrator() *Migrator {
	steps, err := loadSteps(string(d.cfg.Dialect))
	return &Migrator{d: d, steps: steps, err: err, now: time.Now}
}

var stepFile = regexp.MustCompile(`^(\d{3})_([a-z0-9_]+)\.(up|down)\.sql$`)

func loadSteps(dialect string) ([]step, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", dialect, err)
	}
	byVersion := map[int]*step{}
	for _, e := range entries {
		m := stepFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations: unexpected file %s", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		s := byVersion[v]
		if s == nil {
			s = &step{Version: v, Name: m[2]}
			byVersion[v] = s
		}
		if m[3] == "up" {
			s.Up = string(b)
			sum := sha256.Sum256(b)
			s.Checksum = hex.EncodeToString(sum[:])
		} else {
			s.Down = string(b)
		}
	}
	var steps []step
	for _, s := range byVersion {
		if s.Up == "" {
			return nil, fmt.Errorf("migrations: step %d has no up file", s.Version)
		}
		steps = append(steps, *s)
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].Version < steps[j].Version })
	for i, s := range steps {
		if s.Version != i+1 {
			return nil, fmt.Errorf("migrations: step %d missing", i+1)
		}
	}
	return steps, nil
}

// statements splits a migration file into statements: our files end each
// statement with ';' at the end of a line, and "--" lines are comments.
func statements(sqlText string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(sqlText, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSpace(cur.String())
			out = append(out, strings.TrimSuffix(s, ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// conn is one pinned connection with the migration lock held.
type conn struct {
	*sql.Conn
	release func()
}

// lock pins a connection and takes the migration lock on it. On MySQL
// that is GET_LOCK (held by the connection); on SQLite the single writer
// connection is the lock.
func (m *Migrator) lock(ctx context.Context) (*conn, error) {
	c, err := m.d.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect: %w", err)
	}
	if m.d.cfg.Dialect != MySQL {
		return &conn{Conn: c, release: func() { c.Close() }}, nil
	}
	secs := int(m.d.lock / time.Second)
	secs = max(1, min(secs, 3600))
	var got sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", migrationLockName, secs).Scan(&got); err != nil {
		c.Close()
		return nil, fmt.Errorf("migrate: take lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		c.Close()
		return nil, fmt.Errorf("migrate: %w (waited %ds)", ErrLockTimeout, secs)
	}
	return &conn{Conn: c, release: func() {
		// A fresh context: the lock must go even when ctx is cancelled,
		// and closing the connection would release it anyway.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = c.ExecContext(rctx, "DO RELEASE_LOCK(?)", migrationLockName)
		c.Close()
	}}, nil
}

func (m *Migrator) createVersionTable(ctx context.Context, q queryer) error {
	var ddl string
	if m.d.cfg.Dialect == MySQL {
		ddl = "CREATE TABLE IF NOT EXISTS `" + VersionTable + "` (" +
			"`version` int NOT NULL, `name` varchar(255) NOT NULL, `checksum` char(64) NOT NULL, " +
			"`applied_at` datetime NOT NULL, PRIMARY KEY (`version`)" +
			") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci"
	} else {
		ddl = "CREATE TABLE IF NOT EXISTS " + VersionTable + " (" +
			"version INTEGER NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL, " +
			"applied_at DATETIME NOT NULL)"
	}
	if _, err := q.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("migrate: create %s: %w", VersionTable, err)
	}
	return nil
}

type appliedRow struct {
	checksum string
	at       time.Time
}

// applied reads the version table; a missing table is no rows.
func (m *Migrator) applied(ctx context.Context, q queryer) (map[int]appliedRow, bool, error) {
	exists, err := m.tableExists(ctx, q, VersionTable)
	if err != nil || !exists {
		return map[int]appliedRow{}, false, err
	}
	rows, err := q.QueryContext(ctx, "SELECT version, checksum, applied_at FROM "+VersionTable)
	if err != nil {
		return nil, true, fmt.Errorf("migrate: read %s: %w", VersionTable, err)
	}
	defer rows.Close()
	out := map[int]appliedRow{}
	for rows.Next() {
		var v int
		var r appliedRow
		if err := rows.Scan(&v, &r.checksum, TimeIn{Dst: &r.at, Loc: time.UTC}); err != nil {
			return nil, true, fmt.Errorf("migrate: read %s: %w", VersionTable, err)
		}
		out[v] = r
	}
	if err := rows.Err(); err != nil {
		return nil, true, fmt.Errorf("migrate: read %s: %w", VersionTable, err)
	}
	return out, true, nil
}

// tableExists looks a table up by name within the current database.
func (m *Migrator) tableExists(ctx context.Context, q queryer, name string) (bool, error) {
	var n int
	var err error
	if m.d.cfg.Dialect == MySQL {
		err = q.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", name).Scan(&n)
	} else {
		err = q.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", name).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("migrate: look up table %s: %w", name, err)
	}
	return n > 0, nil
}

func current(applied map[int]appliedRow) int {
	c := 0
	for v := range applied {
		c = max(c, v)
	}
	return c
}

// Status reports which steps are applied.
func (m *Migrator) Status(ctx context.Context) (Status, error) {
	if m.err != nil {
		return Status{}, m.err
	}
	applied, _, err := m.applied(ctx, m.d.w)
	if err != nil {
		return Status{}, err
	}
	st := Status{Current: current(applied), Latest: len(m.steps)}
	for _, s := range m.steps {
		a, ok := applied[s.Version]
		st.Steps = append(st.Steps, StepStatus{
			Version: s.Version, Name: s.Name, Applied: ok, AppliedAt: a.at,
			HasDown: s.Down != "", ChecksumMismatch: ok && a.checksum != s.Checksum,
		})
	}
	if _, ok := applied[1]; !ok {
		exists, err := m.tableExists(ctx, m.d.w, "wx_user")
		if err != nil {
			return Status{}, err
		}
		if exists {
			diffs, err := m.compareUserTable(ctx, m.d.w)
			if err != nil {
				return Status{}, err
			}
			st.Adoptable = len(diffs) == 0
		}
	}
	return st, nil
}

// Up applies the steps after the current version up to to (0: the
// latest) and returns their versions. With dryRun it writes the SQL it
// would run to w and changes nothing (it does not even create the version
// table or take the lock). Each step re-reads the version table under the
// lock, so concurrent runs never apply a step twice.
func (m *Migrator) Up(ctx context.Context, to int, dryRun bool, w io.Writer) ([]int, error) {
	if m.err != nil {
		return nil, m.err
	}
	if w == nil {
		w = io.Discard
	}
	if to == 0 {
		to = len(m.steps)
	}
	if to < 0 || to > len(m.steps) {
		return nil, fmt.Errorf("migrate up: no step %d (latest is %d)", to, len(m.steps))
	}
	if dryRun {
		return m.upDry(ctx, to, w)
	}
	c, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer c.release()
	// A wx_user we would refuse to adopt leaves the database untouched:
	// not even the version table is created.
	if err := m.checkAdoptable(ctx, c); err != nil {
		return nil, err
	}
	if err := m.createVersionTable(ctx, c); err != nil {
		return nil, err
	}
	var done []int
	for _, s := range m.steps[:to] {
		applied, err := m.applyUp(ctx, c, s, w)
		if err != nil {
			return done, err
		}
		if applied {
			done = append(done, s.Version)
		}
	}
	return done, nil
}

// checkAdoptable returns an AdoptionError when step 1 is not recorded and
// an existing wx_user differs from the seed's.
func (m *Migrator) checkAdoptable(ctx context.Context, q queryer) error {
	applied, _, err := m.applied(ctx, q)
	if err != nil {
		return err
	}
	if _, ok := applied[1]; ok {
		return nil
	}
	exists, err := m.tableExists(ctx, q, "wx_user")
	if err != nil || !exists {
		return err
	}
	diffs, err := m.compareUserTable(ctx, q)
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		return adoptionError(diffs)
	}
	return nil
}

func (m *Migrator) upDry(ctx context.Context, to int, w io.Writer) ([]int, error) {
	applied, _, err := m.applied(ctx, m.d.w)
	if err != nil {
		return nil, err
	}
	var would []int
	for _, s := range m.steps[:to] {
		if _, ok := applied[s.Version]; ok {
			continue
		}
		if s.Version == 1 {
			exists, err := m.tableExists(ctx, m.d.w, "wx_user")
			if err != nil {
				return nil, err
			}
			if exists {
				diffs, err := m.compareUserTable(ctx, m.d.w)
				if err != nil {
					return nil, err
				}
				if len(diffs) > 0 {
					return would, adoptionError(diffs)
				}
				fmt.Fprintf(w, "-- %03d_%s: wx_user exists and matches the seed: adopt it (rows untouched)\n", s.Version, s.Name)
				fmt.Fprintf(w, "%s;\n\n", m.recordSQL(s))
				would = append(would, s.Version)
				continue
			}
		}
		fmt.Fprintf(w, "-- %03d_%s (up)\n", s.Version, s.Name)
		for _, st := range statements(s.Up) {
			fmt.Fprintf(w, "%s;\n", st)
		}
		fmt.Fprintf(w, "%s;\n\n", m.recordSQL(s))
		would = append(would, s.Version)
	}
	return would, nil
}

// recordSQL is the version-table insert, spelled out for dry runs.
func (m *Migrator) recordSQL(s step) string {
	return fmt.Sprintf("INSERT INTO %s (version, name, checksum, applied_at) VALUES (%d, '%s', '%s', <now UTC>)", VersionTable, s.Version, s.Name, s.Checksum)
}

// applyUp applies one step unless the version table (re-read under the
// lock) says it is applied already.
func (m *Migrator) applyUp(ctx context.Context, c *conn, s step, w io.Writer) (bool, error) {
	if m.d.cfg.Dialect == SQLite {
		// DDL is transactional in SQLite: the step and its record commit
		// together. BEGIN IMMEDIATE (the _txlock setting) is the lock.
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return false, fmt.Errorf("migrate: begin: %w", err)
		}
		defer tx.Rollback()
		ok, err := m.runUp(ctx, tx, s, w)
		if err != nil || !ok {
			return false, err
		}
		if err := tx.Commit(); err != nil {
			return false, fmt.Errorf("migrate: step %d: commit: %w", s.Version, err)
		}
		return true, nil
	}
	// MySQL commits each DDL statement implicitly; the lock keeps other
	// runs out, and the record is written right after the step.
	return m.runUp(ctx, c, s, w)
}

func (m *Migrator) runUp(ctx context.Context, q queryer, s step, w io.Writer) (bool, error) {
	applied, _, err := m.applied(ctx, q)
	if err != nil {
		return false, err
	}
	if _, ok := applied[s.Version]; ok {
		return false, nil
	}
	adopt := false
	if s.Version == 1 {
		exists, err := m.tableExists(ctx, q, "wx_user")
		if err != nil {
			return false, err
		}
		if exists {
			diffs, err := m.compareUserTable(ctx, q)
			if err != nil {
				return false, err
			}
			if len(diffs) > 0 {
				return false, adoptionError(diffs)
			}
			adopt = true
		}
	}
	if adopt {
		fmt.Fprintf(w, "-- %03d_%s: adopted the existing wx_user (rows untouched)\n", s.Version, s.Name)
		m.d.log.Info("migrate: adopted existing wx_user", "version", s.Version)
	} else {
		fmt.Fprintf(w, "-- %03d_%s (up)\n", s.Version, s.Name)
		for _, st := range statements(s.Up) {
			if _, err := q.ExecContext(ctx, st); err != nil {
				return false, fmt.Errorf("migrate: step %d %s: %w", s.Version, s.Name, err)
			}
		}
		m.d.log.Info("migrate: applied", "version", s.Version, "name", s.Name)
	}
	if _, err := q.ExecContext(ctx, "INSERT INTO "+VersionTable+" (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
		s.Version, s.Name, s.Checksum, m.now().UTC().Format(timeLayout)); err != nil {
		return false, fmt.Errorf("migrate: record step %d: %w", s.Version, err)
	}
	return true, nil
}

// Down undoes applied steps above to, newest first, and returns their
// versions. The step that creates wx_user has no down, so to must be at
// least 1. Undoing the session step writes SessionDownWarning to w.
func (m *Migrator) Down(ctx context.Context, to int, dryRun bool, w io.Writer) ([]int, error) {
	if m.err != nil {
		return nil, m.err
	}
	if w == nil {
		w = io.Discard
	}
	if to < 0 || to > len(m.steps) {
		return nil, fmt.Errorf("migrate down: no step %d (latest is %d)", to, len(m.steps))
	}
	if to < 1 {
		return nil, fmt.Errorf("migrate down: step 1 (%s) has no down: it would drop the users", m.steps[0].Name)
	}
	var q queryer = m.d.w
	var c *conn
	if !dryRun {
		var err error
		if c, err = m.lock(ctx); err != nil {
			return nil, err
		}
		defer c.release()
		q = c
	}
	var done []int
	for i := len(m.steps) - 1; i >= to; i-- {
		s := m.steps[i]
		applied, _, err := m.applied(ctx, q)
		if err != nil {
			return done, err
		}
		if _, ok := applied[s.Version]; !ok {
			continue
		}
		if s.Down == "" {
			return done, fmt.Errorf("migrate down: step %d (%s) has no down", s.Version, s.Name)
		}
		if strings.Contains(s.Down, "wx_session") {
			fmt.Fprintf(w, "-- %s\n", SessionDownWarning)
			m.d.log.Warn("migrate: " + SessionDownWarning)
		}
		fmt.Fprintf(w, "-- %03d_%s (down)\n", s.Version, s.Name)
		del := fmt.Sprintf("DELETE FROM %s WHERE version = %d", VersionTable, s.Version)
		if dryRun {
			for _, st := range statements(s.Down) {
				fmt.Fprintf(w, "%s;\n", st)
			}
			fmt.Fprintf(w, "%s;\n\n", del)
			done = append(done, s.Version)
			continue
		}
		if err := m.runDown(ctx, c, s, del); err != nil {
			return done, err
		}
		done = append(done, s.Version)
	}
	return done, nil
}

func (m *Migrator) runDown(ctx context.Context, c *conn, s step, del string) error {
	var q queryer = c
	var tx *sql.Tx
	if m.d.cfg.Dialect == SQLite {
		var err error
		if tx, err = c.BeginTx(ctx, nil); err != nil {
			return fmt.Errorf("migrate: begin: %w", err)
		}
		defer tx.Rollback()
		q = tx
	}
	for _, st := range statements(s.Down) {
		if _, err := q.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("migrate: step %d %s down: %w", s.Version, s.Name, err)
		}
	}
	if _, err := q.ExecContext(ctx, del); err != nil {
		return fmt.Errorf("migrate: unrecord step %d: %w", s.Version, err)
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate: step %d down: commit: %w", s.Version, err)
		}
	}
	m.d.log.Info("migrate: undone", "version", s.Version, "name", s.Name)
	return nil
}
