package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
	"github.com/oactl/oactl/internal/mockwx"
)

// The end-to-end tests of SPEC §11 and §12 on the built binary: every
// test runs on a SQLite file and on MariaDB, with serve processes sharing
// the database and a mockwx over HTTP.

// eachBackend runs fn on a cluster over SQLite and one over MariaDB.
func eachBackend(t *testing.T, fn func(t *testing.T, c *mysqlCluster)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, startClusterOn(t, "sqlite:"+filepath.Join(t.TempDir(), "oa.db")))
	})
	t.Run("mariadb", func(t *testing.T) { fn(t, startClusterOn(t, dbtest.MySQL(t))) })
}

// oactlRun runs the binary to its end without a terminal, as a support
// script does (runBin in a fresh directory).
func oactlRun(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	return runBin(t, t.TempDir(), env, args...)
}

// userShow is `users show --json`.
type userShow struct {
	User struct {
		ID          int64   `json:"id"`
		Nickname    string  `json:"nickname"`
		Mobile      string  `json:"mobile"`
		State       string  `json:"state"`
		Identities  int     `json:"identities"`
		Sessions    int     `json:"sessions"`
		LastLoginAt *string `json:"lastLoginAt"`
		CreatedAt   *string `json:"createdAt"`
	} `json:"user"`
	Identities []struct{ AppID, OpenID, UnionID, CreatedAt string } `json:"identities"`
	Sessions   []sessionJSON                                        `json:"sessions"` // sessions list's shape

	Audit []auditJSON `json:"audit"`
}

func (c *mysqlCluster) showUser(who string) userShow {
	c.t.Helper()
	t := c.t
	code, out, errb := oactlRun(t, nil, "users", "show", who, "--json", "--db", c.dsn)
	if code != 0 {
		t.Fatalf("users show %s: exit %d %s", who, code, errb)
	}
	var u userShow
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		t.Fatalf("users show --json: %v\n%s", err, out)
	}
	return u
}

func (c *mysqlCluster) audit(args ...string) []auditJSON {
	c.t.Helper()
	code, out, errb := oactlRun(c.t, nil, append([]string{"audit", "list", "--json", "--db", c.dsn}, args...)...)
	if code != 0 && code != exitNoMatch {
		c.t.Fatalf("audit list: exit %d %s", code, errb)
	}
	var rows []auditJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rows); err != nil {
		c.t.Fatalf("audit list --json: %v\n%s", err, out)
	}
	return rows
}

// rawRow reads what a DBA would see of a wx_user row.
func (c *mysqlCluster) rawRow(id int64) map[string]string {
	c.t.Helper()
	d := openCheck(c.t, c.dsn)
	row := map[string]string{}
	var username, nickname, avatar, mobile, openid, ip, password string
	var gender, status int
	err := d.QueryRowx(`SELECT username, password, nickname, avatar, mobile, weixin_openid, last_login_ip, gender, status
		FROM wx_user WHERE id = ?`, id).Scan(&username, &password, &nickname, &avatar, &mobile, &openid, &ip, &gender, &status)
	if err != nil {
		c.t.Fatal(err)
	}
	row["username"], row["password"], row["nickname"], row["avatar"], row["mobile"] = username, password, nickname, avatar, mobile
	row["weixin_openid"], row["last_login_ip"] = openid, ip
	row["gender"], row["status"] = strconv.Itoa(gender), strconv.Itoa(status)
	return row
}

