package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oactl/oactl/internal/api"
)

// TestEnvelopeRoutingOnAMux: on a mux of its own, EnvelopeRouting lets a
// routed handler's answer through whole (status, headers, body, the
// connection through ResponseController) and turns the mux's own answers
// into envelopes: 404, 405 with Allow, and the redirect of an unclean
// path, which is a 404 too.
func TestEnvelopeRoutingOnAMux(t *testing.T) {
	mux := http.NewServeMux()
	var flushErr error
	mux.HandleFunc("GET /teapot", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Brewed", "yes")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("short and stout"))
		flushErr = http.NewResponseController(w).Flush()
	})
	h := api.EnvelopeRouting(mux)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/teapot", nil))
	if rec.Code != http.StatusTeapot || rec.Header().Get("X-Brewed") != "yes" || rec.Body.String() != "short and stout" || flushErr != nil {
		t.Errorf("routed answer: %d %v %q, flush %v", rec.Code, rec.Header(), rec.Body.String(), flushErr)
	}

	for _, c := range []struct {
		method, path  string
		status, errno int
		allow         string
	}{
		{"GET", "/nope", 404, api.ErrnoNotFound, ""},
		{"POST", "/teapot", 405, api.ErrnoMethod, "GET, HEAD"},
		{"GET", "/x/../teapot", 404, api.ErrnoNotFound, ""}, // the mux would redirect to /teapot
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		var env api.Envelope
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Errorf("%s %s: not an envelope: %q", c.method, c.path, rec.Body.String())
			continue
		}
		if rec.Code != c.status || env.Errno != c.errno || rec.Header().Get("Allow") != c.allow || rec.Header().Get("Location") != "" {
			t.Errorf("%s %s: %d errno %d Allow %q Location %q, want %d errno %d Allow %q",
				c.method, c.path, rec.Code, env.Errno, rec.Header().Get("Allow"), rec.Header().Get("Location"), c.status, c.errno, c.allow)
		}
	}
}
