package migrate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// versions returns the versions of changes, in order.
func versions(cs []Change) []int {
	var out []int
	for _, c := range cs {
		out = append(out, c.Version)
	}
	return out
}

// sqlText is the changes' SQL as a dry run prints it, for searching.
func sqlText(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		for _, s := range c.SQL {
			b.WriteString(s + ";\n")
		}
	}
	return b.String()
}

// tableNames lists the database's tables but LockTable, which holds the
// lock on Galera (the suite also runs against a Galera node) and is no
// part of the schema.
func tableNames(t *testing.T, d *db.DB) []string {
	t.Helper()
	var q string
	if d.Dialect() == db.MySQL {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> '" + LockTable + "' ORDER BY table_name"
	} else {
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	}
	var names []string
	if err := d.SQL().Select(&names, q); err != nil {
		t.Fatal(err)
	}
	// The engines sort '_' differently: compare in Go's order.
	slices.Sort(names)
	return names
}

func TestMigrations(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		ctx := testCtx(t)
		d := dbtest.Open(t, dsn, db.Options{})
		m := New(d, Options{})

		st, err := m.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Current != 0 || st.Required != db.SchemaVersion || len(st.Steps) != db.SchemaVersion || st.Adoptable {
			t.Fatalf("fresh status = %+v", st)
		}
		if st.Steps[0].HasDown || !st.Steps[1].HasDown || !st.Steps[2].HasDown {
			t.Errorf("HasDown = %v %v %v, want false true true", st.Steps[0].HasDown, st.Steps[1].HasDown, st.Steps[2].HasDown)
		}

		// Dry run: the SQL, and nothing changed (not even the version table).
		p, err := m.Plan(ctx, Up, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(versions(p.Changes), []int{1, 2, 3, 4, 5, 6}) {
			t.Errorf("dry run would apply %v", versions(p.Changes))
		}
		text := sqlText(p.Changes)
		for _, want := range []string{"CREATE TABLE", "wx_user", "wx_session", "wx_identity", "oa_audit", "INSERT INTO " + db.VersionTable} {
			if !strings.Contains(text, want) {
				t.Errorf("dry-run SQL lacks %q:\n%s", want, text)
			}
		}
		if names := tableNames(t, d); len(names) != 0 {
			t.Fatalf("dry run created tables %v", names)
		}

		// Up to 2, then the rest.
		got, err := m.Up(ctx, 2)
		if err != nil || !slices.Equal(versions(got), []int{1, 2}) {
			t.Fatalf("Up(2) = %v, %v", versions(got), err)
		}
		got, err = m.Up(ctx, 0)
		if err != nil || !slices.Equal(versions(got), []int{3, 4, 5, 6}) {
			t.Fatalf("Up() = %v, %v", versions(got), err)
		}
		got, err = m.Up(ctx, 0)
		if err != nil || len(got) != 0 {
			t.Fatalf("second Up() = %v, %v", versions(got), err)
		}
		if names := tableNames(t, d); !slices.Equal(names, []string{"oa_audit", "oa_mobile_claim", "oa_upload", db.VersionTable, "wx_identity", "wx_session", "wx_user"}) {
			t.Fatalf("tables = %v", names)
		}
		st, err = m.Status(ctx)
		if err != nil || st.Current != db.SchemaVersion || len(st.Pending()) != 0 || st.Check() != nil {
			t.Fatalf("status after up = %+v, %v", st, err)
		}
		for _, s := range st.Steps {
			if !s.Applied || s.AppliedAt.IsZero() || s.ChecksumMismatch {
				t.Errorf("step %+v", s)
			}
		}
		ps, err := d.Ping(ctx)
		if err != nil || ps.Current != db.SchemaVersion || ps.Required != db.SchemaVersion {
			t.Errorf("Ping = %+v, %v", ps, err)
		}

		// Down dry run: the session step is marked, the SQL drops it,
		// nothing changed.
		p, err = m.Plan(ctx, Down, 2)
		if err != nil || !slices.Equal(versions(p.Changes), []int{6, 5, 4, 3}) {
			t.Fatalf("Plan(down, 2) = %v, %v", versions(p.Changes), err)
		}
		if !p.DropsSessions() || p.Changes[0].DropsSessions || p.Changes[1].DropsSessions || p.Changes[2].DropsSessions || !p.Changes[3].DropsSessions || !strings.Contains(sqlText(p.Changes), "DROP TABLE") {
			t.Errorf("down plan: %+v", p)
		}
		if names := tableNames(t, d); !slices.Contains(names, "wx_session") {
			t.Fatal("dry-run down dropped wx_session")
		}

		// Down to 2 for real, then up again.
		got, err = m.Apply(ctx, p)
		if err != nil || !slices.Equal(versions(got), []int{6, 5, 4, 3}) {
			t.Fatalf("Apply(down to 2) = %v, %v", versions(got), err)
		}
		if !got[3].DropsSessions || got[3].Action != ActionDown {
			t.Errorf("the reverted session step is not marked: %+v", got[3])
		}
		if names := tableNames(t, d); slices.Contains(names, "wx_session") || slices.Contains(names, "wx_identity") || slices.Contains(names, "oa_upload") || slices.Contains(names, "oa_audit") || slices.Contains(names, "oa_mobile_claim") {
			t.Fatalf("tables after down: %v", names)
		}
		if st, _ := m.Status(ctx); st.Current != 2 {
			t.Fatalf("current after down = %d", st.Current)
		}
		// The same plan again changes nothing: the step is not applied.
		if got, err = m.Apply(ctx, p); err != nil || len(got) != 0 {
			t.Fatalf("second Apply(down to 2) = %v, %v", versions(got), err)
		}
		got, err = m.Up(ctx, 0)
		if err != nil || !slices.Equal(versions(got), []int{3, 4, 5, 6}) || got[0].Action != ActionUp {
			t.Fatalf("Up after down = %v, %v", versions(got), err)
		}

		// Step 1 has no down.
		_, err = m.Down(ctx, 0)
		var nd *NoDownError
		if !errors.As(err, &nd) || nd.Step.Version != 1 {
			t.Fatalf("Down(0) = %v: step 1 has no down", err)
		}
		if _, err := m.Plan(ctx, Down, 0); !errors.As(err, &nd) {
			t.Errorf("Plan(down, 0) = %v, want a NoDownError", err)
		}
		if names := tableNames(t, d); !slices.Contains(names, "wx_user") {
			t.Fatal("wx_user dropped")
		}
		if _, err := m.Up(ctx, 9); err == nil {
			t.Error("Up(9) succeeded")
		}
	})
}

