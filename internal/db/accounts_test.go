package db_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// TestAccounts runs the account cases on SQLite and MariaDB.
func TestAccounts(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		shanghai, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			t.Fatal(err)
		}
		d := migrated(t, dsn, db.Options{TimeZone: shanghai})
		for _, tc := range accountCases {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, d) })
		}
	})
}

var accountCases = []storeCase{
	{"Cancel", testCancel},
	{"CancelUnknownUser", testCancelUnknown},
	{"DisableEnable", testDisableEnable},
	{"EnableRefusesCancelledAndDeleted", testEnableRefused},
	{"AuditOfSessionActions", testAuditSessions},
	{"AuditListFilters", testAuditList},
	{"PhoneConflicts", testPhoneConflicts},
	{"SessionLimit", testSessionLimit},
	{"ListUsers", testListUsers},
	{"CountSessions", testCountSessions},
}

var support = auth.Audit{Actor: "zhang.san", Reason: "ticket 7", At: at.Truncate(time.Second)}

// auditOf returns a user's audit rows, newest first.
func auditOf(t *testing.T, d *db.DB, userID int64) []auth.AuditEntry {
	t.Helper()
	rows, err := d.ListAudit(testCtx(t), auth.AuditFilter{UserID: userID})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func testCancel(t *testing.T, d *db.DB) {
	p := newPerson(uniq("cancel"))
	u, s1 := login(t, d, p.via(appA, true))
	_, s2 := login(t, d, p.via(appB, true))
	_, gone := login(t, d, p.via(appA, true))
	if err := d.RevokeSession(testCtx(t), gone.ID, at, auth.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateProfile(testCtx(t), u.ID, auth.ProfileUpdate{Nickname: ptr("张三😀"), Avatar: ptr("https://x/a.png"), Gender: ptr(1)}, at); err != nil {
		t.Fatal(err)
	}
	if err := d.SetMobile(testCtx(t), u.ID, "13800001111", at); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL().ExecContext(testCtx(t), `UPDATE wx_user SET birthday = '1990-01-02', password = 'hash', share_user_id = 7, user_level = 1 WHERE id = ?`, u.ID); err != nil {
		t.Fatal(err)
	}
	before := readRawUser(t, d, u.ID)
	res, err := d.CancelUser(testCtx(t), u.ID, auth.Audit{Actor: auth.ActorUser, At: at.Add(time.Hour).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Sessions)
	if !slices.Equal(res.Sessions, []int64{s1.ID, s2.ID}) || res.Identities != 2 {
		t.Errorf("result %+v, want sessions %d %d and 2 identities", res, s1.ID, s2.ID)
	}
	r := readRawUser(t, d, u.ID)
	want := rawUser{username: db.CancelledUsername(u.ID), status: auth.StatusCancelled, level: 1, share: before.share,
		lastLogin: before.lastLogin, added: before.added, updated: "2026-01-02 12:04:05"}
	if r != want {
		t.Errorf("row after cancel:\n%+v\nwant\n%+v", r, want)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_identity WHERE user_id = ?", u.ID); n != 0 {
		t.Errorf("%d identities left", n)
	}
	// Every session revoked (the one revoked before keeps its reason),
	// none keeps a key, an IP or a User-Agent.
	if n := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE user_id = ? AND (revoked_at IS NULL OR session_key <> '' OR ip <> '' OR user_agent <> '')", u.ID); n != 0 {
		t.Errorf("%d sessions not revoked or not erased", n)
	}
	for id, reason := range map[int64]string{s1.ID: auth.ReasonCancelled, s2.ID: auth.ReasonCancelled, gone.ID: auth.ReasonLogout} {
		if n := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE id = ? AND revoke_reason = ?", id, reason); n != 1 {
			t.Errorf("session %d: reason is not %q", id, reason)
		}
	}
	a := auditOf(t, d, u.ID)
	if len(a) != 1 || a[0].Actor != auth.ActorUser || a[0].Action != auth.ActionCancel || a[0].Sessions != 2 || len(a[0].SessionIDs) != 2 {
		t.Fatalf("audit %+v", a)
	}
	// The audit row holds no personal data or secret of the account.
	for _, secret := range []string{p.a, p.b, p.union, "13800001111", "张三", s1.TokenHash, s1.SessionKey} {
		if n := count(t, d, "SELECT COUNT(*) FROM oa_audit WHERE actor = ? OR reason = ? OR session_ids = ?", secret, secret, secret); n != 0 {
			t.Errorf("oa_audit holds %q", secret)
		}
	}
	// The same WeChat account logs in again: a new, empty user.
	again := p.via(appA, true)
	again.Profile = auth.Profile{}
	nu, _ := login(t, d, again)
	if nu.ID == u.ID || nu.Nickname != "" || nu.Mobile != "" {
		t.Fatalf("login after cancel: %+v", nu)
	}
	if _, _, err := d.Login(testCtx(t), p.via(appB, true)); err != nil {
		t.Fatal(err)
	}
	if ids := identities(t, d, nu.ID); len(ids) != 2 {
		t.Errorf("the new user has %d identities", len(ids))
	}
	// Cancelling again is allowed and audited (a row cancelled by other
	// software gets anonymised too).
	second := support
	second.At = at.Add(2 * time.Hour).Truncate(time.Second)
	if _, err := d.CancelUser(testCtx(t), u.ID, second); err != nil {
		t.Fatal(err)
	}
	if a := auditOf(t, d, u.ID); len(a) != 2 || a[0].Actor != "zhang.san" {
		t.Errorf("second cancel audit %+v", a)
	}
}

func ptr[T any](v T) *T { return &v }

func testCancelUnknown(t *testing.T, d *db.DB) {
	if _, err := d.CancelUser(testCtx(t), 1<<30, support); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("cancel of no one: %v", err)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM oa_audit WHERE user_id = ?", 1<<30); n != 0 {
		t.Fatal("an audit row for nothing")
	}
}

