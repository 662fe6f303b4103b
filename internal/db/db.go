// Package db is oactl's storage: DSN parsing and normalisation, the SQLite
// and MySQL connections, and the user and session stores that implement
// auth.Store and auth.SessionLister.
//
// Its subpackages build on a *DB through a small API (Dialect, Conn, SQL,
// Logger, TableExists): migrate applies the embedded schema steps and
// doctor checks that the database stores utf8mb4.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/go-sql-driver/mysql" // driver "mysql"
	_ "modernc.org/sqlite"           // driver "sqlite", pure Go
)

// Options tune Open. The zero value is usable.
type Options struct {
	// TimeZone is the zone wx_user's datetime columns are written and read
	// in (the Java backend wrote local time). Default time.Local.
	TimeZone *time.Location
	Logger   *slog.Logger
	// NoCreate: a SQLite file that does not exist is a *NotExistError
	// rather than a new database (for commands that only read).
	NoCreate bool
	// OnClose runs after Close has closed the connections.
	OnClose func()
}

// DB is an open oactl database. It is safe for concurrent use.
type DB struct {
	cfg     Config
	w       *sqlx.DB // writes (SQLite: the single writer connection)
	r       *sqlx.DB // reads (SQLite: a separate read-only pool; MySQL: == w)
	loc     *time.Location
	log     *slog.Logger
	onClose func()
	// server: what the MySQL server is (engine, Galera); zero on SQLite.
	server Server
	// sleep waits between retries; replaceable in tests.
	sleep func(context.Context, time.Duration) error
	// hot: the statements of the request path, prepared once.
	hot preparedSet
}

// Open connects to the database named by dsn (see ParseDSN). It does not
// migrate. A SQLite file is created on first use unless opts.NoCreate.
// A database that cannot be reached or refuses the connection is a
// *ConnectError.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	d := &DB{cfg: cfg, loc: opts.TimeZone, log: opts.Logger, sleep: Sleep, onClose: opts.OnClose}
	if d.loc == nil {
		d.loc = time.Local
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Dialect {
	case SQLite:
		err = d.openSQLite(ctx, opts.NoCreate)
	case MySQL:
		err = d.openMySQL(ctx)
	default:
		err = fmt.Errorf("unknown dialect %q", cfg.Dialect)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (d *DB) openSQLite(ctx context.Context, noCreate bool) error {
	if err := checkSQLiteFile(d.cfg.Path, noCreate); err != nil {
		return err
	}
	if err := prepareSQLiteFile(d.cfg.Path, d.log); err != nil {
		return fmt.Errorf("open %s: %w", d.cfg.Redacted(), err)
	}
	w, err := sqlx.Open(d.cfg.DriverName, d.cfg.DriverDSN)
	if err != nil {
		return fmt.Errorf("open %s: %w", d.cfg.Redacted(), err)
	}
	// One writer connection: SQLite allows one writer at a time anyway, and
	// queueing in Go is cheaper than spinning on SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return fmt.Errorf("open %s: %w", d.cfg.Redacted(), err)
	}
	r, err := sqlx.Open(d.cfg.DriverName, d.cfg.DriverDSN+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return fmt.Errorf("open %s: %w", d.cfg.Redacted(), err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return fmt.Errorf("open %s: %w", d.cfg.Redacted(), err)
	}
	d.w, d.r = w, r
	return nil
}

// SQLiteFileMode is the mode of the SQLite database and its -wal and -shm
// files: they hold session_keys (in the clear without a session-key
// secret), so only the server's own user may read them.
const SQLiteFileMode fs.FileMode = 0o600

// prepareSQLiteFile creates a missing database file empty with mode 0600
// before SQLite opens it, whatever the umask: SQLite then creates -wal and
// -shm with the database file's mode. An existing file (and its -wal,
// -shm) that others may read is tightened to 0600, with a warning: it was
// made by an earlier release, or by hand.
func prepareSQLiteFile(path string, log *slog.Logger) error {
	if path == ":memory:" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, SQLiteFileMode)
	if err == nil {
		// The umask may only remove bits; be exact anyway.
		if err := f.Chmod(SQLiteFileMode); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		old := fi.Mode().Perm()
		if err := os.Chmod(p, old&SQLiteFileMode); err != nil {
			log.Warn("the SQLite file is readable by other users of this machine and cannot be tightened: chmod 600 it",
				"file", p, "mode", fmt.Sprintf("%#o", old), "err", err)
			continue
		}
		log.Warn("tightened the SQLite file, which other users of this machine could read, to 0600",
			"file", p, "was", fmt.Sprintf("%#o", old))
	}
	return nil
}

func (d *DB) openMySQL(ctx context.Context) error {
	x, err := d.openMySQLPool(ctx)
	if err != nil {
		return err
	}
	srv, err := detectServer(ctx, x)
	if err != nil {
		x.Close()
		return fmt.Errorf("open %s: %w", d.cfg.Redacted(), scrubErr(err, nil, d.cfg.MySQL.Passwd))
	}
	d.server = srv
	if srv.Galera {
		params, changed, ok := withSyncWait(d.cfg.MySQL.Params)
		if !ok {
			x.Close()
			return fmt.Errorf("open %s: %s=%q is not a number", d.cfg.Redacted(), syncWaitParam, d.cfg.MySQL.Params[syncWaitParam])
		}
		if changed {
			// The driver runs its parameters as SET statements on every new
			// connection: reopening with the setting covers the whole pool,
			// reconnections after a node restart included.
			x.Close()
			d.cfg.MySQL.Params = params
			d.cfg.DriverDSN = d.cfg.MySQL.FormatDSN()
			if x, err = d.openMySQLPool(ctx); err != nil {
				return err
			}
		}
		d.log.Info("database is a Galera cluster node: every connection reads the cluster's latest commits",
			syncWaitParam, d.cfg.MySQL.Params[syncWaitParam], "version", srv.Version)
	}
	d.w, d.r = x, x
	return nil
}

func (d *DB) openMySQLPool(ctx context.Context) (*sqlx.DB, error) {
	cfg := d.cfg.MySQL.Clone()
	cfg.Logger = driverLogger{d.log}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.cfg.Redacted(), scrubErr(err, nil, cfg.Passwd))
	}
	x := sqlx.NewDb(sql.OpenDB(conn), d.cfg.DriverName)
	x.SetMaxOpenConns(32)
	// As many idle as open: under load a smaller idle pool closes and
	// reopens connections on every burst (seen in a serve CPU profile).
	x.SetMaxIdleConns(32)
	// Below the usual server wait_timeout and proxy idle cuts.
	x.SetConnMaxLifetime(5 * time.Minute)
	x.SetConnMaxIdleTime(time.Minute)
	if err := x.PingContext(ctx); err != nil {
		x.Close()
		return nil, mysqlConnectError(d.cfg, err)
	}
	return x, nil
}

