package main

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// The tests in this file run on a real 3-node Galera cluster
// (scripts/galera, OACTL_TEST_GALERA_DSNS): one serve process per node,
// as behind a load balancer, and one mockwx. They skip without a cluster
// unless OACTL_REQUIRE_GALERA=1 (CI).

// galeraCluster is a fresh database on every node of the cluster, one
// serve process per node and a mockwx they share.
type galeraCluster struct {
	t     *testing.T
	dsns  []string  // the database on node 1, 2, 3
	serve []*client // serve processes, serve[i] on node i+1
	sql   []*sql.DB // direct connections to each node, for changes made by hand
	mock  string
}

// startGalera migrates a fresh database through node 1 and starts a
// mockwx (answering unionids) and one serve per node, each serving the
// default app A and app B, as in the several-apps tests.
func startGalera(t *testing.T) *galeraCluster {
	t.Helper()
	dsns := dbtest.NewGaleraDatabase(t)
	bin := oactlBinary(t)
	if out, err := exec.Command(bin, "migrate", "up", "--db", dsns[0]).CombinedOutput(); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	maddr := freeAddr(t)
	m := startOactl(t, []string{"OA_WX_APP_SECRET=" + e2eSecret + "," + secretB}, "mockwx", "--addr", maddr,
		"--appid", appA, "--appid", appB, "--unionid")
	g := &galeraCluster{t: t, dsns: dsns, mock: "http://" + maddr}
	m.waitHealthy(g.mock + "/__mock/healthz")
	var base *client
	for _, dsn := range dsns {
		addr := freeAddr(t)
		p := startOactl(t, []string{"OA_WX_APP_SECRET=" + e2eSecret, "OA_WX_APPS=" + appB + "=" + secretB, "OA_DB=" + dsn},
			"serve", "--addr", addr, "--wx-base-url", g.mock, "--appid", appA, "--storage-dir", t.TempDir(), "--login-rate", "0")
		p.waitHealthy("http://" + addr + "/readyz")
		if base == nil {
			base = newClient(t, "http://"+addr)
			g.serve = append(g.serve, base)
		} else {
			g.serve = append(g.serve, base.on("http://"+addr))
		}
		g.sql = append(g.sql, sqlOpen(t, dsn))
	}
	return g
}

// roundSession is what a round logged in: the token and its rows.
type roundSession struct {
	token     string
	userID    int64
	sessionID int64
}

// crossNodeChange is one change a round makes through one node, and the
// errno /wx/auth/info must answer for the round's token through every
// other node at the very next request.
type crossNodeChange struct {
	name string
	// apply may log the round's user in again (through node) and replace
	// s's token and session, for the changes after it.
	apply func(g *galeraCluster, node, round int, s *roundSession) (wantErrno int)
}

// relogin logs the round's user in again through node: a new token and
// session for the changes that need a live one.
func (g *galeraCluster) relogin(node, round int, s *roundSession, tag string) {
	g.t.Helper()
	d := g.serve[node].via([]string{appA, appB}[round%2]).login(fmt.Sprintf("xn%d.%s%d", round, tag, round), nil)
	sum := sha256.Sum256([]byte(d.Token))
	s.token = d.Token
	if err := g.sql[node].QueryRow("SELECT id FROM wx_session WHERE token_hash = ?", hex.EncodeToString(sum[:])).Scan(&s.sessionID); err != nil {
		g.t.Fatalf("round %d: the new session on its own node: %v", round, err)
	}
}

