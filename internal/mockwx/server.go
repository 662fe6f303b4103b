// Package mockwx is an offline fake of WeChat's mini-program server API
// for testers and for `oactl dev`: deterministic openids and session keys,
// single-use codes, access tokens with WeChat's hand-over rules, fault
// injection through code directives, per-user behaviours that last, a
// YAML script of them applied at start, and test helpers under /__mock/
// (journal, call counts). See docs/MOCKWX.md.
package mockwx

import (
	"crypto/rand"
	"hash/maphash"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultSeed        = "oactl"
	DefaultCodeTTL     = 5 * time.Minute
	DefaultJournalSize = 1000
)

// Bounds that keep memory finite whatever clients send.
const (
	maxBody  = 64 << 10 // request bodies of POST/PUT endpoints
	maxUsers = 100_000  // remembered session keys and registered phones
	maxApps  = 10_000   // appids holding access tokens
)

// Config configures a Server. The zero value works: any appid and secret
// accepted, seed "oactl", codes remembered for 2×5m.
type Config struct {
	Seed        string        // default "oactl"
	AppID       string        // "" : any appid accepted, helpers need an explicit appid
	Secret      string        // "" : any secret accepted
	UnionID     bool          // answer unionid in jscode2session
	CodeTTL     time.Duration // default 5m
	JournalSize int           // default 1000
	Now         func() time.Time
	Logger      *slog.Logger // nil: no request log
	// Apps are more apps accepted besides AppID, each with its secret (""
	// accepts any); the helpers still default to AppID.
	Apps []App
	// Script is applied when the server starts (--script FILE; see
	// LoadScript). nil: none.
	Script *Script
}

// App is one mini-program mockwx accepts.
type App struct{ ID, Secret string }

// Server is the fake WeChat. It holds all of its state, so several can run
// in one process (tests, `oactl dev`).
type Server struct {
	cfg Config
	mac macer
	mux *http.ServeMux
	// wallClock: cfg.Now is time.Now (see clock).
	wallClock bool
	// login is the mux's handler of loginPattern (see ServeHTTP).
	login http.Handler
	rand  io.Reader // for open-data ivs

	mu         sync.Mutex
	codes      *codeStore
	users      map[string]*userEntry // by openid
	byName     map[idKey]*userEntry  // the same entries by appid and user
	userFIFO   []*userEntry          // in first-login order, for eviction
	phones     map[string]phone      // by user
	behaviours map[uint64]behaviour  // by behaviourKey(user)
	hseed      maphash.Seed
	tokens     map[string]tokenEntry // by access token
	apps       map[string]*appTokens // by appid
	tokenSeq   uint64
	mintSeq    uint64
	riskSeq    uint64
	faults     Faults
	faultRNG   *mrand.Rand
	// faultsOn is faults.active(), read without s.mu: every WeChat call
	// asks, and almost always there are none.
	faultsOn atomic.Bool
	journal  *journal
	apis     map[string]bool // the names /__mock/journal and /__mock/calls filter on
}

// userEntry is a user who logged in under an appid: what checksession,
// resetusersessionkey, getuserriskrank and the helpers read.
type userEntry struct {
	appid, user string
	openid      string
	sessionKey  string
	issued      int64 // Unix ns when sessionKey was issued (stickySessionKey)
	forgotten   bool  // evicted beyond maxUsers: in neither map any more
}

// idKey names a user under an appid.
type idKey struct{ appid, user string }

type phone struct{ number, pure, country string }