func testDisableEnable(t *testing.T, d *db.DB) {
	openid := uniq("oDis")
	u, s1 := login(t, d, record(openid, auth.Profile{}, at))
	_, s2 := login(t, d, record(openid, auth.Profile{}, at))
	changed, revoked, err := d.SetUserStatus(testCtx(t), u.ID, auth.StatusDisabled, support)
	slices.Sort(revoked)
	if err != nil || !changed || !slices.Equal(revoked, []int64{s1.ID, s2.ID}) {
		t.Fatalf("disable: %v %v %v", changed, revoked, err)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE user_id = ? AND revoke_reason = ?", u.ID, auth.ReasonDisabled); n != 2 {
		t.Errorf("%d sessions revoked as disabled", n)
	}
	if _, _, err := d.Login(testCtx(t), record(openid, auth.Profile{}, at)); !errors.Is(err, auth.ErrAccountDisabled) {
		t.Fatalf("login of a disabled user: %v", err)
	}
	// Again: nothing changes, nothing is audited.
	if changed, _, err := d.SetUserStatus(testCtx(t), u.ID, auth.StatusDisabled, support); err != nil || changed {
		t.Fatalf("second disable: %v %v", changed, err)
	}
	if changed, revoked, err := d.SetUserStatus(testCtx(t), u.ID, auth.StatusActive, support); err != nil || !changed || len(revoked) != 0 {
		t.Fatalf("enable: %v %v %v", changed, revoked, err)
	}
	if _, _, err := d.Login(testCtx(t), record(openid, auth.Profile{}, at)); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
	a := auditOf(t, d, u.ID)
	if len(a) != 2 || a[0].Action != auth.ActionEnable || a[1].Action != auth.ActionDisable || a[1].Sessions != 2 ||
		a[1].Actor != "zhang.san" || a[1].Reason != "ticket 7" || !a[1].At.Equal(support.At) {
		t.Fatalf("audit %+v", a)
	}
	if r := readRawUser(t, d, u.ID); r.updated != "2026-01-02 11:04:05" {
		t.Errorf("update_time %s, want the audit's time in Shanghai", r.updated)
	}
	if _, _, err := d.SetUserStatus(testCtx(t), 1<<30, auth.StatusDisabled, support); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("disable of no one: %v", err)
	}
	if _, _, err := d.SetUserStatus(testCtx(t), u.ID, auth.StatusCancelled, support); err == nil {
		t.Error("SetUserStatus cancelled a user")
	}
}

