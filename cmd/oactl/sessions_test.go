package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// captured holds the options a sessions command was run with.
type captured struct {
	tui    *sessionsTUIOptions
	list   *sessionsListOptions
	revoke *sessionsRevokeOptions
	purge  *sessionsPurgeOptions
}

// parseSessions runs `oactl sessions ARGS` with every command's runF
// capturing its options: args[0] picks the subcommand, as cobra would.
func parseSessions(t *testing.T, env map[string]string, term bool, args ...string) (captured, int, string) {
	t.Helper()
	s, _, errb := testStdio(env)
	s.IsTerm = func() bool { return term }
	f := &factory{io: s}
	var c captured
	var cmd *cobra.Command
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "list":
		cmd, args = newSessionsListCmd(f, func(o *sessionsListOptions) error { c.list = o; return nil }), args[1:]
	case "revoke":
		cmd, args = newSessionsRevokeCmd(f, func(o *sessionsRevokeOptions) error { c.revoke = o; return nil }), args[1:]
	case "purge":
		cmd, args = newSessionsPurgeCmd(f, func(o *sessionsPurgeOptions) error { c.purge = o; return nil }), args[1:]
	default:
		cmd = newSessionsCmd(f, func(o *sessionsTUIOptions) error { c.tui = o; return nil })
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withExit(exitUsage, err) })
	err := execute(cmd, s, args...)
	return c, exitCode(err, errb), errb.String()
}

func TestSessionsFlags(t *testing.T) {
	c, code, _ := parseSessions(t, nil, true)
	if code != 0 || c.tui == nil || c.tui.DSN != db.DefaultDSN || c.tui.ReadOnly || c.tui.Refresh != 10*time.Second || c.tui.Open == nil {
		t.Fatalf("bare sessions: %d %+v", code, c.tui)
	}
	c, _, _ = parseSessions(t, map[string]string{"OA_DB": "sqlite:/env.db"}, true, "--read-only", "--refresh", "0")
	if !c.tui.ReadOnly || c.tui.Refresh != 0 || c.tui.DSN != "sqlite:/env.db" {
		t.Errorf("tui flags: %+v", c.tui)
	}
	c, code, _ = parseSessions(t, map[string]string{"OA_DB": "sqlite:/env.db"}, false, "list", "--json", "--state", "Active", "--user", "42", "--search", "张三 %", "--limit", "5", "--db", "sqlite:/flag.db")
	if code != 0 {
		t.Fatalf("list: exit %d", code)
	}
	if o := c.list; !o.JSON || o.State != auth.StateActive || o.UserID != 42 || o.Search != "张三 %" || o.Limit != 5 || o.DSN != "sqlite:/flag.db" {
		t.Errorf("list flags: %+v", o)
	}
	c, _, _ = parseSessions(t, nil, false, "list")
	if o := c.list; o.JSON || o.State != auth.StateAll || o.Limit != 1000 || o.UserID != 0 || o.DSN != db.DefaultDSN {
		t.Errorf("list defaults: %+v", o)
	}
	cfg := filepath.Join(t.TempDir(), "application.yml")
	if err := os.WriteFile(cfg, []byte("oa:\n  db: sqlite:/yaml.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, _ = parseSessions(t, map[string]string{"OA_CONFIG": cfg}, false, "list")
	if c.list.DSN != "sqlite:/yaml.db" {
		t.Errorf("config file: %q", c.list.DSN)
	}
	c, _, _ = parseSessions(t, nil, false, "revoke", "7", "9", "--reason", "stolen phone", "--yes")
	if o := c.revoke; len(o.IDs) != 2 || o.IDs[0] != 7 || o.IDs[1] != 9 || o.Reason != "stolen phone" || !o.Yes || o.UserID != 0 {
		t.Errorf("revoke ids: %+v", o)
	}
	c, _, _ = parseSessions(t, nil, false, "revoke", "--user", "42")
	if o := c.revoke; o.UserID != 42 || len(o.IDs) != 0 || o.Reason != "support" || o.Yes {
		t.Errorf("revoke --user: %+v", o)
	}
	c, _, _ = parseSessions(t, nil, false, "purge", "--expired-before", "720h")
	if c.purge.ExpiredBefore != 720*time.Hour {
		t.Errorf("purge: %+v", c.purge)
	}
}

func TestSessionsUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"list", "--state", "dead"},
		{"list", "--limit", "-1"},
		{"list", "--limit", "many"},
		{"list", "--user", "-3"},
		{"list", "--search", strings.Repeat("x", 300)},
		{"list", "extra"},
		{"revoke"},
		{"revoke", "abc"},
		{"revoke", "0"},
		{"revoke", "-5"},
		{"revoke", "1", "--user", "2"},
		{"revoke", "--user", "0"},
		{"revoke", "1", "--reason", strings.Repeat("r", 300)},
		{"purge"},
		{"purge", "--expired-before", "-1h"},
		{"purge", "--expired-before", "soon"},
		{"--refresh", "-1s"},
		{"--bogus"},
	} {
		c, code, stderr := parseSessions(t, nil, false, args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr)
		}
		if c.list != nil || c.revoke != nil || c.purge != nil || c.tui != nil {
			t.Errorf("%q ran the command", args)
		}
	}
}