// New returns a Server for cfg, with defaults filled in.
func New(cfg Config) *Server {
	if cfg.Seed == "" {
		cfg.Seed = DefaultSeed
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.JournalSize <= 0 {
		cfg.JournalSize = DefaultJournalSize
	}
	wallClock := cfg.Now == nil
	if wallClock {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:        cfg,
		wallClock:  wallClock,
		mac:        newMacer(cfg.Seed),
		rand:       rand.Reader,
		codes:      newCodeStore(cfg.CodeTTL),
		users:      make(map[string]*userEntry),
		byName:     make(map[idKey]*userEntry),
		phones:     make(map[string]phone),
		behaviours: make(map[uint64]behaviour),
		hseed:      maphash.MakeSeed(),
		tokens:     make(map[string]tokenEntry),
		apps:       make(map[string]*appTokens),
		journal:    newJournal(cfg.JournalSize),
	}
	s.resetFaults()
	if cfg.Script != nil {
		s.apply(cfg.Script)
	}
	s.routes()
	return s
}

// The route every login calls.
const (
	loginPath    = "/sns/jscode2session"
	loginPattern = "GET " + loginPath
)

func (s *Server) routes() {
	m := http.NewServeMux()
	s.mux = m
	s.apis = make(map[string]bool)
	h := func(pattern string, journaled bool, fn handlerFunc) {
		// A route's api is its path's last segment (jscode2session,
		// stable_token, login), what the journal filters on.
		api := pattern[strings.LastIndexByte(pattern, '/')+1:]
		if strings.HasSuffix(api, "}") {
			api = ""
		}
		if journaled && api != "" {
			s.apis[api] = true
		}
		// A pattern without a wildcard matches one path.
		_, path, _ := strings.Cut(pattern, " ")
		if strings.Contains(path, "{") || strings.HasSuffix(path, "/") {
			path = ""
		}
		m.Handle(pattern, s.wrap(journaled, api, path, fn))
	}
	h(loginPattern, true, s.jscode2session)
	s.login, _ = m.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: loginPath}})
	h("GET /cgi-bin/token", true, s.cgiToken)
	h("POST /cgi-bin/stable_token", true, s.stableToken)
	h("GET /wxa/checksession", true, s.checkSession)
	h("GET /wxa/resetusersessionkey", true, s.resetUserSessionKey)
	h("POST /wxa/getuserriskrank", true, s.userRiskRank)
	h("POST /wxa/business/getuserphonenumber", true, s.phoneNumber)
	h("POST /__mock/login", true, s.mockLogin)
	h("GET /__mock/users/{user}", true, s.mockUser)
	h("PUT /__mock/users/{user}", true, s.mockUserPut)
	h("DELETE /__mock/users/{user}", true, s.mockUserDelete)
	h("PUT /__mock/phones/{user}", true, s.mockPhone)
	h("POST /__mock/encrypt", true, s.mockEncrypt)
	h("GET /__mock/journal", false, s.mockJournal)
	h("DELETE /__mock/journal", false, s.mockJournalClear)
	h("GET /__mock/calls", false, s.mockCalls)
	h("PUT /__mock/faults", true, s.mockFaultsSet)
	h("DELETE /__mock/faults", true, s.mockFaultsClear)
	h("GET /__mock/healthz", false, s.mockHealthz)
	h("/", true, s.notFound)
}

// ServeHTTP answers one request. The /__mock/ helpers answer only a Host
// that is "localhost" or an IP literal: a web page that rebinds its own
// DNS name to 127.0.0.1 still sends that name, so it cannot mint codes or
// read the journal of a mockwx on the tester's machine.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/__mock/") && !LocalHost(r.Host) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errcode":-1,"errmsg":"mockwx: /__mock/ answers only Host localhost or an IP address"}`)
		return
	}
	// Every login asks for jscode2session: answer it without the mux's
	// pattern matching (a tenth of the handler's CPU, measured with
	// BenchmarkHandlerVsBare). The handler is the one the mux holds, so
	// both paths answer alike; the mux's pattern also matches HEAD. A path
	// with escapes (RawPath set) is left to the mux: "/sns%2Fjscode2session"
	// is one segment to it.
	if r.URL.Path == loginPath && r.URL.RawPath == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		s.login.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// LocalHost reports whether a Host header (with or without a port) is
// "localhost" or an IP address literal: names no DNS answer can move.
func LocalHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil && !strings.Contains(host, "%")
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// clock is s.now(), given a wall-clock reading just taken: it is that
// reading unless Config.Now injects another clock.
func (s *Server) clock(wall time.Time) time.Time {
	if s.wallClock {
		return wall
	}
	return s.cfg.Now()
}
