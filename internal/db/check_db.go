package db

import (
	"context"
	"fmt"
)

// Check runs the utf8mb4 doctor (`oactl migrate check`) on one pinned
// connection of d, with the schema version from d's migrator. See
// CheckMySQL and CheckSQLite for what each dialect checks.
func (d *DB) Check(ctx context.Context) (*Report, error) {
	// The schema state first: on SQLite the writer pool has one connection,
	// which the check pins below.
	st, err := d.Migrator().Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("check: schema version: %w", err)
	}
	state := SchemaState{Current: st.Current, Latest: st.Latest}
	for _, step := range st.Steps {
		if !step.Applied {
			state.Pending = append(state.Pending, fmt.Sprintf("%d %s", step.Version, step.Name))
		}
	}
	conn, err := d.SQL().Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("check: connect: %w", err)
	}
	defer conn.Close()
	opts := CheckOptions{Schema: func(context.Context) (SchemaState, error) { return state, nil }}
	if d.Dialect() == MySQL {
		return CheckMySQL(ctx, conn, opts)
	}
	return CheckSQLite(ctx, conn, opts)
}
