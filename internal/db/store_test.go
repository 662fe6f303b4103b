package db_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// TestStore is the one store test suite, run on every backend against
// one migrated database (cases use their own openids).
func TestStore(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		shanghai, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			t.Fatal(err)
		}
		d := migrated(t, dsn, db.Options{TimeZone: shanghai})
		for _, tc := range append(storeCases, identityCases...) {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, d) })
		}
	})
}

// storeCase is one case of the store suite.
type storeCase struct {
	name string
	fn   func(t *testing.T, d *db.DB)
}

var storeCases = []storeCase{
	{"NewUser", testNewUser},
	{"ReturningUser", testReturningUser},
	{"SeveralRowsPerOpenID", testSeveralRows},
	{"UnusableAccounts", testUnusable},
	{"EmojiNickname", testEmoji},
	{"SessionRoundTrip", testSessionRoundTrip},
	{"RequestReadFieldsOnly", testRequestRead},
	{"SessionApp", testSessionApp},
	{"Revoke", testRevoke},
	{"Purge", testPurge},
	{"NewestSession", testNewestKey},
	{"ProfileAndMobile", testProfile},
	{"ConcurrentNewLogins", testConcurrentLogins},
	{"ReturningLoginsKeepAutoIncrement", testAutoIncrement},
	{"Rekey", testRekey},
	{"DuplicateToken", testDuplicateToken},
}

var seq struct {
	sync.Mutex
	n int
}

// uniq returns a fresh name per call: the cases share one database.
func uniq(prefix string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return fmt.Sprintf("%s%04d", prefix, seq.n)
}

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// at is a time with a fraction: stores take whole seconds and never round
// up, so 03:04:05.6 UTC is 11:04:05 in Shanghai. Touches, revocations and
// profile updates get it as it is; a login record gets it whole, as
// auth's service makes it.
var at = time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

// The apps of the store tests: appA is the default app.
const (
	appA = "wxstoreappa0000001"
	appB = "wxstoreappb0000002"
)

// record is a LoginRecord (through the default app) as auth's service hands it to the store (see
// auth.LoginRecord): times in whole seconds, the User-Agent cut.
func record(openid string, p auth.Profile, when time.Time) auth.LoginRecord {
	when = when.Truncate(time.Second)
	tok := uniq("token")
	return auth.LoginRecord{
		AppID: appA, OpenID: openid, DefaultApp: true, Profile: p, IP: "203.0.113.7", At: when,
		Session: auth.Session{AppID: appA,
			TokenHash: hashOf(tok), SessionKey: "key-" + tok,
			CreatedAt: when.UTC(), ExpiresAt: when.UTC().Add(24 * time.Hour), LastSeenAt: when.UTC(),
			IP: "203.0.113.7", UserAgent: "test-agent",
		},
	}
}

func login(t *testing.T, d *db.DB, rec auth.LoginRecord) (auth.User, auth.Session) {
	t.Helper()
	u, s, err := d.Login(testCtx(t), rec)
	if err != nil {
		t.Fatalf("Login(%s): %v", rec.OpenID, err)
	}
	return u, s
}

// rawUser is a wx_user row as stored, times as their wall-clock text.
type rawUser struct {
	username, password, openid, nickname, avatar, mobile, ip string
	gender, status, level, deleted                           int
	lastLogin, added, updated                                string
	birthday, share                                          sql.NullString
}

func readRawUser(t *testing.T, d *db.DB, id int64) rawUser {
	t.Helper()
	var r rawUser
	var ll, ad, up time.Time
	err := d.SQL().QueryRowContext(testCtx(t), `SELECT username, password, weixin_openid, nickname, avatar, mobile,
		last_login_ip, gender, status, user_level, deleted, last_login_time, add_time, update_time,
		CAST(birthday AS CHAR), CAST(share_user_id AS CHAR) FROM wx_user WHERE id = ?`, id).Scan(
		&r.username, &r.password, &r.openid, &r.nickname, &r.avatar, &r.mobile, &r.ip, &r.gender, &r.status,
		&r.level, &r.deleted, db.TimeIn{&ll, time.UTC}, db.TimeIn{&ad, time.UTC}, db.TimeIn{&up, time.UTC}, &r.birthday, &r.share)
	if err != nil {
		t.Fatalf("read wx_user %d: %v", id, err)
	}
	r.lastLogin, r.added, r.updated = ll.Format(db.TimeLayout), ad.Format(db.TimeLayout), up.Format(db.TimeLayout)
	return r
}

