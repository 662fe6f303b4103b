package mockwx

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseCode(t *testing.T) {
	ok := map[string]parsedCode{
		"alice":               {user: "alice"},
		"alice.1":             {user: "alice"},
		"a.b.c":               {user: "a"},
		"err-1~x":             {user: "x", directives: []directive{{dirErr, -1}}},
		"slow10~http502~y.z":  {user: "y", directives: []directive{{dirSlow, 10}, {dirHTTP, 502}}},
		"garbage~drop~u":      {user: "u", directives: []directive{{dirGarbage, 0}, {dirDrop, 0}}},
		"slow60000~u":         {user: "u", directives: []directive{{dirSlow, 60000}}},
		"err40029~err0~u.1.2": {user: "u", directives: []directive{{dirErr, 40029}, {dirErr, 0}}},
	}
	for code, want := range ok {
		got, err := parseCode(code)
		if err != nil || got.user != want.user || len(got.directives) != len(want.directives) {
			t.Errorf("parseCode(%q) = %+v, %v", code, got, err)
			continue
		}
		for i := range want.directives {
			if got.directives[i] != want.directives[i] {
				t.Errorf("parseCode(%q) directive %d = %+v", code, i, got.directives[i])
			}
		}
	}
	bad := []string{"", "~", "~x", "x~", "drop~", ".x", "err~x", "err+1~x", "err1.5~x", "err--1~x", "slow-1~x",
		"slow60001~x", "http1~x", "http600~x", "ERR1~x", "errx~y", "a b", "a\x00b", "\xff", "é", strings.Repeat("a", 129),
		"err9999999999~x", "Drop~x", " drop~x"}
	for _, code := range bad {
		if got, err := parseCode(code); err == nil {
			t.Errorf("parseCode(%q) = %+v, want an error", code, got)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"alice.1", "err-1~slow5~http502~garbage~drop~u.1", "~", "x~y~z", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		pc, err := parseCode(code)
		if err != nil {
			return
		}
		if pc.user == "" || strings.ContainsAny(pc.user, "~.") || len(code) > maxCodeLen {
			t.Fatalf("parseCode(%q) accepted user %q", code, pc.user)
		}
		if len(pc.directives) != strings.Count(code, "~") {
			t.Fatalf("parseCode(%q): %d directives", code, len(pc.directives))
		}
		for _, d := range pc.directives {
			if d.kind == dirSlow && (d.n < 0 || d.n > maxSlow) || d.kind == dirHTTP && (d.n < 200 || d.n > 599) {
				t.Fatalf("parseCode(%q): directive %+v out of range", code, d)
			}
		}
		// The server answers it without crashing (codes that would sleep
		// or hijack a recorder's connection are left to the HTTP tests).
		if strings.Contains(code, "slow") || strings.Contains(code, "drop") {
			return
		}
		s := New(Config{})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/sns/jscode2session", nil)
		req.URL.RawQuery = url.Values{"appid": {"a"}, "secret": {"s"}, "js_code": {code}}.Encode()
		s.ServeHTTP(rec, req)
		if rec.Code == 0 {
			t.Fatal("no answer")
		}
	})
}

// BenchmarkCodeMemory sends 1,000,000 distinct codes through the handler
// while the injected clock advances so that 10,000 codes fit in the 2×ttl
// window, and reports the live heap after 10k and after 1M codes: both
// are the window's, not the total's.
func BenchmarkCodeMemory(b *testing.B) {
	for range b.N {
		ttl := time.Minute
		now := time.Unix(1_700_000_000, 0)
		s := New(Config{CodeTTL: ttl, Now: func() time.Time { return now }})
		step := 2 * ttl / 10_000
		heap := func() float64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return float64(m.HeapAlloc)
		}
		base := heap()
		req := httptest.NewRequest(http.MethodGet, "/sns/jscode2session", nil)
		var at10k float64
		for i := range 1_000_000 {
			now = now.Add(step)
			// 1,000 users, each with many codes: the user table stays
			// small, so the heap measures the code store.
			req.URL.RawQuery = "appid=wxbench&secret=s&js_code=u" + strconv.Itoa(i%1000) + "." + strconv.Itoa(i)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != 200 || strings.Contains(rec.Body.String(), "errcode") {
				b.Fatalf("code %d: %d %s", i, rec.Code, rec.Body)
			}
			if i == 9_999 {
				at10k = heap() - base
			}
		}
		at1M := heap() - base
		b.ReportMetric(at10k/1024, "heapKiB@10k")
		b.ReportMetric(at1M/1024, "heapKiB@1M")
		b.ReportMetric(at1M/at10k, "ratio")
		b.ReportMetric(float64(s.codes.len()), "codes-remembered")
		runtime.KeepAlive(s)
	}
}

