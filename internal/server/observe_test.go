package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMetricsHaveRuntimeProcessAndWeChatSeries: /metrics carries the Go
// runtime and process series beside oactl's own, and the WeChat calls the
// registry was told of, by API and errcode.
func TestMetricsHaveRuntimeProcessAndWeChatSeries(t *testing.T) {
	m := NewMetrics()
	e := newTEnv(t, func(c *Config) { c.Metrics = m })
	m.ObserveWeChatCall("jscode2session", "0", 20*time.Millisecond)
	m.ObserveWeChatCall("jscode2session", "40029", time.Millisecond)
	m.ObserveWeChatCall("getuserphonenumber", "0", time.Millisecond)
	m.ObserveWeChatCall("getuserphonenumber", "0", time.Millisecond)
	r := e.do("GET", "/metrics", "", "")
	if r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %v", r.code, r.header)
	}
	for _, want := range []string{
		"\ngo_goroutines ",
		"\ngo_gc_duration_seconds",
		"\nprocess_resident_memory_bytes ",
		"\nprocess_cpu_seconds_total ",
		"\n" + `oactl_wechat_calls_total{api="jscode2session",errcode="0"} 1` + "\n",
		"\n" + `oactl_wechat_calls_total{api="jscode2session",errcode="40029"} 1` + "\n",
		"\n" + `oactl_wechat_calls_total{api="getuserphonenumber",errcode="0"} 2` + "\n",
		"\n" + `oactl_wechat_call_duration_seconds_count{api="jscode2session"} 2` + "\n",
		"\n# TYPE oactl_wechat_calls_total counter\n",
		"\n# TYPE go_goroutines gauge\n",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %q", strings.TrimSpace(want))
		}
	}
	if t.Failed() {
		t.Log(r.body)
	}
}

// TestWeChatSeriesAreCapped: errcodes come from upstream; a flood of
// distinct ones ends up in errcode "other" instead of growing the
// registry without end.
func TestWeChatSeriesAreCapped(t *testing.T) {
	m := NewMetrics()
	for i := range 3 * maxWeChatSeries {
		m.ObserveWeChatCall("jscode2session", fmt.Sprint(100000+i), time.Millisecond)
	}
	var b strings.Builder
	m.WritePrometheus(&b)
	n := strings.Count(b.String(), "\noactl_wechat_calls_total{")
	if n > maxWeChatSeries+1 {
		t.Errorf("%d WeChat series, cap %d", n, maxWeChatSeries)
	}
	if want := fmt.Sprintf(`oactl_wechat_calls_total{api="jscode2session",errcode="other"} %d`, 2*maxWeChatSeries); !strings.Contains(b.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
}

// TestClientThatHangsUpIsItsOwnOutcome: a request whose client went away
// (its context canceled, as net/http does when the connection closes) is
// logged and counted as 499, never as an internal error or errno 502.
func TestClientThatHangsUpIsItsOwnOutcome(t *testing.T) {
	e := newTEnv(t, nil)
	tok := e.login(t, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.store.Fail = context.Canceled // what a database driver answers then
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/wx/auth/info", ""},
		{"POST", "/wx/auth/login_by_weixin", `{"code":"bob"}`},
	} {
		r := httptest.NewRequest(req.method, req.path, strings.NewReader(req.body)).WithContext(ctx)
		r.Header.Set("X-OA-Token", tok)
		if out := e.serve(r); strings.Contains(out.body, "errno") {
			t.Errorf("%s %s: an answer was written for a client that is gone: %s", req.method, req.path, out.body)
		}
	}
	e.store.Fail = nil
	m := e.do("GET", "/metrics", "", "").body
	for _, want := range []string{
		`oactl_http_requests_total{route="GET /wx/auth/info",status="499"} 1`,
		`oactl_http_requests_total{route="POST /wx/auth/login_by_weixin",status="499"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, bad := range []string{`errno="502"`, `status="502"`} {
		if strings.Contains(m, bad) {
			t.Errorf("metrics count a client that hung up as %s", bad)
		}
	}
	var gone int
	for _, l := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if line["level"] == "ERROR" {
			t.Errorf("ERROR logged for a client that hung up: %s", l)
		}
		if line["msg"] == "request" && line["status"] == float64(499) {
			gone++
			if _, ok := line["errno"]; ok {
				t.Errorf("a 499 line claims an errno: %s", l)
			}
		}
	}
	if gone != 2 {
		t.Errorf("%d request lines with status 499, want 2:\n%s", gone, e.log)
	}
}

// TestMetricsElsewhere: with --metrics-addr, the API's listener does not
// answer /metrics; MetricsHandler serves it alone.
func TestMetricsElsewhere(t *testing.T) {
	m := NewMetrics()
	e := newTEnv(t, func(c *Config) { c.Metrics, c.MetricsElsewhere = m, true })
	e.do("GET", "/healthz", "", "")
	if r := e.do("GET", "/metrics", "", ""); r.code != 404 || r.env.Errno != 404 {
		t.Errorf("/metrics on the API listener: %d %s", r.code, r.body)
	}
	h := MetricsHandler(m)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `oactl_http_requests_total{route="GET /healthz",status="200"} 1`) {
		t.Errorf("metrics handler: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/wx/auth/info", nil))
	if rec.Code != 404 {
		t.Errorf("metrics listener answers other paths: %d", rec.Code)
	}
	if got := RoutePatterns(Config{MetricsElsewhere: true}); slices.Contains(got, "GET /metrics") {
		t.Errorf("RoutePatterns with MetricsElsewhere: %q", got)
	}
}

func TestRoutePatterns(t *testing.T) {
	got := RoutePatterns(Config{})
	for _, want := range []string{"POST /wx/auth/login_by_weixin", "GET /wx/auth/info", "GET /wx/storage/fetch/{key}", "GET /healthz", "GET /readyz", "GET /metrics"} {
		if !slices.Contains(got, want) {
			t.Errorf("RoutePatterns lacks %q: %q", want, got)
		}
	}
}
