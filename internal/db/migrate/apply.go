package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oactl/oactl/internal/db"
)

// lockName is the MySQL GET_LOCK name every run takes.
const lockName = "oactl_migrate"

// ErrLockTimeout: another run held the migration lock for the whole lock
// timeout.
var ErrLockTimeout = errors.New("timed out waiting for the migration lock (another `oactl migrate` is running?)")

// StepError: a change failed while it ran. The changes before it were
// made (Apply, Up and Down return them with the error). On MySQL, whose
// DDL commits statement by statement, the failed change may be half made;
// on SQLite it rolled back.
type StepError struct {
	Change Change
	Err    error
}

func (e *StepError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

// Up applies the steps after the current version up to to (0: the
// latest) and returns the changes it made: the plan is made and applied
// under one lock.
func (m *Migrator) Up(ctx context.Context, to int) ([]Change, error) { return m.run(ctx, Up, to) }

// Down reverts the applied steps above to, newest first, and returns the
// changes it made. The step that creates wx_user has no down, so to must
// be at least 1.
func (m *Migrator) Down(ctx context.Context, to int) ([]Change, error) {
	return m.run(ctx, Down, to)
}

func (m *Migrator) run(ctx context.Context, dir Direction, to int) ([]Change, error) {
	if m.err != nil {
		return nil, m.err
	}
	if _, err := m.target(dir, to); err != nil {
		return nil, err
	}
	c, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer c.release()
	p, err := m.plan(ctx, c, dir, to)
	if err != nil {
		return nil, err
	}
	return m.apply(ctx, c, p)
}

// Apply makes the plan's changes under the lock and returns those it
// made, in order. Each is judged again under the lock: a change that a
// concurrent run made meanwhile is skipped, and whether the step that
// creates wx_user runs or adopts follows the database as it is now.
func (m *Migrator) Apply(ctx context.Context, p Plan) ([]Change, error) {
	if m.err != nil {
		return nil, m.err
	}
	c, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer c.release()
	return m.apply(ctx, c, p)
}

func (m *Migrator) apply(ctx context.Context, c *lockedConn, p Plan) ([]Change, error) {
	if p.Direction == Up {
		// A wx_user we would refuse to adopt leaves the database
		// untouched: not even the version table is created.
		if err := m.checkAdoptable(ctx, c); err != nil {
			return nil, err
		}
		if err := m.createVersionTable(ctx, c); err != nil {
			return nil, err
		}
	}
	var done []Change
	for _, want := range p.Changes {
		if want.Version < 1 || want.Version > len(m.steps) {
			return done, fmt.Errorf("migrate: no step %d", want.Version)
		}
		s := m.steps[want.Version-1]
		var ch Change
		var made bool
		var err error
		switch {
		case p.Direction == Up && want.Action != ActionDown:
			ch, made, err = m.applyUp(ctx, c, s)
		case p.Direction == Down && want.Action == ActionDown:
			ch, made, err = m.applyDown(ctx, c, s)
		default:
			err = fmt.Errorf("migrate: a %s plan cannot %s step %d", p.Direction, want.Action, s.Version)
		}
		if err != nil {
			return done, err
		}
		if made {
			done = append(done, ch)
		}
	}
	return done, nil
}

// lockedConn is one pinned connection with the migration lock held.
type lockedConn struct {
	*sql.Conn
	release func()
	// lease is the Galera lease (nil under GET_LOCK and on SQLite): writes
	// to the version table go through it.
	lease *lease
}

// record writes to the version table on q: under a lease, in one
// transaction with its renewal, so that a run that lost the lease records
// nothing.
func (c *lockedConn) record(ctx context.Context, q db.Queryer, query string, args ...any) error {
	if c.lease == nil {
		_, err := q.ExecContext(ctx, query, args...)
		return err
	}
	return c.lease.execHeld(ctx, query, args...)
}

// lock pins a connection and takes the migration lock on it. On MySQL
// that is GET_LOCK (held by the connection), except on a Galera cluster,
// where GET_LOCK locks one node only: there it is a lease row (lease.go);
// on SQLite the single writer connection is the lock.
func (m *Migrator) lock(ctx context.Context) (*lockedConn, error) {
	c, err := m.d.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect: %w", err)
	}
	if m.d.Dialect() != db.MySQL {
		return &lockedConn{Conn: c, release: func() { c.Close() }}, nil
	}
	secs := int(m.lockTimeout / time.Second)
	secs = max(1, min(secs, 3600))
	if m.useLease {
		l, err := m.takeLease(ctx, c, time.Duration(secs)*time.Second)
		if err != nil {
			c.Close()
			return nil, err
		}
		return &lockedConn{Conn: c, lease: l, release: func() {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			l.release(rctx)
			c.Close()
		}}, nil
	}
	var got sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", lockName, secs).Scan(&got); err != nil {
		c.Close()
		return nil, fmt.Errorf("migrate: take lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		c.Close()
		return nil, fmt.Errorf("migrate: %w (waited %ds)", ErrLockTimeout, secs)
	}
	return &lockedConn{Conn: c, release: func() {
		// A fresh context: the lock must go even when ctx is cancelled,
		// and closing the connection would release it anyway.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = c.ExecContext(rctx, "DO RELEASE_LOCK(?)", lockName)
		c.Close()
	}}, nil
}