func TestMigrateConcurrentUp(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		ctx := testCtx(t)
		const runs = 6
		var wg sync.WaitGroup
		applied := make([][]Change, runs)
		errs := make([]error, runs)
		for i := range runs {
			// Separate *DB values: like separate oactl processes.
			d := dbtest.Open(t, dsn, db.Options{})
			wg.Go(func() { applied[i], errs[i] = New(d, Options{}).Up(ctx, 0) })
		}
		wg.Wait()
		count := map[int]int{}
		for i := range runs {
			if errs[i] != nil {
				t.Errorf("run %d: %v", i, errs[i])
			}
			for _, c := range applied[i] {
				count[c.Version]++
			}
		}
		for v := 1; v <= db.SchemaVersion; v++ {
			if count[v] != 1 {
				t.Errorf("step %d applied %d times", v, count[v])
			}
		}
	})
}

func TestMigrateLockTimeout(t *testing.T) {
	dsn := dbtest.MySQL(t)
	ctx := testCtx(t)
	holder := dbtest.Open(t, dsn, db.Options{})
	c, err := New(holder, Options{}).lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.release()
	d := dbtest.Open(t, dsn, db.Options{})
	_, err = New(d, Options{LockTimeout: 1}).Up(ctx, 0)
	if !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Up while locked = %v, want ErrLockTimeout", err)
	}
	if names := tableNames(t, d); len(names) != 0 {
		t.Fatalf("tables created without the lock: %v", names)
	}
}

