package mockwx_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

// Tests of SPEC §15: mockwx closer to WeChat.

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	Errcode     int    `json:"errcode"`
	Errmsg      string `json:"errmsg"`
}

func (e *env) normalToken(appid string) tokenAnswer {
	e.t.Helper()
	return e.tokenAnswer(e.must("GET", "/cgi-bin/token?grant_type=client_credential&appid="+appid+"&secret="+testSecret, ""))
}

func (e *env) stableToken(appid string, force bool) tokenAnswer {
	e.t.Helper()
	body := `{"grant_type":"client_credential","appid":"` + appid + `","secret":"` + testSecret + `"`
	if force {
		body += `,"force_refresh":true`
	}
	return e.tokenAnswer(e.must("POST", "/cgi-bin/stable_token", body+"}"))
}

func (e *env) tokenAnswer(a wxAnswer) tokenAnswer {
	e.t.Helper()
	var tok tokenAnswer
	if err := json.Unmarshal([]byte(a.Raw), &tok); err != nil {
		e.t.Fatalf("token answer %d %s", a.Status, a.Raw)
	}
	return tok
}

// tokenState is what WeChat says of a token: checksession with an openid
// nobody has answers 87009 when the token works, 40001 / 42001 when not.
func (e *env) tokenState(tok string) int {
	e.t.Helper()
	q := url.Values{"access_token": {tok}, "openid": {"onobody"}, "signature": {"x"}, "sig_method": {"hmac_sha256"}}
	switch c := e.must("GET", "/wxa/checksession?"+q.Encode(), "").Errcode; c {
	case 87009:
		return 0
	default:
		return c
	}
}

func sig(key string) string {
	m := hmac.New(sha256.New, []byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

func TestNormalTokenOverlap(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp})
	t1 := e.normalToken(testApp).AccessToken
	e.clk.Add(time.Minute)
	t2 := e.normalToken(testApp).AccessToken
	if t1 == "" || t2 == "" || t1 == t2 {
		t.Fatalf("tokens %q %q", t1, t2)
	}
	e.clk.Add(4*time.Minute + 59*time.Second)
	if got := e.tokenState(t1); got != 0 {
		t.Errorf("previous token 4:59 after it was replaced: errcode %d, want it valid", got)
	}
	e.clk.Add(2 * time.Second)
	if got := e.tokenState(t1); got != 40001 {
		t.Errorf("previous token 5:01 after it was replaced: errcode %d, want 40001", got)
	}
	if got := e.tokenState(t2); got != 0 {
		t.Errorf("current token: errcode %d", got)
	}
	// Two replacements within 5 minutes: only the newest two work.
	t3 := e.normalToken(testApp).AccessToken
	e.clk.Add(10 * time.Second)
	t4 := e.normalToken(testApp).AccessToken
	for tok, want := range map[string]int{t2: 40001, t3: 0, t4: 0} {
		if got := e.tokenState(tok); got != want {
			t.Errorf("after two replacements: errcode %d, want %d", got, want)
		}
	}
	// A token's natural end stays 42001.
	e.clk.Add(7200 * time.Second)
	if got := e.tokenState(t4); got != 42001 {
		t.Errorf("expired current token: %d, want 42001", got)
	}
}

func TestStableTokenExpiresInNeverBelow300(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp})
	first := e.stableToken(testApp, false)
	if first.ExpiresIn != 7200 {
		t.Fatalf("first stable token: %+v", first)
	}
	cur, curStart := first.AccessToken, e.clk.Now()
	rotations := 0
	// Three token lives, in an odd step so that every remainder is seen.
	for step := 0; step < 3*7200/17; step++ {
		e.clk.Add(17 * time.Second)
		tok := e.stableToken(testApp, false)
		if tok.ExpiresIn < 300 || tok.ExpiresIn > 7200 {
			t.Fatalf("at %v: expires_in %d", e.clk.Now().Sub(first.timeZero(curStart)), tok.ExpiresIn)
		}
		left := 7200*time.Second - e.clk.Now().Sub(curStart)
		switch {
		case tok.AccessToken == cur && left <= 5*time.Minute:
			t.Fatalf("the same token with %v left: want a new one in the last 5 minutes", left)
		case tok.AccessToken != cur && left > 5*time.Minute:
			t.Fatalf("a new token with %v left", left)
		case tok.AccessToken != cur:
			rotations++
			// The old one works until its own end.
			if got := e.tokenState(cur); got != 0 {
				t.Fatalf("the replaced stable token with %v left: errcode %d", left, got)
			}
			if tok.ExpiresIn != 7200 {
				t.Fatalf("new stable token: expires_in %d", tok.ExpiresIn)
			}
			old := cur
			cur, curStart = tok.AccessToken, e.clk.Now()
			e.clk.Add(left)
			if got := e.tokenState(old); got != 42001 {
				t.Fatalf("the replaced stable token at its end: errcode %d, want 42001", got)
			}
			e.clk.Add(-left)
		}
	}
	if rotations < 2 {
		t.Errorf("%d rotations in three lives", rotations)
	}
}

