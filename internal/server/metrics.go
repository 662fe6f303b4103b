package server

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// latencyBuckets are the histogram's upper bounds in seconds: the floors
// measured here are tens of microseconds, WeChat's timeout is 4 s.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics is a small in-house Prometheus registry. Its labels are route
// patterns, statuses and errno values only: a bounded set, and never a
// path, token or code.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // route, status
	hist     map[string]*histogram
	logins   map[int]uint64 // errno
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, hist: map[string]*histogram{}, logins: map[int]uint64{}}
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	sec := d.Seconds()
	i := sort.SearchFloat64s(latencyBuckets, sec)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{route, strconv.Itoa(status)}]++
	h := m.hist[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		m.hist[route] = h
	}
	h.counts[i]++
	h.sum += sec
	h.count++
}

func (m *metrics) login(errno int) {
	m.mu.Lock()
	m.logins[errno]++
	m.mu.Unlock()
}

// writeTo writes the Prometheus text exposition format, sorted so that
// the output is stable.
func (m *metrics) writeTo(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP oactl_http_requests_total HTTP requests by route pattern and status.\n")
	b.WriteString("# TYPE oactl_http_requests_total counter\n")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "oactl_http_requests_total{route=%s,status=%s} %d\n", quote(k[0]), quote(k[1]), m.requests[k])
	}
	b.WriteString("# HELP oactl_http_request_duration_seconds Time to answer, by route pattern.\n")
	b.WriteString("# TYPE oactl_http_request_duration_seconds histogram\n")
	routes := make([]string, 0, len(m.hist))
	for r := range m.hist {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		h := m.hist[r]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "oactl_http_request_duration_seconds_bucket{route=%s,le=%s} %d\n", quote(r), quote(formatFloat(le)), cum)
		}
		fmt.Fprintf(&b, "oactl_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", quote(r), h.count)
		fmt.Fprintf(&b, "oactl_http_request_duration_seconds_sum{route=%s} %s\n", quote(r), formatFloat(h.sum))
		fmt.Fprintf(&b, "oactl_http_request_duration_seconds_count{route=%s} %d\n", quote(r), h.count)
	}
	b.WriteString("# HELP oactl_logins_total Login answers by errno.\n")
	b.WriteString("# TYPE oactl_logins_total counter\n")
	errnos := make([]int, 0, len(m.logins))
	for e := range m.logins {
		errnos = append(errnos, e)
	}
	sort.Ints(errnos)
	for _, e := range errnos {
		fmt.Fprintf(&b, "oactl_logins_total{errno=\"%d\"} %d\n", e, m.logins[e])
	}
	_, _ = io.WriteString(w, b.String())
}

func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// quote escapes a label value as the exposition format wants: backslash,
// double quote and newline.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
