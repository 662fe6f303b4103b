package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
)

// TestRenewalRules: the expiry moves only when less than half of the
// ttl is left, to now + ttl, never past login + max age; a max age equal
// to the ttl turns renewal off; the move rides on the once-a-minute touch.
func TestRenewalRules(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		ttl, maxAge time.Duration
		after       time.Duration // since login, first request
		want        time.Duration // expiry after it, since login
	}{
		{"more than half left", 24 * time.Hour, 720 * time.Hour, 11 * time.Hour, 24 * time.Hour},
		{"half left, to the second", 24 * time.Hour, 720 * time.Hour, 12*time.Hour - time.Second, 24 * time.Hour},
		{"less than half left", 24 * time.Hour, 720 * time.Hour, 13 * time.Hour, 37 * time.Hour},
		{"capped by the max age", 24 * time.Hour, 30 * time.Hour, 20 * time.Hour, 30 * time.Hour},
		{"renewal off", 24 * time.Hour, 24 * time.Hour, 20 * time.Hour, 24 * time.Hour},
		{"max age 0 is the default", 24 * time.Hour, 0, 23 * time.Hour, 47 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.svc.TokenTTL, e.svc.MaxAge = tc.ttl, tc.maxAge
			res := e.login(t, "rene.1")
			login := t0.Truncate(time.Second)
			e.clock.Add(tc.after)
			sess, _, err := e.svc.Authenticate(ctx, res.Token)
			if err != nil {
				t.Fatal(err)
			}
			if want := login.Add(tc.want); !sess.ExpiresAt.Equal(want) {
				t.Errorf("expiry %v, want %v", sess.ExpiresAt, want)
			}
			if stored := e.store.Sessions()[0].ExpiresAt; !stored.Equal(sess.ExpiresAt) {
				t.Errorf("stored %v, answered %v", stored, sess.ExpiresAt)
			}
			if e.store.Calls["TouchSession"] != 1 {
				t.Errorf("%d touches", e.store.Calls["TouchSession"])
			}
		})
	}
}

// TestRenewalWaitsForTheTouch: a request within a minute of the last
// write renews nothing (the next touch does), unless the session would
// die before that touch (a ttl under two minutes).
func TestRenewalWaitsForTheTouch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.svc.TokenTTL = 24 * time.Hour
	res := e.login(t, "wait.1")
	e.clock.Add(13 * time.Hour)
	if _, _, err := e.svc.Authenticate(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(30 * time.Second)
	sess, _, err := e.svc.Authenticate(ctx, res.Token)
	if err != nil || e.store.Calls["TouchSession"] != 1 {
		t.Fatalf("%v, %d touches", err, e.store.Calls["TouchSession"])
	}
	// The renewed expiry is the first request's, not this one's.
	if want := t0.Truncate(time.Second).Add(37 * time.Hour); !sess.ExpiresAt.Equal(want) {
		t.Errorf("expiry %v, want %v", sess.ExpiresAt, want)
	}

	short := newEnv(t)
	short.svc.TokenTTL = 90 * time.Second
	res = short.login(t, "wait.2")
	short.clock.Add(50 * time.Second) // 40 s left: renewal due, touch not
	sess, _, err = short.svc.Authenticate(ctx, res.Token)
	if err != nil || short.store.Calls["TouchSession"] != 1 || !sess.ExpiresAt.After(t0.Add(90*time.Second)) {
		t.Fatalf("short ttl: %v, %d touches, expiry %v", err, short.store.Calls["TouchSession"], sess.ExpiresAt)
	}
	short.clock.Add(80 * time.Second) // alive only because it was renewed
	if _, _, err := short.svc.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("renewed short token: %v", err)
	}
}

// TestLoginExpiryWithinMaxAge: a max age below the ttl (which serve
// refuses) still bounds the first expiry.
func TestLoginExpiryWithinMaxAge(t *testing.T) {
	e := newEnv(t)
	e.svc.TokenTTL, e.svc.MaxAge = 24*time.Hour, time.Hour
	if res := e.login(t, "max.1"); !res.ExpiresAt.Equal(t0.Truncate(time.Second).Add(time.Hour)) {
		t.Errorf("expiry %v", res.ExpiresAt)
	}
}

// TestSessionLimitReachesTheStore: MaxSessions travels with every login;
// with 1, the second login revokes the first session.
func TestSessionLimitReachesTheStore(t *testing.T) {
	e := newEnv(t)
	e.svc.MaxSessions = 1
	first := e.login(t, "lim.1")
	second := e.login(t, "lim.2")
	ctx := context.Background()
	if _, _, err := e.svc.Authenticate(ctx, first.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("the first session still works: %v", err)
	}
	if _, _, err := e.svc.Authenticate(ctx, second.Token); err != nil {
		t.Errorf("the second session: %v", err)
	}
	if s := e.store.Sessions()[0]; s.RevokeReason != auth.ReasonSessionLimit {
		t.Errorf("first session's reason %q", s.RevokeReason)
	}
}

// TestServiceCancel: Cancel stamps the audit with the service's clock and
// deletes the files after the store's transaction, never before.
func TestServiceCancel(t *testing.T) {
	e := newEnv(t)
	res := e.login(t, "can.1")
	var order []string
	e.svc.Files = filesFunc(func(owner int64) (int, error) {
		order = append(order, "files")
		if e.store.User(owner).Status != auth.StatusCancelled {
			t.Error("files deleted before the account was cancelled")
		}
		return 1, nil
	})
	out, err := e.svc.Cancel(context.Background(), res.User.ID, auth.Audit{Actor: "ops"})
	if err != nil || out.Files != 1 || len(out.Sessions) != 1 || out.Identities != 1 || len(order) != 1 {
		t.Fatalf("cancel: %+v %v", out, err)
	}
	if a := e.store.Audit(); len(a) != 1 || !a[0].At.Equal(t0.Truncate(time.Second)) || a[0].Actor != "ops" {
		t.Errorf("audit %+v", a)
	}
	if _, err := e.svc.Cancel(context.Background(), 99, auth.Audit{Actor: "ops"}); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("cancel of no one: %v", err)
	}
}

type filesFunc func(owner int64) (int, error)

func (f filesFunc) DeleteOwner(_ context.Context, owner int64) (int, error) { return f(owner) }

func TestValidateActor(t *testing.T) {
	for _, ok := range []string{"zhang.san", "张三", "ops@example.com", strings.Repeat("a", 64)} {
		if err := auth.ValidateActor(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "user", "USER", strings.Repeat("a", 65), "a\x00b", "a\nb", "\xff", "a\u0085b", "a\x7fb"} {
		if err := auth.ValidateActor(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMaskMobile(t *testing.T) {
	for in, want := range map[string]string{
		"13812341234":     "138****1234",
		"":                "",
		"1234567":         "*****67",
		"12":              "12",
		"+8613812341234":  "+86*******1234",
		"+1 415 555 0100": "+1 ********0100",
	} {
		if got := auth.MaskMobile(in); got != want {
			t.Errorf("MaskMobile(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUserState(t *testing.T) {
	for _, c := range []struct {
		u    auth.User
		want auth.UserState
	}{
		{auth.User{}, auth.UserActive},
		{auth.User{Status: 1}, auth.UserDisabled},
		{auth.User{Status: 2}, auth.UserCancelled},
		{auth.User{Status: 9}, auth.UserDisabled},
		{auth.User{Status: 2, Deleted: true}, auth.UserDeleted},
	} {
		if got := c.u.State(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.u, got, c.want)
		}
	}
}
