package db_test

import (
	"errors"
	"testing"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// The identity cases of the store suite (SPEC §10), run by TestStore:
// the four-step resolution, unionid linking and filling in, account
// states through every app, and concurrent first logins through two apps.
var identityCases = []storeCase{
	{"TwoAppsOneUnionID", testTwoAppsOneUnionID},
	{"TwoAppsWithoutUnionID", testTwoAppsWithoutUnionID},
	{"UnionIDFilledInLater", testUnionIDFilledInLater},
	{"JavaRowOnlyThroughDefaultApp", testJavaRowOnlyThroughDefaultApp},
	{"UnusableThroughEveryApp", testUnusableThroughEveryApp},
	{"ConcurrentFirstLoginsTwoApps", testConcurrentFirstLoginsTwoApps},
	{"OrphanIdentity", testOrphanIdentity},
}

// viaApp turns rec into a login through app with the openid and unionid
// WeChat gives there. appA is the default app.
func viaApp(rec auth.LoginRecord, app, openid, unionid string) auth.LoginRecord {
	rec.AppID, rec.Session.AppID = app, app
	rec.OpenID, rec.UnionID = openid, unionid
	rec.DefaultApp = app == appA
	return rec
}

// person is one WeChat user: an openid per app, one unionid.
type person struct{ a, b, c, union string }

func newPerson(name string) person {
	n := uniq(name)
	return person{a: "oA" + n, b: "oB" + n, c: "oC" + n, union: "u" + n}
}

func (p person) via(app string, withUnion bool) auth.LoginRecord {
	openid := map[string]string{appA: p.a, appB: p.b, appC: p.c}[app]
	union := ""
	if withUnion {
		union = p.union
	}
	return viaApp(record(openid, auth.Profile{Nickname: "n"}, at), app, openid, union)
}

const appC = "wxstoreappc0000003"

func identities(t *testing.T, d *db.DB, userID int64) []auth.Identity {
	t.Helper()
	ids, err := d.UserIdentities(testCtx(t), userID)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func testTwoAppsOneUnionID(t *testing.T, d *db.DB) {
	p := newPerson("alice")
	ua, sa := login(t, d, p.via(appA, true))
	ub, sb := login(t, d, p.via(appB, true))
	if ua.ID != ub.ID {
		t.Fatalf("app A made user %d, app B user %d: one unionid must be one user", ua.ID, ub.ID)
	}
	if sa.AppID != appA || sb.AppID != appB {
		t.Errorf("session apps %q %q", sa.AppID, sb.AppID)
	}
	ids := identities(t, d, ua.ID)
	if len(ids) != 2 || ids[0].AppID != appA || ids[0].OpenID != p.a || ids[1].AppID != appB || ids[1].OpenID != p.b ||
		ids[0].UnionID != p.union || ids[1].UnionID != p.union || ids[0].CreatedAt.IsZero() {
		t.Fatalf("identities %+v", ids)
	}
	// The user keeps the first app's openid as its username.
	if r := readRawUser(t, d, ua.ID); r.username != p.a || r.openid != p.a {
		t.Errorf("wx_user username %q openid %q, want %q", r.username, r.openid, p.a)
	}
	for _, tok := range []string{sa.TokenHash, sb.TokenHash} {
		s, u, err := d.SessionByTokenHash(testCtx(t), tok)
		if err != nil || u.ID != ua.ID {
			t.Errorf("session %s: user %d, %v", tok[:8], u.ID, err)
		}
		if appid, _, err := d.SessionApp(testCtx(t), s.ID); err != nil || appid != map[string]string{sa.TokenHash: appA, sb.TokenHash: appB}[tok] {
			t.Errorf("session app %q, %v", appid, err)
		}
	}
	// Returning logins through either app write no identity.
	login(t, d, p.via(appB, true))
	login(t, d, p.via(appA, true))
	if n := len(identities(t, d, ua.ID)); n != 2 {
		t.Errorf("%d identities after returning logins", n)
	}
	rows, err := d.ListSessions(testCtx(t), auth.SessionFilter{UserID: ua.ID})
	if err != nil || len(rows) != 4 {
		t.Fatalf("list: %d rows, %v", len(rows), err)
	}
	apps := map[string]int{}
	for _, r := range rows {
		apps[r.Session.AppID]++
	}
	if apps[appA] != 2 || apps[appB] != 2 {
		t.Errorf("listed apps %v", apps)
	}
}

func testTwoAppsWithoutUnionID(t *testing.T, d *db.DB) {
	p := newPerson("bob")
	ua, _ := login(t, d, p.via(appA, false))
	ub, _ := login(t, d, p.via(appB, false))
	if ua.ID == ub.ID {
		t.Fatal("without a unionid two apps' openids are two users")
	}
	if r := readRawUser(t, d, ub.ID); r.username != p.b || r.openid != p.b {
		t.Errorf("app B's user: username %q openid %q, want %q", r.username, r.openid, p.b)
	}
	if a, b := identities(t, d, ua.ID), identities(t, d, ub.ID); len(a) != 1 || len(b) != 1 || a[0].UnionID != "" || b[0].AppID != appB {
		t.Errorf("identities %+v / %+v", a, b)
	}
}

func testUnionIDFilledInLater(t *testing.T, d *db.DB) {
	p := newPerson("carol")
	u1, _ := login(t, d, p.via(appA, false))
	if ids := identities(t, d, u1.ID); len(ids) != 1 || ids[0].UnionID != "" {
		t.Fatalf("identities %+v", ids)
	}
	u2, _ := login(t, d, p.via(appA, true))
	if u2.ID != u1.ID {
		t.Fatalf("the second login through A made user %d (first %d)", u2.ID, u1.ID)
	}
	if ids := identities(t, d, u1.ID); len(ids) != 1 || ids[0].UnionID != p.union {
		t.Fatalf("unionid not filled in: %+v", ids)
	}
	u3, _ := login(t, d, p.via(appB, true))
	if u3.ID != u1.ID {
		t.Fatalf("app B made user %d; the filled-in unionid links user %d", u3.ID, u1.ID)
	}
	// A login without a unionid never erases one.
	login(t, d, p.via(appA, false))
	if ids := identities(t, d, u1.ID); len(ids) != 2 || ids[0].UnionID != p.union {
		t.Errorf("identities %+v", ids)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_identity WHERE unionid_claim = ?", p.union); n != 1 {
		t.Errorf("%d claims of one unionid", n)
	}
}

func testJavaRowOnlyThroughDefaultApp(t *testing.T, d *db.DB) {
	openid := uniq("oJava")
	id := insertUser(t, d, openid, uniq("java"), 0, 0)
	before := readRawUser(t, d, id)
	// The same openid text under another app is not the Java row's user.
	ub, _ := login(t, d, viaApp(record(openid, auth.Profile{}, at), appB, openid, ""))
	if ub.ID == id {
		t.Fatal("a login through app B found the default app's wx_user row")
	}
	if r := readRawUser(t, d, id); r != before {
		t.Errorf("the Java row changed through app B:\n%+v\n%+v", before, r)
	}
	ua, _ := login(t, d, record(openid, auth.Profile{}, at))
	if ua.ID != id {
		t.Fatalf("the default app found user %d, want the Java row %d", ua.ID, id)
	}
	login(t, d, record(openid, auth.Profile{}, at))
	ids := identities(t, d, id)
	if len(ids) != 1 || ids[0].AppID != appA || ids[0].OpenID != openid {
		t.Errorf("the Java row's identities %+v, want one of app A", ids)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid = ?", openid); n != 2 {
		t.Errorf("%d wx_user rows, want the Java row and app B's user", n)
	}
}

func testUnusableThroughEveryApp(t *testing.T, d *db.DB) {
	p := newPerson("dora")
	u, _ := login(t, d, p.via(appA, true))
	login(t, d, p.via(appB, true))
	if _, err := d.SQL().ExecContext(testCtx(t), "UPDATE wx_user SET status = 1 WHERE id = ?", u.ID); err != nil {
		t.Fatal(err)
	}
	before := readRawUser(t, d, u.ID)
	sessions := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE user_id = ?", u.ID)
	for _, app := range []string{appA, appB, appC} {
		got, _, err := d.Login(testCtx(t), p.via(app, true))
		if !errors.Is(err, auth.ErrAccountDisabled) || got.ID != u.ID {
			t.Errorf("through %s: user %d, %v; want user %d refused as disabled", app, got.ID, err, u.ID)
		}
	}
	if r := readRawUser(t, d, u.ID); r != before {
		t.Errorf("refused logins changed the row")
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE user_id = ?", u.ID); n != sessions {
		t.Errorf("refused logins wrote sessions: %d -> %d", sessions, n)
	}
	if n := len(identities(t, d, u.ID)); n != 2 {
		t.Errorf("a refused login through app C linked it: %d identities", n)
	}
}

// testConcurrentFirstLoginsTwoApps: one new person logs in 50 times at
// once, half through app A and half through app B.
func testConcurrentFirstLoginsTwoApps(t *testing.T, d *db.DB) {
	concurrentTwoApps(t, d, d)
}

func concurrentTwoApps(t *testing.T, x, y *db.DB) {
	t.Helper()
	p := newPerson("race")
	const n = 50
	user := raceLogins(t, n, func(i int) (*db.DB, auth.LoginRecord) {
		if i%2 == 1 {
			return y, p.via(appB, true)
		}
		return x, p.via(appA, true)
	})
	if c := count(t, x, "SELECT COUNT(*) FROM wx_identity WHERE unionid = ?", p.union); c != 2 {
		t.Errorf("%d identities, want 2", c)
	}
	if c := count(t, x, "SELECT COUNT(DISTINCT user_id) FROM wx_identity WHERE unionid = ?", p.union); c != 1 {
		t.Errorf("%d users for one unionid", c)
	}
	if c := count(t, x, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid IN (?, ?)", p.a, p.b); c != 1 {
		t.Errorf("%d wx_user rows, want 1", c)
	}
	if c := count(t, x, "SELECT COUNT(*) FROM wx_session WHERE user_id = ?", user); c != n {
		t.Errorf("%d sessions, want %d", c, n)
	}
}

// TestConcurrentFirstLoginsTwoAppsTwoProcesses: the same race, split over
// two *db.DB on one database, as two serve processes would be.
func TestConcurrentFirstLoginsTwoAppsTwoProcesses(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		a := migrated(t, dsn, db.Options{})
		b := dbtest.Open(t, dsn, db.Options{})
		concurrentTwoApps(t, a, b)
	})
}

