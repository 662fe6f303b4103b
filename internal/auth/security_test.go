package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

// TestBindPhoneCodeOfAnotherUser: bob's token with a phone-number code
// that alice's mini-program obtained does not bind alice's number. The
// service sends bob's openid with the code; WeChat (mockwx) refuses the
// mismatch with 40003; nothing is written; alice's code still works for
// alice.
func TestBindPhoneCodeOfAnotherUser(t *testing.T) {
	m := newMockEnv(t)
	ctx := context.Background()
	alice, err := m.svc.Login(ctx, auth.LoginInput{Code: m.code(t, "alice")})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := m.svc.Login(ctx, auth.LoginInput{Code: m.code(t, "bob")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.svc.BindPhoneByCode(ctx, requestSession(t, m.svc, bob), bob.User, "alice.phone1")
	var up *auth.UpstreamError
	if !errors.As(err, &up) || !up.Answered || up.Errcode != 40003 {
		t.Fatalf("bob binding alice's code: %v, want WeChat's 40003", err)
	}
	if n := m.store.Calls["SetMobile"]; n != 0 {
		t.Fatalf("SetMobile called %d times after the refusal", n)
	}
	if got := m.store.User(bob.User.ID).Mobile; got != "" {
		t.Fatalf("bob's mobile is %q", got)
	}
	got, err := m.svc.BindPhoneByCode(ctx, requestSession(t, m.svc, alice), alice.User, "alice.phone1")
	if err != nil || got != mockwx.PhoneNumber("oactl", "alice") {
		t.Fatalf("alice with her own code: %q, %v", got, err)
	}
}

// TestLegacyWatermarkWindow: a legacy payload binds only within 10 minutes
// of its watermark timestamp. Timestamp 0 (the finding), a payload 11
// minutes old (a replay) and one from 11 minutes ahead are 402 with
// nothing written; the same payload inside the window binds.
func TestLegacyWatermarkWindow(t *testing.T) {
	m := newMockEnv(t)
	ctx := context.Background()
	code := m.code(t, "carol")
	res, err := m.svc.Login(ctx, auth.LoginInput{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	key := mockwx.SessionKey("oactl", mockAppID, code)
	number := mockwx.PhoneNumber("oactl", "carol")
	stamped := func(ts int64) (string, string) {
		t.Helper()
		plain, _ := json.Marshal(map[string]any{
			"phoneNumber": number, "purePhoneNumber": number, "countryCode": "86",
			"watermark": map[string]any{"appid": mockAppID, "timestamp": ts},
		})
		data, iv, err := wechat.Encrypt(key, plain, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return data, iv
	}
	sess := requestSession(t, m.svc, res)
	issued := time.Unix(1_800_000_000, 0)
	data, iv := stamped(issued.Unix())
	zeroData, zeroIV := stamped(0)
	for name, c := range map[string]struct {
		now      time.Time
		data, iv string
	}{
		"timestamp 0":        {issued, zeroData, zeroIV},
		"replayed after 11m": {issued.Add(11 * time.Minute), data, iv},
		"11m in the future":  {issued.Add(-11 * time.Minute), data, iv},
	} {
		m.svc.Now = func() time.Time { return c.now }
		_, err := m.svc.BindPhoneEncrypted(ctx, sess, res.User, c.data, c.iv)
		var bad *auth.BadArgumentError
		if !errors.As(err, &bad) || bad.Field != "encryptedData" {
			t.Errorf("%s: %v, want a 402 on encryptedData", name, err)
		}
	}
	if n := m.store.Calls["SetMobile"]; n != 0 || m.store.User(res.User.ID).Mobile != "" {
		t.Fatalf("written after refusals: SetMobile %d, mobile %q", n, m.store.User(res.User.ID).Mobile)
	}
	m.svc.Now = func() time.Time { return issued.Add(9 * time.Minute) }
	got, err := m.svc.BindPhoneEncrypted(ctx, sess, res.User, data, iv)
	if err != nil || got != number {
		t.Fatalf("inside the window: %q, %v", got, err)
	}
}