func testEnableRefused(t *testing.T, d *db.DB) {
	cancelled := insertUser(t, d, uniq("oC"), uniq("uC"), auth.StatusCancelled, 0)
	deleted := insertUser(t, d, uniq("oD"), uniq("uD"), 0, 1)
	for id, want := range map[int64]error{cancelled: auth.ErrAccountCancelled, deleted: auth.ErrAccountDeleted} {
		for _, st := range []int{auth.StatusActive, auth.StatusDisabled} {
			if _, _, err := d.SetUserStatus(testCtx(t), id, st, support); !errors.Is(err, want) {
				t.Errorf("user %d to %d: %v, want %v", id, st, err, want)
			}
		}
		if r := readRawUser(t, d, id); (id == cancelled && r.status != auth.StatusCancelled) || len(auditOf(t, d, id)) != 0 {
			t.Errorf("user %d changed: %+v", id, r)
		}
	}
}

func testAuditSessions(t *testing.T, d *db.DB) {
	a := newPerson(uniq("aud"))
	b := newPerson(uniq("aud"))
	ua, sa1 := login(t, d, a.via(appA, false))
	_, sa2 := login(t, d, a.via(appA, false))
	ub, sb := login(t, d, b.via(appA, false))
	// One revoke across two users: one audit row per user, one
	// transaction; ids repeated or unknown are harmless.
	n, err := d.RevokeSessions(testCtx(t), []int64{sa1.ID, sb.ID, sa1.ID, 1 << 40}, support)
	if err != nil || n != 2 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if r := auditOf(t, d, ua.ID); len(r) != 1 || !slices.Equal(r[0].SessionIDs, []int64{sa1.ID}) || r[0].Action != auth.ActionRevoke {
		t.Errorf("a's audit %+v", r)
	}
	if r := auditOf(t, d, ub.ID); len(r) != 1 || !slices.Equal(r[0].SessionIDs, []int64{sb.ID}) {
		t.Errorf("b's audit %+v", r)
	}
	// Nothing revoked: no row.
	if n, err := d.RevokeSessions(testCtx(t), []int64{sa1.ID}, support); err != nil || n != 0 || len(auditOf(t, d, ua.ID)) != 1 {
		t.Errorf("second revoke: %d %v", n, err)
	}
	if n, err := d.RevokeUserSessions(testCtx(t), ua.ID, support); err != nil || n != 1 {
		t.Fatalf("revoke user: %d %v", n, err)
	}
	if r := auditOf(t, d, ua.ID); len(r) != 2 || !slices.Equal(r[0].SessionIDs, []int64{sa2.ID}) {
		t.Errorf("a's audit after revoking all %+v", r)
	}
	if n, err := d.RevokeUserSessions(testCtx(t), ua.ID, support); err != nil || n != 0 || len(auditOf(t, d, ua.ID)) != 2 {
		t.Errorf("revoke user again: %d %v", n, err)
	}

	// Purge: one row with the whole count, no user.
	old := record(uniq("oOld"), auth.Profile{}, at.Add(-1000*time.Hour))
	login(t, d, old)
	login(t, d, record(old.OpenID, auth.Profile{}, at.Add(-1000*time.Hour)))
	// Later than every other row of the suite, so it lists first.
	late := auth.Audit{Actor: "purger", At: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
	purged, err := d.PurgeSessions(testCtx(t), at.Add(-500*time.Hour), late)
	if err != nil || purged < 2 {
		t.Fatalf("purge: %d %v", purged, err)
	}
	all, err := d.ListAudit(testCtx(t), auth.AuditFilter{Limit: 1})
	if err != nil || len(all) != 1 || all[0].Action != auth.ActionPurge || all[0].Sessions != purged || all[0].UserID != 0 {
		t.Fatalf("purge audit %+v %v", all, err)
	}
	if n, err := d.PurgeSessions(testCtx(t), at.Add(-500*time.Hour), late); err != nil || n != 0 {
		t.Fatalf("second purge: %d %v", n, err)
	}
	if again, _ := d.ListAudit(testCtx(t), auth.AuditFilter{Limit: 1}); again[0].ID != all[0].ID {
		t.Error("a purge of nothing wrote an audit row")
	}
	// serve's own purge job writes none.
	login(t, d, record(uniq("oOld"), auth.Profile{}, at.Add(-1000*time.Hour)))
	if n, err := d.PurgeExpiredSessions(testCtx(t), at.Add(-500*time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge job: %d %v", n, err)
	}
	if again, _ := d.ListAudit(testCtx(t), auth.AuditFilter{Limit: 1}); again[0].ID != all[0].ID {
		t.Error("serve's purge job wrote an audit row")
	}
}

func testAuditList(t *testing.T, d *db.DB) {
	u, _ := login(t, d, record(uniq("oList"), auth.Profile{}, at))
	base := time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range 7 {
		a := auth.Audit{Actor: "a" + fmt.Sprint(i), At: base.Add(time.Duration(i/2) * time.Hour)}
		if _, _, err := d.SetUserStatus(testCtx(t), u.ID, []int{auth.StatusDisabled, auth.StatusActive}[i%2], a); err != nil {
			t.Fatal(err)
		}
	}
	// Keyset pages of 3 walk all 7 once, newest first, ties by id.
	var got []string
	f := auth.AuditFilter{UserID: u.ID, Limit: 3}
	for {
		rows, err := d.ListAudit(testCtx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got = append(got, r.Actor)
		}
		if len(rows) < f.Limit {
			break
		}
		f.Before = &rows[len(rows)-1]
	}
	if want := []string{"a6", "a5", "a4", "a3", "a2", "a1", "a0"}; !slices.Equal(got, want) {
		t.Errorf("pages %v, want %v", got, want)
	}
	rows, err := d.ListAudit(testCtx(t), auth.AuditFilter{UserID: u.ID, Since: base.Add(2 * time.Hour)})
	if err != nil || len(rows) != 3 {
		t.Errorf("since: %d rows, %v", len(rows), err)
	}
	// The actor and reason are cut to their columns, never refused.
	long := auth.Audit{Actor: strings.Repeat("名", 40), Reason: strings.Repeat("r", 400), At: base.Add(10 * time.Hour)}
	if _, _, err := d.SetUserStatus(testCtx(t), u.ID, auth.StatusActive, long); err != nil {
		t.Fatal(err)
	}
	rows, _ = d.ListAudit(testCtx(t), auth.AuditFilter{UserID: u.ID, Limit: 1})
	if len(rows[0].Actor) > auth.MaxActor || len(rows[0].Reason) != auth.MaxReason {
		t.Errorf("long actor %d bytes, reason %d bytes", len(rows[0].Actor), len(rows[0].Reason))
	}
}

func testPhoneConflicts(t *testing.T, d *db.DB) {
	number := "139" + fmt.Sprint(time.Now().UnixNano()%100000000)
	alice, _ := login(t, d, record(uniq("oAlice"), auth.Profile{}, at))
	bob, _ := login(t, d, record(uniq("oBob"), auth.Profile{}, at))
	if err := d.SetMobile(testCtx(t), alice.ID, number, at); err != nil {
		t.Fatal(err)
	}
	bobBefore := readRawUser(t, d, bob.ID)
	if err := d.SetMobile(testCtx(t), bob.ID, number, at.Add(time.Hour)); !errors.Is(err, auth.ErrPhoneTaken) {
		t.Fatalf("bob binds alice's number: %v", err)
	}
	if r := readRawUser(t, d, bob.ID); r != bobBefore {
		t.Errorf("bob's row changed:\n%+v\n%+v", bobBefore, r)
	}
	if err := d.SetMobile(testCtx(t), alice.ID, number, at.Add(time.Hour)); err != nil {
		t.Errorf("alice binds her own number again: %v", err)
	}
	// A disabled owner still owns the number.
	if _, _, err := d.SetUserStatus(testCtx(t), alice.ID, auth.StatusDisabled, support); err != nil {
		t.Fatal(err)
	}
	if err := d.SetMobile(testCtx(t), bob.ID, number, at); !errors.Is(err, auth.ErrPhoneTaken) {
		t.Errorf("bob binds a disabled user's number: %v", err)
	}
	// A deleted or cancelled one does not.
	if _, err := d.SQL().ExecContext(testCtx(t), "UPDATE wx_user SET deleted = 1 WHERE id = ?", alice.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.SetMobile(testCtx(t), bob.ID, number, at); err != nil {
		t.Errorf("bob binds a deleted user's number: %v", err)
	}
	carol, _ := login(t, d, record(uniq("oCarol"), auth.Profile{}, at))
	if err := d.SetMobile(testCtx(t), carol.ID, number, at); !errors.Is(err, auth.ErrPhoneTaken) {
		t.Errorf("carol binds bob's number: %v", err)
	}
	if _, err := d.CancelUser(testCtx(t), bob.ID, support); err != nil {
		t.Fatal(err)
	}
	if err := d.SetMobile(testCtx(t), carol.ID, number, at); err != nil {
		t.Errorf("carol binds the number of a cancelled user: %v", err)
	}
	if err := d.SetMobile(testCtx(t), 1<<30, "13000000000", at); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("no such user: %v", err)
	}
}

// TestConcurrentPhoneBinds: ten users bind one number at once through
// two connection pools (two serve processes): exactly one gets it.
func TestConcurrentPhoneBinds(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		d := migrated(t, dsn, db.Options{})
		concurrentPhone(t, []*db.DB{d, dbtest.Open(t, dsn, db.Options{})})
	})
}

