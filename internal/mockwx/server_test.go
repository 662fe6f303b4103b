package mockwx_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/testutil"
	"github.com/oactl/oactl/internal/wechat"
)

const (
	testApp    = "wxmocktest0000001"
	testSecret = "mock-secret-value-123"
)

// Independent implementations of SPEC §5's formulas.
func hmacSHA256(seed, msg string) []byte {
	m := hmac.New(sha256.New, []byte(seed))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func specOpenID(seed, appid, user string) string {
	return "o" + base64.RawURLEncoding.EncodeToString(hmacSHA256(seed, appid+"\n"+user))[:27]
}

func specUnionID(seed, user string) string {
	return "o" + base64.RawURLEncoding.EncodeToString(hmacSHA256(seed, "unionid\n"+user))[:27]
}

func specSessionKey(seed, appid, code string) string {
	return base64.StdEncoding.EncodeToString(hmacSHA256(seed, "session_key\n"+appid+"\n"+code)[:16])
}

type env struct {
	t   *testing.T
	url string
	clk *testutil.Clock
	log *testutil.Buffer
}

func start(t *testing.T, cfg mockwx.Config) *env {
	t.Helper()
	e := &env{t: t, clk: testutil.NewClock(), log: &testutil.Buffer{}}
	if cfg.Now == nil {
		cfg.Now = e.clk.Now
	}
	cfg.Logger = slog.New(slog.NewTextHandler(e.log, nil))
	srv := httptest.NewServer(mockwx.New(cfg))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// wxAnswer is any WeChat answer.
type wxAnswer struct {
	Status     int
	Raw        string
	Errcode    int    `json:"errcode"`
	Errmsg     string `json:"errmsg"`
	OpenID     string `json:"openid"`
	SessionKey string `json:"session_key"`
	UnionID    string `json:"unionid"`
}

func (e *env) do(method, path string, body string) (wxAnswer, error) {
	e.t.Helper()
	return e.doWith(http.DefaultClient, method, path, body)
}

// freshConn is a client that never reuses a connection: on a reused one,
// net/http retries a GET whose connection closed without an answer, and
// the retry would see "code been used".
var freshConn = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func (e *env) doWith(c *http.Client, method, path string, body string) (wxAnswer, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return wxAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return wxAnswer{}, err
	}
	a := wxAnswer{Status: resp.StatusCode, Raw: string(b)}
	_ = json.Unmarshal(b, &a)
	return a, nil
}

func (e *env) must(method, path, body string) wxAnswer {
	e.t.Helper()
	a, err := e.do(method, path, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

func (e *env) login(appid, secret, code string) wxAnswer {
	e.t.Helper()
	q := url.Values{"appid": {appid}, "secret": {secret}, "js_code": {code}, "grant_type": {"authorization_code"}}
	return e.must("GET", "/sns/jscode2session?"+q.Encode(), "")
}

func TestIdentitiesFollowTheSpec(t *testing.T) {
	e := start(t, mockwx.Config{UnionID: true})
	for _, code := range []string{"alice.1", "alice", "bob.x.y", "err0~carol.1", "slow0~dave", "http200~eve.1", "用户"} {
		a := e.login(testApp, testSecret, code)
		if code == "用户" {
			if a.Errcode != 40029 {
				t.Errorf("non-ASCII code: %+v", a)
			}
			continue
		}
		body := code[strings.LastIndex(code, "~")+1:]
		user, _, _ := strings.Cut(body, ".")
		want := wxAnswer{Status: 200, OpenID: specOpenID("oactl", testApp, user), SessionKey: specSessionKey("oactl", testApp, code), UnionID: specUnionID("oactl", user)}
		a.Raw = ""
		if a != want {
			t.Errorf("code %q: %+v, want %+v", code, a, want)
		}
		if len(a.OpenID) != 28 || len(a.SessionKey) != 24 {
			t.Errorf("code %q: lengths %d, %d", code, len(a.OpenID), len(a.SessionKey))
		}
		if got := mockwx.OpenID("oactl", testApp, user); got != a.OpenID {
			t.Errorf("mockwx.OpenID = %s, server said %s", got, a.OpenID)
		}
	}
	resp, err := http.Get(e.url + "/sns/jscode2session?appid=a&secret=s&js_code=zed.1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q, want text/plain as WeChat", ct)
	}
}

func TestIdentitiesAcrossRestartsSeedsAndApps(t *testing.T) {
	users := []string{"alice", "bob", "carol", "u-1", "X"}
	a1 := start(t, mockwx.Config{UnionID: true})
	a2 := start(t, mockwx.Config{UnionID: true}) // a restart: a fresh server, same seed
	other := start(t, mockwx.Config{Seed: "another-seed", UnionID: true})
	for _, u := range users {
		r1 := a1.login(testApp, testSecret, u+".1")
		r2 := a2.login(testApp, testSecret, u+".1")
		ro := other.login(testApp, testSecret, u+".1")
		rApp := a1.login("wxanotherapp00002", testSecret, u+".2")
		if r1.OpenID == "" || r1 != r2 {
			t.Errorf("%s: restart changed the answer: %+v vs %+v", u, r1, r2)
		}
		if ro.OpenID == r1.OpenID || ro.UnionID == r1.UnionID || ro.SessionKey == r1.SessionKey {
			t.Errorf("%s: another seed kept an identity: %+v vs %+v", u, ro, r1)
		}
		if rApp.OpenID == r1.OpenID || rApp.UnionID != r1.UnionID {
			t.Errorf("%s: another appid: openid %s (was %s), unionid %s (was %s)", u, rApp.OpenID, r1.OpenID, rApp.UnionID, r1.UnionID)
		}
	}
	if a := start(t, mockwx.Config{}).login(testApp, testSecret, "alice.1"); a.UnionID != "" || strings.Contains(a.Raw, "unionid") {
		t.Errorf("unionid without --unionid: %s", a.Raw)
	}
}

func TestJscode2sessionErrcodes(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp, Secret: testSecret})
	big := strings.Repeat("a", 100<<10)
	cases := []struct {
		name, query string
		errcode     int
	}{
		{"no appid", "secret=s&js_code=a.1", 41002},
		{"empty appid", "appid=&secret=s&js_code=a.1", 41002},
		{"no secret", "appid=" + testApp + "&js_code=a.1", 41004},
		{"no code", "appid=" + testApp + "&secret=" + testSecret, 41008},
		{"other appid", "appid=wxother&secret=" + testSecret + "&js_code=a.2", 40013},
		{"other secret", "appid=" + testApp + "&secret=nope&js_code=a.3", 40125},
		{"grant type", "appid=" + testApp + "&secret=" + testSecret + "&js_code=a.4&grant_type=password", 40002},
		{"unknown directive", "appid=" + testApp + "&secret=" + testSecret + "&js_code=boom~a.5", 40029},
		{"err without number", "appid=" + testApp + "&secret=" + testSecret + "&js_code=err~a.6", 40029},
		{"slow too long", "appid=" + testApp + "&secret=" + testSecret + "&js_code=slow60001~a.7", 40029},
		{"http out of range", "appid=" + testApp + "&secret=" + testSecret + "&js_code=http99~a.8", 40029},
		{"empty user", "appid=" + testApp + "&secret=" + testSecret + "&js_code=drop~", 40029},
		{"user starts with dot", "appid=" + testApp + "&secret=" + testSecret + "&js_code=.1", 40029},
		{"100 kB code", "appid=" + testApp + "&secret=" + testSecret + "&js_code=" + big, 40029},
		{"non-UTF-8 code", "appid=" + testApp + "&secret=" + testSecret + "&js_code=%ff%fe.1", 40029},
		{"space in code", "appid=" + testApp + "&secret=" + testSecret + "&js_code=a+b", 40029},
		{"malformed escape drops the pair", "appid=" + testApp + "&secret=" + testSecret + "&js_code=%zz", 41008},
		{"malformed query", "appid=%&secret=;;&js_code", 41002},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.must("GET", "/sns/jscode2session?"+c.query, "")
			if a.Status != 200 || a.Errcode != c.errcode || a.Errmsg == "" {
				t.Errorf("%.80s: %d %.100s, want errcode %d", c.query, a.Status, a.Raw, c.errcode)
			}
		})
	}
	// The server is still up and answering.
	if a := e.login(testApp, testSecret, "z.1"); a.OpenID == "" {
		t.Errorf("after bad input: %s", a.Raw)
	}
}