// crossNodeChanges run in this order every round, each through the node
// after the previous one's: account states by SQL (as the Java backend's
// admin would set them), then through oactl (users disable and enable,
// revoke, the user's own cancel, which anonymises the round's user: each
// round logs in a new person).
var crossNodeChanges = []crossNodeChange{
	{"disable (status 1 by SQL)", func(g *galeraCluster, node, _ int, s *roundSession) int {
		g.exec(node, "UPDATE wx_user SET status = 1 WHERE id = ?", s.userID)
		return 700
	}},
	{"enable (status 0 by SQL)", func(g *galeraCluster, node, _ int, s *roundSession) int {
		g.exec(node, "UPDATE wx_user SET status = 0 WHERE id = ?", s.userID)
		return 0
	}},
	{"users disable (revokes the sessions)", func(g *galeraCluster, node, round int, s *roundSession) int {
		code, out, errb := runOactl(g.t, nil, "users", "disable", strconv.FormatInt(s.userID, 10), "--yes", "--actor", "galera", "--db", g.dsns[node])
		if code != 0 {
			g.t.Fatalf("round %d: users disable on node %d: exit %d\n%s%s", round, node+1, code, out, errb)
		}
		return 501
	}},
	{"users enable, then a login through the same node", func(g *galeraCluster, node, round int, s *roundSession) int {
		code, out, errb := runOactl(g.t, nil, "users", "enable", strconv.FormatInt(s.userID, 10), "--yes", "--actor", "galera", "--db", g.dsns[node])
		if code != 0 {
			g.t.Fatalf("round %d: users enable on node %d: exit %d\n%s%s", round, node+1, code, out, errb)
		}
		g.relogin(node, round, s, "enabled")
		return 0
	}},
	{"revoke (logout, or sessions revoke)", func(g *galeraCluster, node, round int, s *roundSession) int {
		if round%2 == 0 {
			if e := g.serve[node].call("POST", "/wx/auth/logout", s.token, nil); e.Errno != 0 {
				g.t.Fatalf("round %d: logout through node %d: errno %d", round, node+1, e.Errno)
			}
			return 501
		}
		code, out, errb := runOactl(g.t, nil, "sessions", "revoke", strconv.FormatInt(s.sessionID, 10), "--yes", "--actor", "galera", "--db", g.dsns[node])
		if code != 0 {
			g.t.Fatalf("round %d: sessions revoke on node %d: exit %d\n%s%s", round, node+1, code, out, errb)
		}
		return 501
	}},
	{"cancel (POST /wx/auth/cancel)", func(g *galeraCluster, node, round int, s *roundSession) int {
		g.relogin(node, round, s, "cancel")
		if e := g.serve[node].call("POST", "/wx/auth/cancel", s.token, nil); e.Errno != 0 {
			g.t.Fatalf("round %d: cancel through node %d: errno %d", round, node+1, e.Errno)
		}
		return 501
	}},
}

func (g *galeraCluster) exec(node int, query string, args ...any) {
	g.t.Helper()
	if _, err := g.sql[node].Exec(query, args...); err != nil {
		g.t.Fatalf("node %d: %s: %v", node+1, query, err)
	}
}

// TestGaleraCrossNodeChanges: SPEC §7's "a revoke is seen by every serve
// process at the next request", across nodes: each round logs a new
// person in through one node and must be recognised through the others
// at once; then each change of crossNodeChanges, made through another
// node, must be answered by the next request through every other node.
// 300 rounds, no miss (without wsrep_sync_wait 13-51 of 300 missed).
func TestGaleraCrossNodeChanges(t *testing.T) {
	g := startGalera(t)
	const rounds = 300
	misses := map[string]int{}
	checks := 0
	for r := range rounds {
		origin := r % len(g.serve)
		// Each round a new person, through app A or app B.
		d := g.serve[origin].via([]string{appA, appB}[r%2]).login(fmt.Sprintf("xn%d.%d", r, r), nil)
		s := roundSession{token: d.Token}
		sum := sha256.Sum256([]byte(d.Token))
		if err := g.sql[origin].QueryRow("SELECT id, user_id FROM wx_session WHERE token_hash = ?", hex.EncodeToString(sum[:])).
			Scan(&s.sessionID, &s.userID); err != nil {
			t.Fatalf("round %d: the session on its own node: %v", r, err)
		}
		check := func(changedOn int, what string, want int) {
			for n, c := range g.serve {
				if n == changedOn {
					continue
				}
				checks++
				if _, e := c.info(s.token); e.Errno != want {
					misses[what]++
					if misses[what] <= 3 {
						t.Errorf("round %d: after %s through node %d, node %d answers errno %d, want %d", r, what, changedOn+1, n+1, e.Errno, want)
					}
				}
			}
		}
		check(origin, "login", 0)
		for k, ch := range crossNodeChanges {
			node := (origin + k + 1) % len(g.serve)
			want := ch.apply(g, node, r, &s)
			check(node, ch.name, want)
		}
	}
	total := 0
	for what, n := range misses {
		t.Errorf("%s: %d misses in %d rounds", what, n, rounds)
		total += n
	}
	t.Logf("%d rounds, %d cross-node checks, %d misses", rounds, checks, total)
}