// TestCancelEndToEnd (SPEC §11): the user cancels; every old token
// answers 501, the row holds no nickname, avatar, mobile, openid or IP,
// the identities are gone, the uploaded avatar is gone (its fetch URL
// 404s), the audit says user / cancel; the same WeChat user logs in again
// and gets a new, empty account.
func TestCancelEndToEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *mysqlCluster) {
		// serve processes behind one balancer share their files.
		files := t.TempDir()
		a, b := c.serve("--storage-dir", files), c.serve("--storage-dir", files)
		ca := newClient(t, a)
		cb := ca.on(b)
		first := ca.login(uniqueCode("alice"), map[string]any{"nickName": "爱丽丝😀", "avatarUrl": "https://x.example/a.png", "gender": 2})
		second := cb.login(uniqueCode("alice"), nil)
		up := uploadOK(t, ca, first.Token, tinyPNG(t))
		if env := ca.call("POST", "/wx/auth/profile", first.Token, map[string]any{"avatar": up.URL}); env.Errno != 0 {
			t.Fatalf("profile: %d %s", env.Errno, env.Data)
		}
		if env := ca.call("POST", "/wx/auth/bindPhone", first.Token, map[string]any{"code": mintCode(t, c.mock, "alice")}); env.Errno != 0 {
			t.Fatalf("bindPhone: %d %s", env.Errno, env.Data)
		}
		openid := mockwx.OpenID("oactl", defaultDevAppID, "alice")
		before := c.showUser(openid)
		id := before.User.ID
		if before.User.State != "active" || before.User.Mobile != maskedPhone(mockwx.PhoneNumber("oactl", "alice")) || len(before.Identities) != 1 {
			t.Fatalf("before: %+v", before)
		}

		if env := cb.call("POST", "/wx/auth/cancel", second.Token, nil); env.Errno != 0 {
			t.Fatalf("cancel: %d %s", env.Errno, env.Data)
		}
		for _, tok := range []string{first.Token, second.Token} {
			for _, cl := range []*client{ca, cb} {
				if _, env := cl.info(tok); env.Errno != 501 {
					t.Fatalf("an old token answers %d after cancel", env.Errno)
				}
			}
		}
		if resp, _ := ca.do("GET", strings.TrimPrefix(up.URL, a), "", nil, ""); resp.StatusCode != 404 {
			t.Errorf("the uploaded avatar answers HTTP %d after cancel, want 404", resp.StatusCode)
		}
		row := c.rawRow(id)
		want := map[string]string{"username": "cancelled-" + strconv.FormatInt(id, 10), "password": "", "nickname": "", "avatar": "",
			"mobile": "", "weixin_openid": "", "last_login_ip": "", "gender": "0", "status": "2"}
		if !reflect.DeepEqual(row, want) {
			t.Errorf("row after cancel %v, want %v", row, want)
		}
		after := c.showUser(strconv.FormatInt(id, 10))
		if after.User.State != "cancelled" || len(after.Identities) != 0 || after.User.Sessions != 0 {
			t.Errorf("after: %+v", after.User)
		}
		for _, s := range after.Sessions {
			if s.State != "revoked" || s.RevokeReason != "cancelled" || s.IP != "" || s.UserAgent != "" {
				t.Errorf("session %d: %s %q", s.ID, s.State, s.RevokeReason)
			}
		}
		d := openCheck(t, c.dsn)
		if n := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE user_id = ? AND (session_key <> '' OR ip <> '')", id); n != 0 {
			t.Errorf("%d sessions keep a key or an IP", n)
		}
		if n := count(t, d, "SELECT COUNT(*) FROM oa_upload WHERE user_id = ?", id); n != 0 {
			t.Errorf("%d upload records left", n)
		}
		if au := c.audit("--user", strconv.FormatInt(id, 10)); len(au) != 1 || au[0].Actor != "user" || au[0].Action != "cancel" || au[0].Sessions != 2 {
			t.Errorf("audit %+v", au)
		}

		again := ca.login(uniqueCode("alice"), nil)
		info, env := ca.info(again.Token)
		if env.Errno != 0 || info.NickName != "" || info.Avatar != "" || info.Mobile != "" || info.Gender != 0 {
			t.Fatalf("the new account: errno %d %+v", env.Errno, info)
		}
		if now := c.showUser(openid); now.User.ID == id || now.User.State != "active" {
			t.Errorf("the new account is user %d (%s), the cancelled one %d", now.User.ID, now.User.State, id)
		}
	})
}

func maskedPhone(p string) string { return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:] }

