package migrate

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// The lease is Galera's lock, but nothing in it needs Galera: these tests
// force it on the single MariaDB server so that every CI run covers it;
// the TestGalera* tests below run it on a real cluster.

func leased(d *db.DB, opts Options) *Migrator {
	m := New(d, opts)
	m.useLease = true
	return m
}

func leaseRow(t *testing.T, d *db.DB) (holder string, beat int64, ok bool) {
	t.Helper()
	err := d.SQL().QueryRow("SELECT holder, beat FROM "+LockTable+" WHERE name = ?", lockName).Scan(&holder, &beat)
	if err != nil {
		return "", 0, false
	}
	return holder, beat, true
}

// TestLeaseTimeout: a run waiting for a held lease gives up after the lock
// timeout (whole seconds, at least 1, as GET_LOCK) and creates nothing.
func TestLeaseTimeout(t *testing.T) {
	dsn := dbtest.MySQL(t)
	ctx := testCtx(t)
	holder := dbtest.Open(t, dsn, db.Options{})
	c, err := leased(holder, Options{}).lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.release()
	d := dbtest.Open(t, dsn, db.Options{})
	start := time.Now()
	_, err = leased(d, Options{LockTimeout: time.Nanosecond}).Up(ctx, 0)
	waited := time.Since(start)
	if !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Up while the lease is held = %v, want ErrLockTimeout", err)
	}
	if waited < time.Second || waited > 10*time.Second {
		t.Errorf("gave up after %v, want about 1s", waited)
	}
	if names := tableNames(t, d); len(names) != 0 {
		t.Fatalf("tables created without the lock: %v", names)
	}
}

// TestLeaseHeartbeatAndRelease: the holder's beat moves while it holds the
// lease (so waiters never take it for dead), and release deletes the row.
func TestLeaseHeartbeatAndRelease(t *testing.T) {
	dsn := dbtest.MySQL(t)
	ctx := testCtx(t)
	d := dbtest.Open(t, dsn, db.Options{})
	c, err := leased(d, Options{LeaseTTL: 250 * time.Millisecond}).lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, first, ok := leaseRow(t, d)
	if !ok {
		t.Fatal("no lease row while held")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, beat, _ := leaseRow(t, d)
		if beat >= first+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("beat stayed at %d for 10s (TTL 250ms)", beat)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A waiter with the same TTL keeps waiting: the beats say the holder lives.
	other := dbtest.Open(t, dsn, db.Options{})
	if _, err := leased(other, Options{LockTimeout: time.Second, LeaseTTL: 250 * time.Millisecond}).Up(ctx, 0); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Up against a live holder = %v, want ErrLockTimeout", err)
	}
	c.release()
	if _, _, ok := leaseRow(t, d); ok {
		t.Fatal("lease row left after release")
	}
}

// TestLeaseTakeover: a lease whose holder stopped beating (a run that
// crashed) is taken over after the TTL, and the run applies every step.
func TestLeaseTakeover(t *testing.T) {
	dsn := dbtest.MySQL(t)
	ctx := testCtx(t)
	d := dbtest.Open(t, dsn, db.Options{})
	m := leased(d, Options{LockTimeout: 20 * time.Second, LeaseTTL: 300 * time.Millisecond})
	if err := m.createLockTable(ctx, d.SQL()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL().Exec("INSERT INTO "+LockTable+" (name, holder, beat, renewed_at) VALUES (?, 'crashed:1:0', 7, UTC_TIMESTAMP())", lockName); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := m.Up(ctx, 0)
	if err != nil || len(got) != db.SchemaVersion {
		t.Fatalf("Up over a dead holder's lease = %v, %v", versions(got), err)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("took the lease over after %v, before its TTL", waited)
	}
	if _, _, ok := leaseRow(t, d); ok {
		t.Fatal("lease row left after the run")
	}
}

// TestLeaseLost: a holder whose lease was taken over records nothing more:
// the version-table write and the lease renewal are one transaction.
func TestLeaseLost(t *testing.T) {
	dsn := dbtest.MySQL(t)
	ctx := testCtx(t)
	d := dbtest.Open(t, dsn, db.Options{})
	m := leased(d, Options{})
	c, err := m.lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.release()
	if err := m.createVersionTable(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL().Exec("UPDATE "+LockTable+" SET holder = 'thief:2:0' WHERE name = ?", lockName); err != nil {
		t.Fatal(err)
	}
	_, _, err = m.runUp(ctx, c, c, m.steps[0])
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("runUp after losing the lease = %v, want ErrLeaseLost", err)
	}
	var n int
	if err := d.SQL().QueryRow("SELECT COUNT(*) FROM " + db.VersionTable).Scan(&n); err != nil || n != 0 {
		t.Fatalf("version rows after a lost lease: %d %v", n, err)
	}
	if err := c.lease.check(); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("check after a lost lease = %v", err)
	}
	if holder, _, _ := leaseRow(t, d); holder != "thief:2:0" {
		t.Fatalf("release of a lost lease touched the new holder's row: %q", holder)
	}
}

