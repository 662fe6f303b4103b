package mockwx

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkJscode2session is the handler's own cost per successful login
// (new code each time, a text log line to io.Discard), without the network.
func BenchmarkJscode2session(b *testing.B) {
	benchLogins(b, New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
}

func benchLogins(b *testing.B, s *Server) {
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/sns/jscode2session", nil)
		for pb.Next() {
			i := n.Add(1)
			req.URL.RawQuery = "appid=wxbench&secret=s&js_code=u" + strconv.FormatInt(i%1000, 10) + "." + strconv.FormatInt(i, 10) + "&grant_type=authorization_code"
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatal(rec.Code)
			}
		}
	})
}

// BenchmarkJscode2sessionWithBehaviours is BenchmarkJscode2session with
// 100,000 users given a behaviour (none of the logging-in users): the
// per-user lookup the hot path pays once any behaviour is set.
func BenchmarkJscode2sessionWithBehaviours(b *testing.B) {
	s := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.mu.Lock()
	for i := range 100_000 {
		s.setBehaviour("b"+strconv.Itoa(i), Behaviour{RiskRank: 1})
	}
	s.mu.Unlock()
	b.ResetTimer()
	benchLogins(b, s)
}
