package mockwx_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/mockwx"
)

// send makes one request to srv with the given Host header.
func send(t *testing.T, srv *httptest.Server, method, path, host, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMockHelpersRefuseRebindingHost: a page on evil.example that rebinds
// its name to 127.0.0.1 sends Host evil.example; the /__mock/ helpers
// refuse it (403, no code minted, nothing journaled), and answer loopback
// names and IP literals. WeChat's own API paths answer any Host.
func TestMockHelpersRefuseRebindingHost(t *testing.T) {
	srv := httptest.NewServer(mockwx.New(mockwx.Config{AppID: testApp}))
	defer srv.Close()
	for _, host := range []string{"evil.example", "evil.example:9090", "127.0.0.1.nip.io:9090", "localhost.evil.example"} {
		status, body := send(t, srv, "POST", "/__mock/login", host, `{"user":"alice"}`)
		if status != http.StatusForbidden || strings.Contains(body, `"code"`) {
			t.Errorf("POST /__mock/login with Host %q: %d %s, want 403", host, status, body)
		}
		if status, _ := send(t, srv, "GET", "/__mock/journal", host, ""); status != http.StatusForbidden {
			t.Errorf("GET /__mock/journal with Host %q: %d, want 403", host, status)
		}
	}
	// An HTTP/1.0 request may carry no Host at all: not a loopback name.
	r := httptest.NewRequest("POST", "/__mock/login", strings.NewReader(`{"user":"alice"}`))
	r.Host = ""
	rec := httptest.NewRecorder()
	srv.Config.Handler.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden {
		t.Errorf("no Host: %d %s", rec.Code, rec.Body)
	}
	// Nothing reached the journal: the refused requests were not served.
	_, journal := send(t, srv, "GET", "/__mock/journal", "127.0.0.1", "")
	var entries []mockwx.JournalEntry
	if err := json.Unmarshal([]byte(journal), &entries); err != nil || len(entries) != 0 {
		t.Fatalf("journal after refused requests: %s", journal)
	}
	for _, host := range []string{"127.0.0.1:9090", "localhost:9090", "LOCALHOST", "[::1]:9090", "10.1.2.3", "192.0.2.7:80"} {
		if status, body := send(t, srv, "POST", "/__mock/login", host, `{"user":"alice"}`); status != 200 || !strings.Contains(body, `"code"`) {
			t.Errorf("POST /__mock/login with Host %q: %d %s", host, status, body)
		}
	}
	status, body := send(t, srv, "GET", "/sns/jscode2session?appid="+testApp+"&secret=s&js_code=alice.1&grant_type=authorization_code", "api.weixin.qq.example", "")
	if status != 200 || !strings.Contains(body, "openid") {
		t.Errorf("jscode2session with a DNS Host: %d %s", status, body)
	}
}

func TestLocalHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:1": true, "127.0.0.1": true, "[::1]:80": true, "::1": true, "203.0.113.9:8": true,
		"evil.example": false, "": false, "localhost.": false, "127.0.0.1.example": false, "[::1%eth0]": false, "[evil]:80": false,
	} {
		if got := mockwx.LocalHost(host); got != want {
			t.Errorf("LocalHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestPhoneCodeBoundToOpenID: a phone-number code of alice sent with
// bob's openid is refused with 40003 and stays usable by alice; with her
// openid (or none, as older clients send) it answers her number.
func TestPhoneCodeBoundToOpenID(t *testing.T) {
	srv := httptest.NewServer(mockwx.New(mockwx.Config{AppID: testApp}))
	defer srv.Close()
	_, tokBody := send(t, srv, "GET", "/cgi-bin/token?grant_type=client_credential&appid="+testApp+"&secret=x", "", "")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(tokBody), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %s", tokBody)
	}
	path := "/wxa/business/getuserphonenumber?access_token=" + tok.AccessToken
	alice, bob := mockwx.OpenID("oactl", testApp, "alice"), mockwx.OpenID("oactl", testApp, "bob")
	phone := func(code, openid string) (errcode int, number string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"code": code, "openid": openid})
		_, raw := send(t, srv, "POST", path, "", string(body))
		var a struct {
			Errcode   int `json:"errcode"`
			PhoneInfo struct {
				PhoneNumber string `json:"phoneNumber"`
			} `json:"phone_info"`
		}
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			t.Fatalf("%s: %s", code, raw)
		}
		return a.Errcode, a.PhoneInfo.PhoneNumber
	}
	if errcode, number := phone("alice.p1", bob); errcode != 40003 || number != "" {
		t.Fatalf("alice's code with bob's openid: errcode %d, number %q; want 40003", errcode, number)
	}
	if errcode, number := phone("alice.p1", alice); errcode != 0 || number != mockwx.PhoneNumber("oactl", "alice") {
		t.Fatalf("alice's code with her openid after the refusal: %d %q", errcode, number)
	}
	if errcode, _ := phone("alice.p2", ""); errcode != 0 {
		t.Fatalf("a code without openid: %d", errcode)
	}
}