// timeZero is a readable origin for failure messages.
func (tokenAnswer) timeZero(t time.Time) time.Time { return t }

func TestStableTokenForceRefreshQuota(t *testing.T) {
	e := start(t, mockwx.Config{}) // any appid: the quota is per appid
	// 2026-01-02 03:04:05 UTC is 11:04:05 in China: the 20 fit in the day.
	var last string
	for i := range 20 {
		tok := e.stableToken(testApp, true)
		if tok.Errcode != 0 || tok.AccessToken == "" || tok.AccessToken == last {
			t.Fatalf("forced refresh %d: %+v", i+1, tok)
		}
		last = tok.AccessToken
		e.clk.Add(29 * time.Second)
		if tok := e.stableToken(testApp, true); tok.Errcode != 45009 || tok.Errmsg != "reach max api daily quota limit" {
			t.Fatalf("forced refresh 29 s after the last: %+v, want 45009", tok)
		}
		e.clk.Add(time.Second)
	}
	if tok := e.stableToken(testApp, true); tok.Errcode != 45009 {
		t.Fatalf("21st forced refresh of the day: %+v, want 45009", tok)
	}
	// Refused refreshes leave the token working; another appid has its
	// own quota; normal calls still answer.
	if got := e.tokenState(last); got != 0 {
		t.Errorf("token after a refused refresh: %d", got)
	}
	if tok := e.stableToken("wxanotherapp00002", true); tok.Errcode != 0 {
		t.Errorf("another appid: %+v", tok)
	}
	if tok := e.stableToken(testApp, false); tok.AccessToken != last {
		t.Errorf("normal call after the quota: %+v", tok)
	}
	// A new day in China (UTC+8) starts at 16:00 UTC.
	e.clk.Set(time.Date(2026, 1, 2, 15, 59, 59, 0, time.UTC))
	if tok := e.stableToken(testApp, true); tok.Errcode != 45009 {
		t.Errorf("23:59:59 in China: %+v, want 45009", tok)
	}
	e.clk.Set(time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC))
	if tok := e.stableToken(testApp, true); tok.Errcode != 0 {
		t.Errorf("00:00 in China, a new day: %+v", tok)
	}
}

func TestCheckSessionParamsInQueryOrBody(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp})
	tok := e.stableToken(testApp, false).AccessToken
	key := e.login(testApp, testSecret, "alice.1").SessionKey
	openid := specOpenID("oactl", testApp, "alice")
	path := "/wxa/checksession?access_token=" + tok
	for _, c := range []struct {
		name, query, body string
		want              int
	}{
		{"all in the query", "&openid=" + openid + "&signature=" + sig(key) + "&sig_method=hmac_sha256", "", 0},
		{"all in the body", "", `{"openid":"` + openid + `","signature":"` + sig(key) + `","sig_method":"hmac_sha256"}`, 0},
		{"mixed", "&openid=" + openid, `{"signature":"` + sig(key) + `","sig_method":"hmac_sha256"}`, 0},
		{"the query wins", "&signature=bad", `{"openid":"` + openid + `","signature":"` + sig(key) + `","sig_method":"hmac_sha256"}`, 87009},
		{"wrong key in the body", "", `{"openid":"` + openid + `","signature":"` + sig("x") + `","sig_method":"hmac_sha256"}`, 87009},
		{"malformed body", "", `{"openid":1}`, 47001},
		{"not JSON", "", `openid=x`, 47001},
	} {
		if a := e.must("GET", path+c.query, c.body); a.Errcode != c.want {
			t.Errorf("%s: %s, want %d", c.name, a.Raw, c.want)
		}
	}
}