// testOrphanIdentity: an identity whose wx_user row was deleted by hand
// does not block its openid for ever; the next login makes a new user.
func testOrphanIdentity(t *testing.T, d *db.DB) {
	p := newPerson("gone")
	u, _ := login(t, d, p.via(appB, false))
	if d.Dialect() == db.SQLite {
		// The foreign key's cascade removes the identity with the row.
		if _, err := d.SQL().ExecContext(testCtx(t), "PRAGMA foreign_keys = OFF"); err != nil {
			t.Fatal(err)
		}
		defer d.SQL().ExecContext(testCtx(t), "PRAGMA foreign_keys = ON")
	}
	if _, err := d.SQL().ExecContext(testCtx(t), "DELETE FROM wx_session WHERE user_id = ?", u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL().ExecContext(testCtx(t), "DELETE FROM wx_user WHERE id = ?", u.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_identity WHERE user_id = ?", u.ID); n != 1 {
		t.Fatalf("setup: %d orphan identities", n)
	}
	u2, _ := login(t, d, p.via(appB, false))
	if u2.ID == u.ID {
		t.Fatal("logged in as a deleted row")
	}
	if ids := identities(t, d, u2.ID); len(ids) != 1 || ids[0].OpenID != p.b {
		t.Errorf("identities %+v", ids)
	}
}
