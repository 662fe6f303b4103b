package db

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

func tableNames(t *testing.T, d *DB) []string {
	t.Helper()
	var q string
	if d.Dialect() == MySQL {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name"
	} else {
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	}
	var names []string
	if err := d.SQL().Select(&names, q); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestMigrations(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := testCtx(t)
		d := openDB(t, dsn, Options{})
		m := d.Migrator()

		st, err := m.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Current != 0 || st.Latest != SchemaVersion || len(st.Steps) != SchemaVersion || st.Adoptable {
			t.Fatalf("fresh status = %+v", st)
		}
		if st.Steps[0].HasDown || !st.Steps[1].HasDown || !st.Steps[2].HasDown {
			t.Errorf("HasDown = %v %v %v, want false true true", st.Steps[0].HasDown, st.Steps[1].HasDown, st.Steps[2].HasDown)
		}

		// Dry run: the SQL, and nothing changed (not even the version table).
		var buf bytes.Buffer
		would, err := m.Up(ctx, 0, true, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(would, []int{1, 2, 3}) {
			t.Errorf("dry run would apply %v", would)
		}
		for _, want := range []string{"CREATE TABLE", "wx_user", "wx_session", "INSERT INTO " + VersionTable} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("dry-run output lacks %q:\n%s", want, buf.String())
			}
		}
		if names := tableNames(t, d); len(names) != 0 {
			t.Fatalf("dry run created tables %v", names)
		}

		// Up to 2, then the rest.
		got, err := m.Up(ctx, 2, false, nil)
		if err != nil || !slices.Equal(got, []int{1, 2}) {
			t.Fatalf("Up(2) = %v, %v", got, err)
		}
		got, err = m.Up(ctx, 0, false, nil)
		if err != nil || !slices.Equal(got, []int{3}) {
			t.Fatalf("Up() = %v, %v", got, err)
		}
		got, err = m.Up(ctx, 0, false, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("second Up() = %v, %v", got, err)
		}
		if names := tableNames(t, d); !slices.Equal(names, []string{VersionTable, "wx_session", "wx_user"}) {
			t.Fatalf("tables = %v", names)
		}
		st, err = m.Status(ctx)
		if err != nil || st.Current != 3 || st.Pending() {
			t.Fatalf("status after up = %+v, %v", st, err)
		}
		for _, s := range st.Steps {
			if !s.Applied || s.AppliedAt.IsZero() || s.ChecksumMismatch {
				t.Errorf("step %+v", s)
			}
		}
		ps, err := d.Ping(ctx)
		if err != nil || ps.Current != 3 || ps.Required != SchemaVersion {
			t.Errorf("Ping = %+v, %v", ps, err)
		}

		// Down dry run: warning, SQL, nothing changed.
		buf.Reset()
		got, err = m.Down(ctx, 2, true, &buf)
		if err != nil || !slices.Equal(got, []int{3}) {
			t.Fatalf("Down(2, dry) = %v, %v", got, err)
		}
		if !strings.Contains(buf.String(), "logs everyone out") || !strings.Contains(buf.String(), "DROP TABLE") {
			t.Errorf("down dry run output:\n%s", buf.String())
		}
		if names := tableNames(t, d); !slices.Contains(names, "wx_session") {
			t.Fatal("dry-run down dropped wx_session")
		}

		// Down to 2 for real, then up again.
		buf.Reset()
		got, err = m.Down(ctx, 2, false, &buf)
		if err != nil || !slices.Equal(got, []int{3}) {
			t.Fatalf("Down(2) = %v, %v", got, err)
		}
		if !strings.Contains(buf.String(), "logs everyone out") {
			t.Errorf("down did not warn:\n%s", buf.String())
		}
		if names := tableNames(t, d); slices.Contains(names, "wx_session") {
			t.Fatal("wx_session still there after down")
		}
		if st, _ := m.Status(ctx); st.Current != 2 {
			t.Fatalf("current after down = %d", st.Current)
		}
		got, err = m.Up(ctx, 0, false, nil)
		if err != nil || !slices.Equal(got, []int{3}) {
			t.Fatalf("Up after down = %v, %v", got, err)
		}

		// Step 1 has no down.
		if _, err := m.Down(ctx, 0, false, nil); err == nil {
			t.Fatal("Down(0) succeeded: step 1 has no down")
		}
		if names := tableNames(t, d); !slices.Contains(names, "wx_user") {
			t.Fatal("wx_user dropped")
		}
		if _, err := m.Up(ctx, 9, false, nil); err == nil {
			t.Error("Up(9) succeeded")
		}
	})
}

func TestMigrateConcurrentUp(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := testCtx(t)
		const runs = 6
		var wg sync.WaitGroup
		applied := make([][]int, runs)
		errs := make([]error, runs)
		for i := range runs {
			// Separate *DB values: like separate oactl processes.
			d := openDB(t, dsn, Options{})
			wg.Go(func() { applied[i], errs[i] = d.Migrator().Up(ctx, 0, false, nil) })
		}
		wg.Wait()
		count := map[int]int{}
		for i := range runs {
			if errs[i] != nil {
				t.Errorf("run %d: %v", i, errs[i])
			}
			for _, v := range applied[i] {
				count[v]++
			}
		}
		for v := 1; v <= SchemaVersion; v++ {
			if count[v] != 1 {
				t.Errorf("step %d applied %d times", v, count[v])
			}
		}
	})
}

func TestMigrateLockTimeout(t *testing.T) {
	dsn := mysqlOrSkip(t)
	ctx := testCtx(t)
	holder := openDB(t, dsn, Options{})
	c, err := holder.Migrator().lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.release()
	d := openDB(t, dsn, Options{LockTimeout: 1})
	_, err = d.Migrator().Up(ctx, 0, false, nil)
	if !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Up while locked = %v, want ErrLockTimeout", err)
	}
	if names := tableNames(t, d); len(names) != 0 {
		t.Fatalf("tables created without the lock: %v", names)
	}
}
