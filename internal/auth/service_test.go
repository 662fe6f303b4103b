package auth_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/auth/authtest"
	"github.com/oactl/oactl/internal/keyseal"
	"github.com/oactl/oactl/internal/testutil"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 500_000_000, time.UTC)

type env struct {
	store *authtest.Store
	wx    *authtest.WeChat
	clock *testutil.Clock
	svc   *auth.Service
}

func newEnv(t testing.TB) *env {
	t.Helper()
	a := authtest.NewEnv(t0)
	return &env{store: a.Store, wx: a.WeChat, clock: a.Clock, svc: a.Service}
}

func (e *env) login(t testing.TB, code string) auth.LoginResult {
	t.Helper()
	res, err := e.svc.Login(context.Background(), auth.LoginInput{Code: code, IP: "192.0.2.1"})
	if err != nil {
		t.Fatalf("login %s: %v", code, err)
	}
	return res
}

func TestLoginCreatesUserAndSession(t *testing.T) {
	e := newEnv(t)
	e.svc.Rand = bytes.NewReader(bytes.Repeat([]byte{7}, 32))
	res, err := e.svc.Login(context.Background(), auth.LoginInput{
		Code: "alice.1", UserInfo: &auth.Profile{Nickname: "Alice😀", Avatar: "https://a/x.png", Gender: 2},
		IP: "192.0.2.1", UserAgent: "ua\xff",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Token) != 43 || strings.ContainsAny(res.Token, "+/=") {
		t.Errorf("token %q", res.Token)
	}
	if want := t0.Truncate(time.Second).Add(24 * time.Hour); !res.ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want %v", res.ExpiresAt, want)
	}
	if res.User.Nickname != "Alice😀" || res.User.OpenID != "o-alice" || res.User.Gender != 2 {
		t.Errorf("user %+v", res.User)
	}
	ss := e.store.Sessions()
	if len(ss) != 1 || ss[0].TokenHash != auth.HashToken(res.Token) || ss[0].TokenHash == res.Token {
		t.Fatalf("sessions %+v", ss)
	}
	if ss[0].SessionKey != "key-alice.1" || ss[0].IP != "192.0.2.1" || ss[0].UserAgent != "ua?" {
		t.Errorf("session %+v", ss[0])
	}
}

func TestLoginValidatesBeforeWeChat(t *testing.T) {
	e := newEnv(t)
	for _, in := range []auth.LoginInput{
		{Code: ""},
		{Code: strings.Repeat("x", 10_000)},
		{Code: "a\x01"},
		{Code: "alice", UserInfo: &auth.Profile{Gender: 7}},
		{Code: "alice", UserInfo: &auth.Profile{Avatar: strings.Repeat("a", 256)}},
		{Code: "alice", UserInfo: &auth.Profile{Nickname: "\xff"}},
	} {
		if _, err := e.svc.Login(context.Background(), in); err == nil {
			t.Errorf("%.30q accepted", in.Code)
		}
	}
	if e.wx.Calls != 0 || e.store.Calls["Login"] != 0 {
		t.Errorf("WeChat called %d times, store %d", e.wx.Calls, e.store.Calls["Login"])
	}
}

func TestLoginUpstreamErrors(t *testing.T) {
	e := newEnv(t)
	e.wx.Errs = map[string]error{"bad": authtest.APIError(40029, "invalid code"), "down": authtest.ErrTransport}
	_, err := e.svc.Login(context.Background(), auth.LoginInput{Code: "bad"})
	var up *auth.UpstreamError
	if !errors.As(err, &up) || !up.Answered || up.Errcode != 40029 || up.Errmsg != "invalid code" {
		t.Errorf("answered: %#v", err)
	}
	_, err = e.svc.Login(context.Background(), auth.LoginInput{Code: "down"})
	if !errors.As(err, &up) || up.Answered || !errors.Is(err, authtest.ErrTransport) {
		t.Errorf("unanswered: %#v", err)
	}
	if e.store.Calls["Login"] != 0 {
		t.Error("store written after a WeChat failure")
	}
}

func TestLoginAccountStates(t *testing.T) {
	cases := []struct {
		u    auth.User
		want error
	}{
		{auth.User{OpenID: "o-d", Status: auth.StatusDisabled}, auth.ErrAccountDisabled},
		{auth.User{OpenID: "o-c", Status: auth.StatusCancelled}, auth.ErrAccountCancelled},
		{auth.User{OpenID: "o-x", Deleted: true}, auth.ErrAccountDeleted},
		{auth.User{OpenID: "o-u", Status: 9}, auth.ErrAccountDisabled},
	}
	for _, c := range cases {
		e := newEnv(t)
		e.store.AddUser(c.u)
		_, err := e.svc.Login(context.Background(), auth.LoginInput{Code: strings.TrimPrefix(c.u.OpenID, "o-")})
		if !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.u, err, c.want)
		}
		if n := len(e.store.Sessions()); n != 0 {
			t.Errorf("%d sessions written", n)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	res := e.login(t, "alice.1")
	ctx := context.Background()
	sess, u, err := e.svc.Authenticate(ctx, res.Token)
	if err != nil || u.ID != res.User.ID || sess.UserID != u.ID {
		t.Fatalf("Authenticate: %v", err)
	}
	if e.store.Calls["TouchSession"] != 0 {
		t.Error("last seen written within the first minute")
	}
	e.clock.Add(30 * time.Second)
	_, _, _ = e.svc.Authenticate(ctx, res.Token)
	if e.store.Calls["TouchSession"] != 0 {
		t.Error("last seen written after 30s")
	}
	e.clock.Add(31 * time.Second)
	_, _, _ = e.svc.Authenticate(ctx, res.Token)
	_, _, _ = e.svc.Authenticate(ctx, res.Token)
	if e.store.Calls["TouchSession"] != 1 {
		t.Errorf("TouchSession called %d times after a minute, want 1", e.store.Calls["TouchSession"])
	}
	if e.store.Calls["SessionByTokenHash"] != 4 {
		t.Errorf("%d reads for 4 requests: a cache?", e.store.Calls["SessionByTokenHash"])
	}

	for _, bad := range []string{"", "x", strings.Repeat("A", 43), res.Token + "A", strings.Repeat("a", 10_000), res.Token[:42] + "\n"} {
		if _, _, err := e.svc.Authenticate(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("token %.20q: %v", bad, err)
		}
	}
	e.clock.Add(24 * time.Hour)
	if _, _, err := e.svc.Authenticate(ctx, res.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("expired token: %v", err)
	}
}

