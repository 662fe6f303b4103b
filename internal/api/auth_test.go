package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/auth/authtest"
	"github.com/oactl/oactl/internal/storage"
)

type answer struct {
	Status int
	Errno  int             `json:"errno"`
	Errmsg string          `json:"errmsg"`
	Data   json.RawMessage `json:"data"`
	Header http.Header
	Body   string
}

// t0 has a fraction of a second, so that truncation is exercised.
var t0 = time.Date(2026, 3, 1, 8, 0, 0, 500_000_000, time.UTC)

// hEnv is the /wx handler (storage included) over authtest's service,
// logging to a buffer.
type hEnv struct {
	*authtest.Env
	h   http.Handler
	log *bytes.Buffer
	dir string // the storage directory
}

func newHEnv(t testing.TB, mods ...func(*api.Options)) *hEnv {
	e := &hEnv{Env: authtest.NewEnv(t0), log: &bytes.Buffer{}, dir: t.TempDir()}
	logger := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.Service.Logger = logger
	opts := api.Options{TimeZone: time.FixedZone("CST", 8*3600), Logger: logger, Files: &storage.Store{Dir: e.dir}}
	for _, mod := range mods {
		mod(&opts)
	}
	e.h = api.NewHandler(e.Service, opts)
	return e
}

// send serves r; the answer's envelope fields are filled when it is one.
func (e *hEnv) send(r *http.Request) answer {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	a := answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
	_ = json.Unmarshal(rec.Body.Bytes(), &a)
	return a
}

func (e *hEnv) do(t testing.TB, method, path, token string, body []byte) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set(api.TokenHeader, token)
	}
	a := e.send(req)
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, body %q", method, path, ct, a.Body)
	}
	if err := json.Unmarshal([]byte(a.Body), &a); err != nil {
		t.Fatalf("%s %s: not an envelope: %q", method, path, a.Body)
	}
	if len(a.Data) == 0 {
		t.Fatalf("%s %s: envelope without data: %q", method, path, a.Body)
	}
	return a
}

