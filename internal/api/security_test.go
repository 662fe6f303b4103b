package api_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/oactl/oactl/internal/api"
)

// TestHostileAvatarRefused is the finding "avatar: javascript:alert(1) and
// data:text/html,... were stored and served by /info": the exact requests
// answer 402, WeChat is not called for the login, and nothing is written.
func TestHostileAvatarRefused(t *testing.T) {
	e := newHEnv(t)
	tok := e.loginToken(t, "alice.1")
	for _, avatar := range []string{"javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "http://evil.example/a.png", "//evil.example/a.png"} {
		body, _ := json.Marshal(map[string]string{"avatar": avatar})
		expect(t, "profile avatar "+avatar, e.do(t, "POST", "/wx/auth/profile", tok, body), 200, 402, "参数值不对")
		body, _ = json.Marshal(map[string]any{"code": "bob.1", "userInfo": map[string]string{"avatarUrl": avatar}})
		expect(t, "login avatarUrl "+avatar, e.do(t, "POST", "/wx/auth/login_by_weixin", "", body), 200, 402, "参数值不对")
	}
	if n := e.Store.Calls["UpdateProfile"]; n != 0 {
		t.Errorf("UpdateProfile called %d times", n)
	}
	if n := e.Store.Calls["Login"]; n != 1 || e.WeChat.Calls != 1 {
		t.Errorf("logins with a hostile avatar reached the store (%d) or WeChat (%d)", n-1, e.WeChat.Calls-1)
	}
	a := e.do(t, "GET", "/wx/auth/info", tok, nil)
	if string(a.Data) != `{"nickName":"","avatar":"","gender":0,"mobile":""}` {
		t.Errorf("info after refusals: %s", a.Data)
	}
}

// TestNicknameControlsNotStored is the finding "a nickname with NUL,
// ESC[2J, OSC 52 and U+202E was stored and returned as is": login and
// profile store it without them, and answers show what was stored.
func TestNicknameControlsNotStored(t *testing.T) {
	e := newHEnv(t)
	hostile := "a\x00b\x1b[2J\x1b]52;c;ZXZpbA==\x07\u202Egnp.exe"
	const want = "ab[2J]52;c;ZXZpbA==gnp.exe"
	body, _ := json.Marshal(map[string]any{"code": "alice.1", "userInfo": map[string]string{"nickName": hostile}})
	a := e.do(t, "POST", "/wx/auth/login_by_weixin", "", body)
	var d struct {
		Token    string
		UserInfo struct{ NickName string }
	}
	if err := json.Unmarshal(a.Data, &d); err != nil || d.UserInfo.NickName != want {
		t.Fatalf("login answer: %s", a.Body)
	}
	if got := e.Store.User(1).Nickname; got != want {
		t.Fatalf("stored %q, want %q", got, want)
	}
	body, _ = json.Marshal(map[string]string{"nickname": "\u202Dx\u2066y\u0085"})
	expect(t, "profile", e.do(t, "POST", "/wx/auth/profile", d.Token, body), 200, 0, "成功")
	if got := e.Store.User(1).Nickname; got != "xy" {
		t.Fatalf("stored after profile %q", got)
	}
}

// TestUploadPolyglotRefused is the finding "GIF89a<html><script>... and
// PNG-header polyglots were stored": 402, and no file.
func TestUploadPolyglotRefused(t *testing.T) {
	e := newHEnv(t)
	tok := e.loginToken(t, "alice.1")
	html := []byte("<html><script>alert(document.cookie)</script>")
	for name, data := range map[string][]byte{
		"gif header":     append([]byte("GIF89a"), html...),
		"png header":     append(testImage("png")[:33:33], html...),
		"png then html":  append(testImage("png"), html...),
		"jpeg then html": append(testImage("jpeg"), html...),
	} {
		expect(t, name, e.upload(t, tok, "oa.example", "file", data, nil), 200, 402, "参数值不对")
	}
	if ents, _ := os.ReadDir(e.dir); len(ents) != 0 {
		t.Errorf("%d files stored", len(ents))
	}
}

// TestFetchHeadersAndLinks: fetched files carry nosniff and a CSP that
// runs and loads nothing; a symbolic link planted under a key's name (to
// the database, or to a real upload) is 404.
func TestFetchHeadersAndLinks(t *testing.T) {
	e := newHEnv(t)
	tok := e.loginToken(t, "alice.1")
	r := e.upload(t, tok, "oa.example", "file", testImage("png"), nil)
	var d struct{ Key string }
	if err := json.Unmarshal(r.Data, &d); err != nil || d.Key == "" {
		t.Fatalf("upload: %s", r.Body)
	}
	f := e.send(httptest.NewRequest("GET", api.FetchPrefix+d.Key, nil))
	if f.Status != 200 || f.Header.Get("X-Content-Type-Options") != "nosniff" || f.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" {
		t.Fatalf("fetch headers: %d %v", f.Status, f.Header)
	}
	secret := filepath.Join(filepath.Dir(e.dir), "oactl.db")
	if err := os.WriteFile(secret, []byte("SQLite format 3\x00session_key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"0123456789abcdef0123456789abcdef.png": secret, "1123456789abcdef0123456789abcdef.png": d.Key} {
		if err := os.Symlink(target, filepath.Join(e.dir, name)); err != nil {
			t.Fatal(err)
		}
		f := e.send(httptest.NewRequest("GET", api.FetchPrefix+name, nil))
		if f.Status != 404 || f.Errno != 404 || bytes.Contains([]byte(f.Body), []byte("SQLite")) {
			t.Errorf("link to %s: %d %q", target, f.Status, f.Body)
		}
	}
}

// TestClientAddrWithPorts: X-Forwarded-For entries with ports name the
// client, so that a gateway writing them does not make every client the
// proxy.
func TestClientAddrWithPorts(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, c := range []struct{ xff, want string }{
		{"203.0.113.7:5000", "203.0.113.7"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"2001:db8::1", "2001:db8::1"},
		{"198.51.100.1:1, 10.0.0.9:8080", "198.51.100.1"},
		{"198.51.100.1, [2001:db8:ffff::5]:80", "198.51.100.1"},
		{" 203.0.113.7:5000 ", "203.0.113.7"},
		{"[::ffff:203.0.113.7]:5000", "203.0.113.7"},
		{"fe80::1%eth0", "fe80::1"},
		{"203.0.113.7:99999", "10.0.0.1"}, // not a port: the chain ends at the proxy
		{"[203.0.113.7]:80", "10.0.0.1"},
		{"203.0.113.7:", "10.0.0.1"},
		{"unknown", "10.0.0.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.1:40000"
		r.Header.Set("X-Forwarded-For", c.xff)
		if got := api.ClientAddr(r, trusted); got.String() != c.want {
			t.Errorf("X-Forwarded-For %q: %s, want %s", c.xff, got, c.want)
		}
	}
}
