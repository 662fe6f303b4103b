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
	s := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