func (e *hEnv) loginToken(t testing.TB, code string) string {
	t.Helper()
	a := e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"`+code+`"}`))
	if a.Errno != 0 {
		t.Fatalf("login: %+v", a)
	}
	var d struct{ Token string }
	_ = json.Unmarshal(a.Data, &d)
	return d.Token
}

func expect(t *testing.T, name string, a answer, status, errno int, errmsg string) {
	t.Helper()
	if a.Status != status || a.Errno != errno || a.Errmsg != errmsg {
		t.Errorf("%s: HTTP %d errno %d %q, want %d %d %q (body %s)", name, a.Status, a.Errno, a.Errmsg, status, errno, errmsg, a.Body)
	}
}

func TestLoginHandler(t *testing.T) {
	e := newHEnv(t)
	a := e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"alice.1","userInfo":{"nickName":"爱丽丝👩‍💻","avatarUrl":"https://x/a.png","gender":2,"language":"zh_CN","city":"","province":"","country":""}}`))
	expect(t, "login", a, 200, 0, "成功")
	var d struct {
		Token       string
		TokenExpire string
		UserInfo    map[string]any
	}
	if err := json.Unmarshal(a.Data, &d); err != nil {
		t.Fatal(err)
	}
	// t0 is 08:00:00.5 UTC: +24h, whole seconds, shown in UTC+8.
	if d.TokenExpire != "2026-03-02T16:00:00" {
		t.Errorf("tokenExpire %q", d.TokenExpire)
	}
	if len(d.Token) != 43 {
		t.Errorf("token %q", d.Token)
	}
	want := map[string]any{"nickName": "爱丽丝👩‍💻", "avatarUrl": "https://x/a.png", "gender": float64(2)}
	for k, v := range want {
		if d.UserInfo[k] != v {
			t.Errorf("userInfo[%s] = %v, want %v", k, d.UserInfo[k], v)
		}
	}
	if len(d.UserInfo) != 3 {
		t.Errorf("userInfo has %d fields: %v", len(d.UserInfo), d.UserInfo)
	}
	// userInfo is optional; the answer is the stored profile.
	a = e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"alice.2"}`))
	expect(t, "login without userInfo", a, 200, 0, "成功")
	if !strings.Contains(a.Body, `"nickName":"爱丽丝👩‍💻"`) {
		t.Errorf("second login does not answer the stored profile: %s", a.Body)
	}
}

// expectField checks data.field of a 401 or 402: {"field": name}, or {}
// when name is "".
func expectField(t *testing.T, name string, a answer, field string) {
	t.Helper()
	want := `{}`
	if field != "" {
		want = `{"field":"` + field + `"}`
	}
	if string(a.Data) != want {
		t.Errorf("%s: data %s, want %s", name, a.Data, want)
	}
}

func TestLoginHandlerBadInput(t *testing.T) {
	e := newHEnv(t)
	big := append([]byte(`{"code":"a","x":"`), bytes.Repeat([]byte("x"), 10<<20)...)
	big = append(big, `"}`...)
	// field is data.field (SPEC §3): the JSON field that was wrong, by its
	// path; none when the body as a whole was.
	cases := []struct {
		name  string
		body  []byte
		errno int
		field string
	}{
		{"no body", nil, 401, ""},
		{"blank body", []byte("  \n"), 401, ""},
		{"null", []byte("null"), 401, "code"},
		{"empty object", []byte("{}"), 401, "code"},
		{"empty code", []byte(`{"code":""}`), 401, "code"},
		{"not JSON", []byte("code=abc"), 402, ""},
		{"truncated JSON", []byte(`{"code":"abc"`), 402, ""},
		{"two values", []byte(`{"code":"a"}{"code":"b"}`), 402, ""},
		{"array", []byte(`["a"]`), 402, ""},
		{"code number", []byte(`{"code":123}`), 402, "code"},
		{"gender string", []byte(`{"code":"a","userInfo":{"gender":"1"}}`), 402, "userInfo.gender"},
		{"gender fraction", []byte(`{"code":"a","userInfo":{"gender":1.5}}`), 402, "userInfo.gender"},
		{"gender 7", []byte(`{"code":"a","userInfo":{"gender":7}}`), 402, "userInfo.gender"},
		{"userInfo string", []byte(`{"code":"a","userInfo":"x"}`), 402, "userInfo"},
		{"10 kB code", []byte(`{"code":"` + strings.Repeat("a", 10_000) + `"}`), 402, "code"},
		{"control char code", []byte(`{"code":"a\u0001b"}`), 402, "code"},
		{"invalid UTF-8 raw", []byte("{\"code\":\"a\",\"userInfo\":{\"nickName\":\"\xff\xfe\"}}"), 402, ""},
		{"avatar 256", []byte(`{"code":"a","userInfo":{"avatarUrl":"` + strings.Repeat("a", 256) + `"}}`), 402, "userInfo.avatarUrl"},
		{"10 MB body", big, 402, ""},
	}
	for _, c := range cases {
		a := e.do(t, "POST", "/wx/auth/login_by_weixin", "", c.body)
		msg := map[int]string{401: "参数不对", 402: "参数值不对"}[c.errno]
		expect(t, c.name, a, 200, c.errno, msg)
		expectField(t, c.name, a, c.field)
	}
	if e.WeChat.Calls != 0 {
		t.Errorf("WeChat called %d times for bad input", e.WeChat.Calls)
	}
}

func TestLoginHandlerWeChatFailures(t *testing.T) {
	e := newHEnv(t)
	e.WeChat.Errs = map[string]error{"bad": authtest.APIError(40029, "invalid code"), "down": authtest.ErrTransport}
	a := e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"bad"}`))
	expect(t, "refused", a, 200, -1, "错误")
	if string(a.Data) != `{"wxErrcode":40029,"wxErrmsg":"invalid code"}` {
		t.Errorf("data %s", a.Data)
	}
	a = e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"down"}`))
	expect(t, "no answer", a, 200, -1, "错误")
	if string(a.Data) != `{}` {
		t.Errorf("data %s", a.Data)
	}
}

