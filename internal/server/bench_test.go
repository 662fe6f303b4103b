package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/oactl/oactl/internal/api"
)

// bareJSON is the floor: a net/http handler that writes a small JSON
// object, no routing, no auth, no logging.
func bareJSON() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"errno": 0, "errmsg": "ok", "data": map[string]any{"nickName": "x"}})
	})
}

func benchHandler(b *testing.B, h http.Handler, token string) {
	b.Helper()
	req := httptest.NewRequest("GET", "/wx/auth/info", nil)
	if token != "" {
		req.Header.Set(api.TokenHeader, token)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

func fullServer(b *testing.B) (http.Handler, string) {
	e := newTEnv(b, func(c *Config) {
		// The log line per request is part of the cost being measured.
		c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	})
	return e.h, e.login(b, "alice")
}

// BenchmarkInfo: an authenticated GET /wx/auth/info through the whole
// serve handler (routing, token check on the in-memory store, envelope,
// log line, metrics) and the bare JSON floor, in the same run.
func BenchmarkInfo(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchHandler(b, bareJSON(), "") })
	b.Run("full", func(b *testing.B) {
		h, tok := fullServer(b)
		benchHandler(b, h, tok)
	})
}

// BenchmarkInfoRatio runs b.N bare requests, then b.N full ones, and
// reports full/bare time per request as "x-bare".
func BenchmarkInfoRatio(b *testing.B) {
	full, tok := fullServer(b)
	bare := bareJSON()
	req := httptest.NewRequest("GET", "/wx/auth/info", nil)
	authed := httptest.NewRequest("GET", "/wx/auth/info", nil)
	authed.Header.Set(api.TokenHeader, tok)
	run := func(h http.Handler, r *http.Request) time.Duration {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != 200 || rec.Body.Len() == 0 {
				b.Fatal(rec.Code)
			}
		}
		return time.Since(start)
	}
	b.ResetTimer()
	tb := run(bare, req)
	tf := run(full, authed)
	b.ReportMetric(float64(tf)/float64(tb), "x-bare")
	b.ReportMetric(float64(tf.Nanoseconds())/float64(b.N), "full-ns/req")
	b.ReportMetric(float64(tb.Nanoseconds())/float64(b.N), "bare-ns/req")
}

// BenchmarkLimiter: one allow of the login limiter (an LRU table of token
// buckets) against the floor, a lone rate.Limiter, in the same run.
// "hit" is a known address; "evict" a new address into a full table, the
// flood case, which also evicts the least recently used one.
func BenchmarkLimiter(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	b.Run("bucket", func(b *testing.B) {
		lim := rate.NewLimiter(rate.Inf, 1)
		b.ReportAllocs()
		for b.Loop() {
			take(lim, now)
		}
	})
	b.Run("hit", func(b *testing.B) {
		l := newLimiters[netip.Addr](1e9, 1e9, 100_000)
		a := netip.MustParseAddr("203.0.113.7")
		b.ReportAllocs()
		for b.Loop() {
			l.allow(a, now)
		}
	})
	b.Run("evict", func(b *testing.B) {
		l := newLimiters[netip.Addr](10, 20, 100_000)
		var i uint32
		next := func() netip.Addr {
			i++
			return netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
		}
		for range 100_000 {
			l.allow(next(), now)
		}
		b.ReportAllocs()
		for b.Loop() {
			l.allow(next(), now)
		}
	})
}
