package main

import (
	"strings"
	"testing"
	"time"
)

// tuiRevokeThroughServe logs a user in three times through serve c,
// revokes the newest session in the TUI on a real terminal, and checks
// what the mini-program sees next through serve check (the same or
// another process): that token answers 501, the user's other tokens and
// other users' still work.
func tuiRevokeThroughServe(t *testing.T, c, check *client, dsn string) {
	t.Helper()
	var quinn []string
	for i := 0; i < 3; i++ {
		quinn = append(quinn, c.login(uniqueCode("quinn"), map[string]any{"nickName": "全栈😀"}).Token)
		time.Sleep(1100 * time.Millisecond) // distinct created_at seconds: the detail lists newest first
	}
	rita := c.login(uniqueCode("rita"), map[string]any{"nickName": "Rita"}).Token

	tt := startTmux(t, 120, 40, []string{"NO_COLOR=1"}, oactlBinary(t), "sessions", "--db", dsn, "--refresh", "0")
	scr := tt.waitFor("4 loaded")
	for _, tok := range append(quinn, rita) {
		if strings.Contains(scr, tok) {
			t.Fatal("the TUI shows a token")
		}
	}
	tt.keys("/")
	tt.text("全栈")
	tt.waitFor("3 loaded")
	tt.keys("Enter")
	tt.keys("Enter")
	// The nickname is on the list screen too: wait for the detail view's
	// own line, which shows once its rows are loaded, or x may land on a
	// pane with no row yet (seen under load in CI).
	tt.waitFor("User ")
	tt.waitForMatch(detailLoaded)
	tt.keys("x")
	tt.waitFor("(y/N)")
	tt.keys("y")
	tt.waitFor("revoked 1 session")
	tt.keys("q")

	if _, env := check.info(quinn[2]); env.Errno != 501 {
		t.Fatalf("the revoked (newest) token answers errno %d, want 501", env.Errno)
	}
	for i, tok := range []string{quinn[0], quinn[1], rita} {
		if _, env := check.info(tok); env.Errno != 0 {
			t.Fatalf("token %d stopped working after another session's revoke: errno %d", i, env.Errno)
		}
	}
}

func TestSessionsTUIRevokeSeenByServeSQLite(t *testing.T) {
	e := startDev(t)
	tuiRevokeThroughServe(t, e.c, e.c, "sqlite:"+e.dbPath)
}

func TestSessionsTUIRevokeSeenByServeMariaDB(t *testing.T) {
	c := startMySQLCluster(t)
	a, b := c.serve(), c.serve()
	// Logins through one serve process, checks through the other: a
	// revoke is seen by every process at its next request.
	cl := newClient(t, a)
	tuiRevokeThroughServe(t, cl, cl.on(b), c.dsn)
}

// TestSessionsTUIDisable (SPEC §11): support opens a user's detail in the
// inspector on a real terminal, presses d and y; the detail shows the
// account disabled, the user's tokens answer 501 on every serve process,
// the next login 700 已禁用, and the audit names the actor. e enables it
// again.
func TestSessionsTUIDisable(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *mysqlCluster) {
		a, b := c.serve(), c.serve()
		ca := newClient(t, a)
		cb := ca.on(b)
		tok := ca.login(uniqueCode("tess"), map[string]any{"nickName": "泰丝🎈"}).Token
		other := cb.login(uniqueCode("ulla"), map[string]any{"nickName": "Ulla"}).Token

		tt := startTmux(t, 120, 40, []string{"NO_COLOR=1", "OA_DB=" + c.dsn}, oactlBinary(t), "sessions", "--refresh", "0", "--actor", "tui.support")
		tt.waitFor("2 loaded")
		tt.keys("/")
		tt.text("泰丝")
		tt.waitFor("1 loaded")
		tt.keys("Enter")
		tt.keys("Enter")
		tt.waitFor("state: active")
		tt.waitForMatch(detailLoaded)
		tt.keys("d")
		tt.waitFor("Disable user")
		tt.keys("n")
		tt.waitFor("cancelled")
		if _, env := cb.info(tok); env.Errno != 0 {
			t.Fatalf("n disabled the user: errno %d", env.Errno)
		}
		tt.keys("d")
		tt.waitFor("(y/N)")
		tt.keys("y")
		scr := tt.waitFor("STATE: DISABLED")
		if !strings.Contains(scr, "revoked 1 session") {
			t.Errorf("status line:\n%s", scr)
		}
		for _, cl := range []*client{ca, cb} {
			if _, env := cl.info(tok); env.Errno != 501 {
				t.Errorf("the disabled user's token answers %d, want 501", env.Errno)
			}
		}
		if env := cb.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": uniqueCode("tess")}); env.Errno != 700 || env.Errmsg != "账号不可用：已禁用" {
			t.Errorf("login of the disabled user: %d %s", env.Errno, env.Errmsg)
		}
		if _, env := ca.info(other); env.Errno != 0 {
			t.Errorf("another user's token answers %d", env.Errno)
		}
		tt.keys("e")
		tt.waitFor("Enable user")
		tt.keys("y")
		tt.waitFor("state: active")
		tt.keys("q")
		if env := cb.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": uniqueCode("tess")}); env.Errno != 0 {
			t.Errorf("login after enable: %d %s", env.Errno, env.Errmsg)
		}
		au := c.audit("--limit", "2")
		if len(au) != 2 || au[0].Action != "enable" || au[1].Action != "disable" || au[1].Actor != "tui.support" || au[1].Sessions != 1 {
			t.Errorf("audit %+v", au)
		}
	})
}

// TestSessionsTUIReadOnlyHidesAccountKeys: with --read-only the detail
// offers neither d nor e, and pressing them changes nothing.
func TestSessionsTUIReadOnlyHidesAccountKeys(t *testing.T) {
	c := startClusterOn(t, "sqlite:"+t.TempDir()+"/oa.db")
	cl := newClient(t, c.serve())
	tok := cl.login(uniqueCode("vera"), map[string]any{"nickName": "Vera"}).Token
	tt := startTmux(t, 120, 40, []string{"NO_COLOR=1"}, oactlBinary(t), "sessions", "--db", c.dsn, "--read-only", "--refresh", "0")
	tt.waitFor("1 loaded")
	tt.keys("Enter")
	tt.waitForMatch(detailLoaded)
	tt.keys("d")
	scr := tt.waitFor("read-only: disabling and enabling are off")
	if strings.Contains(scr, "disable user") || strings.Contains(scr, "(y/N)") {
		t.Errorf("read-only detail offers disable:\n%s", scr)
	}
	tt.keys("y")
	tt.keys("q")
	if _, env := cl.info(tok); env.Errno != 0 {
		t.Errorf("read-only inspector changed the account: errno %d", env.Errno)
	}
}
