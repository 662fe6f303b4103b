package server

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
	"github.com/oactl/oactl/internal/testutil"
	"github.com/oactl/oactl/internal/wechat"
)

// writeCounter is the real store with a count of the calls that write.
type writeCounter struct {
	auth.Store
	mu     sync.Mutex
	writes map[string]int
}

func (w *writeCounter) count(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes[name]++
}

func (w *writeCounter) total() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, k := range w.writes {
		n += k
	}
	return n
}

func (w *writeCounter) TouchSession(ctx context.Context, id int64, at, expires time.Time) error {
	w.count("TouchSession")
	return w.Store.TouchSession(ctx, id, at, expires)
}

func (w *writeCounter) RevokeSession(ctx context.Context, id int64, at time.Time, reason string) error {
	w.count("RevokeSession")
	return w.Store.RevokeSession(ctx, id, at, reason)
}

func (w *writeCounter) UpdateProfile(ctx context.Context, id int64, upd auth.ProfileUpdate, at time.Time) (auth.User, error) {
	w.count("UpdateProfile")
	return w.Store.UpdateProfile(ctx, id, upd, at)
}

func (w *writeCounter) SetMobile(ctx context.Context, id int64, m string, at time.Time) error {
	w.count("SetMobile")
	return w.Store.SetMobile(ctx, id, m, at)
}

func (w *writeCounter) CancelUser(ctx context.Context, id int64, a auth.Audit) (auth.CancelResult, error) {
	w.count("CancelUser")
	return w.Store.CancelUser(ctx, id, a)
}

// renewalEnv is serve's handler over a real database and mockwx, on a
// clock the test moves, for one setting of the token lifetime.
type renewalEnv struct {
	t      *testing.T
	clock  *testutil.Clock
	store  *db.DB
	count  *writeCounter
	server *httptest.Server
	wx     *httptest.Server
	zone   *time.Location
}

func newRenewalEnv(t *testing.T, dsn string, clock *testutil.Clock, ttl, maxAge time.Duration) *renewalEnv {
	zone := time.FixedZone("CST", 8*3600)
	store := migratedStore(t, dsn, zone)
	wx := mockWeChat(t)
	e := &renewalEnv{t: t, clock: clock, store: store, wx: wx, zone: zone,
		count: &writeCounter{Store: store, writes: map[string]int{}}}
	svc := &auth.Service{
		Store: e.count, AppID: e2eAppID, TokenTTL: ttl, MaxAge: maxAge, Now: clock.Now,
		WeChat: &wechat.Client{BaseURL: wx.URL, AppID: e2eAppID, Secret: e2eSecret, Timeout: 2 * time.Second},
	}
	e.server = httptest.NewServer(New(Config{Service: svc, Store: store, TimeZone: zone, Now: clock.Now, StorageDir: t.TempDir()}))
	t.Cleanup(e.server.Close)
	return e
}

func (e *renewalEnv) client() *e2eClient { return &e2eClient{t: e.t, base: e.server.URL, wx: e.wx.URL} }

// login logs user in and returns the token and its tokenExpire.
func (e *renewalEnv) login(user string) (string, time.Time) {
	e.t.Helper()
	c := e.client()
	code := c.mock("/__mock/login", map[string]string{"user": user})["code"].(string)
	_, env, _ := c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": code})
	if env.Errno != 0 {
		e.t.Fatalf("login: %+v", env)
	}
	data := env.Data.(map[string]any)
	exp, err := time.ParseInLocation(api.TokenExpireLayout, data["tokenExpire"].(string), e.zone)
	if err != nil {
		e.t.Fatal(err)
	}
	return data["token"].(string), exp
}

// info asks /wx/auth/info and returns the errno and X-OA-Token-Expire
// (zero when absent).
func (e *renewalEnv) info(token string) (int, time.Time) {
	e.t.Helper()
	_, env, h := e.client().call("GET", "/wx/auth/info", token, nil)
	v := h.Get(api.TokenExpireHeader)
	if v == "" {
		return env.Errno, time.Time{}
	}
	exp, err := time.ParseInLocation(api.TokenExpireLayout, v, e.zone)
	if err != nil {
		e.t.Fatalf("%s %q: %v", api.TokenExpireHeader, v, err)
	}
	return env.Errno, exp
}

// storedExpiry reads the session's expires_at as the database holds it.
func (e *renewalEnv) storedExpiry(token string) time.Time {
	e.t.Helper()
	s, _, err := e.store.SessionByTokenHash(context.Background(), auth.HashToken(token))
	if err != nil {
		e.t.Fatal(err)
	}
	return s.ExpiresAt
}

