package inspect

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oactl/oactl/internal/auth"
)

// fakeLister is an in-memory auth.SessionLister with the semantics the
// database one has (state at f.Now, literal search, keyset pages), and a
// record of every call so tests can assert what the model asked for.
type fakeLister struct {
	mu       sync.Mutex
	sessions []auth.Session
	users    map[int64][2]string // nickname, openid
	idents   map[int64][]auth.Identity
	filters  []auth.SessionFilter
	revokes  []string
	fail     error
	// status is each user's wx_user.status (missing: active); audits and
	// statusCalls record the account changes asked for.
	status      map[int64]int
	audits      []auth.Audit
	statusCalls []string
}

func (f *fakeLister) ListSessions(_ context.Context, flt auth.SessionFilter) ([]auth.SessionRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, flt)
	return f.list(flt)
}

func (f *fakeLister) list(flt auth.SessionFilter) ([]auth.SessionRow, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var rows []auth.SessionRow
	for _, s := range f.sessions {
		u := f.users[s.UserID]
		r := auth.SessionRow{Session: s, Nickname: u[0], OpenID: u[1], State: s.StateAt(flt.Now)}
		r.Session.SessionKey = "" // as the real lister: never in a listing
		if flt.State != "" && flt.State != auth.StateAll && r.State != flt.State {
			continue
		}
		if flt.UserID != 0 && s.UserID != flt.UserID {
			continue
		}
		if q := flt.Search; q != "" && !strings.Contains(strings.ToLower(u[0]), strings.ToLower(q)) &&
			!strings.Contains(u[1], q) && strconv.FormatInt(s.UserID, 10) != q {
			continue
		}
		rows = append(rows, r)
	}
	less := func(a, b auth.SessionRow) int { // -1: a first
		var c int
		switch flt.Sort {
		case auth.SortExpires:
			c = a.Session.ExpiresAt.Compare(b.Session.ExpiresAt)
			if c == 0 {
				c = cmpInt(a.Session.ID, b.Session.ID)
			}
			return c
		case auth.SortLastSeen:
			c = -a.Session.LastSeenAt.Compare(b.Session.LastSeenAt)
		default:
			c = -a.Session.CreatedAt.Compare(b.Session.CreatedAt)
		}
		if c == 0 {
			c = -cmpInt(a.Session.ID, b.Session.ID)
		}
		return c
	}
	slices.SortFunc(rows, less)
	if flt.After != nil {
		i := 0
		for i < len(rows) && less(rows[i], *flt.After) <= 0 {
			i++
		}
		rows = rows[i:]
	}
	if flt.Limit > 0 && len(rows) > flt.Limit {
		rows = rows[:flt.Limit]
	}
	return rows, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CountSessions implements auth.SessionLister; it is not recorded in
// filters, which tests read for the listing's queries.
func (f *fakeLister) CountSessions(_ context.Context, flt auth.SessionFilter) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	flt.Limit, flt.After = 0, nil
	rows, err := f.list(flt)
	return int64(len(rows)), err
}

func (f *fakeLister) RevokeSessions(_ context.Context, ids []int64, a auth.Audit) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for i := range f.sessions {
		if slices.Contains(ids, f.sessions[i].ID) && f.sessions[i].RevokedAt.IsZero() {
			f.sessions[i].RevokedAt, f.sessions[i].RevokeReason = a.At, a.Reason
			n++
		}
	}
	f.revokes = append(f.revokes, "ids "+strconv.Itoa(len(ids)))
	f.audits = append(f.audits, a)
	return n, nil
}

func (f *fakeLister) revokeUser(userID int64, at time.Time, reason string) []int64 {
	var ids []int64
	for i := range f.sessions {
		if f.sessions[i].UserID == userID && f.sessions[i].RevokedAt.IsZero() {
			f.sessions[i].RevokedAt, f.sessions[i].RevokeReason = at, reason
			ids = append(ids, f.sessions[i].ID)
		}
	}
	return ids
}

func (f *fakeLister) RevokeUserSessions(_ context.Context, userID int64, a auth.Audit) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := int64(len(f.revokeUser(userID, a.At, a.Reason)))
	f.revokes = append(f.revokes, "user "+strconv.FormatInt(userID, 10))
	f.audits = append(f.audits, a)
	return n, nil
}

