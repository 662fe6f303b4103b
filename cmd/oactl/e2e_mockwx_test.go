package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mockGet reads a mockwx URL and decodes its JSON answer.
func mockGet(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

// wxCalls is how often mockwx says WeChat's API was called.
func wxCalls(t *testing.T, mock, api, user string) int {
	t.Helper()
	var out struct {
		Count    int  `json:"count"`
		Complete bool `json:"complete"`
	}
	mockGet(t, mock+"/__mock/calls?api="+api+"&user="+user, &out)
	if !out.Complete {
		t.Fatalf("mockwx's journal dropped entries: the count of %s calls is not exact", api)
	}
	return out.Count
}

// TestServeCallsWeChatOncePerLogin asserts serve's side of the contract
// through mockwx's call count: one jscode2session per login, none for a
// code refused before WeChat (junk must not burn WeChat's quota) and none
// for authenticated requests.
func TestServeCallsWeChatOncePerLogin(t *testing.T) {
	e := startDev(t)
	for i := 1; i <= 3; i++ {
		tok := e.c.login(uniqueCode("callie"), nil).Token
		if got := wxCalls(t, e.mock, "jscode2session", "callie"); got != i {
			t.Fatalf("after %d logins mockwx saw %d jscode2session calls", i, got)
		}
		if _, env := e.c.info(tok); env.Errno != 0 {
			t.Fatalf("info: errno %d", env.Errno)
		}
	}
	if env := e.c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": "callie." + strings.Repeat("9", 130)}); env.Errno != 402 {
		t.Fatalf("a junk code answered errno %d, want 402", env.Errno)
	}
	if got := wxCalls(t, e.mock, "jscode2session", ""); got != 3 {
		t.Errorf("mockwx saw %d jscode2session calls in all, want 3 (info and a refused code call nothing)", got)
	}
}

// jscodeAnswer is mockwx's jscode2session answer, as WeChat words it.
type jscodeAnswer struct {
	Errcode int    `json:"errcode"`
	Errmsg  string `json:"errmsg"`
	OpenID  string `json:"openid"`
	UnionID string `json:"unionid"`
}

// TestMockwxScriptFlag starts the binary with --script: the file's users,
// phone numbers and faults are in force from the first request; a
// malformed file exits 2 naming the file and the line.
func TestMockwxScriptFlag(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "wx.yml")
	const appid, secret = "wxscript000000000", "script-secret"
	if err := os.WriteFile(script, []byte(`users:
  nina: {errcode: 40226}
  lena: {stickySessionKey: true, riskRank: 3, noUnionid: true}
phones:
  alice: "13800001111"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	m := startOactl(t, []string{"OA_WX_APP_SECRET=" + secret}, "mockwx", "--addr", addr, "--appid", appid, "--unionid", "--script", script)
	base := "http://" + addr
	m.waitHealthy(base + "/__mock/healthz")

	var wx jscodeAnswer
	mockGet(t, base+"/sns/jscode2session?grant_type=authorization_code&appid="+appid+"&secret="+secret+"&js_code=nina.1", &wx)
	if wx.Errcode != 40226 || wx.Errmsg != "code blocked" {
		t.Errorf("nina's login: %+v, want 40226 code blocked", wx)
	}
	wx = jscodeAnswer{}
	mockGet(t, base+"/sns/jscode2session?grant_type=authorization_code&appid="+appid+"&secret="+secret+"&js_code=lena.1", &wx)
	if wx.Errcode != 0 || wx.OpenID == "" || wx.UnionID != "" {
		t.Errorf("lena's login: %+v, want an openid and no unionid", wx)
	}
	var lena struct {
		RiskRank         int  `json:"riskRank"`
		StickySessionKey bool `json:"stickySessionKey"`
		NoUnionid        bool `json:"noUnionid"`
	}
	mockGet(t, base+"/__mock/users/lena?appid="+appid, &lena)
	if lena.RiskRank != 3 || !lena.StickySessionKey || !lena.NoUnionid {
		t.Errorf("lena's behaviour %+v", lena)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	mockGet(t, base+"/cgi-bin/token?grant_type=client_credential&appid="+appid+"&secret="+secret, &tok)
	resp, err := http.Post(base+"/wxa/business/getuserphonenumber?access_token="+tok.AccessToken, "application/json", strings.NewReader(`{"code":"alice.p1"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"13800001111"`) {
		t.Errorf("alice's phone answer %s lacks the scripted number", b)
	}

	// Faults: every call fails with the scripted errcode.
	faults := filepath.Join(dir, "faults.yml")
	if err := os.WriteFile(faults, []byte("faults: {errorRate: 1, errcode: 45011, latencyMs: 0, jitterMs: 0, seed: 7}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr2 := freeAddr(t)
	m2 := startOactl(t, nil, "mockwx", "--addr", addr2, "--script", faults)
	m2.waitHealthy("http://" + addr2 + "/__mock/healthz")
	wx = jscodeAnswer{}
	mockGet(t, "http://"+addr2+"/sns/jscode2session?grant_type=authorization_code&appid=wxany&secret=s&js_code=bob.1", &wx)
	if wx.Errcode != 45011 {
		t.Errorf("with errorRate 1 the login answered %+v, want errcode 45011", wx)
	}

	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("users:\n  nina: {errcode: 40226}\n  lena: {stickysessionkeyz: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{bad, filepath.Join(dir, "missing.yml")} {
		s, _, errb := testStdio(nil)
		if code := run([]string{"mockwx", "--addr", freeAddr(t), "--script", file}, s); code != exitUsage {
			t.Errorf("--script %s: exit %d, want 2 (%s)", file, code, errb)
		}
		if !strings.Contains(errb.String(), file) {
			t.Errorf("--script %s: the error does not name the file: %s", file, errb)
		}
		if file == bad && !strings.Contains(errb.String(), file+":3:") {
			t.Errorf("the error does not name line 3: %s", errb)
		}
	}
}
