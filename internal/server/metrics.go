package server

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// latencyBuckets are the histograms' upper bounds in seconds: the floors
// measured here are tens of microseconds, WeChat's timeout is 4 s.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// maxWeChatSeries caps the label pairs of the WeChat call counter: the
// errcode comes from upstream, and a broken or hostile one must not grow
// the registry without end. Calls beyond the cap count as errcode "other".
const maxWeChatSeries = 200

// StatusClientClosed is the status the request log and metrics give a
// request whose client hung up before it was answered (Nginx's 499): no
// answer was sent, so it is neither a success nor a server failure.
const StatusClientClosed = 499

// Metrics is serve's Prometheus registry, kept by
// github.com/VictoriaMetrics/metrics (chosen over client_golang for the
// binary's size: docs/PERFORMANCE.md). It holds HTTP requests by route
// pattern and status, their durations by route, login answers by errno,
// WeChat calls by API and errcode (it is a wechat.Observer), and writes
// the Go runtime and process series (go_*, process_*) beside them.
//
// Labels are route patterns, statuses, errno values, WeChat API names and
// errcodes only: bounded sets, never a path, token or code. The series of
// one label set are created once and then found without building a name.
type Metrics struct {
	set *metrics.Set

	requests  sync.Map // requestKey → *metrics.Counter
	durations sync.Map // route → *metrics.PrometheusHistogram
	logins    sync.Map // errno (int) → *metrics.Counter
	wxCalls   sync.Map // wxKey → *metrics.Counter
	wxDur     sync.Map // api → *metrics.PrometheusHistogram

	mu       sync.Mutex // serialises the creation of WeChat series
	wxSeries int
}

type requestKey struct {
	route  string
	status int
}

type wxKey struct{ api, errcode string }

var exposeMetadata sync.Once

// NewMetrics returns an empty registry.
func NewMetrics() *Metrics {
	// TYPE lines, so that scrapers know the histograms; the library's
	// switch is global, and every registry of the process wants it.
	exposeMetadata.Do(func() { metrics.ExposeMetadata(true) })
	return &Metrics{set: metrics.NewSet()}
}

// getOrCreate returns m[key], creating it with create the first time.
func getOrCreate[K comparable, V any](m *sync.Map, key K, create func() V) V {
	if v, ok := m.Load(key); ok {
		return v.(V)
	}
	v, _ := m.LoadOrStore(key, create())
	return v.(V)
}

// request counts one answered request.
func (m *Metrics) request(route string, status int, d time.Duration) {
	c := getOrCreate(&m.requests, requestKey{route, status}, func() *metrics.Counter {
		return m.set.GetOrCreateCounter(`oactl_http_requests_total{route=` + quote(route) + `,status="` + strconv.Itoa(status) + `"}`)
	})
	c.Inc()
	h := getOrCreate(&m.durations, route, func() *metrics.PrometheusHistogram {
		return m.set.GetOrCreatePrometheusHistogramExt(`oactl_http_request_duration_seconds{route=`+quote(route)+`}`, latencyBuckets)
	})
	h.Update(d.Seconds())
}

// login counts one login answer by its errno.
func (m *Metrics) login(errno int) {
	getOrCreate(&m.logins, errno, func() *metrics.Counter {
		return m.set.GetOrCreateCounter(`oactl_logins_total{errno="` + strconv.Itoa(errno) + `"}`)
	}).Inc()
}

// ObserveWeChatCall counts one call to WeChat (wechat.Observer): by API
// and errcode, and its duration by API.
func (m *Metrics) ObserveWeChatCall(api, errcode string, d time.Duration) {
	k := wxKey{api, errcode}
	c, ok := m.wxCalls.Load(k)
	if !ok {
		c = m.newWeChatSeries(k)
	}
	c.(*metrics.Counter).Inc()
	getOrCreate(&m.wxDur, api, func() *metrics.PrometheusHistogram {
		return m.set.GetOrCreatePrometheusHistogramExt(`oactl_wechat_call_duration_seconds{api=`+quote(api)+`}`, latencyBuckets)
	}).Update(d.Seconds())
}

func (m *Metrics) newWeChatSeries(k wxKey) any {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.wxCalls.Load(k); ok {
		return c
	}
	if m.wxSeries >= maxWeChatSeries {
		k.errcode = "other"
		if c, ok := m.wxCalls.Load(k); ok {
			return c
		}
	}
	m.wxSeries++
	c := m.set.GetOrCreateCounter(`oactl_wechat_calls_total{api=` + quote(k.api) + `,errcode=` + quote(k.errcode) + `}`)
	m.wxCalls.Store(k, c)
	return c
}

// WritePrometheus writes every series in the Prometheus text format:
// oactl's own, then the Go runtime's and the process's.
func (m *Metrics) WritePrometheus(w io.Writer) {
	m.set.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
}

// ServeHTTP answers GET /metrics.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	m.WritePrometheus(w)
}

// MetricsHandler serves /metrics alone, for its own listener
// (--metrics-addr): every other path is a plain 404.
func MetricsHandler(m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m)
	return mux
}

// quote escapes a label value as the exposition format wants: backslash,
// double quote and newline.
func quote(s string) string {
	return `"` + labelEscaper.Replace(s) + `"`
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