// TestRenewalWithInjectedClock (SPEC §12), on SQLite and MariaDB: a token
// used every 10 minutes lives past its 24 h ttl and dies at the max age;
// one left idle dies at the ttl; every authenticated answer's
// X-OA-Token-Expire is the expiry the database holds after the request;
// and renewal costs no write: with renewal on and off, the same requests
// make the same writes, one last-seen write per session per minute.
func TestRenewalWithInjectedClock(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		const ttl, maxAge = 24 * time.Hour, 72 * time.Hour
		start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		clock := &testutil.Clock{T: start}
		on := newRenewalEnv(t, dsn, clock, ttl, maxAge)
		off := newRenewalEnv(t, dsn, clock, ttl, ttl) // the same database, renewal off

		busy, exp0 := on.login("busy")
		idle, _ := on.login("idle")
		still, _ := off.login("still")
		if !exp0.Equal(start.Add(ttl)) {
			t.Fatalf("login tokenExpire %v, want %v", exp0, start.Add(ttl))
		}
		writesOn, writesOff := on.count.total(), off.count.total()

		last := exp0
		renewals := 0
		for step := 1; ; step++ {
			clock.Set(start.Add(time.Duration(step) * 10 * time.Minute))
			now := clock.Now()
			errno, hdr := on.info(busy)
			if !now.Before(start.Add(maxAge)) {
				if errno != 501 || !hdr.IsZero() {
					t.Fatalf("at the max age (%v): errno %d, header %v; want 501 and no header", now.Sub(start), errno, hdr)
				}
				break
			}
			if errno != 0 {
				t.Fatalf("busy token at %v: errno %d", now.Sub(start), errno)
			}
			// The rule: less than half of the ttl left moves the expiry to
			// now + ttl, capped at the max age.
			want := last
			if last.Sub(now) < ttl/2 {
				want = now.Add(ttl)
				if limit := start.Add(maxAge); want.After(limit) {
					want = limit
				}
			}
			if !hdr.Equal(want) {
				t.Fatalf("at %v: %s %v, want %v", now.Sub(start), api.TokenExpireHeader, hdr, want)
			}
			if got := on.storedExpiry(busy); !got.Equal(hdr) {
				t.Fatalf("at %v: the header says %v, the database %v", now.Sub(start), hdr, got)
			}
			if !hdr.Equal(last) {
				renewals++
			}
			last = hdr
			// The same request with renewal off: a write too, never a move.
			errno, hdrOff := off.info(still)
			if now.Before(start.Add(ttl)) {
				if errno != 0 || !hdrOff.Equal(start.Add(ttl)) {
					t.Fatalf("renewal off at %v: errno %d, expiry %v", now.Sub(start), errno, hdrOff)
				}
			} else if errno != 501 {
				t.Fatalf("renewal off at %v (past the ttl): errno %d, want 501", now.Sub(start), errno)
			}
			if now.Equal(start.Add(25 * time.Hour)) {
				if errno, _ := on.info(idle); errno != 501 {
					t.Fatalf("the idle token answers %d after its ttl, want 501", errno)
				}
			}
		}
		if renewals < 4 {
			t.Errorf("only %d renewals in %v", renewals, maxAge)
		}
		steps := int(maxAge / (10 * time.Minute))
		// One last-seen write per request (each 10 minutes after the last),
		// renewing or not: busy's until the max age, still's until its ttl.
		if got := on.count.writes["TouchSession"]; got != steps-1 {
			t.Errorf("renewal on: %d touch writes for %d requests", got, steps-1)
		}
		if got, want := off.count.writes["TouchSession"], int(ttl/(10*time.Minute))-1; got != want {
			t.Errorf("renewal off: %d touch writes, want %d", got, want)
		}
		if on.count.total()-writesOn != on.count.writes["TouchSession"] || off.count.total()-writesOff != off.count.writes["TouchSession"] {
			t.Errorf("writes other than the touch: %v %v", on.count.writes, off.count.writes)
		}

		// Within one minute, no write at all in either mode, renewal due
		// or not; the header still says the expiry.
		tok, _ := on.login("quick")
		tokOff, _ := off.login("quickoff")
		clock.Add(13 * time.Hour) // less than half of the ttl left: renewal due
		before := on.count.total() + off.count.total()
		_, h1 := on.info(tok)
		_, h1off := off.info(tokOff)
		for range 5 {
			clock.Add(5 * time.Second)
			if errno, h := on.info(tok); errno != 0 || !h.Equal(h1) {
				t.Fatalf("within the minute: errno %d header %v, want %v", errno, h, h1)
			}
			if errno, h := off.info(tokOff); errno != 0 || !h.Equal(h1off) {
				t.Fatalf("within the minute, renewal off: errno %d header %v, want %v", errno, h, h1off)
			}
		}
		if got := on.count.total() + off.count.total() - before; got != 2 {
			t.Errorf("%d writes for 12 requests within a minute, want 2 (one per session)", got)
		}
	})
}

// TestRenewalNeverMovesBackwards: two serve processes renew one session
// at different times; the later expiry stays.
func TestRenewalNeverMovesBackwards(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		clock := testutil.NewClock()
		e := newRenewalEnv(t, dsn, clock, time.Hour, 10*time.Hour)
		tok, _ := e.login("race")
		s, _, err := e.store.SessionByTokenHash(context.Background(), auth.HashToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		later := clock.Now().Add(5 * time.Hour).UTC().Truncate(time.Second)
		earlier := later.Add(-time.Hour)
		if err := e.store.TouchSession(context.Background(), s.ID, clock.Now(), later); err != nil {
			t.Fatal(err)
		}
		if err := e.store.TouchSession(context.Background(), s.ID, clock.Now().Add(time.Minute), earlier); err != nil {
			t.Fatal(err)
		}
		if got := e.storedExpiry(tok); !got.Equal(later) {
			t.Fatalf("expiry %v after an older renewal, want %v", got, later)
		}
	})
}
