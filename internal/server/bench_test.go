package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/logfmt"
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
		// The log line per request, through the handler the commands use,
		// is part of the cost being measured.
		c.Logger = slog.New(logfmt.New(io.Discard, logfmt.Text, nil))
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

// renewalBench is serve's whole handler for the renewal benchmark: its
// token lives 2 h (TokenTTL), renewed (on) or not (off), and its clock
// moves 1 s per request, so that a last-seen write happens every 60
// requests in both modes and, from the first hour of each token on, each
// of those writes in the "on" mode carries a renewal.
type renewalBench struct {
	e     *tEnv
	token string
	n     int
}

const (
	benchTTL = 2 * time.Hour
	// benchChunk requests per token: under the ttl, so the "off" token
	// never expires during its chunk.
	benchChunk = 7000
)

func newRenewalBench(b *testing.B, renew bool) *renewalBench {
	e := newTEnv(b, func(c *Config) { c.Logger = slog.New(logfmt.New(io.Discard, logfmt.Text, nil)) })
	e.svc.TokenTTL = benchTTL
	if !renew {
		e.svc.MaxAge = benchTTL
	}
	r := &renewalBench{e: e}
	r.relogin(b)
	return r
}

func (r *renewalBench) relogin(b *testing.B) {
	r.n++
	r.token = r.e.login(b, "bench."+strconv.Itoa(r.n))
}

// chunk serves k (at most benchChunk) authenticated infos on the
// current token, then logs in afresh off the clock; it returns the time
// the infos took.
func (r *renewalBench) chunk(b *testing.B, k int) time.Duration {
	req := httptest.NewRequest("GET", "/wx/auth/info", nil)
	req.Header.Set(api.TokenHeader, r.token)
	start := time.Now()
	for range k {
		r.e.clock.Add(time.Second)
		rec := httptest.NewRecorder()
		r.e.h.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Body.Len() == 0 || rec.Header().Get(api.TokenExpireHeader) == "" {
			b.Fatalf("info: %d %s", rec.Code, rec.Body)
		}
	}
	d := time.Since(start)
	r.relogin(b)
	return d
}

// BenchmarkInfoRenewal runs b.N authenticated infos with renewal off and
// b.N with it on (SPEC §12), each through the whole handler, and
// reports on/off time per request as "x-off" (1.0: renewal costs
// nothing) and the last-seen writes of each mode per 1000 requests
// (equal: the renewal rides on the touch).
//
// The two modes alternate chunk by chunk, so that the load of a shared
// machine falls on both alike.
func BenchmarkInfoRenewal(b *testing.B) {
	off, on := newRenewalBench(b, false), newRenewalBench(b, true)
	b.ResetTimer()
	var toff, ton time.Duration
	for done := 0; done < b.N; {
		k := min(benchChunk, b.N-done)
		toff += off.chunk(b, k)
		ton += on.chunk(b, k)
		done += k
	}
	b.StopTimer()
	b.ReportMetric(float64(ton)/float64(toff), "x-off")
	b.ReportMetric(float64(ton.Nanoseconds())/float64(b.N), "on-ns/req")
	b.ReportMetric(float64(toff.Nanoseconds())/float64(b.N), "off-ns/req")
	b.ReportMetric(1000*float64(on.e.store.Calls["TouchSession"])/float64(b.N), "on-writes/1000req")
	b.ReportMetric(1000*float64(off.e.store.Calls["TouchSession"])/float64(b.N), "off-writes/1000req")
}