func liveHeap() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc)
}

// TestBehavioursAreBounded gives the cap of 1,000,000 users a behaviour,
// logs the live heap they take, and checks that the next user is refused
// over HTTP with a clear error while known users can still change.
func TestBehavioursAreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("fills the behaviour table")
	}
	s := New(Config{AppID: "wxbench"})
	base := liveHeap()
	s.mu.Lock()
	for i := range maxBehaviours {
		s.setBehaviour("u"+strconv.Itoa(i), Behaviour{Errcode: 40226, RiskRank: i % 5, StickySessionKey: i%2 == 0})
	}
	s.mu.Unlock()
	used := liveHeap() - base
	t.Logf("%d users with a behaviour: %.1f MiB of live heap, %.1f bytes a user", maxBehaviours, used/(1<<20), used/maxBehaviours)
	if used/maxBehaviours > 64 {
		t.Errorf("%.1f bytes a user, want at most 64", used/maxBehaviours)
	}
	do := func(method, path, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Host = "127.0.0.1" // the helpers answer only a loopback Host
		s.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("PUT", "/__mock/users/newcomer", `{"errcode":-1}`); rec.Code != http.StatusInsufficientStorage || !strings.Contains(rec.Body.String(), "too many users") {
		t.Errorf("PUT beyond the cap: %d %s", rec.Code, rec.Body)
	}
	if rec := do("PUT", "/__mock/users/u7", `{"riskRank":4}`); rec.Code != 200 {
		t.Errorf("PUT a known user at the cap: %d %s", rec.Code, rec.Body)
	}
	if rec := do("GET", "/sns/jscode2session?appid=wxbench&secret=s&js_code=u3.1", ""); !strings.Contains(rec.Body.String(), "code blocked") {
		t.Errorf("a blocked user among a million: %s", rec.Body)
	}
	do("DELETE", "/__mock/users/u8", "")
	if rec := do("PUT", "/__mock/users/newcomer", `{"errcode":-1}`); rec.Code != 200 {
		t.Errorf("PUT after a DELETE made room: %d %s", rec.Code, rec.Body)
	}
	runtime.KeepAlive(s)
}

