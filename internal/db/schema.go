package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/oactl/oactl/internal/auth"
)

// SchemaVersion is the schema version this binary's stores need. The
// migrate package embeds the steps up to it and refuses to load if its
// latest step is another.
const SchemaVersion = 6

// VersionTable records applied migration steps (written by migrate, read
// here by Ping).
const VersionTable = "oactl_schema_migrations"

// LockTable holds the migration lease on a Galera cluster, where GET_LOCK
// only locks the node it runs on (migrate's lease.go): one row per lock,
// naming its holder. It is no part of the schema.
const LockTable = "oactl_migrate_lock"

// TableExists looks a table up by name within the current database (on
// MySQL, DATABASE(); never another schema's table of the same name).
func TableExists(ctx context.Context, q Queryer, dialect Dialect, name string) (bool, error) {
	query := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if dialect == MySQL {
		query = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	}
	var n int
	if err := q.QueryRowContext(ctx, query, name).Scan(&n); err != nil {
		return false, fmt.Errorf("look up table %s: %w", name, err)
	}
	return n > 0, nil
}

// Ping checks the database and reports its schema version against the one
// this binary needs; serve's start-up gate, the sessions commands and
// /readyz judge it with SchemaState.Check. A Galera node that is not
// Synced in a Primary component is an error wrapping ErrNodeNotReady: a
// joiner or donor may answer, but not with the cluster's data.
func (d *DB) Ping(ctx context.Context) (auth.SchemaState, error) {
	st := auth.SchemaState{Required: SchemaVersion}
	// The read pool: on SQLite a ping must not queue behind a write.
	if err := d.r.PingContext(ctx); err != nil {
		return st, fmt.Errorf("ping: %w", err)
	}
	if d.server.Galera {
		if err := checkGaleraReady(ctx, d.r); err != nil {
			return st, fmt.Errorf("ping: %w", err)
		}
	}
	ok, err := TableExists(ctx, d.r, d.cfg.Dialect, VersionTable)
	if err != nil {
		return st, fmt.Errorf("ping: %w", err)
	}
	if !ok {
		return st, nil // no oactl schema yet: Current 0
	}
	var v sql.NullInt64
	if err := d.r.QueryRowContext(ctx, "SELECT MAX(version) FROM "+VersionTable).Scan(&v); err != nil {
		return st, fmt.Errorf("ping: schema version: %w", err)
	}
	st.Current = int(v.Int64)
	return st, nil
}