func TestResetUserSessionKey(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp})
	tok := e.stableToken(testApp, false).AccessToken
	old := e.login(testApp, testSecret, "alice.1").SessionKey
	openid := specOpenID("oactl", testApp, "alice")
	check := func(key string) int {
		q := url.Values{"access_token": {tok}, "openid": {openid}, "signature": {sig(key)}, "sig_method": {"hmac_sha256"}}
		return e.must("GET", "/wxa/checksession?"+q.Encode(), "").Errcode
	}
	type resetAnswer struct {
		Errcode    int    `json:"errcode"`
		Errmsg     string `json:"errmsg"`
		OpenID     string `json:"openid"`
		SessionKey string `json:"session_key"`
	}
	reset := func(query, body string) resetAnswer {
		t.Helper()
		var r resetAnswer
		a := e.must("GET", "/wxa/resetusersessionkey?access_token="+tok+query, body)
		if err := json.Unmarshal([]byte(a.Raw), &r); err != nil {
			t.Fatalf("reset: %s", a.Raw)
		}
		return r
	}
	r := reset("&openid="+openid+"&signature="+sig(old)+"&sig_method=hmac_sha256", "")
	if r.Errcode != 0 || r.Errmsg != "ok" || r.OpenID != openid || len(r.SessionKey) != 24 || r.SessionKey == old {
		t.Fatalf("reset: %+v", r)
	}
	if got := check(old); got != 87009 {
		t.Errorf("checksession with the old key after a reset: %d, want 87009", got)
	}
	if got := check(r.SessionKey); got != 0 {
		t.Errorf("checksession with the new key: %d, want 0", got)
	}
	// Open data is encrypted with the new key.
	var enc struct{ EncryptedData, IV string }
	json.Unmarshal([]byte(e.must("POST", "/__mock/encrypt", `{"user":"alice","kind":"phone"}`).Raw), &enc)
	if _, err := wechat.Decrypt(r.SessionKey, enc.EncryptedData, enc.IV); err != nil {
		t.Errorf("open data after a reset: %v", err)
	}
	// Parameters in the body; the old key's signature no longer resets.
	if r2 := reset("", `{"openid":"`+openid+`","signature":"`+sig(old)+`","sig_method":"hmac_sha256"}`); r2.Errcode != 87009 {
		t.Errorf("reset signed with the old key: %+v", r2)
	}
	r3 := reset("", `{"openid":"`+openid+`","signature":"`+sig(r.SessionKey)+`","sig_method":"hmac_sha256"}`)
	if r3.Errcode != 0 || r3.SessionKey == r.SessionKey || check(r3.SessionKey) != 0 {
		t.Errorf("reset with the body's parameters: %+v", r3)
	}
	for _, c := range []struct {
		query string
		want  int
	}{
		{"&openid=" + openid + "&signature=" + sig(r3.SessionKey) + "&sig_method=md5", 87008},
		{"&openid=onobody&signature=" + sig(r3.SessionKey) + "&sig_method=hmac_sha256", 87009},
	} {
		if r := reset(c.query, ""); r.Errcode != c.want {
			t.Errorf("reset%s: %+v, want %d", c.query, r, c.want)
		}
	}
	if a := e.must("GET", "/wxa/resetusersessionkey?access_token=nope&openid="+openid, ""); a.Errcode != 40001 {
		t.Errorf("unknown token: %s", a.Raw)
	}
	// Neither the journal nor the log holds a session key.
	j := e.must("GET", "/__mock/journal", "").Raw
	for _, k := range []string{old, r.SessionKey, r3.SessionKey} {
		if strings.Contains(j, k) || strings.Contains(e.log.String(), k) {
			t.Errorf("session key %s in the journal or log", k)
		}
	}
}