func count(t *testing.T, d *db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.SQL().QueryRowContext(testCtx(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func testNewUser(t *testing.T, d *db.DB) {
	openid := uniq("oNew")
	u, s := login(t, d, record(openid, auth.Profile{Nickname: "小明", Avatar: "https://a.example/1.png", Gender: 1}, at))
	r := readRawUser(t, d, u.ID)
	want := rawUser{
		username: openid, password: "", openid: openid, nickname: "小明", avatar: "https://a.example/1.png",
		mobile: "", ip: "203.0.113.7", gender: 1, status: 0, level: 0, deleted: 0,
		// Shanghai wall clock, whole seconds (not rounded up to :06).
		lastLogin: "2026-01-02 11:04:05", added: "2026-01-02 11:04:05", updated: "2026-01-02 11:04:05",
	}
	if r != want {
		t.Errorf("stored row\n got %+v\nwant %+v", r, want)
	}
	wantAt := time.Date(2026, 1, 2, 11, 4, 5, 0, d.Location())
	if u.ID == 0 || u.OpenID != openid || u.Username != openid || u.Nickname != "小明" || !u.LastLoginAt.Equal(wantAt) || !u.CreatedAt.Equal(wantAt) {
		t.Errorf("returned user %+v", u)
	}
	if s.ID == 0 || s.UserID != u.ID {
		t.Errorf("returned session %+v", s)
	}
	// Read back: same instants, in the configured zone.
	_, got, err := d.StoredSession(testCtx(t), s.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastLoginAt.Equal(wantAt) || got.LastLoginAt.Location() != d.Location() || !got.CreatedAt.Equal(wantAt) {
		t.Errorf("read back times %v %v, want %v in %v", got.LastLoginAt, got.CreatedAt, wantAt, d.Location())
	}
}

func testReturningUser(t *testing.T, d *db.DB) {
	openid := uniq("oRet")
	u1, _ := login(t, d, record(openid, auth.Profile{Avatar: "https://a.example/old.png", Gender: 2}, at))
	later := at.Add(time.Hour)
	rec := record(openid, auth.Profile{Nickname: "新名字", Avatar: "https://a.example/new.png", Gender: 1}, later)
	rec.IP = "198.51.100.9"
	u2, _ := login(t, d, rec)
	if u2.ID != u1.ID {
		t.Fatalf("returning login made user %d, first was %d", u2.ID, u1.ID)
	}
	r := readRawUser(t, d, u1.ID)
	if r.nickname != "新名字" || r.avatar != "https://a.example/old.png" || r.gender != 2 {
		t.Errorf("profile after returning login: nickname %q avatar %q gender %d", r.nickname, r.avatar, r.gender)
	}
	if r.lastLogin != "2026-01-02 12:04:05" || r.updated != "2026-01-02 12:04:05" || r.added != "2026-01-02 11:04:05" || r.ip != "198.51.100.9" {
		t.Errorf("times/ip after returning login: %+v", r)
	}
	if u2.Nickname != "新名字" || u2.Avatar != "https://a.example/old.png" {
		t.Errorf("returned user %+v is not the stored profile", u2)
	}
	// A stored nickname is not overwritten.
	u3, _ := login(t, d, record(openid, auth.Profile{Nickname: "别的"}, later))
	if got := readRawUser(t, d, u1.ID).nickname; got != "新名字" || u3.Nickname != "新名字" {
		t.Errorf("nickname overwritten: stored %q returned %q", got, u3.Nickname)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid = ?", openid); n != 1 {
		t.Errorf("%d rows for one openid", n)
	}
}

func insertUser(t *testing.T, d *db.DB, openid, username string, status, deleted int) int64 {
	t.Helper()
	res, err := d.SQL().ExecContext(testCtx(t), `INSERT INTO wx_user (username, password, weixin_openid, status, deleted, nickname)
		VALUES (?, 'x', ?, ?, ?, ?)`, username, openid, status, deleted, username)
	if err != nil {
		t.Fatal(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func testSeveralRows(t *testing.T, d *db.DB) {
	openid := uniq("oMany")
	insertUser(t, d, openid, uniq("del"), 0, 1)
	first := insertUser(t, d, openid, uniq("first"), 0, 0)
	insertUser(t, d, openid, uniq("second"), 0, 0)
	u, s := login(t, d, record(openid, auth.Profile{}, at))
	if u.ID != first || s.UserID != first {
		t.Errorf("login picked user %d, want the lowest non-deleted %d", u.ID, first)
	}

	onlyDeleted := uniq("oDel")
	insertUser(t, d, onlyDeleted, uniq("d1"), 0, 1)
	insertUser(t, d, onlyDeleted, uniq("d2"), 0, 1)
	if _, _, err := d.Login(testCtx(t), record(onlyDeleted, auth.Profile{}, at)); !errors.Is(err, auth.ErrAccountDeleted) {
		t.Errorf("only deleted rows: err = %v, want ErrAccountDeleted", err)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid = ?", onlyDeleted); n != 2 {
		t.Errorf("only deleted rows: now %d rows, want 2 (never a new one)", n)
	}
}

func testUnusable(t *testing.T, d *db.DB) {
	for _, tc := range []struct {
		status, deleted int
		want            error
	}{
		{auth.StatusDisabled, 0, auth.ErrAccountDisabled},
		{auth.StatusCancelled, 0, auth.ErrAccountCancelled},
		{0, 1, auth.ErrAccountDeleted},
		{7, 0, auth.ErrAccountDisabled},
	} {
		openid := uniq("oBad")
		id := insertUser(t, d, openid, uniq("bad"), tc.status, tc.deleted)
		before := readRawUser(t, d, id)
		users := count(t, d, "SELECT COUNT(*) FROM wx_user")
		sessions := count(t, d, "SELECT COUNT(*) FROM wx_session")
		u, _, err := d.Login(testCtx(t), record(openid, auth.Profile{Nickname: "n", Avatar: "a"}, at))
		if !errors.Is(err, tc.want) {
			t.Errorf("status %d deleted %d: err = %v, want %v", tc.status, tc.deleted, err, tc.want)
		}
		if u.ID != id {
			t.Errorf("status %d: returned user %d, want %d", tc.status, u.ID, id)
		}
		if after := readRawUser(t, d, id); after != before {
			t.Errorf("status %d: row changed\nbefore %+v\n after %+v", tc.status, before, after)
		}
		if n := count(t, d, "SELECT COUNT(*) FROM wx_user"); n != users {
			t.Errorf("status %d: users %d -> %d", tc.status, users, n)
		}
		if n := count(t, d, "SELECT COUNT(*) FROM wx_session"); n != sessions {
			t.Errorf("status %d: sessions %d -> %d", tc.status, sessions, n)
		}
	}
}

func testEmoji(t *testing.T, d *db.DB) {
	const nick = "👨‍👩‍👧‍👦测试😀"
	u, s := login(t, d, record(uniq("oEmoji"), auth.Profile{Nickname: nick}, at))
	if got := readRawUser(t, d, u.ID).nickname; got != nick {
		t.Errorf("stored nickname %q (% x), want %q", got, got, nick)
	}
	_, got, err := d.SessionByTokenHash(testCtx(t), s.TokenHash)
	if err != nil || got.Nickname != nick {
		t.Errorf("read back %q, %v", got.Nickname, err)
	}
	upd := "𠜎😀"
	u2, err := d.UpdateProfile(testCtx(t), u.ID, auth.ProfileUpdate{Nickname: &upd}, at)
	if err != nil || u2.Nickname != upd {
		t.Errorf("UpdateProfile emoji: %q, %v", u2.Nickname, err)
	}
}

func testSessionRoundTrip(t *testing.T, d *db.DB) {
	rec := record(uniq("oRT"), auth.Profile{Nickname: "rt", Gender: 2}, at)
	// Over 255 bytes: auth's service cuts it on a rune boundary.
	rec.Session.UserAgent = auth.CutUTF8("Mozilla/5.0 "+strings.Repeat("é", 200), auth.MaxUserAgent)
	u, s := login(t, d, rec)
	gs, gu, err := d.StoredSession(testCtx(t), rec.Session.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	if gs != s {
		t.Errorf("session round trip\n got %+v\nwant %+v", gs, s)
	}
	if len(gs.UserAgent) > 255 || !strings.HasPrefix(gs.UserAgent, "Mozilla/5.0 éé") {
		t.Errorf("user agent %d bytes: %q", len(gs.UserAgent), gs.UserAgent)
	}
	if !gs.CreatedAt.Equal(at.Truncate(time.Second)) || gs.CreatedAt.Location() != time.UTC || !gs.RevokedAt.IsZero() {
		t.Errorf("session times %v (%v), revoked %v", gs.CreatedAt, gs.CreatedAt.Location(), gs.RevokedAt)
	}
	if gu.ID != u.ID || gu.Gender != 2 || gu.Nickname != "rt" {
		t.Errorf("user %+v", gu)
	}
	if _, _, err := d.SessionByTokenHash(testCtx(t), hashOf("nope")); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	later := at.Add(90 * time.Second)
	if err := d.TouchSession(testCtx(t), s.ID, later, time.Time{}); err != nil {
		t.Fatal(err)
	}
	gs, _, _ = d.SessionByTokenHash(testCtx(t), rec.Session.TokenHash)
	if !gs.LastSeenAt.Equal(later.Truncate(time.Second)) {
		t.Errorf("last seen %v, want %v", gs.LastSeenAt, later)
	}
	if err := d.TouchSession(testCtx(t), 1<<40, later, time.Time{}); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("touch unknown: %v", err)
	}
}

// testRequestRead: SessionByTokenHash fills the fields auth.Store names,
// equal to what is stored, and leaves the rest zero (a handler that came
// to rely on one of those would read an empty value, so the contract is
// pinned here).
func testRequestRead(t *testing.T, d *db.DB) {
	rec := record(uniq("oReq"), auth.Profile{Nickname: "req😀", Avatar: "https://example.com/a.png", Gender: 1}, at)
	rec.Session.UserAgent = "ua"
	_, s := login(t, d, rec)
	if err := d.SetMobile(testCtx(t), s.UserID, "13800000001", at); err != nil {
		t.Fatal(err)
	}
	if err := d.RevokeSession(testCtx(t), s.ID, at.Add(time.Minute), "logout"); err != nil {
		t.Fatal(err)
	}
	full, fu, err := d.StoredSession(testCtx(t), s.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	gs, gu, err := d.SessionByTokenHash(testCtx(t), s.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Session{ID: full.ID, TokenHash: full.TokenHash, UserID: full.UserID, CreatedAt: full.CreatedAt,
		ExpiresAt: full.ExpiresAt, LastSeenAt: full.LastSeenAt, RevokedAt: full.RevokedAt}
	if gs != want || want.RevokedAt.IsZero() {
		t.Errorf("request read of the session\n got %+v\nwant %+v", gs, want)
	}
	wantU := auth.User{ID: fu.ID, Nickname: fu.Nickname, Avatar: fu.Avatar, Gender: fu.Gender, Mobile: fu.Mobile,
		Status: fu.Status, Deleted: fu.Deleted}
	if gu != wantU || wantU.Mobile == "" || wantU.Avatar == "" {
		t.Errorf("request read of the user\n got %+v\nwant %+v", gu, wantU)
	}
}

// testSessionApp: the app and openid the request read leaves out, for a
// session of each app and one made before apps were recorded.
func testSessionApp(t *testing.T, d *db.DB) {
	openid := uniq("oApp")
	_, sa := login(t, d, record(openid, auth.Profile{}, at))
	// Through app B with no unionid: another user, whose wx_user openid
	// is its first app's.
	_, sb := login(t, d, viaApp(record(openid, auth.Profile{}, at), appB, "oB"+openid, ""))
	for _, c := range []struct {
		s           auth.Session
		app, openid string
	}{{sa, appA, openid}, {sb, appB, "oB" + openid}} {
		if appid, uo, err := d.SessionApp(testCtx(t), c.s.ID); err != nil || appid != c.app || uo != c.openid {
			t.Errorf("session %d: %q %q %v, want %q %q", c.s.ID, appid, uo, err, c.app, c.openid)
		}
	}
	if _, err := d.SQL().ExecContext(testCtx(t), `UPDATE wx_session SET appid = '' WHERE id = ?`, sa.ID); err != nil {
		t.Fatal(err)
	}
	if appid, uo, err := d.SessionApp(testCtx(t), sa.ID); err != nil || appid != "" || uo != openid {
		t.Errorf("session from before apps: %q %q %v", appid, uo, err)
	}
	if _, _, err := d.SessionApp(testCtx(t), -1); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}
}

func testRevoke(t *testing.T, d *db.DB) {
	_, s := login(t, d, record(uniq("oRev"), auth.Profile{}, at))
	when := at.Add(time.Minute)
	if err := d.RevokeSession(testCtx(t), s.ID, when, "logout"); err != nil {
		t.Fatal(err)
	}
	gs, _, err := d.StoredSession(testCtx(t), s.TokenHash)
	if err != nil || !gs.Revoked() || !gs.RevokedAt.Equal(when.Truncate(time.Second)) || gs.RevokeReason != "logout" {
		t.Fatalf("after revoke: %+v, %v", gs, err)
	}
	// Revoking again keeps the first time and reason.
	if err := d.RevokeSession(testCtx(t), s.ID, when.Add(time.Hour), "support"); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	gs, _, _ = d.StoredSession(testCtx(t), s.TokenHash)
	if gs.RevokeReason != "logout" || !gs.RevokedAt.Equal(when.Truncate(time.Second)) {
		t.Errorf("second revoke overwrote: %+v", gs)
	}
	if err := d.RevokeSession(testCtx(t), 1<<40, when, "x"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
}

func testPurge(t *testing.T, d *db.DB) {
	// Far in the past, so other cases' sessions are untouched.
	base := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	var hashes []string
	for i := range 5 {
		rec := record(uniq("oPurge"), auth.Profile{}, base)
		rec.Session.ExpiresAt = base.Add(time.Duration(i) * time.Hour)
		login(t, d, rec)
		hashes = append(hashes, rec.Session.TokenHash)
	}
	n, err := d.PurgeExpiredSessions(testCtx(t), base.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("purge = %d, %v; want 2", n, err)
	}
	for i, h := range hashes {
		_, _, err := d.SessionByTokenHash(testCtx(t), h)
		if gone := errors.Is(err, auth.ErrNotFound); gone != (i < 2) {
			t.Errorf("session %d: gone %v (err %v)", i, gone, err)
		}
	}
	if n, err := d.PurgeExpiredSessions(testCtx(t), base.Add(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v", n, err)
	}
}

func testNewestKey(t *testing.T, d *db.DB) {
	openid := uniq("oKey")
	r1 := record(openid, auth.Profile{}, at)
	r1.Session.SessionKey = "first-key"
	r1.UnionID = "u" + openid
	u, _ := login(t, d, r1)
	r2 := record(openid, auth.Profile{}, at.Add(time.Second))
	r2.Session.SessionKey = "second-key"
	login(t, d, r2)
	// Same second as r2: the later insert still wins.
	r3 := record(openid, auth.Profile{}, at.Add(time.Second))
	r3.Session.SessionKey = "third-key"
	login(t, d, r3)
	// A newer session through another app does not count for app A.
	r4 := viaApp(record(openid, auth.Profile{}, at.Add(2*time.Second)), appB, "oB"+openid, "u"+openid)
	r4.Session.SessionKey = "key-of-b"
	login(t, d, r4)
	s, err := d.NewestSession(testCtx(t), u.ID, []string{appA})
	if err != nil || s.SessionKey != "third-key" || s.TokenHash != r3.Session.TokenHash || s.AppID != appA {
		t.Errorf("NewestSession(A) = %+v, %v", s, err)
	}
	if s, err := d.NewestSession(testCtx(t), u.ID, []string{appB}); err != nil || s.SessionKey != "key-of-b" || s.AppID != appB {
		t.Errorf("NewestSession(B) = %+v, %v", s, err)
	}
	if s, err := d.NewestSession(testCtx(t), u.ID, []string{appA, appB}); err != nil || s.SessionKey != "key-of-b" {
		t.Errorf("NewestSession(A, B) = %+v, %v", s, err)
	}
	if _, err := d.NewestSession(testCtx(t), u.ID, []string{"wxnone"}); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("no sessions of that app: %v", err)
	}
	if _, err := d.NewestSession(testCtx(t), 1<<40, []string{appA}); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("no sessions: %v", err)
	}
}

func testProfile(t *testing.T, d *db.DB) {
	u, _ := login(t, d, record(uniq("oProf"), auth.Profile{Nickname: "a", Avatar: "x"}, at))
	nick, g := "b", 2
	when := at.Add(48 * time.Hour)
	got, err := d.UpdateProfile(testCtx(t), u.ID, auth.ProfileUpdate{Nickname: &nick, Gender: &g}, when)
	if err != nil {
		t.Fatal(err)
	}
	if got.Nickname != "b" || got.Avatar != "x" || got.Gender != 2 || !got.UpdatedAt.Equal(when.Truncate(time.Second)) {
		t.Errorf("after update %+v", got)
	}
	if _, err := d.UpdateProfile(testCtx(t), 1<<30, auth.ProfileUpdate{Nickname: &nick}, when); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("update unknown: %v", err)
	}
	if err := d.SetMobile(testCtx(t), u.ID, "13800138000", when); err != nil {
		t.Fatal(err)
	}
	if r := readRawUser(t, d, u.ID); r.mobile != "13800138000" {
		t.Errorf("mobile %q", r.mobile)
	}
	if err := d.SetMobile(testCtx(t), 1<<30, "1", when); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("set mobile unknown: %v", err)
	}
}

// raceLogins runs n logins at once, login i through login(i), and wants
// them all to succeed as one user, whose id it returns.
func raceLogins(t *testing.T, n int, login func(i int) (*db.DB, auth.LoginRecord)) int64 {
	t.Helper()
	var wg sync.WaitGroup
	ids := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		d, rec := login(i)
		wg.Go(func() {
			u, _, err := d.Login(testCtx(t), rec)
			ids[i], errs[i] = u.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("login %d: user %d (login 0: %d), %v", i, ids[i], ids[0], errs[i])
		}
	}
	return ids[0]
}

func testConcurrentLogins(t *testing.T, d *db.DB) {
	openid := uniq("oRace")
	const n = 50
	raceLogins(t, n, func(int) (*db.DB, auth.LoginRecord) { return d, record(openid, auth.Profile{Nickname: "race"}, at) })
	if c := count(t, d, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid = ?", openid); c != 1 {
		t.Errorf("%d rows for one openid after %d concurrent logins", c, n)
	}
	if c := count(t, d, "SELECT COUNT(*) FROM wx_session s JOIN wx_user u ON u.id = s.user_id WHERE u.weixin_openid = ?", openid); c != n {
		t.Errorf("%d sessions, want %d", c, n)
	}
}

func autoIncrement(t *testing.T, d *db.DB) int64 {
	t.Helper()
	var v int64
	if err := d.SQL().QueryRowContext(testCtx(t), `SELECT AUTO_INCREMENT FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name = 'wx_user'`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func testAutoIncrement(t *testing.T, d *db.DB) {
	if d.Dialect() != db.MySQL {
		t.Skip("AUTO_INCREMENT is MySQL's")
	}
	openid := uniq("oAI")
	login(t, d, record(openid, auth.Profile{}, at))
	before := autoIncrement(t, d)
	for range 20 {
		login(t, d, record(openid, auth.Profile{}, at))
	}
	if after := autoIncrement(t, d); after != before {
		t.Errorf("20 returning logins moved AUTO_INCREMENT %d -> %d", before, after)
	}
	// The probe itself can see a change: a new user does move it.
	login(t, d, record(uniq("oAI"), auth.Profile{}, at))
	if after := autoIncrement(t, d); after <= before {
		t.Errorf("a new user left AUTO_INCREMENT at %d (was %d): the probe sees nothing", after, before)
	}
}

func testRekey(t *testing.T, d *db.DB) {
	ctx := testCtx(t)
	n0, err := d.RekeySessionKeys(ctx, auth.Audit{Actor: "t"}, func(_, stored string) (string, bool, error) { return stored, false, nil })
	if err != nil || n0 != 0 {
		t.Fatalf("no-op rekey = %d, %v", n0, err)
	}
	total := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE session_key NOT LIKE 'v2:%'")
	seen := 0
	n, err := d.RekeySessionKeys(ctx, auth.Audit{Actor: "t"}, func(hash, stored string) (string, bool, error) {
		seen++
		if strings.HasPrefix(stored, "v2:") {
			return stored, false, nil
		}
		return "v2:" + stored, true, nil
	})
	if err != nil || int(n) != total {
		t.Fatalf("rekey = %d, %v; want %d", n, err, total)
	}
	if c := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE session_key NOT LIKE 'v2:%'"); c != 0 {
		t.Errorf("%d keys not rewritten", c)
	}
	boom := errors.New("boom")
	if _, err := d.RekeySessionKeys(ctx, auth.Audit{Actor: "t"}, func(string, string) (string, bool, error) { return "", false, boom }); !errors.Is(err, boom) {
		t.Errorf("rekey error: %v", err)
	}
}

func testDuplicateToken(t *testing.T, d *db.DB) {
	rec := record(uniq("oDup"), auth.Profile{}, at)
	login(t, d, rec)
	rec2 := record(uniq("oDup"), auth.Profile{}, at)
	rec2.Session.TokenHash = rec.Session.TokenHash
	rec2.Session.SessionKey = "SECRET-SESSION-KEY"
	_, _, err := d.Login(testCtx(t), rec2)
	if !errors.Is(err, db.ErrConflict) {
		t.Fatalf("duplicate token hash: %v, want db.ErrConflict", err)
	}
	if strings.Contains(err.Error(), "SECRET-SESSION-KEY") {
		t.Errorf("error leaks the session key: %v", err)
	}
	// The whole login rolled back: no user for the second openid.
	if c := count(t, d, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid = ?", rec2.OpenID); c != 0 {
		t.Errorf("user row left behind by a failed login")
	}
}

// TestConcurrentLoginsTwoProcesses: two *db.DB on one database (like two
// serve processes) race logins of one new openid. On SQLite this goes
// through busy_timeout, SQLITE_BUSY retries and the unique-constraint path.
func TestConcurrentLoginsTwoProcesses(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		a := migrated(t, dsn, db.Options{})
		b := dbtest.Open(t, dsn, db.Options{})
		openid := uniq("oTwo")
		raceLogins(t, 40, func(i int) (*db.DB, auth.LoginRecord) {
			return []*db.DB{a, b}[i%2], record(openid, auth.Profile{}, at)
		})
		if c := count(t, a, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid = ?", openid); c != 1 {
			t.Errorf("%d rows for one openid", c)
		}
	})
}

func TestIsDuplicateSQLite(t *testing.T) {
	d := migrated(t, dbtest.SQLite(t), db.Options{})
	insertUser(t, d, "o1", "same", 0, 0)
	_, err := d.SQL().Exec(`INSERT INTO wx_user (username, weixin_openid) VALUES ('same', 'o2')`)
	if !db.IsDuplicate(err) {
		t.Fatalf("db.IsDuplicate(%v) = false", err)
	}
	_, err = d.SQL().Exec(`INSERT INTO wx_user (username, weixin_openid) VALUES (NULL, 'o2')`)
	if err == nil || db.IsDuplicate(err) {
		t.Fatalf("NOT NULL violation %v counted as duplicate", err)
	}
}

func TestHostileValues(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		d := migrated(t, dsn, db.Options{})
		for _, openid := range []string{"o'; DROP TABLE wx_user; --", `o\' OR 1=1 -- `, "o%_%", "o\x00nul", "o" + strings.Repeat("長", 20)} {
			rec := record(openid, auth.Profile{Nickname: `Robert'); DROP TABLE wx_session;--`, Avatar: `"><script>`}, at)
			u, s, err := d.Login(testCtx(t), rec)
			if err != nil {
				t.Errorf("Login(%q): %v", openid, err)
				continue
			}
			gs, gu, err := d.SessionByTokenHash(testCtx(t), s.TokenHash)
			if err != nil || gu.ID != u.ID || gu.Nickname != rec.Profile.Nickname {
				t.Errorf("read back %q: %+v, %v", openid, gu, err)
			}
			if _, uo, err := d.SessionApp(testCtx(t), gs.ID); err != nil || uo != openid {
				t.Errorf("openid read back %q: %q, %v", openid, uo, err)
			}
		}
		if n := count(t, d, "SELECT COUNT(*) FROM wx_user"); n != 5 {
			t.Errorf("%d users, want 5", n)
		}
	})
}

func TestOpenErrorsHidePassword(t *testing.T) {
	ctx := testCtx(t)
	// Nothing listens on port 1.
	if _, err := db.Open(ctx, "mysql://oa:Hunter2Secret@127.0.0.1:1/oa?timeout=1s", db.Options{}); err == nil || strings.Contains(err.Error(), "Hunter2Secret") {
		t.Errorf("Open on a closed port: %v", err)
	}
	if _, err := db.Open(ctx, "sqlite:"+t.TempDir()+"/no/such/dir/x.db", db.Options{}); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
	srv := dbtest.MySQL(t)
	bad := strings.Replace(srv, "oactl:oactl@", "oactl:Wrong%21Secret@", 1)
	_, err := db.Open(ctx, bad, db.Options{})
	if err == nil || strings.Contains(err.Error(), "Wrong!Secret") || strings.Contains(err.Error(), "Wrong%21Secret") {
		t.Errorf("Open with a wrong password: %v", err)
	}
}