func TestScriptFaultsAreApplied(t *testing.T) {
	sc, err := ParseScript("s.yaml", []byte("faults: {errorRate: 0.25, errcode: 45011, latencyMs: 100, jitterMs: 50, seed: 18446744073709551615}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Script: sc})
	if want := (Faults{ErrorRate: 0.25, Errcode: 45011, LatencyMs: 100, JitterMs: 50, Seed: 1<<64 - 1}); s.faults != want {
		t.Errorf("faults %+v, want %+v", s.faults, want)
	}
}

// BenchmarkBehaviourMemory gives 1,000,000 users a behaviour through
// PUT /__mock/users/{user} and reports the live heap they take.
func BenchmarkBehaviourMemory(b *testing.B) {
	for range b.N {
		s := New(Config{})
		base := liveHeap()
		req := httptest.NewRequest(http.MethodPut, "/", nil)
		for i := range 1_000_000 {
			req.URL.Path = "/__mock/users/user" + strconv.Itoa(i)
			req.Body = io.NopCloser(strings.NewReader(`{"errcode":40226,"riskRank":3,"stickySessionKey":true}`))
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("user %d: %d %s", i, rec.Code, rec.Body)
			}
		}
		used := liveHeap() - base
		b.ReportMetric(used/(1<<20), "heapMiB@1M")
		b.ReportMetric(used/1_000_000, "bytes/user")
		runtime.KeepAlive(s)
	}
}

// TestLoginFastPathAnswersAsTheMux sends the same requests through
// ServeHTTP (which answers jscode2session without the mux) and through
// the mux alone, each to its own fresh server, and wants the same answers.
func TestLoginFastPathAnswersAsTheMux(t *testing.T) {
	q := "?appid=wx1&secret=s&js_code=alice.1&grant_type=authorization_code"
	for _, tc := range []struct{ method, target string }{
		{"GET", "/sns/jscode2session" + q},
		{"HEAD", "/sns/jscode2session" + q},
		{"POST", "/sns/jscode2session" + q},
		{"PUT", "/sns/jscode2session" + q},
		{"GET", "/sns/jscode2session/" + q},
		{"GET", "/sns/jscode2session"},
		{"GET", "/sns/%6Ascode2session" + q},
		{"GET", "/sns%2Fjscode2session" + q},
		{"GET", "/sns/jscode2session%2F" + q},
		{"GET", "/sns//jscode2session" + q},
		{"GET", "/SNS/jscode2session" + q},
	} {
		answer := func(h func(*Server) http.Handler) (int, string, string) {
			s := New(Config{})
			rec := httptest.NewRecorder()
			h(s).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
		}
		c1, t1, b1 := answer(func(s *Server) http.Handler { return s })
		c2, t2, b2 := answer(func(s *Server) http.Handler { return s.mux })
		if c1 != c2 || t1 != t2 || b1 != b2 {
			t.Errorf("%s %s: ServeHTTP %d %q %s, the mux %d %q %s", tc.method, tc.target, c1, t1, b1, c2, t2, b2)
		}
	}
}

// TestLogLine checks the one line a request writes: its fields at info,
// the method, appid and redacted query string only when the log shows
// debug lines, and the same text whether the route's shared attributes
// were formatted once (a fixed path; a success) or on the line.
func TestLogLine(t *testing.T) {
	login := "/sns/jscode2session?appid=wx1&secret=topsecret&js_code=alice.secretcode&grant_type=authorization_code"
	requests := []struct {
		method, target, line, debug string
	}{
		{"GET", login, `path=/sns/jscode2session status=200 errcode=0 user=alice`,
			` method=GET appid=wx1 query="appid=wx1&secret=REDACTED&js_code=REDACTED&grant_type=authorization_code"`},
		{"GET", login, `path=/sns/jscode2session status=200 errcode=40163 user=alice`,
			` method=GET appid=wx1 query="appid=wx1&secret=REDACTED&js_code=REDACTED&grant_type=authorization_code"`},
		{"HEAD", "/sns/jscode2session?appid=wx1&secret=s&js_code=http502~bob.1", `path=/sns/jscode2session status=502 errcode=0 user=bob`,
			` method=HEAD appid=wx1 query="appid=wx1&secret=REDACTED&js_code=REDACTED"`},
		{"GET", "/__mock/users/carol?appid=wx1", `path=/__mock/users/carol status=200 errcode=0 user=carol`,
			` method=GET appid=wx1 query="appid=wx1"`},
		{"GET", "/__mock/healthz", `path=/__mock/healthz status=200 errcode=0 user=""`,
			` method=GET appid="" query=""`},
		{"POST", "/nothing/here", `path=/nothing/here status=404 errcode=-1 user=""`,
			` method=POST appid="" query=""`},
	}
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug, slog.LevelWarn} {
		var buf strings.Builder
		s := New(Config{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))})
		for _, req := range requests {
			r := httptest.NewRequest(req.method, req.target, nil)
			r.Host = "127.0.0.1" // the helpers answer only a loopback Host
			s.ServeHTTP(httptest.NewRecorder(), r)
		}
		if level == slog.LevelWarn {
			if buf.Len() != 0 {
				t.Errorf("at warn: %q", buf.String())
			}
			continue
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != len(requests) {
			t.Fatalf("at %v: %d lines, want one per request: %q", level, len(lines), buf.String())
		}
		for i, req := range requests {
			want := ` level=INFO msg=request ` + regexp.QuoteMeta(req.line) + ` ms=\d+`
			if level == slog.LevelDebug {
				want += regexp.QuoteMeta(req.debug)
			}
			if !regexp.MustCompile(want + `$`).MatchString(lines[i]) {
				t.Errorf("at %v, %s %s: %q, want it to match %q", level, req.method, req.target, lines[i], want)
			}
			if strings.Contains(lines[i], "topsecret") || strings.Contains(lines[i], "secretcode") {
				t.Errorf("at %v: a secret in %q", level, lines[i])
			}
		}
	}
}

