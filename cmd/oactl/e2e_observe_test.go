package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// metricsOf fetches base's /metrics.
func metricsOf(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s/metrics: HTTP %d", base, resp.StatusCode)
	}
	return string(b)
}

// jsonLines parses a JSON log line by line; a line that is not one JSON
// object fails the test.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, l := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %d is not JSON: %v: %q", i+1, err, l)
		}
		out = append(out, m)
	}
	return out
}

// TestDevJSONLogsMetricsAndHangups runs dev with JSON logs and /metrics on
// its own listener: every log line parses, the metrics hold the Go
// runtime, process and WeChat series, and a client that hangs up during
// the WeChat call is a 499, never an ERROR or a 502.
func TestDevJSONLogsMetricsAndHangups(t *testing.T) {
	maddr := freeAddr(t)
	e := startDev(t, "--log-format", "json", "--metrics-addr", maddr, "--wx-timeout", "3s")
	e.c.login(uniqueCode("mia"), map[string]any{"nickName": "Mia"})
	e.c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": "err40029~mia.bad"})

	// The client gives up after 200ms; mockwx answers after 1.5s.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.serve+"/wx/auth/login_by_weixin", strings.NewReader(`{"code":"slow1500~mia.gone"}`))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the hung-up request got an answer")
	}

	if resp, _ := e.c.do("GET", "/metrics", "", nil, ""); resp.StatusCode != 404 {
		t.Errorf("/metrics on --addr with --metrics-addr set: HTTP %d, want 404", resp.StatusCode)
	}
	var m string
	deadline := time.Now().Add(10 * time.Second)
	for {
		m = metricsOf(t, "http://"+maddr)
		if strings.Contains(m, `status="499"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		"\ngo_goroutines ", "\nprocess_resident_memory_bytes ",
		`oactl_wechat_calls_total{api="jscode2session",errcode="0"} 1`,
		`oactl_wechat_calls_total{api="jscode2session",errcode="40029"} 1`,
		`oactl_wechat_calls_total{api="jscode2session",errcode="canceled"} 1`,
		`oactl_http_requests_total{route="POST /wx/auth/login_by_weixin",status="499"} 1`,
		`oactl_logins_total{errno="0"} 1`,
		`oactl_logins_total{errno="-1"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", strings.TrimSpace(want))
		}
	}
	if strings.Contains(m, `errno="502"`) {
		t.Error("metrics count an errno 502")
	}
	if t.Failed() {
		t.Log(m)
	}
	if err := e.p.stop(10 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	var requests, gone int
	for _, l := range jsonLines(t, e.p.errOut.String()) {
		if l["level"] == "ERROR" {
			t.Errorf("ERROR line: %v", l)
		}
		if l["msg"] == "request" {
			requests++
			if l["status"] == float64(499) {
				gone++
			}
		}
	}
	if requests < 4 || gone != 1 {
		t.Errorf("%d request lines, %d with status 499; want at least 4 and 1:\n%s", requests, gone, e.p.errOut)
	}
}

// TestDevLogLevelWarnDropsRequestLines: the line per request is INFO, so
// --log-level warn (here from the environment) leaves it out.
func TestDevLogLevelWarnDropsRequestLines(t *testing.T) {
	dir := t.TempDir()
	addr, maddr := freeAddr(t), freeAddr(t)
	p := startOactl(t, []string{"OA_LOG_LEVEL=warn", "OA_LOG_FORMAT=json"}, "dev", "--addr", addr, "--mockwx-addr", maddr,
		"--db", "sqlite:"+dir+"/oa.db", "--storage-dir", dir+"/files")
	p.waitHealthy("http://" + addr + "/healthz")
	c := newClient(t, "http://"+addr)
	tok := c.login(uniqueCode("wes"), nil).Token
	c.info(tok)
	c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": "err40029~wes.bad"})
	if err := p.stop(10 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	lines := jsonLines(t, p.errOut.String())
	sawWarn := false
	for _, l := range lines {
		if l["msg"] == "request" || l["level"] == "INFO" {
			t.Errorf("--log-level warn logged %v", l)
		}
		sawWarn = sawWarn || l["level"] == "WARN"
	}
	if !sawWarn {
		t.Errorf("no WARN line for the refused code:\n%s", p.errOut)
	}
}

func TestLogSettingsRefuseBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"dev", "--log-format", "xml"},
		{"serve", "--appid", "wx1", "--log-level", "loud"},
		{"mockwx", "--log-format", "JSON"},
		{"migrate", "status", "--log-level", "trace"},
		{"dev", "--metrics-addr", "nope"},
	} {
		code, _, errOut := runOactl(t, map[string]string{"OA_WX_APP_SECRET": "s"}, args...)
		if code != 2 || !strings.Contains(errOut, "--"+args[len(args)-2][2:]) {
			t.Errorf("%v: exit %d, %q; want 2 naming the flag", args, code, errOut)
		}
	}
}
