package db_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// listNow is the instant states are computed at in these tests.
var listNow = time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)

// listFixture logs in users with awkward nicknames: a session per user
// per hour, so created, last seen and expiry orders all differ, and some
// timestamps tie (to exercise the id tiebreak).
type listFixture struct {
	d     *db.DB
	users map[string]auth.User // by nickname
}

var listNicknames = []string{"😀 grin", "😎 cool", "50%_off", `a\b`, "x!y", "张三", "Alice", "bob"}

func newListFixture(t *testing.T, dsn string) listFixture {
	t.Helper()
	d := migrated(t, dsn, db.Options{TimeZone: time.UTC})
	fx := listFixture{d: d, users: map[string]auth.User{}}
	for i, nick := range listNicknames {
		openid := fmt.Sprintf("oList%02dAbCdEfGhIjKlMnOpQrStU", i)
		for k := range 3 {
			created := listNow.Add(-time.Duration(k*len(listNicknames)+i) * time.Hour)
			if k == 2 {
				created = listNow.Add(-100 * time.Hour) // every user's third login: the same second
			}
			rec := record(openid, auth.Profile{Nickname: nick}, created)
			rec.Session.LastSeenAt = created.Add(time.Duration((i*7+k*3)%11) * time.Minute)
			if k == 1 {
				rec.Session.ExpiresAt = listNow.Add(-time.Duration(i+1) * time.Minute) // expired
			}
			u, _ := login(t, d, rec)
			fx.users[nick] = u
		}
	}
	return fx
}

func (fx listFixture) list(t *testing.T, f auth.SessionFilter) []auth.SessionRow {
	t.Helper()
	if f.Now.IsZero() {
		f.Now = listNow
	}
	rows, err := fx.d.ListSessions(testCtx(t), f)
	if err != nil {
		t.Fatalf("ListSessions(%+v): %v", f, err)
	}
	for _, r := range rows {
		if r.Session.SessionKey != "" || r.Session.TokenHash != "" {
			t.Fatalf("listing carries a secret: %+v", r.Session)
		}
	}
	return rows
}

func ids(rows []auth.SessionRow) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.Session.ID
	}
	return out
}

