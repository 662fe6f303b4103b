package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/auth/authtest"
	"github.com/oactl/oactl/internal/testutil"
)

type tEnv struct {
	store *authtest.Store
	wx    *authtest.WeChat
	clock *testutil.Clock
	svc   *auth.Service
	h     http.Handler
	log   *bytes.Buffer
	dir   string
}

func newTEnv(t testing.TB, mod func(*Config)) *tEnv {
	t.Helper()
	a := authtest.NewEnv(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	e := &tEnv{store: a.Store, wx: a.WeChat, clock: a.Clock, svc: a.Service, log: &bytes.Buffer{}, dir: t.TempDir()}
	logger := slog.New(slog.NewJSONHandler(e.log, nil))
	e.svc.Logger = logger
	cfg := Config{Service: e.svc, Store: e.store, Logger: logger, TimeZone: time.UTC, StorageDir: e.dir, Now: e.clock.Now,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	if mod != nil {
		mod(&cfg)
	}
	e.h = New(cfg)
	return e
}

type resp struct {
	code   int
	header http.Header
	body   string
	env    struct {
		Errno  int             `json:"errno"`
		Errmsg string          `json:"errmsg"`
		Data   json.RawMessage `json:"data"`
	}
}

func (e *tEnv) serve(r *http.Request) resp {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	out := resp{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
	_ = json.Unmarshal(rec.Body.Bytes(), &out.env)
	return out
}

func (e *tEnv) do(method, path, token, body string) resp {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set(api.TokenHeader, token)
	}
	return e.serve(r)
}

func (e *tEnv) login(t testing.TB, code string) string {
	t.Helper()
	out := e.do("POST", "/wx/auth/login_by_weixin", "", `{"code":"`+code+`"}`)
	var d struct{ Token string }
	if err := json.Unmarshal(out.env.Data, &d); err != nil || d.Token == "" {
		t.Fatalf("login: %s", out.body)
	}
	return d.Token
}

func TestHealthAndReady(t *testing.T) {
	e := newTEnv(t, nil)
	if r := e.do("GET", "/healthz", "", ""); r.code != 200 {
		t.Errorf("healthz %d", r.code)
	}
	if r := e.do("GET", "/readyz", "", ""); r.code != 200 {
		t.Errorf("readyz %d %s", r.code, r.body)
	}
	e.store.Schema = auth.SchemaState{Current: 3, Required: 2}
	if r := e.do("GET", "/readyz", "", ""); r.code != 200 || !strings.Contains(r.body, "newer") {
		t.Errorf("newer schema: %d %s", r.code, r.body)
	}
	e.store.Schema = auth.SchemaState{Current: 1, Required: 2}
	if r := e.do("GET", "/readyz", "", ""); r.code != 503 {
		t.Errorf("older schema: %d %s", r.code, r.body)
	}
	e.store.Fail = errors.New("dial tcp: password=hunter2 refused")
	if r := e.do("GET", "/readyz", "", ""); r.code != 503 || strings.Contains(r.body, "hunter2") {
		t.Errorf("db down: %d %s", r.code, r.body)
	}
}

func TestRoutingEnvelopes(t *testing.T) {
	e := newTEnv(t, nil)
	for _, c := range []struct {
		method, path string
		code, errno  int
	}{
		{"GET", "/nope", 404, 404},
		{"GET", "/wx/auth/nope", 404, 404},
		{"DELETE", "/wx/auth/info", 405, 405},
		{"GET", "/wx/auth/logout", 405, 405},
		{"POST", "/healthz", 405, 405},
		{"GET", "/wx/storage/fetch/../../etc/passwd", 404, 404},
	} {
		r := e.do(c.method, c.path, "", "")
		if r.code != c.code || r.env.Errno != c.errno || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.code, r.body)
		}
	}
}

type panicStore struct{ *authtest.Store }

func (panicStore) SessionByTokenHash(context.Context, string) (auth.Session, auth.User, error) {
	panic("boom: secret=abc")
}

func TestPanicRecovery(t *testing.T) {
	e := newTEnv(t, nil)
	tok := e.login(t, "alice")
	e.svc.Store = panicStore{e.store}
	r := e.do("GET", "/wx/auth/info", tok, "")
	if r.code != 200 || r.env.Errno != 502 || r.env.Errmsg != "系统内部错误" {
		t.Errorf("panic: %d %s", r.code, r.body)
	}
	if !strings.Contains(e.log.String(), `"panic"`) || strings.Contains(e.log.String(), "secret=abc") {
		t.Errorf("panic log: %s", e.log)
	}
}