// TestLogLineJSON: the attributes formatted once come out in the same
// place in a JSON log too.
func TestLogLineJSON(t *testing.T) {
	var buf strings.Builder
	s := New(Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil)).With("component", "mockwx")})
	for range 2 {
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/sns/jscode2session?appid=wx1&secret=s&js_code=alice.1", nil))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for i, errcode := range []string{"0", "40163"} {
		want := `"level":"INFO","msg":"request","component":"mockwx","path":"/sns/jscode2session","status":200,"errcode":` + errcode + `,"user":"alice","ms":\d+}$`
		if len(lines) != 2 || !regexp.MustCompile(want).MatchString(lines[i]) {
			t.Errorf("line %d of %q, want it to match %q", i, lines, want)
		}
	}
}

// TestUsersByName logs users in again and again under two appids: the
// openid a returning user's entry brings is the one the spec's formula
// gives, per appid; beyond maxUsers the oldest user leaves both indexes,
// and an entry found before it was forgotten is not brought back.
func TestUsersByName(t *testing.T) {
	s := New(Config{})
	login := func(appid, code string) string {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/sns/jscode2session?appid="+appid+"&secret=s&js_code="+code, nil))
		return rec.Body.String()
	}
	for i := range 3 {
		for _, appid := range []string{"wxa", "wxb"} {
			for _, user := range []string{"alice", "bob"} {
				body := login(appid, user+"."+appid+strconv.Itoa(i))
				if want := `"openid":"` + OpenID(DefaultSeed, appid, user) + `"`; !strings.Contains(body, want) {
					t.Errorf("login %d of %s under %s: %s, want %s", i, user, appid, body, want)
				}
			}
		}
	}
	if len(s.users) != 4 || len(s.byName) != 4 {
		t.Fatalf("%d users by openid, %d by name, want 4 and 4", len(s.users), len(s.byName))
	}
	for openid, u := range s.users {
		if s.byName[idKey{u.appid, u.user}] != u || u.openid != openid {
			t.Errorf("user %+v is not the same entry in both indexes", u)
		}
	}

	first := s.byName[idKey{"wxa", "alice"}]
	s.mu.Lock()
	for i := len(s.users); i < maxUsers+1; i++ {
		user := "u" + strconv.Itoa(i)
		s.setSessionKey(nil, OpenID(DefaultSeed, "wxz", user), "wxz", user, "k", 0, false)
	}
	s.mu.Unlock()
	if len(s.users) != maxUsers || len(s.byName) != maxUsers || !first.forgotten || s.byName[idKey{"wxa", "alice"}] != nil {
		t.Fatalf("at the cap: %d by openid, %d by name, the first user forgotten: %v", len(s.users), len(s.byName), first.forgotten)
	}
	// A login that found alice's entry before she was forgotten sets her
	// key on a new entry, not on the forgotten one.
	s.mu.Lock()
	s.setSessionKey(first, first.openid, "wxa", "alice", "newkey", 1, false)
	s.mu.Unlock()
	if u := s.byName[idKey{"wxa", "alice"}]; u == nil || u == first || u.sessionKey != "newkey" || s.users[first.openid] != u {
		t.Errorf("alice after a login with her forgotten entry: %+v", u)
	}
	if key, ok := s.sessionKeyOf("wxa", "alice"); !ok || key != "newkey" {
		t.Errorf("sessionKeyOf alice: %q %v", key, ok)
	}
	if body := login("wxb", "carol.1"); !strings.Contains(body, OpenID(DefaultSeed, "wxb", "carol")) {
		t.Errorf("a new user at the cap: %s", body)
	}
}
