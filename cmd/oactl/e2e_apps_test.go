package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
	"github.com/oactl/oactl/internal/mockwx"
)

// The apps of the several-apps tests (SPEC §10): A is the default app, B
// another mini-program of the same company.
const (
	appA    = defaultDevAppID
	appB    = "wxe2eappb00000002"
	secretB = "e2e-app-secret-b"
)

// appsCluster is one database, two mockwx (one answering unionids, one
// not, both knowing apps A and B) and serve processes serving A and B.
type appsCluster struct {
	t     *testing.T
	dsn   string
	mysql bool
	mock  map[bool]string // by "answers unionids"
	x     *sqlx.DB
}

// appsOn runs fn on a fresh SQLite file and a fresh MariaDB database.
func appsOn(t *testing.T, fn func(t *testing.T, c *appsCluster)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, startApps(t, dbtest.SQLite(t), false)) })
	t.Run("mariadb", func(t *testing.T) { fn(t, startApps(t, dbtest.MySQL(t), true)) })
}

// javaOpenID and javaOnB are the openids of the rows the Java backend
// made before oactl: one under the default app, one holding app B's
// openid of another person.
var (
	javaOpenID = mockwx.OpenID("oactl", appA, "javauser")
	javaOnB    = mockwx.OpenID("oactl", appB, "javab")
)

const javaRows = `INSERT INTO wx_user (username, password, weixin_openid, nickname, gender, status, deleted, add_time, update_time)
	VALUES ('java-1', 'pw', ?, 'Java 用户😀', 1, 0, 0, '2024-01-02 03:04:05', '2024-01-02 03:04:05'),
	('java-b', 'pw', ?, 'Java B', 0, 0, 0, '2024-01-02 03:04:05', '2024-01-02 03:04:05')`

