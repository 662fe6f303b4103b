package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbeExitStatus(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			io.WriteString(w, "ok: schema version 3\n")
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "database unavailable\n")
		case "/moved":
			http.Redirect(w, r, "/readyz", http.StatusFound)
		case "/hostile":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "\x1b[31mred\x1b[0m "+strings.Repeat("x", 10000))
		case "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	defer func(d time.Duration) { probeTimeout = d }(probeTimeout)
	probeTimeout = 300 * time.Millisecond

	for _, tc := range []struct {
		url      string
		code     int
		out, err string
	}{
		{srv.URL + "/readyz", 0, "200 OK: ok: schema version 3", ""},
		{srv.URL + "/down", 1, "", "503 Service Unavailable: database unavailable"},
		{srv.URL + "/moved", 1, "", "302 Found"},
		{srv.URL + "/hang", 1, "", "no answer within 300ms"},
		{closed.URL + "/readyz", 1, "", "refused"},
		{"ftp://127.0.0.1/readyz", 2, "", "want an http:// or https:// URL"},
		{"127.0.0.1:8080/readyz", 2, "", "want an http"},
		{"http://", 2, "", "want an http"},
		{"", 2, "", "want an http"},
	} {
		start := time.Now()
		code, out, errOut := runOactl(t, nil, "probe", tc.url)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("probe %q took %v", tc.url, took)
		}
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
			t.Errorf("probe %q: exit %d, out %q, err %q; want exit %d, out ~%q, err ~%q", tc.url, code, out, errOut, tc.code, tc.out, tc.err)
		}
	}

	code, _, errOut := runOactl(t, nil, "probe", srv.URL+"/hostile")
	if code != 1 || strings.Contains(errOut, "\x1b") || len(errOut) > 1024 {
		t.Errorf("hostile answer: exit %d, %d bytes quoted: %q", code, len(errOut), errOut)
	}
	if code, _, _ := runOactl(t, nil, "probe"); code != 2 {
		t.Errorf("probe without URL: exit %d, want 2", code)
	}
	if code, _, _ := runOactl(t, nil, "probe", srv.URL+"/readyz", "extra"); code != 2 {
		t.Errorf("probe with two URLs: exit %d, want 2", code)
	}
}