func TestAccountStatesHandler(t *testing.T) {
	e := newHEnv(t)
	for _, c := range []struct {
		u   auth.User
		msg string
	}{
		{auth.User{OpenID: "o-d", Status: 1}, "账号不可用：已禁用"},
		{auth.User{OpenID: "o-c", Status: 2}, "账号不可用：已注销"},
		{auth.User{OpenID: "o-x", Deleted: true}, "账号不可用：已删除"},
	} {
		e.Store.AddUser(c.u)
		a := e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"`+c.u.OpenID[2:]+`"}`))
		expect(t, c.msg, a, 200, 700, c.msg)
	}
	tok := e.loginToken(t, "zed")
	u := e.Store.User(4)
	u.Status = 2
	e.Store.SetUser(u)
	expect(t, "info of cancelled", e.do(t, "GET", "/wx/auth/info", tok, nil), 200, 700, "账号不可用：已注销")
}

func TestAuthedRoutes(t *testing.T) {
	e := newHEnv(t)
	tok := e.loginToken(t, "alice.1")
	a := e.do(t, "GET", "/wx/auth/info", tok, nil)
	expect(t, "info", a, 200, 0, "成功")
	if string(a.Data) != `{"nickName":"","avatar":"","gender":0,"mobile":""}` {
		t.Errorf("info data %s", a.Data)
	}
	expect(t, "profile", e.do(t, "POST", "/wx/auth/profile", tok, []byte(`{"nickname":"新😀","avatar":"https://x/b.png","gender":1}`)), 200, 0, "成功")
	a = e.do(t, "GET", "/wx/auth/info", tok, nil)
	if string(a.Data) != `{"nickName":"新😀","avatar":"https://x/b.png","gender":1,"mobile":""}` {
		t.Errorf("info after profile %s", a.Data)
	}
	a = e.do(t, "POST", "/wx/auth/profile", tok, []byte(`{"gender":7}`))
	expect(t, "profile gender 7", a, 200, 402, "参数值不对")
	expectField(t, "profile gender 7", a, "gender")
	a = e.do(t, "POST", "/wx/auth/profile", tok, []byte(`{"nickname":7}`))
	expect(t, "profile nickname number", a, 200, 402, "参数值不对")
	expectField(t, "profile nickname number", a, "nickname")
	a = e.do(t, "POST", "/wx/auth/profile", tok, []byte(`{}`))
	expect(t, "profile empty", a, 200, 401, "参数不对")
	expectField(t, "profile empty", a, "")
	expect(t, "profile no body", e.do(t, "POST", "/wx/auth/profile", tok, nil), 200, 401, "参数不对")

	a = e.do(t, "POST", "/wx/auth/bindPhone", tok, []byte(`{"code":"alice.phone1"}`))
	expect(t, "bindPhone", a, 200, 0, "成功")
	if string(a.Data) != `{"mobile":"13800138000"}` {
		t.Errorf("bindPhone data %s", a.Data)
	}
	expect(t, "bindPhone empty", e.do(t, "POST", "/wx/auth/bindPhone", tok, []byte(`{}`)), 200, 401, "参数不对")
	a = e.do(t, "POST", "/wx/auth/bindPhone", tok, []byte(`{"iv":"AAAA"}`))
	expect(t, "bindPhone iv only", a, 200, 401, "参数不对")
	expectField(t, "bindPhone iv only", a, "encryptedData")
	a = e.do(t, "POST", "/wx/auth/bindPhone", tok, []byte(`{"encryptedData":"AAAA","iv":"AAAA"}`))
	expect(t, "bindPhone junk", a, 200, 402, "参数值不对")
	expectField(t, "bindPhone junk", a, "encryptedData")

	expect(t, "logout", e.do(t, "POST", "/wx/auth/logout", tok, nil), 200, 0, "成功")
	expect(t, "info after logout", e.do(t, "GET", "/wx/auth/info", tok, nil), 200, 501, "请登录")
}

func TestTokenHeaderHostile(t *testing.T) {
	e := newHEnv(t)
	tok := e.loginToken(t, "alice.1")
	for name, v := range map[string]string{
		"missing":  "",
		"unknown":  strings.Repeat("A", 43),
		"10 kB":    strings.Repeat("A", 10_000),
		"control":  tok[:20] + "\x01\x7f" + tok[22:],
		"too long": tok + "A",
		"unicode":  "令牌",
	} {
		req := httptest.NewRequest("GET", "/wx/auth/info", nil)
		req.Header[api.TokenHeader] = []string{v}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"errno":501`) {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	e.Clock.Add(25 * time.Hour)
	expect(t, "expired", e.do(t, "GET", "/wx/auth/info", tok, nil), 200, 501, "请登录")
}

type noRowStore struct{ *authtest.Store }

func (noRowStore) UpdateProfile(context.Context, int64, auth.ProfileUpdate, time.Time) (auth.User, error) {
	return auth.User{}, auth.ErrNotFound
}

