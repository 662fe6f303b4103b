package mockwx

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/logfmt"
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

// bareHandler is scripts/bench-mockwx's baseline: read js_code, answer a
// fixed login body as text/plain. Keep the two the same.
func bareHandler() http.Handler {
	body := []byte(`{"session_key":"lOgxanoD9IvOWhWM3InQ1A==","openid":"ocYLcFzL_w_Kjhd6dkeWFFDERCdJ"}`)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_ = r.URL.Query().Get("js_code")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
	return mux
}

// benchMockwx is mockwx as `oactl mockwx --appid wxbench000000001` runs
// it: a text log line per request, batched into a discarding writer.
func benchMockwx() *Server {
	// The commands' handler: its short path is part of what a line costs.
	return New(Config{AppID: "wxbench000000001", Logger: slog.New(logfmt.New(io.Discard, logfmt.Text, nil))})
}

// sinkWriter is the cheapest ResponseWriter that still has a header map,
// so a handler-level benchmark measures the handler, not a recorder.
type sinkWriter struct {
	h      http.Header
	status int
}

func (w *sinkWriter) Header() http.Header         { return w.h }
func (w *sinkWriter) WriteHeader(code int)        { w.status = code }
func (w *sinkWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkHandlerVsBare runs mockwx's jscode2session and the bare handler
// of scripts/bench-mockwx through ServeHTTP in the same run, a fresh code
// per request, alternating in slices so drift hits both. It reports each
// one's ns per request and "ratio" = bare time / mockwx time (what a
// CPU-bound server's throughput ratio would be if net/http cost nothing:
// the handler's own share). Profile it with -cpuprofile.
func BenchmarkHandlerVsBare(b *testing.B) {
	handlers := []http.Handler{bareHandler(), benchMockwx()}
	var spent [2]time.Duration
	req := httptest.NewRequest(http.MethodGet, "/sns/jscode2session", nil)
	w := &sinkWriter{h: make(http.Header)}
	q := newCodeQuery("h")
	b.ReportAllocs()
	b.ResetTimer()
	const slices = 10
	for sl := range slices {
		n := b.N/slices + boolInt(sl < b.N%slices)
		for i, h := range handlers {
			t0 := time.Now()
			for range n {
				req.URL.RawQuery = q.next()
				clear(w.h)
				w.status = 0
				h.ServeHTTP(w, req)
			}
			spent[i] += time.Since(t0)
		}
	}
	reportVsBare(b, spent)
}

// BenchmarkLoopbackVsBare is scripts/bench-mockwx in one process: both
// handlers behind the same http.Server settings on 127.0.0.1, driven by
// keep-alive clients that write a request with a fresh code and read the
// answer (a raw, cheap client, so the servers' cost dominates as under
// wrk), alternating between the two servers in slices. "ratio" is bare
// time / mockwx time, i.e. mockwx's throughput relative to the bare
// handler's; scripts/bench-mockwx's goal is 0.9.
func BenchmarkLoopbackVsBare(b *testing.B) {
	const conns = 16
	var clients [2][]*rawClient
	for i, h := range []http.Handler{bareHandler(), benchMockwx()} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		for c := range conns {
			rc, err := dialRaw(ln.Addr().String(), newCodeQuery("l"+strconv.Itoa(i)+"c"+strconv.Itoa(c)))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { rc.conn.Close() })
			clients[i] = append(clients[i], rc)
		}
	}
	var spent [2]time.Duration
	b.ResetTimer()
	const slices = 10
	for sl := range slices {
		n := b.N/slices + boolInt(sl < b.N%slices)
		for i := range clients {
			t0 := time.Now()
			var wg sync.WaitGroup
			for c, rc := range clients[i] {
				per := n/conns + boolInt(c < n%conns)
				wg.Go(func() {
					for range per {
						if err := rc.roundTrip(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			spent[i] += time.Since(t0)
		}
	}
	reportVsBare(b, spent)
}

func reportVsBare(b *testing.B, spent [2]time.Duration) {
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N), "bare-ns/req")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "mockwx-ns/req")
	b.ReportMetric(spent[0].Seconds()/spent[1].Seconds(), "ratio")
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// codeQuery makes jscode2session queries with a fresh code each time, as
// scripts/bench-mockwx's Lua script does: 1000 users, many codes each.
type codeQuery struct {
	prefix string
	n      int
	buf    []byte
}

func newCodeQuery(prefix string) *codeQuery { return &codeQuery{prefix: prefix} }

func (q *codeQuery) next() string {
	q.n++
	b := append(q.buf[:0], "appid=wxbench000000001&secret=s&js_code=u"...)
	b = strconv.AppendInt(b, int64(q.n%1000), 10)
	b = append(b, '.')
	b = append(b, q.prefix...)
	b = append(b, 'n')
	b = strconv.AppendInt(b, int64(q.n), 10)
	b = append(b, "&grant_type=authorization_code"...)
	q.buf = b
	return string(b)
}

// rawClient is one keep-alive connection speaking just enough HTTP/1.1.
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
	q    *codeQuery
	req  []byte
	body []byte
}

func dialRaw(addr string, q *codeQuery) (*rawClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawClient{conn: c, r: bufio.NewReader(c), q: q, body: make([]byte, 512)}, nil
}

func (c *rawClient) roundTrip() error {
	c.req = append(c.req[:0], "GET /sns/jscode2session?"...)
	c.req = append(c.req, c.q.next()...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"...)
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	length := -1
	for first := true; ; first = false {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first && !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
			return &badAnswer{string(line)}
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length < 0 || length > len(c.body) {
		return &badAnswer{"Content-Length " + strconv.Itoa(length)}
	}
	if _, err := io.ReadFull(c.r, c.body[:length]); err != nil {
		return err
	}
	if bytes.Contains(c.body[:length], []byte("errcode")) {
		return &badAnswer{string(c.body[:length])}
	}
	return nil
}

type badAnswer struct{ s string }

func (e *badAnswer) Error() string { return "unexpected answer: " + e.s }
