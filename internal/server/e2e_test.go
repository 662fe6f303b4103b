package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/migrate"
	"github.com/oactl/oactl/internal/dbtest"
	"github.com/oactl/oactl/internal/keyseal"
	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/testutil"
	"github.com/oactl/oactl/internal/testutil/apispec"
	"github.com/oactl/oactl/internal/wechat"
)

const (
	e2eAppID  = "wxe2eapp0000000001"
	e2eSecret = "e2e-app-secret-value"
)

// TestEndToEnd runs the composed handler over HTTP on 127.0.0.1 against a
// real database (SQLite, and MariaDB when OACTL_TEST_MYSQL_DSN is set) and
// a real mockwx through the real WeChat client.
func TestEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runE2E(t, dbtest.SQLite(t)) })
	t.Run("mariadb", func(t *testing.T) { runE2E(t, dbtest.MySQL(t)) })
}

type e2eClient struct {
	t    *testing.T
	base string
	wx   string
}

func (c *e2eClient) call(method, path, token string, body any) (int, api.Envelope, http.Header) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if token != "" {
		req.Header.Set(api.TokenHeader, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var env api.Envelope
	raw, _ := io.ReadAll(resp.Body)
	if spec, err := apispec.Load(); err != nil {
		c.t.Fatal(err)
	} else if err := spec.Check(req, resp.StatusCode, resp.Header, raw); err != nil {
		c.t.Errorf("an answer differs from docs/openapi.yaml: %v", err)
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		c.t.Fatalf("%s %s: %q", method, path, raw)
	}
	return resp.StatusCode, env, resp.Header
}

func (c *e2eClient) mock(path string, in any) map[string]any {
	c.t.Helper()
	b, _ := json.Marshal(in)
	resp, err := http.Post(c.wx+path, "application/json", bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out
}

// migratedStore opens dsn with wx_user's times in tz and migrates it;
// mockWeChat is a mockwx of the e2e app over HTTP. Both close with t.
func migratedStore(t *testing.T, dsn string, tz *time.Location) *db.DB {
	t.Helper()
	store, err := db.Open(context.Background(), dsn, db.Options{TimeZone: tz})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := migrate.New(store, migrate.Options{}).Up(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	return store
}

func mockWeChat(t *testing.T) *httptest.Server {
	wx := httptest.NewServer(mockwx.New(mockwx.Config{AppID: e2eAppID, Secret: e2eSecret}))
	t.Cleanup(wx.Close)
	return wx
}

func runE2E(t *testing.T, dsn string) {
	tz := time.FixedZone("CST", 8*3600)
	store := migratedStore(t, dsn, tz)
	wx := mockWeChat(t)
	sealer, err := keyseal.New("e2e-seal-secret-of-32-bytes-or-more")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	svc := &auth.Service{
		Store: store, AppID: e2eAppID, Sealer: sealer, Logger: logger,
		WeChat: &wechat.Client{BaseURL: wx.URL, AppID: e2eAppID, Secret: e2eSecret, Timeout: 2 * time.Second},
	}
	srv := httptest.NewServer(New(Config{Service: svc, Store: store, Logger: logger, TimeZone: tz, LoginRate: 100, StorageDir: t.TempDir()}))
	t.Cleanup(srv.Close)
	c := &e2eClient{t: t, base: srv.URL, wx: wx.URL}

	code := c.mock("/__mock/login", map[string]string{"user": "alice"})["code"].(string)
	_, env, _ := c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{
		"code": code, "userInfo": map[string]any{"nickName": "爱丽丝👨‍👩‍👧‍👦", "avatarUrl": "https://x/a.png", "gender": 2},
	})
	if env.Errno != 0 {
		t.Fatalf("login: %+v", env)
	}
	data := env.Data.(map[string]any)
	tok := data["token"].(string)
	if _, err := time.ParseInLocation(api.TokenExpireLayout, data["tokenExpire"].(string), tz); err != nil {
		t.Errorf("tokenExpire %v", data["tokenExpire"])
	}
	if ui := data["userInfo"].(map[string]any); ui["nickName"] != "爱丽丝👨‍👩‍👧‍👦" || ui["gender"] != float64(2) {
		t.Errorf("userInfo %v", ui)
	}

	_, env, _ = c.call("POST", "/wx/auth/profile", tok, map[string]any{"nickname": "😀𠜎", "gender": 1})
	if env.Errno != 0 {
		t.Fatalf("profile: %+v", env)
	}
	enc := c.mock("/__mock/encrypt", map[string]string{"user": "alice", "kind": "phone"})
	_, env, _ = c.call("POST", "/wx/auth/bindPhone", tok, map[string]any{"encryptedData": enc["encryptedData"], "iv": enc["iv"]})
	if env.Errno != 0 {
		t.Fatalf("bindPhone: %+v", env)
	}
	_, env, _ = c.call("GET", "/wx/auth/info", tok, nil)
	want := map[string]any{"nickName": "😀𠜎", "avatar": "https://x/a.png", "gender": float64(1), "mobile": mockwx.PhoneNumber("oactl", "alice")}
	for k, v := range want {
		if env.Data.(map[string]any)[k] != v {
			t.Errorf("info %s = %v, want %v", k, env.Data.(map[string]any)[k], v)
		}
	}

	// Upload an avatar and fetch it back.
	body, ctype := multipartBody(t, "file", testPNG())
	req, _ := http.NewRequest("POST", srv.URL+"/wx/storage/upload", body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set(api.TokenHeader, tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Errno int
		Data  struct{ URL string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if up.Errno != 0 || !strings.HasPrefix(up.Data.URL, srv.URL+"/wx/storage/fetch/") {
		t.Fatalf("upload: %+v", up)
	}
	resp, err = http.Get(up.Data.URL)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(img, testPNG()) {
		t.Errorf("fetch: %d", resp.StatusCode)
	}

	_, env, _ = c.call("POST", "/wx/auth/logout", tok, nil)
	if env.Errno != 0 {
		t.Fatalf("logout: %+v", env)
	}
	if _, env, _ = c.call("GET", "/wx/auth/info", tok, nil); env.Errno != 501 {
		t.Errorf("after logout: %+v", env)
	}
	if _, env, _ = c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": "err40029~alice"}); env.Errno != -1 {
		t.Errorf("refused code: %+v", env)
	}
	resp, _ = http.Get(srv.URL + "/readyz")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("readyz %d", resp.StatusCode)
	}
	for _, s := range []string{tok, code, e2eSecret, "e2e-seal-secret-of-32-bytes-or-more", mockwx.SessionKey("oactl", e2eAppID, code)} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log holds a secret %q", s)
		}
	}
}