func (f *fakeLister) PurgeSessions(context.Context, time.Time, auth.Audit) (int64, error) {
	return 0, nil
}

// UserByID implements auth.Accounts: every fake user is active unless
// status says otherwise.
func (f *fakeLister) UserByID(_ context.Context, id int64) (auth.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return auth.User{}, f.fail
	}
	u, ok := f.users[id]
	if !ok {
		return auth.User{}, auth.ErrNotFound
	}
	return auth.User{ID: id, Nickname: u[0], OpenID: u[1], Status: f.status[id]}, nil
}

// SetUserStatus implements auth.Accounts.
func (f *fakeLister) SetUserStatus(_ context.Context, id int64, status int, a auth.Audit) (bool, []int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == nil {
		f.status = map[int64]int{}
	}
	if f.status[id] == status {
		return false, nil, nil
	}
	f.status[id] = status
	f.audits = append(f.audits, a)
	f.statusCalls = append(f.statusCalls, strconv.FormatInt(id, 10)+"="+strconv.Itoa(status))
	if status == auth.StatusDisabled {
		return true, f.revokeUser(id, a.At, auth.ReasonDisabled), nil
	}
	return true, nil, nil
}

func (f *fakeLister) UserIdentities(_ context.Context, userID int64) ([]auth.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	return append([]auth.Identity{}, f.idents[userID]...), nil
}

func (f *fakeLister) session(id int64) auth.Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sessions {
		if s.ID == id {
			return s
		}
	}
	return auth.Session{}
}

func (f *fakeLister) lastFilter() auth.SessionFilter {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.filters) == 0 {
		return auth.SessionFilter{}
	}
	return f.filters[len(f.filters)-1]
}

// testNow is the fixed clock of every test.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// nicknames mixes what breaks naive width maths: CJK, a ZWJ family, a
// flag, combining marks, plain ASCII, an over-long name and hostile bytes.
var nicknames = []string{
	"张三",
	"👨‍👩‍👧‍👦 family",
	"🇨🇳李四🇨🇳",
	"alice",
	"é́ combining",
	"一二三四五六七八九十一二三四五六七八九十",
	"evil\x1b[2J\u202ename",
	"Ｆｕｌｌ　ｗｉｄｔｈ",
	"",
	"😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
}

// newFake has len(nicknames) users with three sessions each: one active,
// one expired, one revoked, at distinct times.
func newFake() *fakeLister {
	f := &fakeLister{users: map[int64][2]string{}, idents: map[int64][]auth.Identity{}}
	id := int64(100)
	for i, nick := range nicknames {
		uid := int64(i + 1)
		openid := "oAbC" + strings.Repeat(strconv.Itoa(i), 20) + "wxYz"
		f.users[uid] = [2]string{nick, openid}
		if i > 0 {
			union := "oUnI" + strings.Repeat(strconv.Itoa(i), 20) + "oNiD"
			f.idents[uid] = []auth.Identity{
				{UserID: uid, AppID: "wxappa0000000000a", OpenID: openid, UnionID: union, CreatedAt: testNow.Add(-48 * time.Hour)},
				{UserID: uid, AppID: "wxappb0000000000b", OpenID: "oBbB" + strings.Repeat(strconv.Itoa(i), 20) + "bBbB", UnionID: union, CreatedAt: testNow.Add(-24 * time.Hour)},
			}
		}
		for k := range 3 {
			id++
			created := testNow.Add(-time.Duration(i*3+k+1) * time.Hour)
			s := auth.Session{ID: id, UserID: uid, AppID: []string{"", "wxappa0000000000a", "wxappb0000000000b"}[k], CreatedAt: created, LastSeenAt: created.Add(10 * time.Minute),
				ExpiresAt: created.Add(24 * time.Hour), IP: "192.0.2." + strconv.Itoa(i+1), UserAgent: "Mozilla/5.0 MicroMessenger",
				TokenHash: "TOKENHASH" + strconv.FormatInt(id, 10), SessionKey: "SESSIONKEY" + strconv.FormatInt(id, 10)}
			switch k {
			case 1:
				s.ExpiresAt = testNow.Add(-time.Minute)
			case 2:
				s.RevokedAt, s.RevokeReason = created.Add(time.Hour), "logout"
			}
			f.sessions = append(f.sessions, s)
		}
	}
	return f
}
