package mockwx

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// JournalEntry is one request as /__mock/journal shows it. It holds no
// secret: no query string, no body, no code, only the user a code named.
type JournalEntry struct {
	Time    time.Time `json:"time"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	AppID   string    `json:"appid,omitempty"`
	User    string    `json:"user,omitempty"`
	Status  int       `json:"status"` // 0: connection dropped
	Errcode int       `json:"errcode"`
	Ms      int64     `json:"ms"`
	Note    string    `json:"note,omitempty"`

	api string // the route's api name, for filters
}

// journalFilter selects entries: by api (the route path's last segment),
// user and time (at or after since); zero fields match everything.
type journalFilter struct {
	api, user string
	since     time.Time
}

func (f journalFilter) match(e *JournalEntry) bool {
	return (f.api == "" || e.api == f.api) &&
		(f.user == "" || e.User == f.user) &&
		(f.since.IsZero() || !e.Time.Before(f.since))
}

// journal is a ring buffer of the newest entries.
type journal struct {
	mu      sync.Mutex
	entries []JournalEntry
	next    int
	full    bool
	dropped time.Time // the newest entry the ring overwrote since it was cleared
}

func newJournal(size int) *journal { return &journal{entries: make([]JournalEntry, size)} }

func (j *journal) add(e JournalEntry) {
	j.mu.Lock()
	if j.full && j.entries[j.next].Time.After(j.dropped) {
		j.dropped = j.entries[j.next].Time
	}
	j.entries[j.next] = e
	j.next++
	if j.next == len(j.entries) {
		j.next, j.full = 0, true
	}
	j.mu.Unlock()
}

// list returns the entries f matches, oldest first, and whether they are
// all there: false when the ring has overwritten an entry at or after
// since (any entry if since is zero) since it was last cleared.
func (j *journal) list(f journalFilter) ([]JournalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]JournalEntry, 0, 16)
	add := func(es []JournalEntry) {
		for i := range es {
			if f.match(&es[i]) {
				out = append(out, es[i])
			}
		}
	}
	if j.full {
		add(j.entries[j.next:])
	}
	add(j.entries[:j.next])
	complete := !j.full || !f.since.IsZero() && j.dropped.Before(f.since)
	return out, complete
}

func (j *journal) clear() {
	j.mu.Lock()
	clear(j.entries)
	j.next, j.full, j.dropped = 0, false, time.Time{}
	j.mu.Unlock()
}

// recorder is the ResponseWriter handlers get: it remembers what the
// journal and the log line need.
type recorder struct {
	http.ResponseWriter
	start   time.Time // wall clock, when the request came in
	status  int
	errcode int
	appid   string
	user    string
	note    string
	dropped bool
	// buf is scratch space for building a short answer (a login's), which
	// Write copies out.
	buf [192]byte
}

// recorders are reused from request to request: with the answer built in
// a recorder's buf, a login allocates only its openid and session_key
// strings and its log line's attributes (BenchmarkHandlerVsBare).
var recorders = sync.Pool{New: func() any { return new(recorder) }}

func getRecorder(w http.ResponseWriter, start time.Time) *recorder {
	r := recorders.Get().(*recorder)
	r.ResponseWriter, r.start = w, start
	r.status, r.errcode, r.dropped = 0, 0, false
	r.appid, r.user, r.note = "", "", ""
	return r
}

func putRecorder(r *recorder) {
	r.ResponseWriter = nil
	r.appid, r.user, r.note = "", "", "" // they point into the request
	recorders.Put(r)
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (for drop~).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type handlerFunc func(w *recorder, r *http.Request)

// wrap adds what every request gets: a body cap, one log line and
// (for journaled routes) a journal entry.
func (s *Server) wrap(journaled bool, api, path string, fn handlerFunc) http.Handler {
	lines := s.routeLog(path)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := getRecorder(w, start)
		// Deferred first, so it runs last: after the log line and the entry.
		defer putRecorder(rec)
		if r.Body != nil && r.Body != http.NoBody { // nothing to cap on a GET
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		defer func() {
			// Wall time, not the injected clock: this is how long the
			// client waited. The one reading serves the journal and the
			// log line too, instead of a reading each (time.Now is 60 ns
			// here).
			end := time.Now()
			ms := end.Sub(start).Milliseconds()
			status := rec.status
			if rec.dropped {
				status = 0
			} else if status == 0 {
				status = http.StatusOK
			}
			if journaled {
				s.journal.add(JournalEntry{
					Time: s.clock(end).UTC(), Method: r.Method, Path: r.URL.Path,
					AppID: rec.appid, User: rec.user, Status: status,
					Errcode: rec.errcode, Ms: ms, Note: rec.note, api: api,
				})
			}
			s.logRequest(lines, end, r, rec, status, ms)
		}()
		fn(rec, r)
	})
}

// routeLogs are the log handlers of one route, with the attributes its
// lines share formatted once (slog's WithAttrs) instead of on every line:
// a route with a fixed path logs that path every time, and its successes
// status 200 and errcode 0 (a quarter of a login's line, 800 → 600 ns in
// a benchmark of slog's text handler). The lines read the same either way.
type routeLogs struct {
	path       string       // "" when the route's path varies
	withPath   slog.Handler // path=...
	withPathOK slog.Handler // path=... status=200 errcode=0
}

func (s *Server) routeLog(path string) *routeLogs {
	h := s.cfg.Logger.Handler()
	l := &routeLogs{path: path}
	if path != "" {
		l.withPath = h.WithAttrs([]slog.Attr{slog.String("path", path)})
		l.withPathOK = h.WithAttrs([]slog.Attr{slog.String("path", path), slog.Int("status", http.StatusOK), slog.Int("errcode", 0)})
	}
	return l
}

// logRequest writes the request's log line: path, status, errcode, user
// and ms, and with debug lines on, the method, the appid and the redacted
// query string too. The line was half of jscode2session's own CPU
// (measured with BenchmarkHandlerVsBare and under wrk, docs/PERFORMANCE.md),
// hence these choices (and routeLogs):
//   - the query string only at debug: quoting it was 40% of the line's
//     cost, and what it holds that the line does not (grant_type, which
//     parameters were sent) is rarely what a tester needs; a failure's
//     errcode names a missing parameter;
//   - five attributes at info, the number a slog.Record holds without an
//     allocation (a sixth costs a quarter of the line); the method and the
//     appid are in the journal;
//   - the record goes to the handler directly: Logger.LogAttrs walks the
//     stack for the caller's address on every call, which a line without
//     source never prints.
func (s *Server) logRequest(l *routeLogs, end time.Time, r *http.Request, rec *recorder, status int, ms int64) {
	ctx := context.Background()
	h := s.cfg.Logger.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	line := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	switch {
	case l.path == "" || r.URL.Path != l.path:
		line.AddAttrs(slog.String("path", r.URL.Path), slog.Int("status", status), slog.Int("errcode", rec.errcode))
	case status == http.StatusOK && rec.errcode == 0:
		h = l.withPathOK
	default:
		h = l.withPath
		line.AddAttrs(slog.Int("status", status), slog.Int("errcode", rec.errcode))
	}
	line.AddAttrs(slog.String("user", rec.user), slog.Int64("ms", ms))
	if h.Enabled(ctx, slog.LevelDebug) {
		line.AddAttrs(slog.String("method", r.Method), slog.String("appid", rec.appid),
			slog.String("query", redactQuery(r.URL.RawQuery)))
	}
	_ = h.Handle(ctx, line)
}