// sessionsOn runs the sessions tests on SQLite and MariaDB.
func sessionsOn(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, dbtest.SQLite(t)) })
	t.Run("mariadb", func(t *testing.T) { fn(t, dbtest.MySQL(t)) })
}

func TestSessionsListJSON(t *testing.T) {
	sessionsOn(t, func(t *testing.T, dsn string) {
		now := time.Now().UTC()
		seeded := fillSessions(t, dsn, defaultSeed(now))
		code, out, stderr := runOactl(t, nil, "sessions", "list", "--json", "--db", dsn, "--limit", "0")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var rows []map[string]any
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if len(rows) != len(seeded) {
			t.Fatalf("%d rows, want %d", len(rows), len(seeded))
		}
		keys := []string{"id", "userId", "nickname", "openid", "state", "createdAt", "lastSeenAt", "expiresAt", "revokedAt", "revokeReason", "ip", "userAgent", "appid"}
		rfc := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
		states := map[string]int{}
		for _, r := range rows {
			if len(r) != len(keys) {
				t.Errorf("row has %d keys: %v", len(r), r)
			}
			for _, k := range keys {
				if _, ok := r[k]; !ok {
					t.Errorf("row lacks %q", k)
				}
			}
			for _, k := range []string{"createdAt", "lastSeenAt", "expiresAt"} {
				if s, _ := r[k].(string); !rfc.MatchString(s) {
					t.Errorf("%s = %v, not RFC 3339 UTC", k, r[k])
				}
			}
			if r["appid"] != defaultDevAppID {
				t.Errorf("appid %v, want the app of the login", r["appid"])
			}
			if r["revokedAt"] != nil {
				t.Errorf("revokedAt %v for an unrevoked session", r["revokedAt"])
			}
			if o, _ := r["openid"].(string); !strings.Contains(o, "…") || len(o) > 12 {
				t.Errorf("openid not masked: %q", o)
			}
			states[r["state"].(string)]++
		}
		if states["active"] != len(seedNicknames) || states["expired"] != len(seedNicknames) {
			t.Errorf("states %v", states)
		}
		for _, s := range seeded {
			if strings.Contains(out, s.Token) || strings.Contains(out, s.OpenID) || strings.Contains(out, "SEEDKEY") {
				t.Fatalf("listing leaks a token, an openid or a session key")
			}
		}

		// One emoji does not find every other; % is literal.
		for q, want := range map[string]string{"😀": "😀 grin", "%": "50%_off", "张三": "张三", "🇨🇳": "🇨🇳 李四"} {
			code, out, _ := runOactl(t, nil, "sessions", "list", "--json", "--db", dsn, "--search", q)
			var got []sessionJSON
			if code != 0 || json.Unmarshal([]byte(out), &got) != nil || len(got) != 2 {
				t.Errorf("search %q: exit %d, %d rows: %s", q, code, len(got), out)
				continue
			}
			for _, r := range got {
				if r.Nickname != want {
					t.Errorf("search %q found %q", q, r.Nickname)
				}
			}
		}
		code, out, _ = runOactl(t, nil, "sessions", "list", "--json", "--db", dsn, "--search", "nobody-here")
		if code != 0 || strings.TrimSpace(out) != "[]" {
			t.Errorf("empty result: exit %d %q", code, out)
		}
		code, out, _ = runOactl(t, nil, "sessions", "list", "--json", "--db", dsn, "--limit", "3", "--state", "active")
		var three []sessionJSON
		if code != 0 || json.Unmarshal([]byte(out), &three) != nil || len(three) != 3 || three[0].State != "active" {
			t.Errorf("--limit 3: %d %s", code, out)
		}
		// Without a terminal, bare `sessions` prints the table.
		code, out, _ = runOactl(t, nil, "sessions", "--db", dsn)
		if code != 0 || !strings.HasPrefix(out, "ID ") || strings.Count(out, "\n") != len(seeded)+1 {
			t.Errorf("bare sessions in a pipe: exit %d\n%s", code, out)
		}
	})
}