// TestCatalog: both dialects have the same steps, with the metadata of
// the catalog, and the latest is the version the stores need.
func TestCatalog(t *testing.T) {
	mysql, err := loadSteps(db.MySQL)
	if err != nil {
		t.Fatal(err)
	}
	sqlite, err := loadSteps(db.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if len(mysql) != db.SchemaVersion || len(sqlite) != db.SchemaVersion {
		t.Fatalf("%d mysql and %d sqlite steps, want %d", len(mysql), len(sqlite), db.SchemaVersion)
	}
	for i := range mysql {
		a, b := mysql[i].Step, sqlite[i].Step
		a.Checksum, b.Checksum = "", ""
		if a != b {
			t.Errorf("step %d differs between dialects: %+v vs %+v", i+1, a, b)
		}
	}
	// Only the session step logs everyone out when reverted; only the
	// wx_user step adopts the seed's table.
	for _, s := range mysql {
		if s.DropsSessions != (s.Name == "create_wx_session") || s.adoptsSeed != (s.Version == 1) {
			t.Errorf("step %d %s: DropsSessions %v, adoptsSeed %v", s.Version, s.Name, s.DropsSessions, s.adoptsSeed)
		}
	}
}

// TestChecksumsUnchanged pins the checksums of the up files: databases
// record them, so an edit to an applied step's SQL would show as a
// mismatch in every deployment.
func TestChecksumsUnchanged(t *testing.T) {
	want := map[db.Dialect][]string{
		db.MySQL: {
			"4cf591531b7b6b99e976bc604623af77fdc651edbf33157700deaef40399f758",
			"4c1e14f9ec6ff102ac987e4a13acbde078176b3322af023926c7d4156527f95e",
			"dd7e0e0391d366f4d5dc3a0206d64ec437e9aba7fea5a9b25430a66cf366f61f",
			"8029583675155e338ff1e1e04a6c321348ff62aa3560aa499075214eb517f287",
			"a673b957377edf94d9e7b53a38d66c1782eeaaec859be4ed96be45a9425dca22",
			"806cadfbd61fb5843440e42544f41d1170f0d8dd62e204f7860a8922a28b8672",
		},
		db.SQLite: {
			"6b22ca0a8acc893d0777b6a4336ad112df991aba51590362c97ee7098fae20b5",
			"10ba172695d90f1e1c0deff744e79c474c03616dfb90afb08808a3e2e901e6ee",
			"33a0d719d317e3583932ebf515f6d6ac45715d6ae26c24ad06163ca4196fbb1e",
			"f34eb9139e4589f7b20c4a5c98ff1b253ff91cabe89282302fc668b228a67059",
			"3d65934b01bef0b966d31a41149cfe8177d6cb8b77fdb63b630eb06b65999b85",
			"6de50df1d0f1e6f923cd4c9625a28187c291cfd9ebbc84ed9cae26b309ebb017",
		},
	}
	for dialect, sums := range want {
		steps, err := loadSteps(dialect)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range steps {
			if s.Checksum != sums[i] {
				t.Errorf("%s step %d: checksum %s, want %s", dialect, s.Version, s.Checksum, sums[i])
			}
		}
	}
}

// TestStepError: a step that fails names itself, the steps before it
// stay applied, and the clock stamps what was applied.
func TestStepError(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		ctx := testCtx(t)
		d := dbtest.Open(t, dsn, db.Options{})
		stamp := time.Date(2026, 3, 4, 5, 6, 7, 800_000_000, time.UTC)
		m := New(d, Options{Now: func() time.Time { return stamp }})
		if _, err := m.Up(ctx, 1); err != nil {
			t.Fatal(err)
		}
		// Step 2's index, made by hand: step 2 now fails.
		if _, err := d.SQL().ExecContext(ctx, "CREATE INDEX idx_wx_user_weixin_openid ON wx_user (weixin_openid)"); err != nil {
			t.Fatal(err)
		}
		done, err := m.Up(ctx, 0)
		var se *StepError
		if !errors.As(err, &se) || se.Change.Version != 2 || se.Change.Action != ActionUp || len(done) != 0 {
			t.Fatalf("Up over a hand-made index = %v, %v; want a StepError for step 2", versions(done), err)
		}
		st, err := m.Status(ctx)
		if err != nil || st.Current != 1 || !st.Steps[0].AppliedAt.Equal(stamp.Truncate(time.Second)) {
			t.Errorf("status after the failure = %+v, %v", st, err)
		}
	})
}