func TestCodeReuseWindow(t *testing.T) {
	ttl := time.Minute
	e := start(t, mockwx.Config{CodeTTL: ttl})
	first := e.login(testApp, testSecret, "alice.1")
	if first.OpenID == "" {
		t.Fatal(first.Raw)
	}
	steps := []struct {
		advance time.Duration
		errcode int
	}{
		{0, 40163},
		{ttl - time.Second, 40163},   // t = ttl-1s
		{2 * time.Second, 40029},     // t = ttl+1s
		{ttl - 2*time.Second, 40029}, // t = 2ttl-1s: still remembered
		{2 * time.Second, 0},         // t = 2ttl+1s: forgotten, a new code
		{time.Second, 40163},         // and used again
	}
	for i, s := range steps {
		e.clk.Add(s.advance)
		a := e.login(testApp, testSecret, "alice.1")
		if a.Errcode != s.errcode {
			t.Errorf("step %d: %s, want errcode %d", i, a.Raw, s.errcode)
		}
	}
	// Directive codes are consumed like any other.
	if a := e.login(testApp, testSecret, "err45011~bob.1"); a.Errcode != 45011 {
		t.Errorf("directive: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, "err45011~bob.1"); a.Errcode != 40163 {
		t.Errorf("directive code reused: %s", a.Raw)
	}
}

func TestMintedCodes(t *testing.T) {
	ttl := time.Minute
	e := start(t, mockwx.Config{CodeTTL: ttl, AppID: testApp})
	mint := func() string {
		var out struct{ Code string }
		a := e.must("POST", "/__mock/login", `{"user":"minty"}`)
		if err := json.Unmarshal([]byte(a.Raw), &out); err != nil || !strings.HasPrefix(out.Code, "minty.") {
			t.Fatalf("mint: %d %s", a.Status, a.Raw)
		}
		return out.Code
	}
	c1, c2 := mint(), mint()
	if c1 == c2 {
		t.Fatal("two mints gave one code")
	}
	e.clk.Add(ttl - time.Second)
	if a := e.login(testApp, testSecret, c1); a.OpenID != specOpenID("oactl", testApp, "minty") {
		t.Errorf("minted code used in time: %s", a.Raw)
	}
	e.clk.Add(2 * time.Second)
	if a := e.login(testApp, testSecret, c2); a.Errcode != 40029 {
		t.Errorf("minted code used after --code-ttl: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, c1); a.Errcode != 40163 {
		t.Errorf("minted code reused: %s", a.Raw)
	}
}

func TestDirectives(t *testing.T) {
	e := start(t, mockwx.Config{})
	n := 0
	code := func(prefix string) string { n++; return prefix + "dir." + string(rune('a'+n)) }

	if a := e.login(testApp, testSecret, code("err-1~")); a.Errcode != -1 || a.Errmsg != "system error" {
		t.Errorf("err-1~: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, code("err40226~")); a.Errcode != 40226 || a.Errmsg != "code blocked" {
		t.Errorf("err40226~: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, code("http502~")); a.Status != 502 {
		t.Errorf("http502~: %d %s", a.Status, a.Raw)
	}
	if a := e.login(testApp, testSecret, code("garbage~")); a.Status != 200 || json.Valid([]byte(a.Raw)) {
		t.Errorf("garbage~: %d %q is valid JSON", a.Status, a.Raw)
	}
	// Left to right: the later err wins; http and err combine.
	if a := e.login(testApp, testSecret, code("err1~err2~")); a.Errcode != 2 {
		t.Errorf("err1~err2~: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, code("http503~err-1~")); a.Status != 503 || a.Errcode != -1 {
		t.Errorf("http503~err-1~: %d %s", a.Status, a.Raw)
	}
	if a := e.login(testApp, testSecret, code("garbage~err5~")); a.Errcode != 5 {
		t.Errorf("garbage~err5~: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, code("err5~garbage~")); json.Valid([]byte(a.Raw)) {
		t.Errorf("err5~garbage~: %s", a.Raw)
	}

	// drop~ closes without an answer, wherever it stands.
	for _, p := range []string{"drop~", "err40029~drop~", "http500~drop~"} {
		q := url.Values{"appid": {testApp}, "secret": {testSecret}, "js_code": {code(p)}}
		if a, err := e.doWith(freshConn, "GET", "/sns/jscode2session?"+q.Encode(), ""); err == nil {
			t.Errorf("%s: answered %d %s", p, a.Status, a.Raw)
		}
	}
	// drop~ before slow~ closes at once: the slow part is never reached.
	startT := time.Now()
	q := url.Values{"appid": {testApp}, "secret": {testSecret}, "js_code": {code("drop~slow5000~")}}
	if _, err := e.doWith(freshConn, "GET", "/sns/jscode2session?"+q.Encode(), ""); err == nil || time.Since(startT) > 4*time.Second {
		t.Errorf("drop~slow5000~: err %v after %v", err, time.Since(startT))
	}

	// slow~ answers no sooner than asked, then applies what follows.
	for _, c := range []struct {
		prefix  string
		ms      int
		errcode int
	}{{"slow150~", 150, 0}, {"slow100~err45011~", 100, 45011}, {"slow60~slow60~", 120, 0}} {
		startT := time.Now()
		a := e.login(testApp, testSecret, code(c.prefix))
		took := time.Since(startT)
		if took < time.Duration(c.ms)*time.Millisecond || a.Errcode != c.errcode {
			t.Errorf("%s: %s after %v, want errcode %d after >= %d ms", c.prefix, a.Raw, took, c.errcode, c.ms)
		}
	}
}

func TestDirectiveOutcomesWithTheClient(t *testing.T) {
	e := start(t, mockwx.Config{})
	c := &wechat.Client{BaseURL: e.url, AppID: testApp, Secret: testSecret}
	if _, err := c.Code2Session(t.Context(), "drop~x.1"); err == nil {
		t.Error("drop~: the client got an answer")
	}
}

func TestAccessTokensAndCheckSession(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp, Secret: testSecret})
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	decode := func(a wxAnswer) {
		t.Helper()
		tok.AccessToken, tok.ExpiresIn = "", 0
		if err := json.Unmarshal([]byte(a.Raw), &tok); err != nil || tok.AccessToken == "" {
			t.Fatalf("token answer %d %s", a.Status, a.Raw)
		}
	}
	stableBody := `{"grant_type":"client_credential","appid":"` + testApp + `","secret":"` + testSecret + `"}`
	decode(e.must("POST", "/cgi-bin/stable_token", stableBody))
	stable1 := tok.AccessToken
	if tok.ExpiresIn != 7200 {
		t.Errorf("expires_in %d", tok.ExpiresIn)
	}
	e.clk.Add(100 * time.Second)
	decode(e.must("POST", "/cgi-bin/stable_token", stableBody))
	if tok.AccessToken != stable1 || tok.ExpiresIn != 7100 {
		t.Errorf("stable token changed or expires_in did not count down: %+v", tok)
	}
	decode(e.must("POST", "/cgi-bin/stable_token", strings.Replace(stableBody, "}", `,"force_refresh":true}`, 1)))
	stable2 := tok.AccessToken
	if stable2 == stable1 {
		t.Error("force_refresh kept the token")
	}
	decode(e.must("GET", "/cgi-bin/token?grant_type=client_credential&appid="+testApp+"&secret="+testSecret, ""))
	normal := tok.AccessToken
	for _, c := range []struct {
		method, path, body string
		errcode            int
	}{
		{"GET", "/cgi-bin/token?grant_type=client_credential&appid=" + testApp, "", 41004},
		{"GET", "/cgi-bin/token?grant_type=client_credential&appid=wxother&secret=" + testSecret, "", 40013},
		{"GET", "/cgi-bin/token?appid=" + testApp + "&secret=" + testSecret, "", 40002},
		{"POST", "/cgi-bin/stable_token", `{"grant_type":"client_credential","appid":"` + testApp + `","secret":"bad"}`, 40125},
		{"POST", "/cgi-bin/stable_token", `{"grant_type":"client_credential","secret":"bad"}`, 41002},
		{"POST", "/cgi-bin/stable_token", `not json`, 47001},
		{"POST", "/cgi-bin/stable_token", `{"grant_type":1}`, 47001},
		{"POST", "/cgi-bin/stable_token", `{} {}`, 47001},
		{"POST", "/cgi-bin/stable_token", `{"grant_type":"` + strings.Repeat("x", 70<<10) + `"}`, 47001},
	} {
		if a := e.must(c.method, c.path, c.body); a.Errcode != c.errcode {
			t.Errorf("%s %.60s %.40s: %s, want %d", c.method, c.path, c.body, a.Raw, c.errcode)
		}
	}

	// checksession with the user's newest session_key.
	e.login(testApp, testSecret, "alice.1")
	key := e.login(testApp, testSecret, "alice.2").SessionKey
	oldKey := specSessionKey("oactl", testApp, "alice.1")
	sig := func(k string) string { m := hmac.New(sha256.New, []byte(k)); return hex.EncodeToString(m.Sum(nil)) }
	openid := specOpenID("oactl", testApp, "alice")
	check := func(tok, openid, signature, method string) int {
		q := url.Values{"access_token": {tok}, "openid": {openid}, "signature": {signature}, "sig_method": {method}}
		return e.must("GET", "/wxa/checksession?"+q.Encode(), "").Errcode
	}
	for _, c := range []struct {
		name                   string
		tok, openid, sig, meth string
		want                   int
	}{
		{"newest key", stable2, openid, sig(key), "hmac_sha256", 0},
		{"normal token", normal, openid, sig(key), "hmac_sha256", 0},
		{"older key", stable2, openid, sig(oldKey), "hmac_sha256", 87009},
		{"garbage signature", stable2, openid, "zz", "hmac_sha256", 87009},
		{"other method", stable2, openid, sig(key), "md5", 87009},
		{"unknown openid", stable2, "onobody", sig(""), "hmac_sha256", 87009},
		{"replaced stable token", stable1, openid, sig(key), "hmac_sha256", 40001},
		{"unknown token", "nope", openid, sig(key), "hmac_sha256", 40001},
		{"no token", "", openid, sig(key), "hmac_sha256", 41001},
	} {
		if got := check(c.tok, c.openid, c.sig, c.meth); got != c.want {
			t.Errorf("checksession %s: %d, want %d", c.name, got, c.want)
		}
	}
	e.clk.Add(7200 * time.Second)
	if got := check(stable2, openid, sig(key), "hmac_sha256"); got != 42001 {
		t.Errorf("expired token: %d, want 42001", got)
	}
}

func TestPhoneNumber(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp})
	tokA := e.must("GET", "/cgi-bin/token?grant_type=client_credential&appid="+testApp+"&secret=x", "")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal([]byte(tokA.Raw), &tok)
	path := "/wxa/business/getuserphonenumber?access_token=" + tok.AccessToken
	type phoneAnswer struct {
		Errcode   int `json:"errcode"`
		PhoneInfo struct {
			PhoneNumber, PurePhoneNumber, CountryCode string
			Watermark                                 wechat.Watermark
		} `json:"phone_info"`
	}
	get := func(code string) phoneAnswer {
		t.Helper()
		var p phoneAnswer
		a := e.must("POST", path, `{"code":"`+code+`"}`)
		if err := json.Unmarshal([]byte(a.Raw), &p); err != nil {
			t.Fatalf("%s: %s", code, a.Raw)
		}
		return p
	}
	p := get("alice.p1")
	want := "138" + func() string {
		n := hmacSHA256("oactl", "phone\nalice")
		v := uint64(0)
		for _, b := range n[:8] {
			v = v<<8 | uint64(b)
		}
		return strings.Repeat("0", 8-len(itoa(v%100_000_000))) + itoa(v%100_000_000)
	}()
	if p.Errcode != 0 || p.PhoneInfo.PurePhoneNumber != want || p.PhoneInfo.CountryCode != "86" ||
		p.PhoneInfo.Watermark.AppID != testApp || p.PhoneInfo.Watermark.Timestamp != e.clk.Now().Unix() {
		t.Errorf("derived phone: %+v, want %s", p, want)
	}
	if a := e.must("PUT", "/__mock/phones/alice", `{"phoneNumber":"13912345678"}`); a.Status != 200 {
		t.Fatalf("register phone: %d %s", a.Status, a.Raw)
	}
	if p := get("alice.p2"); p.PhoneInfo.PhoneNumber != "13912345678" {
		t.Errorf("registered phone: %+v", p)
	}
	if p := get("alice.p2"); p.Errcode != 40163 {
		t.Errorf("phone code reused: %+v", p)
	}
	if p := get("err40029~alice.p3"); p.Errcode != 40029 {
		t.Errorf("phone code directive: %+v", p)
	}
	for _, bad := range []string{`{"phoneNumber":"12"}`, `{"phoneNumber":"abc12345"}`, `[]`, ``} {
		if a := e.must("PUT", "/__mock/phones/alice", bad); a.Status != 400 {
			t.Errorf("PUT phones %q: %d", bad, a.Status)
		}
	}
	for body, errcode := range map[string]int{`{}`: 41008, `{"code":1}`: 47001, `nope`: 47001, `{"code":"bad~x"}`: 40029} {
		if a := e.must("POST", path, body); a.Errcode != errcode {
			t.Errorf("phone body %q: %s, want %d", body, a.Raw, errcode)
		}
	}
	if a := e.must("POST", "/wxa/business/getuserphonenumber?access_token=nope", `{"code":"a.1"}`); a.Errcode != 40001 {
		t.Errorf("unknown token: %s", a.Raw)
	}
}

func itoa(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestEncryptHelper(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp, UnionID: true})
	type encAnswer struct {
		EncryptedData, IV, RawData, Signature string
	}
	enc := func(body string) (encAnswer, wxAnswer) {
		t.Helper()
		a := e.must("POST", "/__mock/encrypt", body)
		var out encAnswer
		json.Unmarshal([]byte(a.Raw), &out)
		return out, a
	}
	if _, a := enc(`{"user":"alice","kind":"userinfo"}`); a.Status != http.StatusConflict {
		t.Errorf("before any login: %d %s", a.Status, a.Raw)
	}
	e.login(testApp, testSecret, "alice.1")
	key := e.login(testApp, testSecret, "alice.2").SessionKey
	for _, body := range []string{
		`{"user":"alice","kind":"userinfo"}`,
		`{"user":"alice","kind":"phone"}`,
		`{"user":"alice","appid":"` + testApp + `","kind":"userinfo","data":{"nickName":"测试😀","gender":2}}`,
		`{"user":"alice","data":{}}`,
	} {
		out, a := enc(body)
		if a.Status != 200 {
			t.Fatalf("%s: %d %s", body, a.Status, a.Raw)
		}
		pt, err := wechat.Decrypt(key, out.EncryptedData, out.IV)
		if err != nil {
			t.Fatalf("%s: decrypt with the newest session_key: %v", body, err)
		}
		if _, err := wechat.Decrypt(specSessionKey("oactl", testApp, "alice.1"), out.EncryptedData, out.IV); err == nil {
			t.Errorf("%s: the older session_key decrypts too", body)
		}
		if err := wechat.CheckWatermark(pt, testApp); err != nil {
			t.Errorf("%s: watermark: %v", body, err)
		}
		if err := wechat.CheckWatermark(pt, "wxsomeoneelse0001"); !errors.Is(err, wechat.ErrWatermark) {
			t.Errorf("%s: watermark under another appid: %v", body, err)
		}
		if wechat.Signature(out.RawData, key) != out.Signature {
			t.Errorf("%s: signature does not verify", body)
		}
		// The plaintext is rawData's object plus the watermark.
		var withWM, raw map[string]any
		json.Unmarshal(pt, &withWM)
		json.Unmarshal([]byte(out.RawData), &raw)
		wm, _ := withWM["watermark"].(map[string]any)
		delete(withWM, "watermark")
		if wm == nil || wm["timestamp"].(float64) != float64(e.clk.Now().Unix()) || len(withWM) != len(raw) {
			t.Errorf("%s: plaintext %s vs rawData %s", body, pt, out.RawData)
		}
		if strings.Contains(body, "测试") && raw["nickName"] != "测试😀" {
			t.Errorf("data not kept: %s", out.RawData)
		}
		if strings.Contains(body, `"userinfo"}`) && (raw["openId"] != specOpenID("oactl", testApp, "alice") || raw["unionId"] != specUnionID("oactl", "alice")) {
			t.Errorf("userinfo: %s", out.RawData)
		}
		if strings.Contains(a.Raw, key) {
			t.Errorf("%s: the answer contains the session_key", body)
		}
	}
	for body, status := range map[string]int{
		`{"user":"alice"}`:                                  400,
		`{"user":"alice","kind":"other"}`:                   400,
		`{"user":"alice","data":[1]}`:                       400,
		`{"user":"alice","data":{"watermark":1}}`:           400,
		`{"user":"","kind":"phone"}`:                        400,
		`{"user":"a.b","kind":"phone"}`:                     400,
		`{"user":"alice","appid":"wxother","kind":"phone"}`: 400,
		`{"user":"alice","data":{"a":"` + "\xff" + `"}}`:    400,
		`not json`: 400,
		`{"user":"alice","kind":"phone","data":{"x":"` + strings.Repeat("y", 70<<10) + `"}}`: 400,
	} {
		if _, a := enc(body); a.Status != status {
			t.Errorf("%.60q: %d %s, want %d", body, a.Status, a.Raw, status)
		}
	}
}

func TestHelpersNeedAnAppID(t *testing.T) {
	e := start(t, mockwx.Config{})
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/__mock/login", `{"user":"alice"}`},
		{"GET", "/__mock/users/alice", ""},
		{"POST", "/__mock/encrypt", `{"user":"alice","kind":"phone"}`},
	} {
		if a := e.must(c.method, c.path, c.body); a.Status != 400 || !strings.Contains(a.Raw, "appid") {
			t.Errorf("%s %s: %d %s", c.method, c.path, a.Status, a.Raw)
		}
	}
	a := e.must("GET", "/__mock/users/alice?appid="+testApp, "")
	var u struct {
		OpenID, UnionID  string
		SessionKeyIssued bool
	}
	json.Unmarshal([]byte(a.Raw), &u)
	if u.OpenID != specOpenID("oactl", testApp, "alice") || u.UnionID != specUnionID("oactl", "alice") || u.SessionKeyIssued {
		t.Errorf("users: %s", a.Raw)
	}
	e.login(testApp, testSecret, "alice.1")
	json.Unmarshal([]byte(e.must("GET", "/__mock/users/alice?appid="+testApp, "").Raw), &u)
	if !u.SessionKeyIssued {
		t.Error("sessionKeyIssued false after a login")
	}
	json.Unmarshal([]byte(e.must("GET", "/__mock/users/alice?appid=wxother", "").Raw), &u)
	if u.SessionKeyIssued {
		t.Error("sessionKeyIssued under an appid never logged in")
	}
	if a := e.must("GET", "/__mock/healthz", ""); a.Status != 200 {
		t.Errorf("healthz %d", a.Status)
	}
	if a := e.must("GET", "/nothing/here", ""); a.Status != 404 {
		t.Errorf("unknown path %d", a.Status)
	}
	if a := e.must("POST", "/__mock/login", strings.Repeat("x", 1<<20)); a.Status != 400 {
		t.Errorf("1 MiB body: %d", a.Status)
	}
}