func TestRequestLogAndMetrics(t *testing.T) {
	e := newTEnv(t, nil)
	e.wx.Errs = map[string]error{"refused": authtest.APIError(40029, "invalid code")}
	tok := e.login(t, "alice.CODEXYZ")
	e.do("GET", "/wx/auth/info", tok, "")
	e.do("POST", "/wx/auth/login_by_weixin", "", `{"code":"refused"}`)
	e.do("GET", "/wx/storage/fetch/0123456789abcdef0123456789abcdef.png", "", "")
	e.do("GET", "/some/random/path", "", "")

	lines := strings.Split(strings.TrimSpace(e.log.String()), "\n")
	var reqLines []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q", l)
		}
		if m["msg"] == "request" {
			reqLines = append(reqLines, m)
		}
	}
	if len(reqLines) != 5 {
		t.Fatalf("%d request lines, want 5:\n%s", len(reqLines), e.log)
	}
	for _, k := range []string{"id", "method", "route", "status", "duration", "ip", "errno"} {
		if _, ok := reqLines[0][k]; !ok {
			t.Errorf("request line lacks %s: %v", k, reqLines[0])
		}
	}
	if reqLines[1]["route"] != "GET /wx/auth/info" || reqLines[4]["route"] != "unmatched" {
		t.Errorf("routes: %v / %v", reqLines[1]["route"], reqLines[4]["route"])
	}
	for _, s := range []string{tok, "CODEXYZ", "key-alice", "/some/random/path"} {
		if strings.Contains(e.log.String(), s) {
			t.Errorf("log holds %q", s)
		}
	}

	m := e.do("GET", "/metrics", "", "").body
	for _, want := range []string{
		`oactl_http_requests_total{route="POST /wx/auth/login_by_weixin",status="200"} 2`,
		`oactl_http_requests_total{route="GET /wx/storage/fetch/{key}",status="404"} 1`,
		`oactl_http_requests_total{route="unmatched",status="404"} 1`,
		`oactl_http_request_duration_seconds_count{route="GET /wx/auth/info"} 1`,
		`oactl_logins_total{errno="0"} 1`,
		`oactl_logins_total{errno="-1"} 1`,
		"# TYPE oactl_http_request_duration_seconds histogram",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
	for _, s := range []string{tok, "0123456789abcdef", "/some/random", "CODEXYZ"} {
		if strings.Contains(m, s) {
			t.Errorf("metrics hold %q", s)
		}
	}
}

// readCounter records whether the handler read the body.
type readCounter struct{ n int }

func (r *readCounter) Read(p []byte) (int, error) { r.n++; return 0, io.EOF }

func TestLoginRateLimit(t *testing.T) {
	e := newTEnv(t, func(c *Config) { c.LoginRate = 1 })
	send := func(peer, xff string, body io.Reader) resp {
		r := httptest.NewRequest("POST", "/wx/auth/login_by_weixin", body)
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return e.serve(r)
	}
	for i := 0; i < 2; i++ { // burst 2× the rate
		if r := send("192.0.2.1:1", "", strings.NewReader(`{"code":"a"}`)); r.env.Errno != 0 {
			t.Fatalf("login %d: %s", i, r.body)
		}
	}
	body := &readCounter{}
	r := send("192.0.2.1:1", "", body)
	if r.env.Errno != 429 || r.env.Errmsg != "请求过于频繁" || r.header.Get("Retry-After") != "1" {
		t.Errorf("third login: %d %v %s", r.code, r.header, r.body)
	}
	if body.n != 0 {
		t.Error("rate-limited request's body was read")
	}
	if r := send("192.0.2.2:1", "", strings.NewReader(`{"code":"b"}`)); r.env.Errno != 0 {
		t.Errorf("another address limited: %s", r.body)
	}
	// Behind a trusted proxy, the client is the X-Forwarded-For address;
	// a spoofed left-most entry does not change it.
	for i := 0; i < 2; i++ {
		send("10.0.0.1:1", "203.0.113.5", strings.NewReader(`{"code":"c"}`))
	}
	if r := send("10.0.0.2:1", "1.2.3.4, 203.0.113.5", strings.NewReader(`{"code":"c"}`)); r.env.Errno != 429 {
		t.Errorf("proxied client not limited: %s", r.body)
	}
	// An untrusted peer's X-Forwarded-For is ignored.
	if r := send("192.0.2.9:1", "203.0.113.5", strings.NewReader(`{"code":"d"}`)); r.env.Errno != 0 {
		t.Errorf("untrusted XFF believed: %s", r.body)
	}
	e.clock.Add(time.Second)
	if r := send("192.0.2.1:1", "", strings.NewReader(`{"code":"a"}`)); r.env.Errno != 0 {
		t.Errorf("after refill: %s", r.body)
	}
	if r := e.do("GET", "/metrics", "", ""); !strings.Contains(r.body, `oactl_logins_total{errno="429"} 2`) {
		t.Errorf("metrics: %s", r.body)
	}
}

func TestRateLimitOff(t *testing.T) {
	e := newTEnv(t, nil)
	for i := 0; i < 50; i++ {
		if r := e.do("POST", "/wx/auth/login_by_weixin", "", `{"code":"a"}`); r.env.Errno != 0 {
			t.Fatalf("login %d limited with rate 0: %s", i, r.body)
		}
	}
}

func testPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func multipartBody(t testing.TB, field string, data []byte) (io.Reader, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, err := w.CreateFormFile(field, "avatar.png")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = w.Close()
	return &b, w.FormDataContentType()
}

// TestUploadPublicURL: Config.PublicURL reaches the upload handler (the
// storage handlers' own tests are in internal/api).
func TestUploadPublicURL(t *testing.T) {
	e := newTEnv(t, func(c *Config) { c.PublicURL = "https://cdn.example/oa/" })
	tok := e.login(t, "alice")
	body, ct := multipartBody(t, "file", testPNG())
	req := httptest.NewRequest("POST", "/wx/storage/upload", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set(api.TokenHeader, tok)
	req.Host = "evil.example"
	r := e.serve(req)
	if !strings.Contains(r.body, `"url":"https://cdn.example/oa/wx/storage/fetch/`) {
		t.Errorf("public url: %s", r.body)
	}
}