func TestSessionsRevokeAndPurge(t *testing.T) {
	sessionsOn(t, func(t *testing.T, dsn string) {
		now := time.Now().UTC()
		seeded := fillSessions(t, dsn, defaultSeed(now))
		one := seeded[0]
		id := strconv.FormatInt(one.ID, 10)

		code, _, stderr := runOactl(t, nil, "sessions", "revoke", id, "--db", dsn)
		if code != exitUsage || !strings.Contains(stderr, "--yes") {
			t.Errorf("revoke in a pipe without --yes: exit %d %s", code, stderr)
		}
		if r, _ := sessionRevoked(t, dsn, one.ID); r {
			t.Fatal("revoked without confirmation")
		}
		// On a terminal: asked, and only y agrees.
		for answer, want := range map[string]int{"n\n": exitFailure, "\n": exitFailure, "": exitFailure, "yes please\n": exitFailure} {
			s, _, errb := testStdio(nil)
			s.IsTerm = func() bool { return true }
			s.In = strings.NewReader(answer)
			if code := run([]string{"sessions", "revoke", id, "--db", dsn}, s); code != want || !strings.Contains(errb.String(), "(y/N)") {
				t.Errorf("answer %q: exit %d: %s", answer, code, errb)
			}
		}
		if r, _ := sessionRevoked(t, dsn, one.ID); r {
			t.Fatal("revoked although the answer was no")
		}
		s, out, errb := testStdio(nil)
		s.IsTerm = func() bool { return true }
		s.In = strings.NewReader("y\n")
		if code := run([]string{"sessions", "revoke", id, "--db", dsn, "--reason", "lost phone"}, s); code != 0 || !strings.Contains(out.String(), "revoked 1 session") {
			t.Fatalf("revoke y: exit %d %s %s", code, out, errb)
		}
		if r, reason := sessionRevoked(t, dsn, one.ID); !r || reason != "lost phone" {
			t.Errorf("session %d: revoked %v reason %q", one.ID, r, reason)
		}
		code, _, stderr = runOactl(t, nil, "sessions", "revoke", id, "--db", dsn, "--yes")
		if code != exitNoMatch {
			t.Errorf("revoking again: exit %d %s", code, stderr)
		}
		code, _, _ = runOactl(t, nil, "sessions", "revoke", "999999", "--db", dsn, "--yes")
		if code != exitNoMatch {
			t.Errorf("unknown id: exit %d", code)
		}
		code, out2, _ := runOactl(t, nil, "sessions", "revoke", "--user", strconv.FormatInt(one.UserID, 10), "--db", dsn, "--yes")
		if code != 0 || !strings.Contains(out2, "revoked 1 session") { // the other one of that user
			t.Errorf("revoke --user: exit %d %q", code, out2)
		}
		code, out2, _ = runOactl(t, nil, "sessions", "list", "--json", "--db", dsn, "--state", "revoked")
		var revoked []sessionJSON
		if code != 0 || json.Unmarshal([]byte(out2), &revoked) != nil || len(revoked) != 2 || revoked[0].RevokedAt == nil {
			t.Errorf("revoked listing: %s", out2)
		}

		// purge: the expired sessions ended 6 to 12 hours ago.
		code, _, _ = runOactl(t, nil, "sessions", "purge", "--db", dsn, "--expired-before", "24h")
		if code != exitNoMatch {
			t.Errorf("purge with nothing that old: exit %d", code)
		}
		code, out2, _ = runOactl(t, nil, "sessions", "purge", "--db", dsn, "--expired-before", "1h")
		if code != 0 || !strings.HasPrefix(out2, "purged "+strconv.Itoa(len(seedNicknames))+" sessions") {
			t.Errorf("purge: exit %d %q", code, out2)
		}
		code, out2, _ = runOactl(t, nil, "sessions", "list", "--json", "--db", dsn, "--state", "expired")
		if code != 0 || strings.TrimSpace(out2) != "[]" {
			t.Errorf("after purge: %q", out2)
		}
	})
}

func TestSessionsNeedsSchema(t *testing.T) {
	dir := t.TempDir()
	missing := "sqlite:" + filepath.Join(dir, "nope.db")
	code, _, stderr := runOactl(t, nil, "sessions", "list", "--db", missing)
	if code != exitFailure || !strings.Contains(stderr, "oactl migrate up") {
		t.Errorf("missing file: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); err == nil {
		t.Error("listing created the database file")
	}
	empty := dbtest.SQLite(t)
	d := openEmpty(t, empty)
	d.Close()
	code, _, stderr = runOactl(t, nil, "sessions", "revoke", "1", "--yes", "--db", empty)
	if code != exitFailure || !strings.Contains(stderr, "no oactl schema") || !strings.Contains(stderr, "oactl dev") {
		t.Errorf("empty database: exit %d %s", code, stderr)
	}
	code, _, stderr = runOactl(t, nil, "sessions", "list", "--db", "postgres://x")
	if code != exitUsage {
		t.Errorf("bad DSN: exit %d %s", code, stderr)
	}
}

func openEmpty(t *testing.T, dsn string) *db.DB {
	t.Helper()
	d, err := db.Open(t.Context(), dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