func TestInternalAndUpdateFailures(t *testing.T) {
	e := newHEnv(t)
	tok := e.loginToken(t, "alice.1")
	e.Service.Store = noRowStore{e.Store}
	expect(t, "update no row", e.do(t, "POST", "/wx/auth/profile", tok, []byte(`{"gender":1}`)), 200, 505, "更新数据失败")
	e.Service.Store = e.Store
	e.Store.Fail = errors.New("dial tcp 127.0.0.1:3306: connection refused")
	expect(t, "db down login", e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"x"}`)), 200, 502, "系统内部错误")
	expect(t, "db down info", e.do(t, "GET", "/wx/auth/info", tok, nil), 200, 502, "系统内部错误")
	if !strings.Contains(e.log.String(), "connection refused") {
		t.Error("internal error not logged")
	}
}

func TestRoutingErrors(t *testing.T) {
	e := newHEnv(t)
	a := e.do(t, "GET", "/wx/auth/nope", "", nil)
	expect(t, "unknown", a, 404, 404, api.MsgNotFound)
	a = e.do(t, "GET", "/wx/auth/login_by_weixin", "", nil)
	expect(t, "wrong method", a, 405, 405, api.MsgMethod)
	if !strings.Contains(a.Header.Get("Allow"), "POST") {
		t.Errorf("Allow %q", a.Header.Get("Allow"))
	}
	expect(t, "unclean path", e.do(t, "GET", "/wx/auth/../auth/info", "", nil), 404, 404, api.MsgNotFound)
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		peer, xff, want string
	}{
		{"192.0.2.1:5000", "203.0.113.9", "192.0.2.1"},
		{"10.0.0.2:5000", "203.0.113.9", "203.0.113.9"},
		{"10.0.0.2:5000", "1.1.1.1, 203.0.113.9, 10.0.0.3", "203.0.113.9"},
		{"10.0.0.2:5000", "", "10.0.0.2"},
		{"10.0.0.2:5000", "junk", "10.0.0.2"},
		{"[::1]:80", "2001:db8::1", "2001:db8::1"},
		{"[::ffff:192.0.2.7]:80", "", "192.0.2.7"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := api.ClientAddr(r, trusted).String(); got != c.want {
			t.Errorf("%s / %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

// TestLoginReadsTheRequestsClient: the login records the client address
// the outermost middleware put in RequestInfo, not one it computes again;
// without a RequestInfo (a bare handler) it computes it itself.
func TestLoginReadsTheRequestsClient(t *testing.T) {
	e := newHEnv(t, trustTen)
	r := httptest.NewRequest("POST", "/wx/auth/login_by_weixin", strings.NewReader(`{"code":"alice.1"}`))
	r.RemoteAddr = "10.0.0.1:5"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	ri := api.NewRequestInfo(r, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	if ri.Client.String() != "203.0.113.9" {
		t.Fatalf("NewRequestInfo: client %v", ri.Client)
	}
	ri.Client = netip.MustParseAddr("198.51.100.7") // what the middleware decided
	r = r.WithContext(api.WithRequestInfo(r.Context(), ri))
	e.h.ServeHTTP(httptest.NewRecorder(), r)
	if ss := e.Store.Sessions(); len(ss) != 1 || ss[0].IP != "198.51.100.7" {
		t.Errorf("sessions %+v: want the RequestInfo's client", ss)
	}
	if ri.UserID != 1 || ri.Errno != 0 || !ri.HasBody {
		t.Errorf("RequestInfo after login: %+v", ri)
	}

	r = httptest.NewRequest("POST", "/wx/auth/login_by_weixin", strings.NewReader(`{"code":"alice.2"}`))
	r.RemoteAddr = "10.0.0.1:5"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	e.h.ServeHTTP(httptest.NewRecorder(), r)
	if ss := e.Store.Sessions(); len(ss) != 2 || ss[1].IP != "203.0.113.9" {
		t.Errorf("sessions %+v: want ClientAddr without a RequestInfo", ss)
	}
}

func TestClientOf(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "garbage"
	// A zero Addr computed once is an answer, not "not computed".
	ri := api.NewRequestInfo(r, nil)
	r.RemoteAddr = "192.0.2.1:1"
	r = r.WithContext(api.WithRequestInfo(r.Context(), ri))
	if got := api.ClientOf(r, nil); got.IsValid() {
		t.Errorf("ClientOf = %v, want the zero Addr NewRequestInfo found", got)
	}
	// A RequestInfo made by hand has no client: ClientOf computes it.
	r = r.WithContext(api.WithRequestInfo(r.Context(), &api.RequestInfo{}))
	if got := api.ClientOf(r, nil); got.String() != "192.0.2.1" {
		t.Errorf("ClientOf = %v", got)
	}
}