// TestLeaseConcurrentRuns: concurrent runs under the lease apply each step
// once, on one server.
func TestLeaseConcurrentRuns(t *testing.T) {
	dsn := dbtest.MySQL(t)
	ctx := testCtx(t)
	concurrentUps(t, ctx, []string{dsn, dsn, dsn}, true)
}

// concurrentUps runs Up on each DSN at once (separate *DB values, like
// separate processes) and checks that every run succeeded and each step was
// applied exactly once.
func concurrentUps(t *testing.T, ctx context.Context, dsns []string, forceLease bool) {
	t.Helper()
	applied := make([][]Change, len(dsns))
	errs := make([]error, len(dsns))
	var wg sync.WaitGroup
	for i, dsn := range dsns {
		d := dbtest.Open(t, dsn, db.Options{})
		m := New(d, Options{})
		if forceLease {
			m.useLease = true
		} else if !m.useLease {
			t.Fatalf("node %d: not detected as a Galera node", i+1)
		}
		wg.Go(func() { applied[i], errs[i] = m.Up(ctx, 0) })
	}
	wg.Wait()
	count := map[int]int{}
	for i := range dsns {
		if errs[i] != nil {
			t.Errorf("run %d: %v", i+1, errs[i])
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
	d := dbtest.Open(t, dsns[len(dsns)-1], db.Options{})
	var got []int
	if err := d.SQL().Select(&got, "SELECT version FROM "+db.VersionTable+" ORDER BY version"); err != nil {
		t.Fatal(err)
	}
	var want []int
	for v := 1; v <= db.SchemaVersion; v++ {
		want = append(want, v)
	}
	if !slices.Equal(got, want) {
		t.Errorf("version table holds %v, want %v", got, want)
	}
}

// TestGaleraConcurrentMigrations: three runs at once, one per node of a
// real cluster, several rounds on fresh databases: each step applied once,
// every run succeeds (GET_LOCK, per node, failed 2 runs of 3 here).
func TestGaleraConcurrentMigrations(t *testing.T) {
	ctx := testCtx(t)
	for round := range 5 {
		nodes := dbtest.NewGaleraDatabase(t)
		t.Logf("round %d", round+1)
		concurrentUps(t, ctx, nodes, false)
		if t.Failed() {
			return
		}
	}
}

// TestGaleraLockTimeout: TestMigrateLockTimeout's promise across nodes: a
// run on one node waits for the lease held through another and gives up
// after the lock timeout.
func TestGaleraLockTimeout(t *testing.T) {
	nodes := dbtest.NewGaleraDatabase(t)
	ctx := testCtx(t)
	holder := dbtest.Open(t, nodes[0], db.Options{})
	c, err := New(holder, Options{}).lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.release()
	if c.lease == nil {
		t.Fatal("no lease on a Galera node")
	}
	d := dbtest.Open(t, nodes[1], db.Options{})
	start := time.Now()
	_, err = New(d, Options{LockTimeout: time.Second}).Up(ctx, 0)
	if !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Up on node 2 while node 1 holds the lease = %v, want ErrLockTimeout", err)
	}
	if waited := time.Since(start); waited < time.Second || waited > 15*time.Second {
		t.Errorf("gave up after %v, want about 1s", waited)
	}
	if names := tableNames(t, d); len(names) != 0 {
		t.Fatalf("tables created without the lock: %v", names)
	}
}