// Close closes every connection.
func (d *DB) Close() error {
	err := errors.Join(d.hot.close(), d.w.Close())
	if d.r != d.w {
		err = errors.Join(err, d.r.Close())
	}
	if d.onClose != nil {
		d.onClose()
	}
	return err
}

// Dialect reports the database's dialect.
func (d *DB) Dialect() Dialect { return d.cfg.Dialect }

// SQL returns the raw pool (on SQLite the writer connection: it may read
// and write), for checks, listings and tests.
func (d *DB) SQL() *sqlx.DB { return d.w }

// Conn pins one connection of the write pool, for work that needs one
// session: a MySQL GET_LOCK, a temporary table. On SQLite it is the one
// writer connection, so every other write waits until it is closed.
// The caller's error says what the connection was for.
func (d *DB) Conn(ctx context.Context) (*sql.Conn, error) { return d.w.Conn(ctx) }

// Logger is the logger given to Open (a discarding one by default).
func (d *DB) Logger() *slog.Logger { return d.log }

// Reader returns a pool for read-only queries (on SQLite a separate pool
// that does not queue behind writes; on MySQL the same as SQL).
func (d *DB) Reader() *sqlx.DB { return d.r }

// Location is the zone of wx_user's datetime columns.
func (d *DB) Location() *time.Location { return d.loc }

// Redacted is the DSN without its password, for messages.
func (d *DB) Redacted() string { return d.cfg.Redacted() }

// Sleep waits dur, or less if ctx ends first (then it returns ctx's
// error): the pause between retries, here and in migrate.
func Sleep(ctx context.Context, dur time.Duration) error {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Queryer is what *sql.DB, *sql.Conn, *sql.Tx and their sqlx wrappers
// all do: store methods and the subpackages run on any of them.
type Queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
