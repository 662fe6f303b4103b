// Package server composes the HTTP handler of `oactl serve`: the /wx API
// of internal/api (auth and avatar storage), health, readiness and
// metrics, with routing errors as envelopes, panic recovery, one log line
// per request and the login rate limit.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/logfmt"
	"github.com/oactl/oactl/internal/storage"
	"github.com/oactl/oactl/internal/wechat"
)

// Config is what serve hands over.
type Config struct {
	Service        *auth.Service
	Store          auth.Store // for /readyz
	Logger         *slog.Logger
	TimeZone       *time.Location
	LoginRate      float64 // logins per second per client address (IPv6: per /64); burst 2×; 0 = off
	TrustedProxies []netip.Prefix
	StorageDir     string
	PublicURL      string
	Now            func() time.Time
	UploadRate     float64        // uploads per user and minute, burst that many; 0 = off
	BindPhoneRate  float64        // bindPhone calls per user and minute, burst that many; 0 = off
	Files          *storage.Store // nil: a store on StorageDir that records nothing (tests, embedding)
	// Metrics is the registry the handler feeds; nil: a new one. serve
	// shares it with the WeChat client (an Observer) and --metrics-addr.
	Metrics *Metrics
	// MetricsElsewhere leaves GET /metrics out of the handler: it is served
	// on a listener of its own (--metrics-addr).
	MetricsElsewhere bool
}

// maxLimiters caps the keys (addresses, users) each rate limiter tracks
// at once; beyond it the least recently used is forgotten. A variable so
// that tests reach the cap with fewer addresses.
var maxLimiters = 100_000

// readyTimeout bounds the database ping of /readyz.
const readyTimeout = 2 * time.Second

type server struct {
	cfg      Config
	log      *slog.Logger
	metrics  *Metrics
	limits   *limiters[netip.Addr]
	idBase   string
	idSeq    atomic.Uint64
	handler  http.Handler
	patterns []string // every route registered, for RoutePatterns
}

// New returns the handler of `oactl serve`.
func New(cfg Config) http.Handler { return newServer(cfg).handler }

// RoutePatterns lists every route pattern the handler of cfg registers
// ("POST /wx/auth/login_by_weixin", "GET /healthz", ...): the OpenAPI
// document's test holds it against docs/openapi.yaml.
func RoutePatterns(cfg Config) []string { return newServer(cfg).patterns }

func newServer(cfg Config) *server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StorageDir == "" {
		cfg.StorageDir = storage.DefaultDir
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	s := &server{cfg: cfg, log: cfg.Logger, metrics: cfg.Metrics}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.idBase = hex.EncodeToString(b[:])
	if cfg.LoginRate > 0 {
		s.limits = newLimiters[netip.Addr](cfg.LoginRate, int(2*cfg.LoginRate), maxLimiters)
	}
	files := cfg.Files
	if files == nil {
		files = &storage.Store{Dir: cfg.StorageDir, Now: cfg.Now, Logger: cfg.Logger}
	}

	mux := http.NewServeMux()
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, h)
		s.patterns = append(s.patterns, pattern)
	}
	apiOpts := api.Options{
		TimeZone: cfg.TimeZone, TrustedProxies: cfg.TrustedProxies, Logger: cfg.Logger,
		Files: files, PublicURL: cfg.PublicURL,
		UploadLimit: s.perUser(cfg.UploadRate), BindPhoneLimit: s.perUser(cfg.BindPhoneRate),
	}
	for _, rt := range api.Routes(cfg.Service, apiOpts) {
		h := rt.Handler
		if rt.Pattern == api.PatternLogin && s.limits != nil {
			h = s.rateLimit(h)
		}
		handle(rt.Pattern, h)
	}
	handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusOK, "ok\n")
	}))
	handle("GET /readyz", http.HandlerFunc(s.readyz))
	if !cfg.MetricsElsewhere {
		handle("GET /metrics", s.metrics)
	}
	s.handler = s.observe(recoverer(s.log, api.EnvelopeRouting(mux)))
	return s
}