// TestDisableEnableEndToEnd (SPEC §11): users disable in one process while
// two serve processes serve the user: the next request through either
// answers 501, the next login 700 已禁用; users enable: login works again;
// each action has its audit row with the actor.
func TestDisableEnableEndToEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *mysqlCluster) {
		a, b := c.serve(), c.serve()
		ca := newClient(t, a)
		cb := ca.on(b)
		ta := ca.login(uniqueCode("bob"), map[string]any{"nickName": "Bob"}).Token
		tb := cb.login(uniqueCode("bob"), nil).Token
		id := strconv.FormatInt(c.showUser(mockwx.OpenID("oactl", defaultDevAppID, "bob")).User.ID, 10)

		// Without a terminal a change needs --yes: refused, nothing changes.
		if code, _, errb := oactlRun(t, nil, "users", "disable", id, "--db", c.dsn); code != exitUsage || !strings.Contains(errb, "--yes") {
			t.Fatalf("disable without --yes: exit %d %s", code, errb)
		}
		if _, env := ca.info(ta); env.Errno != 0 {
			t.Fatal("refused disable changed something")
		}
		code, out, errb := oactlRun(t, nil, "users", "disable", id, "--reason", "abuse report 881", "--actor", "zhang.san", "--yes", "--db", c.dsn)
		if code != 0 || !strings.Contains(out, "disabled user "+id+": revoked 2 sessions") {
			t.Fatalf("disable: exit %d %s %s", code, out, errb)
		}
		if _, env := ca.info(ta); env.Errno != 501 {
			t.Errorf("serve A after disable: errno %d, want 501", env.Errno)
		}
		if _, env := cb.info(tb); env.Errno != 501 {
			t.Errorf("serve B after disable: errno %d, want 501", env.Errno)
		}
		env := cb.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": uniqueCode("bob")})
		if env.Errno != 700 || env.Errmsg != "账号不可用：已禁用" {
			t.Fatalf("login after disable: %d %s", env.Errno, env.Errmsg)
		}
		if code, out, _ := oactlRun(t, []string{"OA_ACTOR=li.si"}, "users", "enable", id, "--yes", "--db", c.dsn); code != 0 || !strings.Contains(out, "enabled user "+id) {
			t.Fatalf("enable: exit %d %s", code, out)
		}
		if tok := ca.login(uniqueCode("bob"), nil).Token; tok == "" {
			t.Fatal("no login after enable")
		}
		au := c.audit("--user", id)
		if len(au) != 2 || au[0].Action != "enable" || au[0].Actor != "li.si" || au[1].Action != "disable" || au[1].Actor != "zhang.san" ||
			au[1].Reason != "abuse report 881" || au[1].Sessions != 2 || len(au[1].SessionIDs) != 2 {
			t.Fatalf("audit %+v", au)
		}
		// Enabling again changes nothing and writes no row.
		if code, out, _ := oactlRun(t, nil, "users", "enable", id, "--yes", "--db", c.dsn); code != 0 || !strings.Contains(out, "already enabled") {
			t.Errorf("second enable: exit %d %s", code, out)
		}
		if au := c.audit("--user", id); len(au) != 2 {
			t.Errorf("%d audit rows after a no-op enable", len(au))
		}
	})
}

// TestSessionLimitEndToEnd (SPEC §12): with --max-sessions-per-user 1 a
// second login revokes the first (reason "session limit"); 20 concurrent
// logins of one user through two serve processes leave one active.
func TestSessionLimitEndToEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *mysqlCluster) {
		a, b := c.serve("--max-sessions-per-user", "1"), c.serve("--max-sessions-per-user", "1")
		ca := newClient(t, a)
		cb := ca.on(b)
		first := ca.login(uniqueCode("sam"), nil).Token
		second := cb.login(uniqueCode("sam"), nil).Token
		if _, env := ca.info(first); env.Errno != 501 {
			t.Fatalf("the first session answers %d after a second login, want 501", env.Errno)
		}
		if _, env := ca.info(second); env.Errno != 0 {
			t.Fatalf("the second session answers %d", env.Errno)
		}
		u := c.showUser(mockwx.OpenID("oactl", defaultDevAppID, "sam"))
		if len(u.Sessions) != 2 || u.Sessions[1].RevokeReason != "session limit" || u.User.Sessions != 1 {
			t.Fatalf("sessions %+v", u.Sessions)
		}

		const n = 20
		var wg sync.WaitGroup
		errnos := make([]int, n)
		for i := range n {
			cl := []*client{ca, cb}[i%2]
			wg.Go(func() {
				env := cl.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": uniqueCode("sam") + "." + strconv.Itoa(i)})
				errnos[i] = env.Errno
			})
		}
		wg.Wait()
		for i, e := range errnos {
			if e != 0 {
				t.Errorf("concurrent login %d: errno %d", i, e)
			}
		}
		code, out, errb := oactlRun(t, nil, "sessions", "list", "--user", strconv.FormatInt(u.User.ID, 10), "--state", "active", "--json", "--db", c.dsn)
		var active []map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &active) != nil || len(active) != 1 {
			t.Fatalf("active sessions after %d concurrent logins: exit %d, %d sessions %s", n, code, len(active), errb)
		}
	})
}