func TestFaults(t *testing.T) {
	e := start(t, mockwx.Config{})
	if a := e.must("PUT", "/__mock/faults", `{"errorRate":1,"errcode":45011}`); a.Status != 200 {
		t.Fatalf("PUT faults %d %s", a.Status, a.Raw)
	}
	if a := e.login(testApp, testSecret, "f.1"); a.Errcode != 45011 {
		t.Errorf("errorRate 1: %s", a.Raw)
	}
	// A faulted call does not consume the code.
	e.must("DELETE", "/__mock/faults", "")
	if a := e.login(testApp, testSecret, "f.1"); a.OpenID == "" {
		t.Errorf("after DELETE faults: %s", a.Raw)
	}
	// A fixed seed replays the same draws.
	draws := func() string {
		e.must("PUT", "/__mock/faults", `{"errorRate":0.5,"seed":7}`)
		var b strings.Builder
		for i := range 40 {
			a := e.login(testApp, testSecret, "g."+itoa(uint64(i))+"x"+itoa(uint64(len(b.String()))))
			if a.Errcode == -1 {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	d1, d2 := draws(), draws()
	if d1 != d2 || !strings.Contains(d1, "x") || !strings.Contains(d1, ".") {
		t.Errorf("seeded draws %s vs %s", d1, d2)
	}
	e.must("PUT", "/__mock/faults", `{"latencyMs":80,"jitterMs":20}`)
	startT := time.Now()
	e.login(testApp, testSecret, "h.1")
	if took := time.Since(startT); took < 80*time.Millisecond {
		t.Errorf("latencyMs 80: answered after %v", took)
	}
	for _, bad := range []string{`{"errorRate":2}`, `{"latencyMs":-1}`, `{"jitterMs":600000}`, `{"errorRate":"x"}`} {
		if a := e.must("PUT", "/__mock/faults", bad); a.Status != 400 {
			t.Errorf("PUT faults %s: %d", bad, a.Status)
		}
	}
}

func TestJournalAndLogHoldNoSecret(t *testing.T) {
	e := start(t, mockwx.Config{JournalSize: 5, AppID: testApp, Secret: testSecret})
	var secrets []string
	for i := range 12 {
		code := "jo.secretcode" + itoa(uint64(i))
		a := e.login(testApp, testSecret, code)
		secrets = append(secrets, code, a.SessionKey)
	}
	tokA := e.must("GET", "/cgi-bin/token?grant_type=client_credential&appid="+testApp+"&secret="+testSecret, "")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal([]byte(tokA.Raw), &tok)
	e.must("POST", "/wxa/business/getuserphonenumber?access_token="+tok.AccessToken, `{"code":"jo.phonesecret"}`)
	e.must("GET", "/wxa/checksession?access_token="+tok.AccessToken+"&openid=x&signature=sigsecret&sig_method=hmac_sha256", "")
	secrets = append(secrets, testSecret, tok.AccessToken, "phonesecret", "sigsecret")

	a := e.must("GET", "/__mock/journal", "")
	var j []mockwx.JournalEntry
	if err := json.Unmarshal([]byte(a.Raw), &j); err != nil {
		t.Fatal(err)
	}
	if len(j) != 5 {
		t.Fatalf("journal holds %d entries, want the cap 5", len(j))
	}
	if last := j[len(j)-1]; last.Path != "/wxa/checksession" || last.Errcode != 87009 {
		t.Errorf("newest entry last: %+v", last)
	}
	if j[0].Path != "/sns/jscode2session" || j[0].User != "jo" {
		t.Errorf("oldest kept entry: %+v", j[0])
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(a.Raw, s) {
			t.Errorf("journal contains %q", s)
		}
		if strings.Contains(e.log.String(), s) {
			t.Errorf("log contains %q", s)
		}
	}
	if n := strings.Count(e.log.String(), "msg=request"); n < 15 {
		t.Errorf("%d log lines, want one per request", n)
	}
	e.must("DELETE", "/__mock/journal", "")
	if a := e.must("GET", "/__mock/journal", ""); strings.TrimSpace(a.Raw) != "[]" {
		t.Errorf("journal after DELETE: %s", a.Raw)
	}
}