// TestGaleraConcurrentFirstLogins: 50 first logins of one person at once,
// half through app A and half through app B, spread over the three serve
// processes (three nodes), make one user with one identity per app; the
// certification conflicts between nodes come back as 1213 and are
// retried.
func TestGaleraConcurrentFirstLogins(t *testing.T) {
	g := startGalera(t)
	const n = 50
	errnos := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		c := g.serve[i%len(g.serve)].via([]string{appA, appB}[(i/3)%2])
		wg.Go(func() {
			e := c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": fmt.Sprintf("zoe.%d", i)})
			errnos[i] = e.Errno
		})
	}
	wg.Wait()
	for i, e := range errnos {
		if e != 0 {
			t.Errorf("login %d through node %d: errno %d", i, i%len(g.serve)+1, e)
		}
	}
	var users, sessions int
	if err := g.sql[2].QueryRow("SELECT COUNT(*) FROM wx_user").Scan(&users); err != nil {
		t.Fatal(err)
	}
	if err := g.sql[1].QueryRow("SELECT COUNT(*) FROM wx_session").Scan(&sessions); err != nil {
		t.Fatal(err)
	}
	if users != 1 || sessions != n {
		t.Errorf("%d users and %d sessions after %d concurrent first logins of one person, want 1 and %d", users, sessions, n, n)
	}
	var apps []string
	rows, err := g.sql[0].Query("SELECT appid FROM wx_identity ORDER BY appid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		apps = append(apps, a)
	}
	want := []string{appA, appB}
	slices.Sort(want)
	if !slices.Equal(apps, want) {
		t.Errorf("identities for apps %v, want one for each of %v", apps, want)
	}
}

// TestGaleraConcurrentMigrateUp: three `oactl migrate up` at once, one per
// node, several rounds on fresh databases: every run exits 0 and each
// step is applied by exactly one of them.
func TestGaleraConcurrentMigrateUp(t *testing.T) {
	bin := oactlBinary(t)
	for round := range 3 {
		dsns := dbtest.NewGaleraDatabase(t)
		outs := make([][]byte, len(dsns))
		errs := make([]error, len(dsns))
		var wg sync.WaitGroup
		for i, dsn := range dsns {
			wg.Go(func() {
				cmd := exec.Command(bin, "migrate", "up", "--json", "--db", dsn)
				outs[i], errs[i] = cmd.Output()
				if ee, ok := errs[i].(*exec.ExitError); ok {
					errs[i] = fmt.Errorf("%v: %s", ee, ee.Stderr)
				}
			})
		}
		wg.Wait()
		count := map[int]int{}
		for i := range dsns {
			if errs[i] != nil {
				t.Fatalf("round %d: migrate up on node %d: %v", round+1, i+1, errs[i])
			}
			var res stepsResult
			if err := json.Unmarshal(outs[i], &res); err != nil {
				t.Fatalf("round %d: node %d printed %q: %v", round+1, i+1, outs[i], err)
			}
			for _, v := range res.Applied {
				count[v]++
			}
		}
		for v := 1; v <= db.SchemaVersion; v++ {
			if count[v] != 1 {
				t.Errorf("round %d: step %d applied %d times", round+1, v, count[v])
			}
		}
		for i, dsn := range dsns {
			if out, err := exec.Command(bin, "migrate", "status", "--db", dsn).CombinedOutput(); err != nil {
				t.Errorf("round %d: migrate status on node %d: %v\n%s", round+1, i+1, err, out)
			}
		}
	}
}

// TestGaleraMigrateLockTimeout: TestMigrateLockTimeout's promise on a
// cluster: while another node's run holds the lease, `migrate up` gives up
// after --lock-timeout with exit 1, names the holder, and creates nothing.
func TestGaleraMigrateLockTimeout(t *testing.T) {
	dsns := dbtest.NewGaleraDatabase(t)
	holder := sqlOpen(t, dsns[1])
	execAll(t, holder,
		"CREATE TABLE oactl_migrate_lock (name varchar(64) NOT NULL PRIMARY KEY, holder varchar(255) NOT NULL, "+
			"beat bigint NOT NULL, renewed_at datetime NOT NULL)",
		"INSERT INTO oactl_migrate_lock VALUES ('oactl_migrate', 'deploy-b:4242:test', 0, UTC_TIMESTAMP())")
	out, err := exec.Command(oactlBinary(t), "migrate", "up", "--lock-timeout", "1s", "--db", dsns[0]).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitFailure || !strings.Contains(string(out), "lock") || !strings.Contains(string(out), "deploy-b:4242:test") {
		t.Fatalf("up while node 2 holds the lease: %v\n%s", err, out)
	}
	var n int
	d := sqlOpen(t, dsns[0])
	if err := d.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'oactl_migrate_lock'").Scan(&n); err != nil || n != 0 {
		t.Errorf("tables created without the lock: %d %v", n, err)
	}
}