// TestPhoneConflictEndToEnd (SPEC §11): bob binding alice's number, by
// code or by the legacy payload, is errno 705 and changes nothing; alice
// binding it again is 0.
func TestPhoneConflictEndToEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *mysqlCluster) {
		cl := newClient(t, c.serve())
		alice := cl.login(uniqueCode("alice"), nil).Token
		bob := cl.login(uniqueCode("bob"), nil).Token
		number := mockwx.PhoneNumber("oactl", "alice")
		if env := cl.call("POST", "/wx/auth/bindPhone", alice, map[string]any{"code": mintCode(t, c.mock, "alice")}); env.Errno != 0 {
			t.Fatalf("alice binds: %d %s", env.Errno, env.Data)
		}
		mockCall(t, c.mock, "PUT", "/__mock/phones/bob", map[string]any{"phoneNumber": number}, nil)
		bobID := c.showUser(mockwx.OpenID("oactl", defaultDevAppID, "bob")).User.ID
		before := c.rawRow(bobID)
		d := openCheck(t, c.dsn)
		var updated string
		if err := d.Get(&updated, "SELECT CAST(update_time AS CHAR) FROM wx_user WHERE id = ?", bobID); err != nil {
			t.Fatal(err)
		}
		env := cl.call("POST", "/wx/auth/bindPhone", bob, map[string]any{"code": mintCode(t, c.mock, "bob")})
		if env.Errno != 705 || env.Errmsg != "手机号已注册" {
			t.Fatalf("bob binds alice's number by code: %d %s", env.Errno, env.Errmsg)
		}
		var enc struct{ EncryptedData, IV string }
		mockCall(t, c.mock, "POST", "/__mock/encrypt", map[string]any{"user": "bob", "kind": "phone"}, &enc)
		if env := cl.call("POST", "/wx/auth/bindPhone", bob, map[string]any{"encryptedData": enc.EncryptedData, "iv": enc.IV}); env.Errno != 705 {
			t.Fatalf("bob binds alice's number by the legacy payload: %d %s", env.Errno, env.Data)
		}
		var after string
		if err := d.Get(&after, "SELECT CAST(update_time AS CHAR) FROM wx_user WHERE id = ?", bobID); err != nil {
			t.Fatal(err)
		}
		if row := c.rawRow(bobID); !reflect.DeepEqual(row, before) || after != updated {
			t.Errorf("bob's row changed: %v → %v, update_time %s → %s", before, row, updated, after)
		}
		if info, _ := cl.info(bob); info.Mobile != "" {
			t.Errorf("bob's mobile %q", info.Mobile)
		}
		if env := cl.call("POST", "/wx/auth/bindPhone", alice, map[string]any{"code": mintCode(t, c.mock, "alice")}); env.Errno != 0 {
			t.Fatalf("alice binds her number again: %d", env.Errno)
		}
		if info, _ := cl.info(alice); info.Mobile != number {
			t.Errorf("alice's mobile %q", info.Mobile)
		}
	})
}