func TestUserRiskRank(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp})
	tok := e.stableToken(testApp, false).AccessToken
	if a := e.must("PUT", "/__mock/users/lena", `{"riskRank":3}`); a.Status != 200 {
		t.Fatalf("PUT lena: %d %s", a.Status, a.Raw)
	}
	e.login(testApp, testSecret, "lena.1")
	e.login(testApp, testSecret, "otto.1")
	type rankAnswer struct {
		Errcode  int    `json:"errcode"`
		Errmsg   string `json:"errmsg"`
		RiskRank *int   `json:"risk_rank"`
		UnoinID  int64  `json:"unoin_id"`
	}
	rank := func(token, body string) rankAnswer {
		t.Helper()
		var r rankAnswer
		a := e.must("POST", "/wxa/getuserriskrank?access_token="+token, body)
		if err := json.Unmarshal([]byte(a.Raw), &r); err != nil {
			t.Fatalf("getuserriskrank: %s", a.Raw)
		}
		return r
	}
	req := func(user string) string {
		return `{"appid":"` + testApp + `","openid":"` + specOpenID("oactl", testApp, user) + `","scene":0,"client_ip":"203.0.113.9","mobile_no":"","is_test":true}`
	}
	r := rank(tok, req("lena"))
	if r.Errcode != 0 || r.Errmsg != "getuserriskrank succ" || r.RiskRank == nil || *r.RiskRank != 3 || r.UnoinID == 0 {
		t.Errorf("lena: %+v", r)
	}
	if r := rank(tok, req("otto")); r.Errcode != 0 || r.RiskRank == nil || *r.RiskRank != 0 {
		t.Errorf("a user without a rank: %+v", r)
	}
	e.must("DELETE", "/__mock/users/lena", "")
	if r := rank(tok, req("lena")); r.RiskRank == nil || *r.RiskRank != 0 {
		t.Errorf("lena after DELETE: %+v", r)
	}
	openid := specOpenID("oactl", testApp, "otto")
	for body, want := range map[string]int{
		req("never-logged-in"): 40003,
		`{"appid":"` + testApp + `","openid":"` + openid + `","client_ip":"1.2.3.4"}`:           47001,
		`{"appid":"` + testApp + `","openid":"` + openid + `","scene":3,"client_ip":"1.2.3.4"}`: 47001,
		`{"appid":"` + testApp + `","openid":"` + openid + `","scene":1}`:                       47001,
		`{"openid":"` + openid + `","scene":1,"client_ip":"1.2.3.4"}`:                           41002,
		`{"appid":"wxother","openid":"` + openid + `","scene":1,"client_ip":"1.2.3.4"}`:         40013,
		`not json`: 47001,
	} {
		if r := rank(tok, body); r.Errcode != want {
			t.Errorf("%s: %+v, want %d", body, r, want)
		}
	}
	if r := rank("nope", req("otto")); r.Errcode != 40001 {
		t.Errorf("unknown token: %+v", r)
	}
}

