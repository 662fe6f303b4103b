package wechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

const (
	appid  = "wxclienttest00001"
	secret = "the-app-secret-value"
)

func newMock(t *testing.T, cfg mockwx.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(mockwx.New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// noSecrets fails when err's text holds any of the secrets.
func noSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

func TestCode2SessionAgainstMockwx(t *testing.T) {
	srv := newMock(t, mockwx.Config{AppID: appid, Secret: secret, UnionID: true})
	c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret}
	ctx := context.Background()
	info, err := c.Code2Session(ctx, "alice.1")
	if err != nil {
		t.Fatal(err)
	}
	want := wechat.SessionInfo{
		OpenID:     mockwx.OpenID("oactl", appid, "alice"),
		SessionKey: mockwx.SessionKey("oactl", appid, "alice.1"),
		UnionID:    mockwx.UnionID("oactl", "alice"),
	}
	if info != want {
		t.Errorf("Code2Session = %+v, want %+v", info, want)
	}
	_, err = c.Code2Session(ctx, "alice.1")
	var ae *wechat.APIError
	if !errors.As(err, &ae) || ae.Errcode != 40163 || ae.Errmsg != "code been used" {
		t.Errorf("reuse: %v, want APIError 40163", err)
	}
	bad := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: "wrong-secret-xyz"}
	if _, err = bad.Code2Session(ctx, "alice.2"); !errors.As(err, &ae) || ae.Errcode != 40125 {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestCode2SessionFailuresCarryNoSecret(t *testing.T) {
	srv := newMock(t, mockwx.Config{AppID: appid, Secret: secret})
	for _, code := range []string{"drop~bob.1", "http502~bob.2", "garbage~bob.3", "http500~err-1~bob.4"} {
		c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret}
		_, err := c.Code2Session(context.Background(), code)
		if err == nil {
			t.Errorf("%s: no error", code)
			continue
		}
		var ae *wechat.APIError
		if errors.As(err, &ae) {
			t.Errorf("%s: %v is an APIError, want a transport or format error", code, err)
		}
		noSecrets(t, err, secret, code, "bob.")
	}
	// Nothing listens: the dial error must not quote the URL.
	c := &wechat.Client{BaseURL: "http://127.0.0.1:1", AppID: appid, Secret: secret}
	_, err := c.Code2Session(context.Background(), "carol.1")
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	noSecrets(t, err, secret, "carol.1")
}

func TestCode2SessionTimeout(t *testing.T) {
	srv := newMock(t, mockwx.Config{})
	c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret, Timeout: 50 * time.Millisecond}
	_, err := c.Code2Session(context.Background(), "slow2000~dave.1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	noSecrets(t, err, secret, "dave.1")
}

func TestCode2SessionParsesWhateverContentType(t *testing.T) {
	answers := []struct {
		body    string
		ok      bool
		errcode int
	}{
		{`{"openid":"o1","session_key":"k1"}`, true, 0},
		{`{"openid":"o1","session_key":"k1","errcode":0,"errmsg":"ok"}`, true, 0},
		{`{"errcode":45011,"errmsg":"busy"}`, false, 45011},
		{`{"openid":"o1"}`, false, 0},
		{`{}`, false, 0},
		{`[]`, false, 0},
		{`{"openid":1}`, false, 0},
		{strings.Repeat(" ", 70<<10) + `{}`, false, 0},
	}
	for _, a := range answers {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, a.body)
		}))
		c := &wechat.Client{BaseURL: srv.URL + "/", AppID: appid, Secret: secret}
		info, err := c.Code2Session(context.Background(), "x")
		srv.Close()
		var ae *wechat.APIError
		switch {
		case a.ok && (err != nil || info.OpenID != "o1" || info.SessionKey != "k1"):
			t.Errorf("%.40q: %+v, %v", a.body, info, err)
		case !a.ok && err == nil:
			t.Errorf("%.40q: no error", a.body)
		case a.errcode != 0 && (!errors.As(err, &ae) || ae.Errcode != a.errcode):
			t.Errorf("%.40q: %v, want errcode %d", a.body, err, a.errcode)
		case !a.ok && strings.Contains(err.Error(), "k1"):
			t.Errorf("%.40q: error quotes the answer: %v", a.body, err)
		}
	}
}

func TestPhoneNumberAgainstMockwx(t *testing.T) {
	srv := newMock(t, mockwx.Config{AppID: appid, Secret: secret})
	c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret}
	for i, code := range []string{"erin.p1", "erin.p2"} {
		p, err := c.PhoneNumber(context.Background(), code, "")
		if err != nil {
			t.Fatal(err)
		}
		want := mockwx.PhoneNumber("oactl", "erin")
		if p.PurePhoneNumber != want || p.PhoneNumber != want || p.CountryCode != "86" || p.Watermark.AppID != appid {
			t.Errorf("call %d: %+v, want %s", i, p, want)
		}
	}
	// One stable_token call for both: the token is cached.
	resp, err := http.Get(srv.URL + "/__mock/journal")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var j []mockwx.JournalEntry
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range j {
		if e.Path == "/cgi-bin/stable_token" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("stable_token called %d times, want 1", n)
	}
	_, err = c.PhoneNumber(context.Background(), "erin.p1", "")
	var ae *wechat.APIError
	if !errors.As(err, &ae) || ae.Errcode != 40163 {
		t.Errorf("reused phone code: %v", err)
	}
}

// fakeTokens is a WeChat whose tokens the test controls: it counts
// stable_token calls and rejects tokens listed as stale.
type fakeTokens struct {
	calls     atomic.Int32
	reject    atomic.Value // string: token answered with 40001
	rejectAll atomic.Bool
}