func plain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Store == nil {
		plain(w, http.StatusServiceUnavailable, "no database configured\n")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	st, err := s.cfg.Store.Ping(ctx)
	if err != nil {
		s.log.WarnContext(r.Context(), "readyz: database", "err", wechat.Redact(err.Error()))
		plain(w, http.StatusServiceUnavailable, "database unavailable\n")
		return
	}
	if err := st.Check(); err != nil {
		plain(w, http.StatusServiceUnavailable, err.Error()+": run oactl migrate up\n")
		return
	}
	switch {
	case st.Current > st.Required:
		plain(w, http.StatusOK, fmt.Sprintf("ok: schema version %d is newer than this binary's %d\n", st.Current, st.Required))
	default:
		plain(w, http.StatusOK, fmt.Sprintf("ok: schema version %d\n", st.Current))
	}
}

// rateLimit refuses logins beyond the per-address rate before the body is
// read: a flood costs neither a body read nor a WeChat call.
func (s *server) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientKey(api.ClientOf(r, s.cfg.TrustedProxies))
		if ok, wait := s.limits.allow(addr, s.cfg.Now()); !ok {
			api.WriteRateLimited(w, r, wait)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// perUser is a per-user limit of perMinute requests a minute (burst
// perMinute), or nil when perMinute is 0. Like the login limit it lives
// in this process: n serve processes admit up to n times the rate.
func (s *server) perUser(perMinute float64) api.UserLimit {
	if perMinute <= 0 {
		return nil
	}
	l := newLimiters[int64](perMinute/60, int(math.Ceil(perMinute)), maxLimiters)
	return func(userID int64) (bool, time.Duration) { return l.allow(userID, s.cfg.Now()) }
}

// statusWriter remembers the status for the log line and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe is the outermost middleware: it computes the client address,
// the one time a request's address is computed (the rate limit and the
// login read it from the RequestInfo), writes one log line per request
// and feeds the metrics. Neither log nor metrics ever sees a body, a token
// or a code: only the route pattern, never the raw path (a fetch key or a
// junk path would leak or explode labels).
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		id := s.idBase + "-" + strconv.FormatUint(s.idSeq.Add(1), 10)
		ri := api.NewRequestInfo(r, s.cfg.TrustedProxies)
		r = r.WithContext(api.WithRequestInfo(r.Context(), ri))
		w.Header()["X-Request-Id"] = []string{id} // canonical already: Set would redo it
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			d := s.cfg.Now().Sub(start)
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			status := sw.status
			switch {
			case ri.ClientGone && status == 0:
				status = StatusClientClosed
			case status == 0:
				status = http.StatusOK
			}
			s.metrics.request(route, status, d)
			if r.Pattern == api.PatternLogin && ri.HasBody {
				s.metrics.login(ri.Errno)
			}
			if !s.log.Enabled(r.Context(), slog.LevelInfo) {
				return
			}
			var buf [9]slog.Attr
			attrs := append(buf[:0],
				slog.String("id", id),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Duration("duration", d),
				slog.String("ip", clientString(ri.Client)))
			if ri.HasBody {
				attrs = append(attrs, slog.Int("errno", ri.Errno))
			}
			if ri.UserID != 0 {
				attrs = append(attrs, slog.Int64("user", ri.UserID))
			}
			if status == StatusClientClosed {
				attrs = append(attrs, slog.String("outcome", "client closed the connection before the answer"))
			}
			logLine(r.Context(), s.log.Handler(), time.Now(), "request", attrs)
		}()
		next.ServeHTTP(sw, r)
	})
}

// logLine writes an info line of msg and attrs through h. It goes to the
// handler directly: Logger.LogAttrs would walk the stack for a source
// location that no handler of ours prints, on every request. The
// commands' handler (logfmt) takes the line from its parts: a slog.Record
// holds five attributes without an allocation, and the request line has
// up to nine (called on the concrete type, attrs stay on the stack).
func logLine(ctx context.Context, h slog.Handler, at time.Time, msg string, attrs []slog.Attr) {
	if l, ok := h.(*logfmt.Handler); ok {
		_ = l.Log(ctx, at, slog.LevelInfo, msg, attrs...)
		return
	}
	rec := slog.NewRecord(at, slog.LevelInfo, msg, 0)
	rec.AddAttrs(attrs...)
	_ = h.Handle(ctx, rec)
}

func clientString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// errPanic is what a recovered panic answers as: an internal failure.
var errPanic = errors.New("panic")

// recoverer turns a panic into a 502 envelope (when nothing was written
// yet) and a log line with the panic value, never the request.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw, _ := w.(*statusWriter)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.ErrorContext(r.Context(), "panic", "route", r.Pattern, "panic", wechat.Redact(fmt.Sprint(v)))
			if sw == nil || sw.status == 0 {
				api.WriteError(w, r, nil, errPanic)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