func TestUserBehaviourErrcode(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp})
	if a := e.must("PUT", "/__mock/users/nina", `{"errcode":40226}`); a.Status != 200 || !strings.Contains(a.Raw, `"errcode":40226`) {
		t.Fatalf("PUT nina: %d %s", a.Status, a.Raw)
	}
	for i, code := range []string{"nina.1", "nina.2", "slow1~nina.3"} {
		if a := e.login(testApp, testSecret, code); a.Errcode != 40226 || a.Errmsg != "code blocked" || a.OpenID != "" {
			t.Errorf("login %d of nina: %s", i, a.Raw)
		}
	}
	if a := e.login(testApp, testSecret, "nina.1"); a.Errcode != 40163 {
		t.Errorf("nina's code is consumed like any other: %s", a.Raw)
	}
	// A code's own directives still win.
	if a := e.login(testApp, testSecret, "err45011~nina.4"); a.Errcode != 45011 {
		t.Errorf("err45011~ on nina: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, "http502~nina.5"); a.Status != 502 || a.Errcode != 40226 {
		t.Errorf("http502~ on nina: %d %s", a.Status, a.Raw)
	}
	// Phone codes are codes of the user too; other users are untouched.
	tok := e.stableToken(testApp, false).AccessToken
	if a := e.must("POST", "/wxa/business/getuserphonenumber?access_token="+tok, `{"code":"nina.p1"}`); a.Errcode != 40226 {
		t.Errorf("nina's phone code: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, "otto.1"); a.OpenID == "" {
		t.Errorf("another user: %s", a.Raw)
	}
	var u struct {
		OpenID           string
		Errcode          int
		NoUnionid        bool
		RiskRank         int
		StickySessionKey bool
	}
	json.Unmarshal([]byte(e.must("GET", "/__mock/users/nina", "").Raw), &u)
	if u.Errcode != 40226 || u.OpenID != specOpenID("oactl", testApp, "nina") {
		t.Errorf("GET nina: %+v", u)
	}
	if a := e.must("DELETE", "/__mock/users/nina", ""); a.Status != 204 {
		t.Errorf("DELETE: %d", a.Status)
	}
	if a := e.login(testApp, testSecret, "nina.6"); a.OpenID != specOpenID("oactl", testApp, "nina") {
		t.Errorf("nina after DELETE: %s", a.Raw)
	}
	json.Unmarshal([]byte(e.must("GET", "/__mock/users/nina", "").Raw), &u)
	if u.Errcode != 0 {
		t.Errorf("GET nina after DELETE: %+v", u)
	}
	for _, c := range []struct{ path, body string }{
		{"/__mock/users/nina", `{"riskRank":5}`},
		{"/__mock/users/nina", `{"riskRank":-1}`},
		{"/__mock/users/nina", `{"errCode":40226}`}, // a typo is refused, not ignored
		{"/__mock/users/nina", `{"errcode":"40226"}`},
		{"/__mock/users/nina", `{"errcode":2000000}`},
		{"/__mock/users/nina", `[]`},
		{"/__mock/users/nina", ``},
		{"/__mock/users/a.b", `{}`},
	} {
		if a := e.must("PUT", c.path, c.body); a.Status != 400 {
			t.Errorf("PUT %s %s: %d %s", c.path, c.body, a.Status, a.Raw)
		}
	}
}

func TestUserBehaviourNoUnionID(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp, UnionID: true})
	e.must("PUT", "/__mock/users/lena", `{"noUnionid":true}`)
	if a := e.login(testApp, testSecret, "lena.1"); a.OpenID == "" || a.UnionID != "" || strings.Contains(a.Raw, "unionid") {
		t.Errorf("lena with --unionid: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, "otto.1"); a.UnionID != specUnionID("oactl", "otto") {
		t.Errorf("another user: %s", a.Raw)
	}
	var enc struct{ RawData string }
	json.Unmarshal([]byte(e.must("POST", "/__mock/encrypt", `{"user":"lena","kind":"userinfo"}`).Raw), &enc)
	if enc.RawData == "" || strings.Contains(enc.RawData, "unionId") {
		t.Errorf("lena's userinfo: %s", enc.RawData)
	}
	e.must("DELETE", "/__mock/users/lena", "")
	if a := e.login(testApp, testSecret, "lena.2"); a.UnionID != specUnionID("oactl", "lena") {
		t.Errorf("lena after DELETE: %s", a.Raw)
	}
}

func TestStickySessionKey(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp})
	e.must("PUT", "/__mock/users/sam", `{"stickySessionKey":true}`)
	k1 := e.login(testApp, testSecret, "sam.1").SessionKey
	if k1 != specSessionKey("oactl", testApp, "sam.1") {
		t.Fatalf("first login: %s", k1)
	}
	e.clk.Add(4*time.Minute + 59*time.Second)
	if k := e.login(testApp, testSecret, "sam.2").SessionKey; k != k1 {
		t.Errorf("re-login 4:59 later: %s, want the same key %s", k, k1)
	}
	e.clk.Add(2 * time.Second)
	k3 := e.login(testApp, testSecret, "sam.3").SessionKey
	if k3 != specSessionKey("oactl", testApp, "sam.3") {
		t.Errorf("re-login 5:01 after the key was issued: %s, want a new key", k3)
	}
	// The window counts from the new key's issue.
	e.clk.Add(time.Minute)
	if k := e.login(testApp, testSecret, "sam.4").SessionKey; k != k3 {
		t.Errorf("re-login a minute after the new key: %s, want %s", k, k3)
	}
	tok := e.stableToken(testApp, false).AccessToken
	q := url.Values{"access_token": {tok}, "openid": {specOpenID("oactl", testApp, "sam")}, "signature": {sig(k3)}, "sig_method": {"hmac_sha256"}}
	if a := e.must("GET", "/wxa/checksession?"+q.Encode(), ""); a.Errcode != 0 {
		t.Errorf("checksession with the kept key: %s", a.Raw)
	}
	// Without the behaviour, every login issues a new key.
	e.must("DELETE", "/__mock/users/sam", "")
	if k := e.login(testApp, testSecret, "sam.5").SessionKey; k != specSessionKey("oactl", testApp, "sam.5") {
		t.Errorf("after DELETE: %s", k)
	}
}

