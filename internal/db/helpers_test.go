package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/migrate"
	"github.com/oactl/oactl/internal/dbtest"
)

// migrated opens dsn and applies every step. The store tests live in
// package db_test because of it: migrate imports db.
func migrated(t testing.TB, dsn string, opts db.Options) *db.DB {
	t.Helper()
	d := dbtest.Open(t, dsn, opts)
	if _, err := migrate.New(d, migrate.Options{}).Up(testCtx(t), 0); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	return d
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
