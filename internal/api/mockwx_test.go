package api_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

// TestMockwxHandler runs the login handler over a real WeChat client
// talking HTTP to a real mockwx: the client gets an envelope even when
// WeChat is slow.
func TestMockwxHandler(t *testing.T) {
	const appid, secret = "wxmocktestapp000001", "mock-app-secret"
	srv := httptest.NewServer(mockwx.New(mockwx.Config{AppID: appid, Secret: secret}))
	t.Cleanup(srv.Close)
	e := newHEnv(t)
	e.Service.Now = time.Now
	e.Service.AppID = appid
	e.Service.WeChat = &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret, Timeout: 300 * time.Millisecond}
	h := api.NewHandler(e.Service, api.Options{})
	post := func(body string) map[string]any {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/wx/auth/login_by_weixin", bytes.NewBufferString(body)))
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: %q", body, rec.Body)
		}
		return out
	}
	// mockwx takes a code it did not hand out as a first use of "user.n".
	if out := post(`{"code":"dave.1"}`); out["errno"] != float64(0) {
		t.Errorf("login: %v", out)
	}
	out := post(`{"code":"err40029~dave"}`)
	if out["errno"] != float64(-1) || out["data"].(map[string]any)["wxErrcode"] != float64(40029) {
		t.Errorf("refused: %v", out)
	}
	if out := post(`{"code":"slow5000~dave"}`); out["errno"] != float64(-1) {
		t.Errorf("slow: %v", out)
	}
}
