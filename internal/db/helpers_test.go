package db

import (
	"context"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/dbtest"
)

// backends runs fn against a fresh SQLite file and a fresh MariaDB
// database (skipped without a test server, see dbtest).
func backends(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, dbtest.SQLite(t)) })
	t.Run("mariadb", func(t *testing.T) { fn(t, dbtest.MySQL(t)) })
}

func openDB(t testing.TB, dsn string, opts Options) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Open(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// migrated opens dsn and applies every step.
func migrated(t testing.TB, dsn string, opts Options) *DB {
	t.Helper()
	d := openDB(t, dsn, opts)
	if _, err := d.Migrator().Up(testCtx(t), 0, false, nil); err != nil {
		t.Fatalf("Up: %v", err)
	}
	return d
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mysqlOrSkip(t *testing.T) string { t.Helper(); return dbtest.MySQL(t) }

func dbtestSQLite(t *testing.T) string { t.Helper(); return dbtest.SQLite(t) }