// TestUsersAndAuditCommands: the --json shapes, exit 4 on no match, the
// --yes rule without a terminal, the actor's sources, malformed and
// hostile arguments; sessions revoke and purge write their audit rows.
func TestUsersAndAuditCommands(t *testing.T) {
	c := startClusterOn(t, "sqlite:"+filepath.Join(t.TempDir(), "oa.db"))
	cl := newClient(t, c.serve())
	if rows := c.audit(); len(rows) != 0 {
		t.Fatalf("a fresh database has audit rows %v", rows)
	}
	if code, out, _ := oactlRun(t, nil, "audit", "list", "--json", "--db", c.dsn); code != exitNoMatch || out != "[]\n" {
		t.Errorf("empty audit: exit %d %q", code, out)
	}
	carol := cl.login(uniqueCode("carol"), map[string]any{"nickName": "卡罗尔\u202e😀"})
	if env := cl.call("POST", "/wx/auth/bindPhone", carol.Token, map[string]any{"code": mintCode(t, c.mock, "carol")}); env.Errno != 0 {
		t.Fatalf("bindPhone: %d", env.Errno)
	}
	openid := mockwx.OpenID("oactl", defaultDevAppID, "carol")
	id := strconv.FormatInt(c.showUser(openid).User.ID, 10)

	code, out, errb := oactlRun(t, nil, "users", "list", "--json", "--db", c.dsn)
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 {
		t.Fatalf("users list: exit %d %s %s", code, out, errb)
	}
	keys := func(m map[string]any) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		sort.Strings(k)
		return k
	}
	if got := keys(list[0]); !slices.Equal(got, []string{"createdAt", "id", "identities", "lastLoginAt", "mobile", "nickname", "sessions", "state"}) {
		t.Errorf("users list keys %v", got)
	}
	phone := mockwx.PhoneNumber("oactl", "carol")
	if list[0]["mobile"] != maskedPhone(phone) || list[0]["state"] != "active" || list[0]["sessions"] != float64(1) || list[0]["identities"] != float64(1) {
		t.Errorf("users list %v", list[0])
	}
	for _, args := range [][]string{{"users", "list"}, {"users", "list", "--json"}, {"users", "show", id}, {"users", "show", id, "--json"}} {
		_, out, _ := oactlRun(t, nil, append(args, "--db", c.dsn)...)
		if strings.Contains(out, phone) || strings.Contains(out, openid) || strings.Contains(out, carol.Token) {
			t.Errorf("%v prints a whole number, openid or token:\n%s", args, out)
		}
	}
	if _, out, _ := oactlRun(t, nil, "users", "list", "--db", c.dsn); strings.Contains(out, "\u202e") || !strings.Contains(out, maskedPhone(phone)) {
		t.Errorf("users list table:\n%s", out)
	}
	if code, out, _ := oactlRun(t, nil, "users", "list", "--search", "nobody-at-all", "--json", "--db", c.dsn); code != exitNoMatch || out != "[]\n" {
		t.Errorf("no match: exit %d %q", code, out)
	}
	for _, who := range []string{"999999", "oNoSuchOpenid"} {
		if code, _, _ := oactlRun(t, nil, "users", "show", who, "--db", c.dsn); code != exitNoMatch {
			t.Errorf("users show %s: exit %d, want 4", who, code)
		}
	}
	// Usage errors: nothing is changed or opened.
	for _, args := range [][]string{
		{"users", "disable"}, {"users", "disable", "abc", "--yes"}, {"users", "disable", "-3", "--yes"}, {"users", "enable", "0", "--yes"},
		{"users", "cancel", id}, {"users", "disable", id, "--yes", "--actor", "user"}, {"users", "disable", id, "--yes", "--actor", "a\x1bb"},
		{"users", "disable", id, "--yes", "--actor", strings.Repeat("x", 65)}, {"users", "disable", id, "--yes", "--reason", strings.Repeat("r", 256)},
		{"users", "list", "--state", "bogus"}, {"users", "list", "--limit", "-1"}, {"users", "show", "a b"}, {"users", "show", strings.Repeat("o", 65)},
		{"audit", "list", "--since", "-1h"}, {"audit", "list", "--user", "0"}, {"audit", "list", "--limit", "-2"},
		{"sessions", "revoke", "--user", id, "--yes", "--actor", "USER"},
	} {
		// In process (without a terminal, as the binary): fast.
		if code, _, errb := runOactl(t, nil, append(args, "--db", c.dsn)...); code != exitUsage {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errb)
		}
	}
	if code, _, _ := oactlRun(t, []string{"OA_ACTOR=user"}, "users", "disable", id, "--yes", "--db", c.dsn); code != exitUsage {
		t.Errorf("OA_ACTOR=user: exit %d", code)
	}
	if u := c.showUser(id); u.User.State != "active" || len(u.Audit) != 0 {
		t.Fatalf("a refused command changed the user: %+v", u)
	}
	if code, _, _ := oactlRun(t, nil, "users", "disable", "999999", "--yes", "--db", c.dsn); code != exitNoMatch {
		t.Errorf("disable of no one: exit %d, want 4", code)
	}
	if code, _, _ := oactlRun(t, nil, "users", "disable", id, "999999", "--yes", "--actor", "ops", "--db", c.dsn); code != exitNoMatch {
		t.Errorf("disable of one known and one unknown: exit %d, want 4", code)
	}
	// The OS user is the default actor.
	if code, _, errb := oactlRun(t, nil, "users", "enable", id, "--yes", "--db", c.dsn); code != 0 {
		t.Fatalf("enable: exit %d %s", code, errb)
	}
	if au := c.audit("--limit", "1"); len(au) != 1 || au[0].Action != "enable" || au[0].Actor != expectedOSActor(t) {
		t.Errorf("default actor: %+v, want %q", au, expectedOSActor(t))
	}
	// sessions revoke and purge write their rows, with OA_ACTOR. (The
	// disable above revoked carol's sessions: she logs in again.)
	cl.login(uniqueCode("carol"), nil)
	if code, out, _ := oactlRun(t, []string{"OA_ACTOR=ops"}, "sessions", "revoke", "--user", id, "--reason", "phone stolen", "--yes", "--db", c.dsn); code != 0 {
		t.Fatalf("revoke: exit %d %s", code, out)
	}
	au := c.audit("--limit", "1")
	if len(au) != 1 || au[0].Action != "revoke" || au[0].Actor != "ops" || au[0].Reason != "phone stolen" || au[0].Sessions != 1 || au[0].UserID == nil {
		t.Errorf("revoke audit %+v", au)
	}
	if code, _, _ := oactlRun(t, []string{"OA_ACTOR=ops"}, "sessions", "purge", "--expired-before", "0s", "--db", c.dsn); code != exitNoMatch {
		t.Errorf("purge of nothing: exit %d", code)
	}
	if got := c.audit(); len(got) != 3 {
		t.Errorf("a purge of nothing wrote a row: %+v", got)
	}
	code, out, _ = oactlRun(t, nil, "audit", "list", "--json", "--db", c.dsn)
	var raw []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &raw) != nil || len(raw) != 3 {
		t.Fatalf("audit list: %d %s", code, out)
	}
	if got := keys(raw[0]); !slices.Equal(got, []string{"action", "actor", "at", "id", "reason", "sessionIds", "sessions", "userId"}) {
		t.Errorf("audit keys %v", got)
	}
	if code, out, _ := oactlRun(t, nil, "audit", "list", "--since", "1h", "--user", id, "--db", c.dsn); code != 0 || strings.Count(out, "\n") != 4 {
		t.Errorf("audit table: exit %d\n%s", code, out)
	}
	// Enabling a cancelled account is refused (exit 1).
	if code, _, _ := oactlRun(t, nil, "users", "cancel", id, "--yes", "--db", c.dsn); code != 0 {
		t.Fatalf("users cancel: exit %d", code)
	}
	if code, _, errb := oactlRun(t, nil, "users", "enable", id, "--yes", "--db", c.dsn); code != exitFailure || !strings.Contains(errb, "cancelled") {
		t.Errorf("enable of a cancelled account: exit %d %s", code, errb)
	}
	// Read-only commands never create a database file.
	missing := filepath.Join(t.TempDir(), "none.db")
	for _, args := range [][]string{{"users", "list"}, {"users", "show", "1"}, {"audit", "list"}, {"users", "disable", "1", "--yes"}} {
		if code, _, errb := oactlRun(t, nil, append(args, "--db", "sqlite:"+missing)...); code != exitFailure || !strings.Contains(errb, "migrate up") {
			t.Errorf("%v on a missing file: exit %d %s", args, code, errb)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Error("a users or audit command created the database file")
	}
}

// expectedOSActor is the actor oactl names without --actor.
func expectedOSActor(t *testing.T) string {
	t.Helper()
	name := osUserName(os.Getenv)
	if strings.EqualFold(name, "user") {
		return "os:" + name
	}
	return name
}

// openCheck opens dsn as a DBA would look at it, for checks.
func openCheck(t *testing.T, dsn string) *sqlx.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d.SQL()
}