func (m *Migrator) createVersionTable(ctx context.Context, q db.Queryer) error {
	var ddl string
	if m.d.Dialect() == db.MySQL {
		ddl = "CREATE TABLE IF NOT EXISTS `" + db.VersionTable + "` (" +
			"`version` int NOT NULL, `name` varchar(255) NOT NULL, `checksum` char(64) NOT NULL, " +
			"`applied_at` datetime NOT NULL, PRIMARY KEY (`version`)" +
			") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci"
	} else {
		ddl = "CREATE TABLE IF NOT EXISTS " + db.VersionTable + " (" +
			"version INTEGER NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL, " +
			"applied_at DATETIME NOT NULL)"
	}
	if _, err := q.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("migrate: create %s: %w", db.VersionTable, err)
	}
	return nil
}

type appliedRow struct {
	checksum string
	at       time.Time
}

// applied reads the version table; a missing table is no rows.
func (m *Migrator) applied(ctx context.Context, q db.Queryer) (map[int]appliedRow, error) {
	exists, err := db.TableExists(ctx, q, m.d.Dialect(), db.VersionTable)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if !exists {
		return map[int]appliedRow{}, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT version, checksum, applied_at FROM "+db.VersionTable)
	if err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", db.VersionTable, err)
	}
	defer rows.Close()
	out := map[int]appliedRow{}
	for rows.Next() {
		var v int
		var r appliedRow
		if err := rows.Scan(&v, &r.checksum, db.TimeIn{Dst: &r.at, Loc: time.UTC}); err != nil {
			return nil, fmt.Errorf("migrate: read %s: %w", db.VersionTable, err)
		}
		out[v] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", db.VersionTable, err)
	}
	return out, nil
}

func current(applied map[int]appliedRow) int {
	c := 0
	for v := range applied {
		c = max(c, v)
	}
	return c
}

// checkAdoptable returns an *AdoptionError when a step that adopts the
// seed's wx_user is not recorded and an existing wx_user differs.
func (m *Migrator) checkAdoptable(ctx context.Context, q db.Queryer) error {
	applied, err := m.applied(ctx, q)
	if err != nil {
		return err
	}
	for _, s := range m.steps {
		if _, ok := applied[s.Version]; !ok && s.adoptsSeed {
			_, err := m.adoption(ctx, q)
			return err
		}
	}
	return nil
}