func TestListSessions(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		fx := newListFixture(t, dsn)
		total := 3 * len(listNicknames)

		t.Run("keyset pages equal one big page", func(t *testing.T) {
			for _, sort := range []auth.SessionSort{auth.SortCreatedDesc, auth.SortLastSeen, auth.SortExpires} {
				all := fx.list(t, auth.SessionFilter{Sort: sort, Limit: 1000})
				if len(all) != total {
					t.Fatalf("%s: %d rows, want %d", sort, len(all), total)
				}
				checkOrder(t, sort, all)
				var paged []auth.SessionRow
				var after *auth.SessionRow
				for range total + 1 {
					page := fx.list(t, auth.SessionFilter{Sort: sort, Limit: 5, After: after})
					if len(page) == 0 {
						break
					}
					paged = append(paged, page...)
					after = &page[len(page)-1]
				}
				if !slices.Equal(ids(paged), ids(all)) {
					t.Errorf("%s: pages %v\nwant %v", sort, ids(paged), ids(all))
				}
			}
		})

		t.Run("states", func(t *testing.T) {
			bob := fx.users["bob"]
			if n, err := fx.d.RevokeUserSessions(testCtx(t), bob.ID, auth.Audit{Actor: "t", Reason: "test", At: listNow}); err != nil || n != 3 {
				t.Fatalf("RevokeUserSessions: %d, %v", n, err)
			}
			counts := map[auth.SessionState]int{}
			for _, r := range fx.list(t, auth.SessionFilter{Limit: 1000}) {
				counts[r.State]++
				if r.Session.UserID == bob.ID && (r.State != auth.StateRevoked || r.Session.RevokeReason != "test" || !r.Session.RevokedAt.Equal(listNow)) {
					t.Errorf("bob's session: %+v", r)
				}
			}
			n := len(listNicknames)
			// per user: one active login, one expired early, one old (expired)
			want := map[auth.SessionState]int{auth.StateRevoked: 3, auth.StateExpired: 2 * (n - 1), auth.StateActive: n - 1}
			for st, w := range want {
				if counts[st] != w {
					t.Errorf("%s: %d rows, want %d (all: %v)", st, counts[st], w, counts)
				}
				got := fx.list(t, auth.SessionFilter{State: st, Limit: 1000})
				if len(got) != w {
					t.Errorf("filter %s: %d rows, want %d", st, len(got), w)
				}
				for _, r := range got {
					if r.State != st {
						t.Errorf("filter %s returned a %s row", st, r.State)
					}
				}
			}
			// A later clock expires everything that is not revoked.
			later := fx.list(t, auth.SessionFilter{State: auth.StateActive, Now: listNow.Add(48 * time.Hour), Limit: 1000})
			if len(later) != 0 {
				t.Errorf("%d active sessions two days later", len(later))
			}
		})

		t.Run("search is literal", func(t *testing.T) {
			cases := []struct {
				q    string
				want []string
			}{
				{"😀", []string{"😀 grin"}}, // not 😎: a binary comparison
				{"😎", []string{"😎 cool"}},
				{"%", []string{"50%_off"}},
				{"_", []string{"50%_off"}},
				{`\`, []string{`a\b`}},
				{"!", []string{"x!y"}},
				{"张", []string{"张三"}},
				{"alice", []string{"Alice"}},
				{"ALICE", []string{"Alice"}},
				{"%%%", nil},
				{"oList03", []string{`a\b`}}, // openid substring
				{"olist03", nil},             // openids are case-sensitive
				{"'; DROP TABLE wx_session; --", nil},
			}
			for _, c := range cases {
				rows := fx.list(t, auth.SessionFilter{Search: c.q, Limit: 1000})
				got := map[string]bool{}
				for _, r := range rows {
					got[r.Nickname] = true
				}
				if len(got) != len(c.want) || (len(c.want) == 1 && !got[c.want[0]]) {
					t.Errorf("search %q: %v, want %v", c.q, got, c.want)
				}
			}
			alice := fx.users["Alice"]
			rows := fx.list(t, auth.SessionFilter{Search: strconv.FormatInt(alice.ID, 10), Limit: 1000})
			for _, r := range rows {
				if r.Session.UserID != alice.ID && !containsDigits(r, alice.ID) {
					t.Errorf("search by user id %d found user %d", alice.ID, r.Session.UserID)
				}
			}
			if len(rows) < 3 {
				t.Errorf("search by user id: %d rows", len(rows))
			}
		})

		t.Run("user filter and revoke by id", func(t *testing.T) {
			u := fx.users["张三"]
			rows := fx.list(t, auth.SessionFilter{UserID: u.ID, Limit: 1000})
			if len(rows) != 3 {
				t.Fatalf("%d sessions of 张三", len(rows))
			}
			for _, r := range rows {
				if r.Session.UserID != u.ID || r.Nickname != "张三" || r.OpenID != u.OpenID {
					t.Errorf("row %+v", r)
				}
			}
			target := []int64{rows[0].Session.ID, rows[1].Session.ID, 1 << 40}
			n, err := fx.d.RevokeSessions(testCtx(t), target, auth.Audit{Actor: "t", Reason: "support", At: listNow})
			if err != nil || n != 2 {
				t.Fatalf("RevokeSessions: %d, %v", n, err)
			}
			if n, err := fx.d.RevokeSessions(testCtx(t), target, auth.Audit{Actor: "t", Reason: "again", At: listNow}); err != nil || n != 0 {
				t.Errorf("second revoke: %d, %v", n, err)
			}
			if n, err := fx.d.RevokeSessions(testCtx(t), nil, auth.Audit{Actor: "t", Reason: "none", At: listNow}); err != nil || n != 0 {
				t.Errorf("empty revoke: %d, %v", n, err)
			}
			if n, err := fx.d.RevokeUserSessions(testCtx(t), 1<<30, auth.Audit{Actor: "t", Reason: "nobody", At: listNow}); err != nil || n != 0 {
				t.Errorf("revoke unknown user: %d, %v", n, err)
			}
			rows = fx.list(t, auth.SessionFilter{UserID: u.ID, State: auth.StateRevoked, Limit: 1000})
			if len(rows) != 2 || rows[0].Session.RevokeReason != "support" {
				t.Errorf("revoked rows %+v", rows)
			}
		})

		t.Run("bad filters", func(t *testing.T) {
			for _, f := range []auth.SessionFilter{{State: "gone"}, {Sort: "random"}} {
				if _, err := fx.d.ListSessions(testCtx(t), f); err == nil {
					t.Errorf("%+v: no error", f)
				}
			}
			if rows := fx.list(t, auth.SessionFilter{Limit: 1 << 30}); len(rows) != total {
				t.Errorf("huge limit: %d rows", len(rows))
			}
			if rows := fx.list(t, auth.SessionFilter{Limit: 2}); len(rows) != 2 {
				t.Errorf("limit 2: %d rows", len(rows))
			}
		})
	})
}

// containsDigits: a search by id also matches nicknames and openids that
// contain those digits.
func containsDigits(r auth.SessionRow, id int64) bool {
	d := strconv.FormatInt(id, 10)
	return strings.Contains(r.Nickname, d) || strings.Contains(r.OpenID, d)
}

func checkOrder(t *testing.T, sort auth.SessionSort, rows []auth.SessionRow) {
	t.Helper()
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1].Session, rows[i].Session
		var c int
		switch sort {
		case auth.SortLastSeen:
			c = b.LastSeenAt.Compare(a.LastSeenAt)
		case auth.SortExpires:
			c = a.ExpiresAt.Compare(b.ExpiresAt)
		default:
			c = b.CreatedAt.Compare(a.CreatedAt)
		}
		if c > 0 || c == 0 && (sort == auth.SortExpires) != (a.ID < b.ID) {
			t.Errorf("%s: row %d (%d) before row %d (%d) out of order", sort, i-1, a.ID, i, b.ID)
		}
	}
}