// concurrentPhone binds one number for ten users at once, spread over
// pools (connection pools of one server, or nodes of a cluster).
func concurrentPhone(t *testing.T, pools []*db.DB) {
	d := pools[0]
	number := "137" + fmt.Sprint(time.Now().UnixNano()%100000000)
	const n = 10
	users := make([]int64, n)
	for i := range users {
		u, _ := login(t, d, record(uniq("oPh"), auth.Profile{}, at))
		users[i] = u.ID
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		pool := pools[i%len(pools)]
		wg.Go(func() { errs[i] = pool.SetMobile(testCtx(t), users[i], number, at) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, auth.ErrPhoneTaken):
			t.Errorf("bind %d: %v", i, err)
		}
	}
	if won != 1 || count(t, d, "SELECT COUNT(*) FROM wx_user WHERE mobile = ?", number) != 1 {
		t.Fatalf("%d binds succeeded for one number", won)
	}
}

func testSessionLimit(t *testing.T, d *db.DB) {
	openid := uniq("oLim")
	limited := func(max int, when time.Time) auth.LoginRecord {
		r := record(openid, auth.Profile{}, when)
		r.MaxSessions = max
		return r
	}
	_, s1 := login(t, d, limited(2, at))
	_, s2 := login(t, d, limited(2, at.Add(time.Second)))
	u, s3 := login(t, d, limited(2, at.Add(2*time.Second)))
	// The oldest goes; the two newest stay.
	active := func() []int64 {
		rows, err := d.ListSessions(testCtx(t), auth.SessionFilter{UserID: u.ID, State: auth.StateActive, Now: at.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, r := range rows {
			ids = append(ids, r.Session.ID)
		}
		slices.Sort(ids)
		return ids
	}
	if got := active(); !slices.Equal(got, []int64{s2.ID, s3.ID}) {
		t.Fatalf("active %v, want %d %d", got, s2.ID, s3.ID)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE id = ? AND revoke_reason = ?", s1.ID, auth.ReasonSessionLimit); n != 1 {
		t.Error("the oldest session is not revoked for the session limit")
	}
	// N = 1: single-device login; expired sessions do not count.
	_, s4 := login(t, d, limited(1, at.Add(3*time.Second)))
	if got := active(); !slices.Equal(got, []int64{s4.ID}) {
		t.Fatalf("single device: active %v, want %d", got, s4.ID)
	}
	// No limit: nothing revoked.
	_, s5 := login(t, d, limited(0, at.Add(4*time.Second)))
	if got := active(); !slices.Equal(got, []int64{s4.ID, s5.ID}) {
		t.Fatalf("no limit: active %v", got)
	}
}

// TestConcurrentSessionLimit: 20 concurrent logins of one user with a
// limit of 1, through two connection pools (two serve processes): every
// login succeeds, and never more than one session is left active.
func TestConcurrentSessionLimit(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		d := migrated(t, dsn, db.Options{})
		for round := range 3 {
			t.Run(fmt.Sprint(round), func(t *testing.T) { concurrentSessionLimit(t, []*db.DB{d, dbtest.Open(t, dsn, db.Options{})}) })
		}
	})
}

