package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/keyseal"
	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

const (
	mockAppID  = "wxmocktestapp000001"
	mockSecret = "mock-app-secret"
)

// mockEnv is a service over a real wechat.Client talking HTTP to a real
// mockwx on 127.0.0.1.
type mockEnv struct {
	*env
	srv *httptest.Server
}

func newMockEnv(t *testing.T) *mockEnv {
	t.Helper()
	srv := httptest.NewServer(mockwx.New(mockwx.Config{AppID: mockAppID, Secret: mockSecret}))
	t.Cleanup(srv.Close)
	e := newEnv(t)
	e.svc.Now = time.Now
	e.svc.AppID = mockAppID
	e.svc.WeChat = &wechat.Client{BaseURL: srv.URL, AppID: mockAppID, Secret: mockSecret, Timeout: 300 * time.Millisecond}
	sealer, err := keyseal.New("test-key-secret-of-32-bytes-or-more")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Sealer = sealer
	return &mockEnv{env: e, srv: srv}
}

func (m *mockEnv) helper(t *testing.T, path string, in, out any) {
	t.Helper()
	b, _ := json.Marshal(in)
	resp, err := http.Post(m.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func (m *mockEnv) code(t *testing.T, user string) string {
	var out struct{ Code string }
	m.helper(t, "/__mock/login", map[string]string{"user": user}, &out)
	return out.Code
}

func TestMockwxLogin(t *testing.T) {
	m := newMockEnv(t)
	ctx := context.Background()
	code := m.code(t, "alice")
	res, err := m.svc.Login(ctx, auth.LoginInput{Code: code, UserInfo: &auth.Profile{Nickname: "Alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := mockwx.OpenID("oactl", mockAppID, "alice"); res.User.OpenID != want {
		t.Errorf("openid %s, want %s", res.User.OpenID, want)
	}
	ss := m.store.Sessions()[0]
	key, err := m.svc.Sealer.Open(ss.SessionKey, ss.TokenHash)
	if err != nil || key != mockwx.SessionKey("oactl", mockAppID, code) {
		t.Errorf("stored session key does not open to mockwx's: %v", err)
	}

	// A code is single-use: WeChat answers 40163.
	_, err = m.svc.Login(ctx, auth.LoginInput{Code: code})
	var up *auth.UpstreamError
	if !errors.As(err, &up) || !up.Answered || up.Errcode != 40163 {
		t.Errorf("reused code: %v", err)
	}
	if _, err := m.svc.Login(ctx, auth.LoginInput{Code: "err40029~alice"}); !errors.As(err, &up) || up.Errcode != 40029 {
		t.Errorf("err40029: %v", err)
	}
	// drop~ is left out: net/http retries an idempotent GET whose reused
	// connection closed without an answer, and the retry finds the code
	// used (40163). Either way the login fails as upstream:
	if _, err := m.svc.Login(ctx, auth.LoginInput{Code: "drop~alice.5"}); !errors.As(err, &up) {
		t.Errorf("drop: %v", err)
	}
	for _, c := range []string{"http500~alice.3", "garbage~alice.4", "slow5000~bob"} {
		_, err := m.svc.Login(ctx, auth.LoginInput{Code: c})
		if !errors.As(err, &up) || up.Answered {
			t.Errorf("%s: %v, want an unanswered UpstreamError", c, err)
		}
	}
	if n := len(m.store.Sessions()); n != 1 {
		t.Errorf("%d sessions after failed logins", n)
	}
}

func TestMockwxBindPhone(t *testing.T) {
	m := newMockEnv(t)
	ctx := context.Background()
	res, err := m.svc.Login(ctx, auth.LoginInput{Code: m.code(t, "carol")})
	if err != nil {
		t.Fatal(err)
	}
	sess := requestSession(t, m.svc, res)
	want := mockwx.PhoneNumber("oactl", "carol")

	var enc struct{ EncryptedData, IV string }
	m.helper(t, "/__mock/encrypt", map[string]string{"user": "carol", "kind": "phone"}, &enc)
	got, err := m.svc.BindPhoneEncrypted(ctx, sess, res.User, enc.EncryptedData, enc.IV)
	if err != nil || got != want {
		t.Fatalf("encrypted: %q, %v; want %q", got, err, want)
	}
	// A second login makes a new session_key: the old payload no longer
	// decrypts, a fresh one does.
	code2 := m.code(t, "carol")
	if _, err := m.svc.Login(ctx, auth.LoginInput{Code: code2}); err != nil {
		t.Fatal(err)
	}
	var bad *auth.BadArgumentError
	if _, err := m.svc.BindPhoneEncrypted(ctx, sess, res.User, enc.EncryptedData, enc.IV); !errors.As(err, &bad) {
		t.Errorf("payload of the old key: %v", err)
	}
	// The right key, but the watermark of another app.
	key := mockwx.SessionKey("oactl", mockAppID, code2)
	plain := []byte(`{"phoneNumber":"13800001111","watermark":{"appid":"wxsomeotherapp","timestamp":` + strconv.FormatInt(time.Now().Unix(), 10) + `}}`)
	data, iv, err := wechat.Encrypt(key, plain, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.svc.BindPhoneEncrypted(ctx, sess, res.User, data, iv); !errors.As(err, &bad) || bad.Reason != "watermark is not this app's" {
		t.Errorf("watermark of another app: %v", err)
	}
	plain = bytes.Replace(plain, []byte("wxsomeotherapp"), []byte(mockAppID), 1)
	if data, iv, err = wechat.Encrypt(key, plain, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if got, err := m.svc.BindPhoneEncrypted(ctx, sess, res.User, data, iv); err != nil || got != "13800001111" {
		t.Errorf("the same payload with this app's watermark: %q, %v", got, err)
	}

	got, err = m.svc.BindPhoneByCode(ctx, sess, res.User, "carol.phone1")
	if err != nil || got != want {
		t.Errorf("by code: %q, %v; want %q", got, err, want)
	}
	var up *auth.UpstreamError
	if _, err := m.svc.BindPhoneByCode(ctx, sess, res.User, "err40029~carol"); !errors.As(err, &up) || up.Errcode != 40029 {
		t.Errorf("by refused code: %v", err)
	}
}