// startApps makes the schema (on MariaDB by adopting a wx_user made with
// the seed's DDL, holding the Java backend's rows) and starts both mockwx.
func startApps(t *testing.T, dsn string, mysql bool) *appsCluster {
	t.Helper()
	c := &appsCluster{t: t, dsn: dsn, mysql: mysql, mock: map[bool]string{}}
	if mysql {
		d := sqlOpen(t, dsn)
		execAll(t, d, seedDDL(t))
		if _, err := d.Exec(javaRows, javaOpenID, javaOnB); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errb := runOactl(t, nil, "migrate", "up", "--db", dsn)
	if code != 0 || mysql && !strings.Contains(out, "adopted") {
		t.Fatalf("migrate up: exit %d\n%s%s", code, out, errb)
	}
	d, err := db.Open(context.Background(), dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	c.x = d.SQL()
	if !mysql {
		if _, err := c.x.Exec(javaRows, javaOpenID, javaOnB); err != nil {
			t.Fatal(err)
		}
	}
	for _, union := range []bool{false, true} {
		addr := freeAddr(t)
		args := []string{"mockwx", "--addr", addr, "--appid", appA, "--appid", appB}
		if union {
			args = append(args, "--unionid")
		}
		m := startOactl(t, []string{"OA_WX_APP_SECRET=" + e2eSecret + "," + secretB}, args...)
		c.mock[union] = "http://" + addr
		m.waitHealthy(c.mock[union] + "/__mock/healthz")
	}
	return c
}

// serve starts a serve of apps A and B against the mockwx that answers
// unionids (union) or not.
func (c *appsCluster) serve(union bool, extra ...string) string {
	c.t.Helper()
	addr := freeAddr(c.t)
	args := append([]string{"serve", "--addr", addr, "--db", c.dsn, "--wx-base-url", c.mock[union],
		"--appid", appA, "--storage-dir", c.t.TempDir(), "--login-rate", "0"}, extra...)
	p := startOactl(c.t, []string{"OA_WX_APP_SECRET=" + e2eSecret, "OA_WX_APPS=" + appB + "=" + secretB}, args...)
	p.waitHealthy("http://" + addr + "/readyz")
	return "http://" + addr
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// userOf is the user id of a token's session.
func (c *appsCluster) userOf(token string) int64 {
	c.t.Helper()
	var id int64
	if err := c.x.Get(&id, "SELECT user_id FROM wx_session WHERE token_hash = ?", tokenHash(token)); err != nil {
		c.t.Fatalf("session of a token: %v", err)
	}
	return id
}

type identityRow struct {
	AppID   string `db:"appid"`
	OpenID  string `db:"openid"`
	UnionID string `db:"unionid"`
}

func (c *appsCluster) identities(userID int64) []identityRow {
	c.t.Helper()
	var out []identityRow
	if err := c.x.Select(&out, "SELECT appid, openid, COALESCE(unionid, '') AS unionid FROM wx_identity WHERE user_id = ? ORDER BY created_at, id", userID); err != nil {
		c.t.Fatal(err)
	}
	return out
}

// journal is mockwx's journal, filtered to WeChat API calls.
func journal(t *testing.T, mock string) []mockwx.JournalEntry {
	t.Helper()
	var all []mockwx.JournalEntry
	mockCall(t, mock, "GET", "/__mock/journal", nil, &all)
	var out []mockwx.JournalEntry
	for _, e := range all {
		if !strings.HasPrefix(e.Path, "/__mock/") {
			out = append(out, e)
		}
	}
	return out
}

func TestAppsEndToEnd(t *testing.T) {
	appsOn(t, func(t *testing.T, c *appsCluster) {
		union, plain := c.serve(true), c.serve(false)
		cl := newClient(t, union)
		a, b := cl.via(appA), cl.via(appB)
		persons := []string{"alice", "bob", "carol", "dora", "erin", "javauser", "javab"}

		t.Run("one person through two apps is one user", func(t *testing.T) {
			ta := a.login(uniqueCode("alice"), map[string]any{"nickName": "爱丽丝😀", "gender": 2})
			tb := b.login(uniqueCode("alice"), map[string]any{"nickName": "ignored: not empty any more"})
			ua, ub := c.userOf(ta.Token), c.userOf(tb.Token)
			if ua != ub {
				t.Fatalf("app A made user %d, app B user %d", ua, ub)
			}
			ids := c.identities(ua)
			union := mockwx.UnionID("oactl", "alice")
			want := []identityRow{{appA, mockwx.OpenID("oactl", appA, "alice"), union}, {appB, mockwx.OpenID("oactl", appB, "alice"), union}}
			if len(ids) != 2 || ids[0] != want[0] || ids[1] != want[1] {
				t.Fatalf("identities %+v, want %+v", ids, want)
			}
			if n := count(t, c.x, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid IN (?, ?)", want[0].OpenID, want[1].OpenID); n != 1 {
				t.Errorf("%d wx_user rows for alice", n)
			}
			// Both tokens see one profile; a change through B shows through A.
			ia, _ := a.info(ta.Token)
			ib, _ := b.info(tb.Token)
			if ia != ib || ia.NickName != "爱丽丝😀" || ia.Gender != 2 {
				t.Fatalf("info through A %+v, through B %+v", ia, ib)
			}
			if e := b.call("POST", "/wx/auth/profile", tb.Token, map[string]any{"nickname": "改名"}); e.Errno != 0 {
				t.Fatalf("profile through B: %d", e.Errno)
			}
			if ia, _ = a.info(ta.Token); ia.NickName != "改名" {
				t.Errorf("a profile change through B is not seen through A: %+v", ia)
			}
			// The listing for support names each session's app.
			code, out, errb := runOactl(t, nil, "sessions", "list", "--json", "--db", c.dsn, "--user", fmt.Sprint(ua))
			var rows []sessionJSON
			if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 {
				t.Fatalf("sessions list: exit %d %s %s", code, out, errb)
			}
			if rows[0].AppID != appB || rows[1].AppID != appA {
				t.Errorf("listed apps %q %q, want newest first B then A", rows[0].AppID, rows[1].AppID)
			}
		})

		t.Run("without unionid two apps are two users", func(t *testing.T) {
			pc := cl.on(plain)
			ta := pc.via(appA).login(uniqueCode("bob"), nil)
			tb := pc.via(appB).login(uniqueCode("bob"), nil)
			if c.userOf(ta.Token) == c.userOf(tb.Token) {
				t.Fatal("without a unionid bob's two apps became one user")
			}
		})

		t.Run("a unionid that arrives later is filled in and links", func(t *testing.T) {
			first := cl.on(plain).via(appA).login(uniqueCode("carol"), nil)
			u := c.userOf(first.Token)
			if ids := c.identities(u); len(ids) != 1 || ids[0].UnionID != "" {
				t.Fatalf("identities %+v", ids)
			}
			second := a.login(uniqueCode("carol"), nil)
			if c.userOf(second.Token) != u {
				t.Fatal("the second login through A is another user")
			}
			if ids := c.identities(u); len(ids) != 1 || ids[0].UnionID != mockwx.UnionID("oactl", "carol") {
				t.Fatalf("unionid not filled in: %+v", ids)
			}
			third := b.login(uniqueCode("carol"), nil)
			if c.userOf(third.Token) != u {
				t.Fatal("app B did not link to carol's user by the filled-in unionid")
			}
		})

		t.Run("a Java-made row is found only through the default app", func(t *testing.T) {
			var javaID, javaBID int64
			if err := c.x.Get(&javaID, "SELECT id FROM wx_user WHERE username = 'java-1'"); err != nil {
				t.Fatal(err)
			}
			if err := c.x.Get(&javaBID, "SELECT id FROM wx_user WHERE username = 'java-b'"); err != nil {
				t.Fatal(err)
			}
			tok := a.login(uniqueCode("javauser"), nil)
			if u := c.userOf(tok.Token); u != javaID {
				t.Fatalf("the default app found user %d, want the Java row %d", u, javaID)
			}
			if info, _ := a.info(tok.Token); info.NickName != "Java 用户😀" || info.Gender != 1 {
				t.Errorf("the Java row's profile: %+v", info)
			}
			a.login(uniqueCode("javauser"), nil)
			if ids := c.identities(javaID); len(ids) != 1 || ids[0].AppID != appA || ids[0].OpenID != javaOpenID {
				t.Errorf("the Java row's identities %+v, want one of app A", ids)
			}
			// A row holding app B's openid is not found through app B.
			tb := cl.on(plain).via(appB).login(uniqueCode("javab"), nil)
			if u := c.userOf(tb.Token); u == javaBID {
				t.Error("app B found a wx_user row by weixin_openid")
			}
			if ids := c.identities(javaBID); len(ids) != 0 {
				t.Errorf("the row app B must not find got identities %+v", ids)
			}
		})

		t.Run("an app that is not configured is refused before WeChat", func(t *testing.T) {
			mockCall(t, c.mock[true], "DELETE", "/__mock/journal", nil, nil)
			for _, app := range []string{"wxnotconfigured000", "touristappid"} {
				e := cl.via(app).call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": uniqueCode("alice")})
				if e.Errno != 402 || e.Errmsg != "参数值不对" || string(e.Data) != `{"field":"appid"}` {
					t.Errorf("%s: errno %d %s %s", app, e.Errno, e.Errmsg, e.Data)
				}
			}
			if calls := journal(t, c.mock[true]); len(calls) != 0 {
				t.Errorf("mockwx was called %d times: %+v", len(calls), calls)
			}
		})

		t.Run("a disabled user is refused through every app", func(t *testing.T) {
			ta := a.login(uniqueCode("dora"), nil)
			tb := b.login(uniqueCode("dora"), nil)
			u := c.userOf(ta.Token)
			if _, err := c.x.Exec("UPDATE wx_user SET status = 1 WHERE id = ?", u); err != nil {
				t.Fatal(err)
			}
			sessions := count(t, c.x, "SELECT COUNT(*) FROM wx_session WHERE user_id = ?", u)
			for _, cc := range []*client{a, b, cl.on(plain).via(appB)} {
				e := cc.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": uniqueCode("dora")})
				if e.Errno != 700 || e.Errmsg != "账号不可用：已禁用" {
					t.Errorf("login through %s: errno %d %s", cc.referer, e.Errno, e.Errmsg)
				}
			}
			for _, tok := range []string{ta.Token, tb.Token} {
				if _, e := a.info(tok); e.Errno != 700 {
					t.Errorf("a token of a disabled user: errno %d", e.Errno)
				}
			}
			if n := count(t, c.x, "SELECT COUNT(*) FROM wx_session WHERE user_id = ?", u); n != sessions {
				t.Errorf("refused logins wrote sessions: %d -> %d", sessions, n)
			}
		})

		t.Run("legacy bindPhone decrypts with the session's app", func(t *testing.T) {
			ta := a.login(uniqueCode("erin"), nil)
			tb := b.login(uniqueCode("erin"), nil)
			mockCall(t, c.mock[true], "PUT", "/__mock/phones/erin", map[string]any{"phoneNumber": "13912345678"}, nil)
			encrypt := func(app string) map[string]any {
				var enc struct{ EncryptedData, IV string }
				mockCall(t, c.mock[true], "POST", "/__mock/encrypt", map[string]any{"user": "erin", "appid": app, "kind": "phone"}, &enc)
				return map[string]any{"encryptedData": enc.EncryptedData, "iv": enc.IV}
			}
			// A's session is older, yet A's payload opens with A's key.
			if e := a.call("POST", "/wx/auth/bindPhone", ta.Token, encrypt(appA)); e.Errno != 0 {
				t.Errorf("A's payload through A: errno %d %s", e.Errno, e.Data)
			}
			if e := b.call("POST", "/wx/auth/bindPhone", tb.Token, encrypt(appB)); e.Errno != 0 || !strings.Contains(string(e.Data), "13912345678") {
				t.Errorf("B's payload through B: errno %d %s", e.Errno, e.Data)
			}
			if e := b.call("POST", "/wx/auth/bindPhone", tb.Token, encrypt(appA)); e.Errno != 402 {
				t.Errorf("A's payload through B: errno %d, want 402", e.Errno)
			}
			// The phone-number code goes to WeChat with B's access token.
			mockCall(t, c.mock[true], "DELETE", "/__mock/journal", nil, nil)
			if e := b.call("POST", "/wx/auth/bindPhone", tb.Token, map[string]any{"code": uniqueCode("erin")}); e.Errno != 0 {
				t.Fatalf("phone code through B: errno %d %s", e.Errno, e.Data)
			}
			calls := journal(t, c.mock[true])
			if len(calls) == 0 {
				t.Fatal("no WeChat call for the phone code")
			}
			for _, e := range calls {
				if e.AppID != appB {
					t.Errorf("%s went to WeChat as app %q, want %s", e.Path, e.AppID, appB)
				}
			}
		})

		t.Run("no answer holds an openid or a unionid", func(t *testing.T) {
			cl.mu.Lock()
			seen := strings.Join(*cl.seen, "\n")
			cl.mu.Unlock()
			for _, p := range persons {
				for _, id := range []string{mockwx.OpenID("oactl", appA, p), mockwx.OpenID("oactl", appB, p), mockwx.UnionID("oactl", p)} {
					if strings.Contains(seen, id) {
						t.Errorf("a response holds an id of %s", p)
					}
				}
			}
		})
	})
}

// TestAppsConcurrentFirstLogins: 50 first logins of one new person at
// once, half through app A and half through app B, over two serve
// processes on MariaDB: all succeed, as one user with two identities.
func TestAppsConcurrentFirstLogins(t *testing.T) {
	c := startApps(t, dbtest.MySQL(t), true)
	cl := newClient(t, c.serve(true))
	serves := []*client{cl, cl.on(c.serve(true))}
	const n = 50
	tokens := make([]string, n)
	errnos := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		cc := serves[i%2].via([]string{appA, appB}[(i/2)%2])
		wg.Go(func() {
			e := cc.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": fmt.Sprintf("zoe.%d.%d", time.Now().UnixNano(), i)})
			errnos[i] = e.Errno
			var d loginData
			_ = json.Unmarshal(e.Data, &d)
			tokens[i] = d.Token
		})
	}
	wg.Wait()
	users := map[int64]bool{}
	for i := range n {
		if errnos[i] != 0 {
			t.Errorf("login %d: errno %d", i, errnos[i])
			continue
		}
		users[c.userOf(tokens[i])] = true
	}
	if len(users) != 1 {
		t.Fatalf("50 concurrent first logins made %d users", len(users))
	}
	for u := range users {
		if ids := c.identities(u); len(ids) != 2 || ids[0].AppID == ids[1].AppID {
			t.Errorf("identities %+v, want one per app", ids)
		}
		if k := count(t, c.x, "SELECT COUNT(*) FROM wx_session WHERE user_id = ?", u); k != n {
			t.Errorf("%d sessions, want %d", k, n)
		}
	}
	union := mockwx.UnionID("oactl", "zoe")
	if k := count(t, c.x, "SELECT COUNT(DISTINCT user_id) FROM wx_identity WHERE unionid = ?", union); k != 1 {
		t.Errorf("%d users hold zoe's unionid", k)
	}
}

// TestAppsUpgradeKeepsOldTokens: a database at schema 3 (the release
// before apps), holding a user and live sessions exactly as that release
// wrote them, migrated up: every old token still answers info, and a
// legacy bindPhone through an old session uses its key (the default
// app's).
func TestAppsUpgradeKeepsOldTokens(t *testing.T) {
	for _, backend := range []string{"sqlite", "mariadb"} {
		t.Run(backend, func(t *testing.T) {
			dsn := dbtest.SQLite(t)
			if backend == "mariadb" {
				dsn = dbtest.MySQL(t)
			}
			if code, out, errb := runOactl(t, nil, "migrate", "up", "--to", "3", "--db", dsn); code != 0 {
				t.Fatalf("migrate up --to 3: %d %s %s", code, out, errb)
			}
			maddr := freeAddr(t)
			m := startOactl(t, []string{"OA_WX_APP_SECRET=" + e2eSecret + "," + secretB}, "mockwx", "--addr", maddr, "--appid", appA, "--appid", appB, "--unionid")
			mock := "http://" + maddr
			m.waitHealthy(mock + "/__mock/healthz")
			// The previous release's login, by hand: WeChat's answer, then
			// the rows it wrote (no appid anywhere).
			var wx struct {
				OpenID     string `json:"openid"`
				SessionKey string `json:"session_key"`
			}
			q := url.Values{"appid": {appA}, "secret": {e2eSecret}, "js_code": {uniqueCode("olly")}, "grant_type": {"authorization_code"}}
			mockCall(t, mock, "GET", "/sns/jscode2session?"+q.Encode(), nil, &wx)
			d, err := db.Open(context.Background(), dsn, db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			x := d.SQL()
			if _, err := x.Exec(`INSERT INTO wx_user (username, password, weixin_openid, nickname, status, user_level, deleted, add_time, update_time, last_login_time)
				VALUES (?, '', ?, 'Olly', 0, 0, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00')`, wx.OpenID, wx.OpenID); err != nil {
				t.Fatal(err)
			}
			var uid int64
			if err := x.Get(&uid, "SELECT id FROM wx_user WHERE weixin_openid = ?", wx.OpenID); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			var tokens []string
			for i := range 3 {
				tok := fmt.Sprintf("oldtoken%035d", i)
				tokens = append(tokens, tok)
				if _, err := x.Exec(`INSERT INTO wx_session (token_hash, user_id, session_key, created_at, expires_at, last_seen_at, ip, user_agent)
					VALUES (?, ?, ?, ?, ?, ?, '203.0.113.5', 'old release')`, tokenHash(tok), uid, wx.SessionKey,
					d.UTCTime(now.Add(time.Duration(i-3)*time.Minute)), d.UTCTime(now.Add(time.Hour)), d.UTCTime(now)); err != nil {
					t.Fatal(err)
				}
			}
			if code, out, errb := runOactl(t, nil, "migrate", "up", "--db", dsn); code != 0 || !strings.Contains(out, "4") {
				t.Fatalf("migrate up: %d %s %s", code, out, errb)
			}
			addr := freeAddr(t)
			p := startOactl(t, []string{"OA_WX_APP_SECRET=" + e2eSecret, "OA_WX_APPS=" + appB + "=" + secretB}, "serve", "--addr", addr,
				"--db", dsn, "--wx-base-url", mock, "--appid", appA, "--storage-dir", t.TempDir())
			p.waitHealthy("http://" + addr + "/readyz")
			cl := newClient(t, "http://"+addr)
			for i, tok := range tokens {
				if info, e := cl.info(tok); e.Errno != 0 || info.NickName != "Olly" {
					t.Errorf("old token %d after the upgrade: errno %d %+v", i, e.Errno, info)
				}
			}
			var enc struct{ EncryptedData, IV string }
			mockCall(t, mock, "POST", "/__mock/encrypt", map[string]any{"user": "olly", "appid": appA, "kind": "phone"}, &enc)
			if e := cl.call("POST", "/wx/auth/bindPhone", tokens[0], map[string]any{"encryptedData": enc.EncryptedData, "iv": enc.IV}); e.Errno != 0 {
				t.Errorf("legacy bindPhone through an old session: errno %d %s", e.Errno, e.Data)
			}
			// The old user logs in again through the default app: the same
			// row, which now gets its identity.
			tok := cl.via(appA).login(uniqueCode("olly"), nil)
			var again int64
			if err := x.Get(&again, "SELECT user_id FROM wx_session WHERE token_hash = ?", tokenHash(tok.Token)); err != nil || again != uid {
				t.Errorf("the old user logged in as %d, want %d (%v)", again, uid, err)
			}
		})
	}
}

// TestDevTwoAppsFromConfig: `oactl dev --config` with a second app; its
// mockwx answers unionids, so one person through both apps is one user.
func TestDevTwoAppsFromConfig(t *testing.T) {
	yml := filepath.Join(t.TempDir(), "apps.yml")
	if err := os.WriteFile(yml, []byte("oa:\n  wx:\n    apps:\n      - app-id: "+appB+"\n        app-secret: "+secretB+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startDev(t, "--config", yml)
	if !strings.Contains(e.p.out.String(), "Referer: https://servicewechat.com/"+appB) {
		t.Errorf("dev's banner does not show how to log in through %s:\n%s", appB, e.p.out)
	}
	ta := e.c.login(uniqueCode("fay"), map[string]any{"nickName": "Fay"})
	tb := e.c.via(appB).login(uniqueCode("fay"), nil)
	ia, _ := e.c.info(ta.Token)
	ib, _ := e.c.info(tb.Token)
	if ia != ib || ia.NickName != "Fay" {
		t.Errorf("info through A %+v, through B %+v", ia, ib)
	}
	x := e.sql()
	if n := count(t, x, "SELECT COUNT(DISTINCT user_id) FROM wx_identity WHERE unionid = ?", mockwx.UnionID("oactl", "fay")); n != 1 {
		t.Errorf("fay is %d users", n)
	}
	if strings.Contains(e.p.errOut.String(), secretB) {
		t.Error("dev logged app B's secret")
	}
}