// applyUp applies one step unless the version table (re-read under the
// lock) says it is applied already.
func (m *Migrator) applyUp(ctx context.Context, c *lockedConn, s step) (Change, bool, error) {
	if m.d.Dialect() != db.SQLite {
		// MySQL commits each DDL statement implicitly; the lock keeps
		// other runs out, and the record is written right after the step.
		return m.runUp(ctx, c, c, s)
	}
	// DDL is transactional in SQLite: the step and its record commit
	// together. BEGIN IMMEDIATE (the _txlock setting) is the lock.
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return Change{}, false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	ch, made, err := m.runUp(ctx, tx, c, s)
	if err != nil || !made {
		return Change{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return Change{}, false, &StepError{Change: ch, Err: fmt.Errorf("migrate: step %d: commit: %w", s.Version, err)}
	}
	return ch, true, nil
}

// runUp runs s on q (the locked connection c, or SQLite's transaction on
// it) and records it through c.
func (m *Migrator) runUp(ctx context.Context, q db.Queryer, c *lockedConn, s step) (Change, bool, error) {
	if err := c.lease.check(); err != nil {
		return Change{}, false, err
	}
	applied, err := m.applied(ctx, q)
	if err != nil {
		return Change{}, false, err
	}
	if _, ok := applied[s.Version]; ok {
		return Change{}, false, nil
	}
	action := ActionUp
	if s.adoptsSeed {
		adopt, err := m.adoption(ctx, q)
		if err != nil {
			return Change{}, false, err
		}
		if adopt {
			action = ActionAdopt
		}
	}
	ch := s.change(action)
	log := m.d.Logger()
	if action == ActionAdopt {
		log.Info("migrate: adopted existing wx_user", "version", s.Version)
	} else {
		for _, st := range statements(s.up) {
			if _, err := q.ExecContext(ctx, st); err != nil {
				return Change{}, false, &StepError{Change: ch, Err: fmt.Errorf("migrate: step %d %s: %w", s.Version, s.Name, err)}
			}
		}
		log.Info("migrate: applied", "version", s.Version, "name", s.Name)
	}
	if err := c.record(ctx, q, "INSERT INTO "+db.VersionTable+" (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
		s.Version, s.Name, s.Checksum, m.d.UTCTime(m.now())); err != nil {
		return Change{}, false, &StepError{Change: ch, Err: fmt.Errorf("migrate: record step %d: %w", s.Version, err)}
	}
	return ch, true, nil
}

// applyDown reverts one step unless the version table (re-read under the
// lock) says it is not applied.
func (m *Migrator) applyDown(ctx context.Context, c *lockedConn, s step) (Change, bool, error) {
	applied, err := m.applied(ctx, c)
	if err != nil {
		return Change{}, false, err
	}
	if _, ok := applied[s.Version]; !ok {
		return Change{}, false, nil
	}
	if !s.HasDown {
		return Change{}, false, &NoDownError{Step: s.Step}
	}
	if err := c.lease.check(); err != nil {
		return Change{}, false, err
	}
	ch := s.change(ActionDown)
	if s.DropsSessions {
		m.d.Logger().Warn("migrate: reverting this step drops wx_session: everyone is logged out", "version", s.Version, "name", s.Name)
	}
	if err := m.runDown(ctx, c, s); err != nil {
		return Change{}, false, &StepError{Change: ch, Err: err}
	}
	m.d.Logger().Info("migrate: undone", "version", s.Version, "name", s.Name)
	return ch, true, nil
}

func (m *Migrator) runDown(ctx context.Context, c *lockedConn, s step) error {
	var q db.Queryer = c
	var tx *sql.Tx
	if m.d.Dialect() == db.SQLite {
		var err error
		if tx, err = c.BeginTx(ctx, nil); err != nil {
			return fmt.Errorf("migrate: begin: %w", err)
		}
		defer tx.Rollback()
		q = tx
	}
	for _, st := range statements(s.down) {
		if _, err := q.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("migrate: step %d %s down: %w", s.Version, s.Name, err)
		}
	}
	if err := c.record(ctx, q, s.unrecordSQL()); err != nil {
		return fmt.Errorf("migrate: unrecord step %d: %w", s.Version, err)
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate: step %d down: commit: %w", s.Version, err)
		}
	}
	return nil
}