func (f *fakeTokens) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/cgi-bin/stable_token":
		n := f.calls.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"access_token": "tok" + string(rune('0'+n)), "expires_in": 7200})
	case "/wxa/business/getuserphonenumber":
		tok := r.URL.Query().Get("access_token")
		if bad, _ := f.reject.Load().(string); bad == tok || f.rejectAll.Load() {
			io.WriteString(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
			return
		}
		io.WriteString(w, `{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"13800000000","purePhoneNumber":"13800000000","countryCode":"86","watermark":{"appid":"`+appid+`","timestamp":1}}}`)
	default:
		http.NotFound(w, r)
	}
}

func TestAccessTokenRefresh(t *testing.T) {
	f := &fakeTokens{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	now := time.Unix(1_700_000_000, 0)
	c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret, Now: func() time.Time { return now }}
	ctx := context.Background()
	mustPhone := func() {
		t.Helper()
		if _, err := c.PhoneNumber(ctx, "c", ""); err != nil {
			t.Fatal(err)
		}
	}
	mustPhone()
	mustPhone()
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("token fetched %d times, want 1", n)
	}
	now = now.Add(6000 * time.Second) // still well inside 7200 s
	mustPhone()
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("token fetched %d times after 6000 s, want 1", n)
	}
	now = now.Add(1000 * time.Second) // 7000 s: inside the refresh margin
	mustPhone()
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("token fetched %d times after 7000 s, want 2 (refresh before expiry)", n)
	}
	f.reject.Store("tok2") // WeChat says the cached token is invalid: refetch once
	mustPhone()
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("token fetched %d times after 40001, want 3", n)
	}
	// Every token rejected: one refetch, then the error, no loop.
	f.rejectAll.Store(true)
	_, err := c.PhoneNumber(ctx, "c", "")
	var ae *wechat.APIError
	if !errors.As(err, &ae) || ae.Errcode != 40001 {
		t.Fatalf("all tokens rejected: %v, want APIError 40001", err)
	}
	if n := f.calls.Load(); n != 4 {
		t.Fatalf("token fetched %d times, want 4", n)
	}
}

func TestValidateBaseURL(t *testing.T) {
	ok := []string{"https://api.weixin.example", "https://api.weixin.example:8443/", "http://127.0.0.1:9090", "http://127.1.2.3:1", "http://[::1]:9090", "http://localhost:9090", "http://LOCALHOST"}
	bad := []string{"", "api.weixin.example", "http://api.weixin.example", "http://10.0.0.1:9090", "http://0.0.0.0:9090", "ftp://127.0.0.1", "https://u:p@host", "https://host?x=1", "http://127.0.0.1.example.com", "https://"}
	for _, u := range ok {
		if err := wechat.ValidateBaseURL(u); err != nil {
			t.Errorf("ValidateBaseURL(%q) = %v", u, err)
		}
	}
	for _, u := range bad {
		if err := wechat.ValidateBaseURL(u); err == nil {
			t.Errorf("ValidateBaseURL(%q) = nil", u)
		}
	}
}

// TestPhoneNumberSendsOpenID: the user's openid travels in the request
// body with the code (WeChat's documented "openid" field), and is left out
// when unknown.
func TestPhoneNumberSendsOpenID(t *testing.T) {
	var bodies []map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cgi-bin/stable_token" {
			io.WriteString(w, `{"access_token":"tok","expires_in":7200}`)
			return
		}
		var b map[string]string
		_ = json.NewDecoder(r.Body).Decode(&b)
		bodies = append(bodies, b)
		io.WriteString(w, `{"errcode":0,"phone_info":{"phoneNumber":"13800000000","purePhoneNumber":"13800000000","countryCode":"86"}}`)
	}))
	defer srv.Close()
	c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret}
	for _, openid := range []string{"oAlice", ""} {
		if _, err := c.PhoneNumber(context.Background(), "code1", openid); err != nil {
			t.Fatal(err)
		}
	}
	if len(bodies) != 2 || bodies[0]["code"] != "code1" || bodies[0]["openid"] != "oAlice" {
		t.Fatalf("bodies %v", bodies)
	}
	if _, ok := bodies[1]["openid"]; ok {
		t.Errorf("an empty openid was sent: %v", bodies[1])
	}
}

// TestPhoneNumberCountryCode: WeChat documents countryCode as a string
// but its own example answers a number: both work, anything else fails
// the call without quoting the answer.
func TestPhoneNumberCountryCode(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		ok        bool
	}{
		{`"86"`, "86", true}, {`86`, "86", true}, {`1`, "1", true}, {`null`, "", true},
		{`-86`, "", false}, {`8.6`, "", false}, {`{}`, "", false}, {`true`, "", false}, {`1e3`, "", false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/cgi-bin/stable_token" {
				io.WriteString(w, `{"access_token":"tok","expires_in":7200}`)
				return
			}
			io.WriteString(w, `{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"13800000000","purePhoneNumber":"13800000000","countryCode":`+tc.raw+`,"watermark":{"timestamp":1637744274,"appid":"x"}}}`)
		}))
		c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret}
		p, err := c.PhoneNumber(context.Background(), "c", "o")
		srv.Close()
		switch {
		case tc.ok && (err != nil || string(p.CountryCode) != tc.want):
			t.Errorf("countryCode %s: %+v, %v; want %q", tc.raw, p, err, tc.want)
		case !tc.ok && err == nil:
			t.Errorf("countryCode %s accepted: %+v", tc.raw, p)
		}
	}
}