// concurrentSessionLimit logs one user in 20 times at once with a limit
// of 1, spread over pools.
func concurrentSessionLimit(t *testing.T, pools []*db.DB) {
	d := pools[0]
	openid := uniq("oLimRace")
	u, _ := login(t, d, record(openid, auth.Profile{}, at))
	raceLogins(t, 20, func(i int) (*db.DB, auth.LoginRecord) {
		r := record(openid, auth.Profile{}, at.Add(time.Duration(i%3)*time.Second))
		r.MaxSessions = 1
		return pools[i%len(pools)], r
	})
	if n := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE user_id = ? AND revoked_at IS NULL", u.ID); n != 1 {
		t.Fatalf("%d active sessions after 20 concurrent logins with a limit of 1", n)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM wx_session WHERE user_id = ? AND revoke_reason = ?", u.ID, auth.ReasonSessionLimit); n != 20 {
		t.Errorf("%d sessions revoked for the limit, want 20", n)
	}
}

func testListUsers(t *testing.T, d *db.DB) {
	tag := uniq("列表")
	var ids []int64
	for i := range 5 {
		u, _ := login(t, d, record(uniq("oLU"), auth.Profile{Nickname: tag + fmt.Sprint(i)}, at))
		ids = append(ids, u.ID)
	}
	if err := d.SetMobile(testCtx(t), ids[0], "13912345678", at); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.SetUserStatus(testCtx(t), ids[1], auth.StatusDisabled, support); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CancelUser(testCtx(t), ids[2], support); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL().ExecContext(testCtx(t), "UPDATE wx_user SET deleted = 1 WHERE id = ?", ids[3]); err != nil {
		t.Fatal(err)
	}
	list := func(f auth.UserFilter) []int64 {
		t.Helper()
		f.Now = at.Add(time.Minute)
		rows, err := d.ListUsers(testCtx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range rows {
			out = append(out, r.User.ID)
		}
		return out
	}
	// Search: the nickname (the cancelled one has none any more), newest id first.
	if got := list(auth.UserFilter{Search: tag}); !slices.Equal(got, []int64{ids[4], ids[3], ids[1], ids[0]}) {
		t.Errorf("search %v", got)
	}
	for st, want := range map[auth.UserState][]int64{
		auth.UserActive: {ids[4], ids[0]}, auth.UserDisabled: {ids[1]}, auth.UserDeleted: {ids[3]},
	} {
		if got := list(auth.UserFilter{Search: tag, State: st}); !slices.Equal(got, want) {
			t.Errorf("state %s: %v, want %v", st, got, want)
		}
	}
	if got := list(auth.UserFilter{ID: ids[2], State: auth.UserCancelled}); !slices.Equal(got, []int64{ids[2]}) {
		t.Errorf("cancelled by id: %v", got)
	}
	if got := list(auth.UserFilter{Search: "12345"}); !slices.Contains(got, ids[0]) {
		t.Errorf("mobile search: %v", got)
	}
	if got := list(auth.UserFilter{Search: fmt.Sprint(ids[4])}); !slices.Contains(got, ids[4]) {
		t.Errorf("id search: %v", got)
	}
	openid := identities(t, d, ids[4])[0].OpenID
	if got := list(auth.UserFilter{Search: openid}); !slices.Equal(got, []int64{ids[4]}) {
		t.Errorf("openid search: %v", got)
	}
	if got := list(auth.UserFilter{Search: "%"}); slices.Contains(got, ids[4]) {
		t.Errorf("%% matched everything: %v", got)
	}
	// Keyset pages.
	if got := list(auth.UserFilter{Search: tag, Limit: 2, AfterID: ids[3]}); !slices.Equal(got, []int64{ids[1], ids[0]}) {
		t.Errorf("page after %d: %v", ids[3], got)
	}
	rows, err := d.ListUsers(testCtx(t), auth.UserFilter{ID: ids[0], Now: at.Add(time.Minute)})
	if err != nil || len(rows) != 1 || rows[0].Identities != 1 || rows[0].Sessions != 1 || rows[0].User.Mobile != "13912345678" {
		t.Errorf("counts %+v %v", rows, err)
	}
	if _, err := d.ListUsers(testCtx(t), auth.UserFilter{State: "bogus"}); err == nil {
		t.Error("a bogus state listed")
	}
	u, err := d.UserByOpenID(testCtx(t), openid)
	if err != nil || u.ID != ids[4] {
		t.Errorf("by openid: %+v %v", u, err)
	}
	if _, err := d.UserByOpenID(testCtx(t), "nobody"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("by unknown openid: %v", err)
	}
}

func testCountSessions(t *testing.T, d *db.DB) {
	nick := uniq("计数")
	u, _ := login(t, d, record(uniq("oCnt"), auth.Profile{Nickname: nick}, at))
	login(t, d, record(u.OpenID, auth.Profile{}, at))
	n, err := d.CountSessions(testCtx(t), auth.SessionFilter{Search: nick, Now: at})
	if err != nil || n != 2 {
		t.Fatalf("count %d %v", n, err)
	}
	if n, err := d.CountSessions(testCtx(t), auth.SessionFilter{UserID: u.ID, State: auth.StateExpired, Now: at.Add(48 * time.Hour)}); err != nil || n != 2 {
		t.Fatalf("count expired %d %v", n, err)
	}
}
