// Package doctor is the utf8mb4 doctor behind `oactl migrate check`: it
// proves that a MySQL or MariaDB database stores emoji and rare CJK
// characters, and prints each fix as SQL and as my.cnf / my.ini lines.
//
// It reads information_schema and a few rows by primary key only, so it
// costs the same on a 10-million-row wx_user as on an empty one. The
// findings come in the order a DBA should read them: the connection,
// server and database defaults (charset.go), each table's index lengths
// and columns (indexes.go, tables.go), sql_mode, a byte-for-byte round
// trip through a temporary copy of wx_user, the schema version and
// whether session keys are sealed.
package doctor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/migrate"
)

// Options configure CheckMySQL and CheckSQLite. The zero value is usable.
type Options struct {
	// Schema is the database's migration status; nil leaves the
	// schema.version finding out.
	Schema *migrate.Status
}

// The tables oactl owns; the check looks at these and nothing else.
const (
	tableUser     = "wx_user"
	tableSession  = "wx_session"
	tableIdentity = "wx_identity"
)

var checkTables = []string{tableUser, tableSession, tableIdentity, db.VersionTable}

const wantCollation = "utf8mb4_general_ci" // the seed's DDL uses it

// Check runs the doctor on one pinned connection of d, with the schema
// status from d's migrator.
func Check(ctx context.Context, d *db.DB) (*Report, error) {
	// The schema status first: on SQLite the writer pool has one
	// connection, which the check pins below.
	st, err := migrate.New(d, migrate.Options{}).Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("check: schema version: %w", err)
	}
	conn, err := d.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("check: connect: %w", err)
	}
	defer conn.Close()
	opts := Options{Schema: &st}
	if d.Dialect() == db.MySQL {
		return CheckMySQL(ctx, conn, opts)
	}
	return CheckSQLite(ctx, conn, opts)
}

// CheckMySQL runs the utf8mb4 doctor on a MySQL or MariaDB connection. It
// needs one pinned connection because the round trip goes through a
// temporary table, which only its own session sees.
func CheckMySQL(ctx context.Context, conn *sql.Conn, opts Options) (*Report, error) {
	r := &Report{Dialect: "mysql"}
	var dbName sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT VERSION(), DATABASE()").Scan(&r.Server, &dbName); err != nil {
		return nil, fmt.Errorf("check: server version: %w", err)
	}
	if !dbName.Valid || dbName.String == "" {
		return nil, errors.New("check: the DSN names no database")
	}
	r.Database = dbName.String
	steps := []func(context.Context, *sql.Conn, *Report) error{
		checkConnection, checkServerDefaults, checkDatabaseDefaults, checkTablesMySQL, checkSQLMode,
	}
	for _, step := range steps {
		if err := step(ctx, conn, r); err != nil {
			return nil, err
		}
	}
	return checkData(ctx, conn, r, db.MySQL, opts)
}

// CheckSQLite runs the checks that mean something on SQLite, whose TEXT
// is UTF-8 whatever the schema says: the round trip, the schema version
// and the session keys.
func CheckSQLite(ctx context.Context, conn *sql.Conn, opts Options) (*Report, error) {
	r := &Report{Dialect: "sqlite", Database: "main"}
	if err := conn.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&r.Server); err != nil {
		return nil, fmt.Errorf("check: sqlite version: %w", err)
	}
	r.Server = "SQLite " + r.Server
	return checkData(ctx, conn, r, db.SQLite, opts)
}

// checkData runs the checks both dialects share: the round trip, the
// schema version and the session keys.
func checkData(ctx context.Context, conn *sql.Conn, r *Report, dialect db.Dialect, opts Options) (*Report, error) {
	if err := checkRoundTrip(ctx, conn, r, dialect); err != nil {
		return nil, err
	}
	checkSchema(r, opts.Schema)
	if err := checkSessionKeys(ctx, conn, r, dialect); err != nil {
		return nil, err
	}
	return r, nil
}

// tableExists is db.TableExists with the doctor's error prefix.
func tableExists(ctx context.Context, conn *sql.Conn, dialect db.Dialect, name string) (bool, error) {
	ok, err := db.TableExists(ctx, conn, dialect, name)
	if err != nil {
		return false, fmt.Errorf("check: %w", err)
	}
	return ok, nil
}

func quoteIdent(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}
