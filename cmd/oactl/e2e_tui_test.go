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
