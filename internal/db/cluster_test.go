package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

func TestIsTiDB(t *testing.T) {
	for v, want := range map[string]bool{
		"8.0.11-TiDB-v7.5.1":        true,
		"5.7.25-TiDB-v6.5.0":        true,
		"10.11.6-MariaDB-0+deb12u1": false,
		"8.0.36":                    false,
		"8.0.36-0ubuntu0.22.04.1":   false,
		"":                          false,
	} {
		if got := db.IsTiDB(v); got != want {
			t.Errorf("IsTiDB(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestWithSyncWait: the DSN's own wsrep_sync_wait is kept when it covers
// reads and updates, otherwise completed; junk is refused.
func TestWithSyncWait(t *testing.T) {
	for _, tc := range []struct {
		dsn      string // the param's value; "-" for none
		want     string
		changed  bool
		valueErr bool
	}{
		{"-", "3", true, false},
		{"0", "3", true, false},
		{"1", "3", true, false},
		{"4", "7", true, false},
		{"3", "3", false, false},
		{"15", "15", false, false},
		{"'7'", "'7'", false, false},
		{"x", "x", false, true},
		{"-1", "-1", false, true},
	} {
		params := map[string]string{"other": "v"}
		if tc.dsn != "-" {
			params["wsrep_sync_wait"] = tc.dsn
		}
		out, changed, ok := db.WithSyncWait(params)
		if ok == tc.valueErr || changed != tc.changed || out["wsrep_sync_wait"] != tc.want || out["other"] != "v" {
			t.Errorf("withSyncWait(%q) = %v, changed %v, ok %v; want %q, changed %v", tc.dsn, out, changed, ok, tc.want, tc.changed)
		}
	}
}

func sessionSyncWait(t *testing.T, d *db.DB) int {
	t.Helper()
	c, err := d.Conn(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var v int
	if err := c.QueryRowContext(testCtx(t), "SELECT @@session.wsrep_sync_wait").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestServerOnOneServer: a plain MariaDB server is what it says, not a
// Galera node, and its connections are left as they are.
func TestServerOnOneServer(t *testing.T) {
	d := dbtest.Open(t, dbtest.MySQL(t), db.Options{})
	s := d.Server()
	if s.Galera {
		t.Skip("the test server is a Galera node (scripts/test-galera runs the store suite on one)")
	}
	if !s.MariaDB || s.Galera || s.TiDB || s.Version == "" {
		t.Fatalf("Server() = %+v, want MariaDB, not Galera", s)
	}
	if v := sessionSyncWait(t, d); v != 0 {
		t.Errorf("wsrep_sync_wait = %d on a single server, want it untouched (0)", v)
	}
	if sd := dbtest.Open(t, dbtest.SQLite(t), db.Options{}); sd.Server() != (db.Server{}) {
		t.Errorf("SQLite Server() = %+v, want zero", sd.Server())
	}
}

// TestGaleraNode: a node is detected, every connection waits for the
// cluster's commits before reading, and Ping fails while the node is not
// Synced (desynced here, as for a backup), which /readyz turns into 503.
func TestGaleraNode(t *testing.T) {
	nodes := dbtest.NewGaleraDatabase(t)
	d := dbtest.Open(t, nodes[0], db.Options{})
	if s := d.Server(); !s.Galera || !s.MariaDB {
		t.Fatalf("Server() = %+v, want a MariaDB Galera node", s)
	}
	if v := sessionSyncWait(t, d); v != db.GaleraSyncWait {
		t.Errorf("wsrep_sync_wait = %d, want %d", v, db.GaleraSyncWait)
	}
	for param, want := range map[string]int{"7": 7, "4": 7, "0": 3} {
		sep := "?"
		if strings.Contains(nodes[0], "?") {
			sep = "&"
		}
		dd := dbtest.Open(t, nodes[0]+sep+"wsrep_sync_wait="+param, db.Options{})
		if v := sessionSyncWait(t, dd); v != want {
			t.Errorf("DSN wsrep_sync_wait=%s: connections have %d, want %d", param, v, want)
		}
	}
	ctx := testCtx(t)
	if _, err := d.Ping(ctx); err != nil {
		t.Fatalf("Ping of a synced node: %v", err)
	}
	admin := d.SQL()
	if _, err := admin.ExecContext(ctx, "SET GLOBAL wsrep_desync = ON"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("SET GLOBAL wsrep_desync = OFF") })
	_, err := d.Ping(ctx)
	if !errors.Is(err, db.ErrNodeNotReady) || !strings.Contains(err.Error(), "Desynced") {
		t.Fatalf("Ping of a desynced node = %v, want ErrNodeNotReady naming the state", err)
	}
	if _, err := admin.ExecContext(ctx, "SET GLOBAL wsrep_desync = OFF"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := d.Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping 30s after wsrep_desync=OFF: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGaleraReadYourWrites: through the stores, every change made through
// one node is seen by the next read through each other node: a new
// session, its revoke, and its user's status, 300 rounds, no miss.
// Without wsrep_sync_wait the same reads miss some (logged, as a control:
// the count depends on the machine's load).
func TestGaleraReadYourWrites(t *testing.T) {
	nodes, ds := galeraStores(t)
	ctx := testCtx(t)
	const rounds = 300
	misses := map[string]int{}
	openid := uniq("oGalera")
	for r := range rounds {
		at := r % len(ds)
		rec := record(openid, auth.Profile{Nickname: "n"}, time.Now())
		u, s, err := ds[at].Login(ctx, rec)
		if err != nil {
			t.Fatalf("round %d: login on node %d: %v", r, at+1, err)
		}
		others := func(node int, fn func(d *db.DB) bool, what string) {
			for i, d := range ds {
				if i != node && !fn(d) {
					misses[what]++
				}
			}
		}
		others(at, func(d *db.DB) bool {
			_, _, err := d.SessionByTokenHash(ctx, s.TokenHash)
			return err == nil
		}, "new session")
		rev := (r + 1) % len(ds)
		if err := ds[rev].RevokeSession(ctx, s.ID, time.Now(), "test"); err != nil {
			t.Fatalf("round %d: revoke on node %d: %v", r, rev+1, err)
		}
		others(rev, func(d *db.DB) bool {
			got, _, err := d.SessionByTokenHash(ctx, s.TokenHash)
			return err == nil && !got.RevokedAt.IsZero()
		}, "revoke")
		dis := (r + 2) % len(ds)
		for _, status := range []int{1, 0} {
			if _, err := ds[dis].SQL().ExecContext(ctx, "UPDATE wx_user SET status = ? WHERE id = ?", status, u.ID); err != nil {
				t.Fatal(err)
			}
			others(dis, func(d *db.DB) bool {
				_, got, err := d.SessionByTokenHash(ctx, s.TokenHash)
				return err == nil && int(got.Status) == status
			}, fmt.Sprintf("status %d", status))
		}
	}
	for what, n := range misses {
		t.Errorf("%s: %d of %d reads on another node missed it", what, n, 2*rounds)
	}
	t.Logf("control without wsrep_sync_wait: %d of %d reads of a fresh row on another node missed it", controlMisses(t, nodes, rounds), rounds)
}

// controlMisses inserts a row through one node and reads it at once
// through the next, on plain connections with wsrep_sync_wait=0.
func controlMisses(t *testing.T, nodes []string, rounds int) int {
	t.Helper()
	conns := make([]*sql.DB, len(nodes))
	for i, n := range nodes {
		c, err := sql.Open("mysql", dbtest.DriverDSN(t, n, true))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	ctx := context.Background()
	if _, err := conns[0].ExecContext(ctx, "CREATE TABLE control (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the table reaches the other nodes
	misses := 0
	for r := range rounds {
		if _, err := conns[r%len(conns)].ExecContext(ctx, "INSERT INTO control VALUES (?)", r); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conns[(r+1)%len(conns)].QueryRowContext(ctx, "SELECT COUNT(*) FROM control WHERE id = ?", r).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			misses++
		}
	}
	return misses
}