func TestJournalFiltersAndCalls(t *testing.T) {
	e := start(t, mockwx.Config{AppID: testApp})
	e.login(testApp, testSecret, "alice.1")
	e.login(testApp, testSecret, "alice.2")
	e.login(testApp, testSecret, "bob.1")
	e.stableToken(testApp, false)
	e.clk.Add(time.Minute)
	since := e.clk.Now()
	e.login(testApp, testSecret, "alice.3")
	e.login(testApp, testSecret, "err40029~alice.4")

	journal := func(q string) []mockwx.JournalEntry {
		t.Helper()
		var j []mockwx.JournalEntry
		a := e.must("GET", "/__mock/journal?"+q, "")
		if err := json.Unmarshal([]byte(a.Raw), &j); err != nil {
			t.Fatalf("journal?%s: %d %s", q, a.Status, a.Raw)
		}
		return j
	}
	type calls struct {
		Count    int  `json:"count"`
		Complete bool `json:"complete"`
	}
	count := func(q string) calls {
		t.Helper()
		var c calls
		a := e.must("GET", "/__mock/calls?"+q, "")
		if err := json.Unmarshal([]byte(a.Raw), &c); err != nil || a.Status != 200 {
			t.Fatalf("calls?%s: %d %s", q, a.Status, a.Raw)
		}
		return c
	}
	sinceQ := "since=" + url.QueryEscape(since.Format(time.RFC3339Nano))
	for q, want := range map[string]int{
		"":                              6,
		"api=jscode2session":            5,
		"api=jscode2session&user=alice": 4,
		"user=bob":                      1,
		"api=stable_token":              1,
		"api=checksession":              0,
		sinceQ:                          2,
		sinceQ + "&api=jscode2session":  2,
		sinceQ + "&user=bob":            0,
		"since=2000-01-01T00:00:00Z":    6,
		"since=" + url.QueryEscape("2100-01-01T00:00:00+08:00"): 0,
	} {
		j := journal(q)
		if len(j) != want {
			t.Errorf("journal?%s: %d entries, want %d", q, len(j), want)
		}
		if c := count(q); c.Count != want || !c.Complete {
			t.Errorf("calls?%s: %+v, want %d", q, c, want)
		}
	}
	if j := journal("api=jscode2session&user=alice"); j[0].User != "alice" || j[3].Errcode != 40029 {
		t.Errorf("filtered journal: %+v", j)
	}
	for _, q := range []string{"api=nothing", "api=users", "since=yesterday", "since=1700000000"} {
		for _, p := range []string{"/__mock/journal?", "/__mock/calls?"} {
			if a := e.must("GET", p+q, ""); a.Status != 400 || !strings.Contains(a.Raw, "error") {
				t.Errorf("%s%s: %d %s", p, q, a.Status, a.Raw)
			}
		}
	}
	e.must("DELETE", "/__mock/journal", "")
	if c := count("api=jscode2session"); c.Count != 0 || !c.Complete {
		t.Errorf("after DELETE /__mock/journal: %+v", c)
	}
}

func TestCallsSaysWhenTheJournalDroppedEntries(t *testing.T) {
	e := start(t, mockwx.Config{JournalSize: 3})
	e.login(testApp, testSecret, "alice.1")
	e.login(testApp, testSecret, "alice.2")
	e.clk.Add(time.Second)
	since := e.clk.Now()
	for _, c := range []string{"alice.3", "alice.4", "alice.5"} {
		e.login(testApp, testSecret, c)
		e.clk.Add(time.Second)
	}
	var c struct {
		Count    int
		Complete bool
	}
	json.Unmarshal([]byte(e.must("GET", "/__mock/calls?api=jscode2session&user=alice", "").Raw), &c)
	if c.Count != 3 || c.Complete {
		t.Errorf("5 calls in a journal of 3: %+v, want count 3, complete false", c)
	}
	json.Unmarshal([]byte(e.must("GET", "/__mock/calls?api=jscode2session&since="+since.Format(time.RFC3339), "").Raw), &c)
	if c.Count != 3 || !c.Complete {
		t.Errorf("since the third call: %+v, want count 3, complete", c)
	}
}