func TestAuthenticateRevokedAndBlocked(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.login(t, "alice.1")
	b := e.login(t, "alice.2")
	sess, u, _ := e.svc.Authenticate(ctx, a.Token)
	if err := e.svc.Logout(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Authenticate(ctx, a.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("after logout: %v", err)
	}
	if _, _, err := e.svc.Authenticate(ctx, b.Token); err != nil {
		t.Errorf("other device logged out too: %v", err)
	}
	u.Status = auth.StatusDisabled
	e.store.SetUser(u)
	if _, _, err := e.svc.Authenticate(ctx, b.Token); !errors.Is(err, auth.ErrAccountDisabled) {
		t.Errorf("disabled user: %v", err)
	}
	e.store.Fail = errors.New("db down")
	if _, _, err := e.svc.Authenticate(ctx, b.Token); err == nil || errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("db failure: %v", err)
	}
}

func TestKnownUserKeepsProfile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.svc.Login(ctx, auth.LoginInput{Code: "bob.1", UserInfo: &auth.Profile{Nickname: "Bob"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Login(ctx, auth.LoginInput{Code: "bob.2", UserInfo: &auth.Profile{Nickname: "Other", Avatar: "https://a"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.User.Nickname != "Bob" || res.User.Avatar != "https://a" {
		t.Errorf("profile after second login: %+v", res.User)
	}
}

func TestSealedSessionKeyAndBindPhoneEncrypted(t *testing.T) {
	e := newEnv(t)
	sealer, err := keyseal.New("s3cret-of-at-least-thirty-two-bytes")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Sealer = sealer
	res := e.login(t, "carol.1")
	ss := e.store.Sessions()[0]
	if !keyseal.IsSealed(ss.SessionKey) || strings.Contains(ss.SessionKey, "key-carol") {
		t.Fatalf("stored key %q not sealed", ss.SessionKey)
	}
	if plain, err := sealer.Open(ss.SessionKey, auth.HashToken(res.Token)); err != nil || plain != "key-carol.1" {
		t.Fatalf("sealed with another AD: %q %v", plain, err)
	}
	sess := requestSession(t, e.svc, res)
	// The fake key is not valid AES: decryption fails as bad input, after
	// the sealed key was opened (an open failure would be internal).
	_, err = e.svc.BindPhoneEncrypted(context.Background(), sess, res.User, "AAAA", "AAAA")
	var bad *auth.BadArgumentError
	if !errors.As(err, &bad) {
		t.Errorf("BindPhoneEncrypted: %v", err)
	}
	var missing *auth.MissingArgumentError
	if _, err := e.svc.BindPhoneEncrypted(context.Background(), sess, res.User, "AAAA", ""); !errors.As(err, &missing) {
		t.Errorf("missing iv: %v", err)
	}
}

func TestBindPhoneByCode(t *testing.T) {
	e := newEnv(t)
	res := e.login(t, "dave.1")
	ctx := context.Background()
	sess := requestSession(t, e.svc, res)
	m, err := e.svc.BindPhoneByCode(ctx, sess, res.User, "dave.phone1")
	if err != nil || m != "13800138000" || e.store.User(res.User.ID).Mobile != m {
		t.Fatalf("bind: %q %v", m, err)
	}
	e.wx.Errs = map[string]error{"dave.bad": authtest.APIError(40029, "invalid code")}
	var up *auth.UpstreamError
	if _, err := e.svc.BindPhoneByCode(ctx, sess, res.User, "dave.bad"); !errors.As(err, &up) || up.Errcode != 40029 {
		t.Errorf("refused code: %v", err)
	}
	e.wx.Phone = "1380013800012345678901"
	if _, err := e.svc.BindPhoneByCode(ctx, sess, res.User, "dave.2"); !errors.As(err, &up) || up.Answered {
		t.Errorf("overlong number: %v", err)
	}
}

func TestUpdateProfileAndPurge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := e.login(t, "erin.1")
	nick := "新名字"
	u, err := e.svc.UpdateProfile(ctx, res.User, auth.ProfileUpdate{Nickname: &nick})
	if err != nil || u.Nickname != nick {
		t.Fatalf("update: %+v %v", u, err)
	}
	if _, err := e.svc.UpdateProfile(ctx, auth.User{ID: 99}, auth.ProfileUpdate{Nickname: &nick}); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	e.clock.Add(24*time.Hour + 31*24*time.Hour)
	n, err := e.svc.PurgeExpired(ctx, 30*24*time.Hour)
	if err != nil || n != 1 {
		t.Errorf("purge: %d %v", n, err)
	}
}

// requestSession is the session a request with res's token carries, as
// Authenticate reads it.
func requestSession(t *testing.T, svc *auth.Service, res auth.LoginResult) auth.Session {
	t.Helper()
	sess, _, err := svc.Authenticate(context.Background(), res.Token)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return sess
}
