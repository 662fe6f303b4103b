package api_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/auth"
)

// fakeFiles records which owners' files were deleted.
type fakeFiles struct {
	mu     sync.Mutex
	owners []int64
	err    error
}

func (f *fakeFiles) DeleteOwner(_ context.Context, owner int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owners = append(f.owners, owner)
	return 2, f.err
}

// TestCancelHandler: POST /wx/auth/cancel needs a token; it cancels the
// caller's account (every token answers 501 after, the audit says
// "user"), deletes their files, and answers without X-OA-Token-Expire.
func TestCancelHandler(t *testing.T) {
	e := newHEnv(t)
	files := &fakeFiles{}
	e.Service.Files = files
	expect(t, "cancel without token", e.do(t, "POST", "/wx/auth/cancel", "", nil), 200, 501, "请登录")
	a, b := e.loginToken(t, "carl.1"), e.loginToken(t, "carl.2")
	other := e.loginToken(t, "dora.1")
	r := e.do(t, "POST", "/wx/auth/cancel", a, []byte(`{}`))
	expect(t, "cancel", r, 200, 0, "成功")
	if r.Header.Get(api.TokenExpireHeader) != "" {
		t.Errorf("cancel answers %s", api.TokenExpireHeader)
	}
	for _, tok := range []string{a, b} {
		expect(t, "info after cancel", e.do(t, "GET", "/wx/auth/info", tok, nil), 200, 501, "请登录")
	}
	expect(t, "another user", e.do(t, "GET", "/wx/auth/info", other, nil), 200, 0, "成功")
	u := e.Store.User(1)
	if u.Status != auth.StatusCancelled || u.OpenID != "" || u.Username != "cancelled-1" {
		t.Errorf("user after cancel: %+v", u)
	}
	if len(files.owners) != 1 || files.owners[0] != 1 {
		t.Errorf("files deleted for %v", files.owners)
	}
	if au := e.Store.Audit(); len(au) != 1 || au[0].Actor != auth.ActorUser || au[0].Action != auth.ActionCancel {
		t.Errorf("audit %+v", au)
	}
	// A new login of the same WeChat user: a new, empty account.
	c := e.loginToken(t, "carl.3")
	got := e.do(t, "GET", "/wx/auth/info", c, nil)
	if got.Errno != 0 || !strings.Contains(got.Body, `"nickName":""`) || e.Store.User(3).Username != "o-carl" {
		t.Errorf("after a new login: %s %+v", got.Body, e.Store.User(3))
	}
	// A failing file deletion does not fail the cancel: the collector
	// gets the rest later.
	files.err = errors.New("disk gone")
	d := e.loginToken(t, "dora.2")
	expect(t, "cancel with a failing disk", e.do(t, "POST", "/wx/auth/cancel", d, nil), 200, 0, "成功")
	if !strings.Contains(e.log.String(), "upload collector") {
		t.Errorf("the failed file deletion was not logged:\n%s", e.log)
	}
	// The database failing is a 502, and nothing else happens.
	owners := len(files.owners)
	x := e.loginToken(t, "erik.1")
	e.Store.Fail = errors.New("db down")
	r = e.do(t, "POST", "/wx/auth/cancel", x, nil)
	e.Store.Fail = nil
	if r.Errno != 502 {
		t.Errorf("cancel on a failing database: errno %d", r.Errno)
	}
	if len(files.owners) != owners {
		t.Error("files deleted although the cancel failed")
	}
	// Wrong method.
	expect(t, "GET cancel", e.do(t, "GET", "/wx/auth/cancel", x, nil), 405, 405, "请求方法不对")
}

// TestTokenExpireHeader: every answer to a request whose token stays
// valid carries X-OA-Token-Expire, the expiry after the request in the
// configured zone; unauthenticated answers and logout carry none.
func TestTokenExpireHeader(t *testing.T) {
	e := newHEnv(t)
	e.Service.TokenTTL = 2 * time.Hour
	tok := e.loginToken(t, "fay.1")
	created := t0.Truncate(time.Second)
	check := func(name string, a answer, want time.Time) {
		t.Helper()
		got := a.Header.Get(api.TokenExpireHeader)
		if want.IsZero() {
			if got != "" {
				t.Errorf("%s: %s %q, want none", name, api.TokenExpireHeader, got)
			}
			return
		}
		if w := want.In(time.FixedZone("CST", 8*3600)).Format(api.TokenExpireLayout); got != w {
			t.Errorf("%s: %s %q, want %q", name, api.TokenExpireHeader, got, w)
		}
	}
	check("info", e.do(t, "GET", "/wx/auth/info", tok, nil), created.Add(2*time.Hour))
	check("profile 402", e.do(t, "POST", "/wx/auth/profile", tok, []byte(`{"gender":9}`)), created.Add(2*time.Hour))
	check("bindPhone 401", e.do(t, "POST", "/wx/auth/bindPhone", tok, []byte(`{}`)), created.Add(2*time.Hour))
	// 90 minutes on: less than half of the ttl left, renewed.
	e.Clock.Add(90 * time.Minute)
	check("info renewed", e.do(t, "GET", "/wx/auth/info", tok, nil), created.Add(90*time.Minute+2*time.Hour))
	check("login", e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"fay.2"}`)), time.Time{})
	check("no token", e.do(t, "GET", "/wx/auth/info", "", nil), time.Time{})
	check("logout", e.do(t, "POST", "/wx/auth/logout", tok, nil), time.Time{})
	check("after logout", e.do(t, "GET", "/wx/auth/info", tok, nil), time.Time{})
}

// TestBindPhoneConflict: a number another live account has is errno 705
// with nothing written; the owner binding it again is 0.
func TestBindPhoneConflict(t *testing.T) {
	e := newHEnv(t)
	alice, bob := e.loginToken(t, "alice.1"), e.loginToken(t, "bob.1")
	expect(t, "alice binds", e.do(t, "POST", "/wx/auth/bindPhone", alice, []byte(`{"code":"alice.p1"}`)), 200, 0, "成功")
	before := e.Store.User(2)
	expect(t, "bob binds alice's number", e.do(t, "POST", "/wx/auth/bindPhone", bob, []byte(`{"code":"bob.p2"}`)), 200, 705, "手机号已注册")
	if after := e.Store.User(2); after != before {
		t.Errorf("bob changed: %+v", after)
	}
	expect(t, "alice again", e.do(t, "POST", "/wx/auth/bindPhone", alice, []byte(`{"code":"alice.p3"}`)), 200, 0, "成功")
	// Once alice cancels, the number is free.
	expect(t, "alice cancels", e.do(t, "POST", "/wx/auth/cancel", alice, nil), 200, 0, "成功")
	expect(t, "bob binds the freed number", e.do(t, "POST", "/wx/auth/bindPhone", bob, []byte(`{"code":"bob.p4"}`)), 200, 0, "成功")
}

// TestCancelRoute: the route is registered and documented; its request
// may carry any body (wx.request sends {}), or none.
func TestCancelRoute(t *testing.T) {
	e := newHEnv(t)
	for i, body := range []string{"", "{}", `{"reason":"bye"}`, "not json"} {
		tok := e.loginToken(t, "gus."+string(rune('a'+i)))
		req := httptest.NewRequest("POST", "/wx/auth/cancel", strings.NewReader(body))
		req.Header.Set(api.TokenHeader, tok)
		if a := e.send(req); a.Errno != 0 {
			t.Errorf("body %q: errno %d", body, a.Errno)
		}
	}
}
