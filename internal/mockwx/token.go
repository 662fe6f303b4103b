package mockwx

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Access-token rules, as WeChat documents them.
const (
	tokenTTL = 7200 * time.Second
	// tokenOverlap: a token replaced by /cgi-bin/token keeps working this
	// long, and stable_token hands out a new token only in the last
	// tokenOverlap of the current one's life, so expires_in >= 300.
	tokenOverlap = 5 * time.Minute
	// Forced stable_token refreshes: at most forceRefreshPerDay a day per
	// appid (a day of China Standard Time, UTC+8), forceRefreshGap apart.
	forceRefreshPerDay = 20
	forceRefreshGap    = 30 * time.Second
)

type tokenEntry struct {
	appid string
	exp   time.Time // natural end of life: 42001 from then on
	until time.Time // zero, or when a replaced token stops: 40001 from then on
}

// appTokens are the live tokens of one appid: at most two of each kind
// (the current one and the one it replaced, during the overlap), so the
// token table stays within 4 × maxApps entries.
type appTokens struct {
	normal, prevNormal string
	stable, prevStable string
	forceDay           int64 // day (UTC+8) that forceN counts
	forceN             int
	lastForce          time.Time
}

// newToken mints an access token; callers hold s.mu.
func (s *Server) newToken(appid, kind string, now time.Time) string {
	s.tokenSeq++
	sum := s.mac.sum("access_token\n", appid, "\n", kind, "\n",
		strconv.FormatInt(now.UnixNano(), 10), "\n", strconv.FormatUint(s.tokenSeq, 10))
	tok := base64.RawURLEncoding.EncodeToString(sum[:])
	s.tokens[tok] = tokenEntry{appid: appid, exp: now.Add(tokenTTL)}
	return tok
}

// retire lets tok work for tokenOverlap more (or until its natural end,
// if sooner) and reports whether it is still in the table; callers hold
// s.mu.
func (s *Server) retire(tok string, now time.Time) bool {
	t, ok := s.tokens[tok]
	if !ok || !now.Before(t.exp) {
		delete(s.tokens, tok)
		return false
	}
	if end := now.Add(tokenOverlap); end.Before(t.exp) && (t.until.IsZero() || end.Before(t.until)) {
		t.until = end
		s.tokens[tok] = t
	}
	return true
}

// appTokensOf returns appid's token slots, making room when too many
// appids have asked; callers hold s.mu.
func (s *Server) appTokensOf(appid string) *appTokens {
	a, ok := s.apps[appid]
	if !ok {
		if len(s.apps) >= maxApps {
			clear(s.apps)
			clear(s.tokens)
		}
		a = &appTokens{}
		s.apps[appid] = a
	}
	return a
}

// chinaDay numbers the days of China Standard Time, when WeChat's daily
// quotas start again.
func chinaDay(t time.Time) int64 {
	const offset = 8 * 3600
	sec := t.Unix() + offset
	if sec < 0 {
		return (sec - 86399) / 86400
	}
	return sec / 86400
}

// allowForce reports whether a forced refresh is allowed at now, and
// counts it if so.
func (a *appTokens) allowForce(now time.Time) bool {
	if day := chinaDay(now); day != a.forceDay {
		a.forceDay, a.forceN = day, 0
	}
	if a.forceN >= forceRefreshPerDay || !a.lastForce.IsZero() && now.Sub(a.lastForce) < forceRefreshGap {
		return false
	}
	a.forceN++
	a.lastForce = now
	return true
}

func tokenBody(tok string, expires time.Duration) []byte {
	b, _ := json.Marshal(map[string]any{"access_token": tok, "expires_in": int64(expires / time.Second)})
	return b
}

// cgiToken is GET /cgi-bin/token: every call mints a new token; the
// previous one keeps working for 5 minutes (WeChat's hand-over), the one
// before it stops at once.
func (s *Server) cgiToken(w *recorder, r *http.Request) {
	if !s.applyFaults(w, r, ctJSON) {
		return
	}
	q := parseQuery(r)
	appid := q.Get("appid")
	w.appid = appid
	if q.Get("grant_type") != "client_credential" {
		wxError(w, ctJSON, 40002)
		return
	}
	if e := s.checkApp(appid, q.Get("secret")); e != 0 {
		wxError(w, ctJSON, e)
		return
	}
	now := s.now()
	s.mu.Lock()
	a := s.appTokensOf(appid)
	delete(s.tokens, a.prevNormal)
	a.prevNormal = ""
	if a.normal != "" && s.retire(a.normal, now) {
		a.prevNormal = a.normal
	}
	a.normal = s.newToken(appid, "normal", now)
	tok := a.normal
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, ctJSON, tokenBody(tok, tokenTTL))
}

// stableToken is POST /cgi-bin/stable_token: the same token until its
// last 5 minutes, then a new one (the old one works until its end);
// force_refresh replaces it at once, at most 20 times a day and 30 s
// apart (else 45009).
func (s *Server) stableToken(w *recorder, r *http.Request) {
	if !s.applyFaults(w, r, ctJSON) {
		return
	}
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if !decodeBody(w, r, &req) {
		wxError(w, ctJSON, 47001)
		return
	}
	w.appid = req.AppID
	if req.GrantType != "client_credential" {
		wxError(w, ctJSON, 40002)
		return
	}
	if e := s.checkApp(req.AppID, req.Secret); e != 0 {
		wxError(w, ctJSON, e)
		return
	}
	now := s.now()
	s.mu.Lock()
	a := s.appTokensOf(req.AppID)
	if req.ForceRefresh {
		if !a.allowForce(now) {
			s.mu.Unlock()
			w.note = "force_refresh quota"
			wxError(w, ctJSON, 45009)
			return
		}
		// A forced refresh is for a leaked token: nothing old survives.
		delete(s.tokens, a.stable)
		delete(s.tokens, a.prevStable)
		a.stable, a.prevStable = s.newToken(req.AppID, "stable", now), ""
	} else if t, ok := s.tokens[a.stable]; !ok || t.exp.Sub(now) <= tokenOverlap {
		delete(s.tokens, a.prevStable)
		a.prevStable = ""
		if ok && now.Before(t.exp) {
			a.prevStable = a.stable
		} else {
			delete(s.tokens, a.stable)
		}
		a.stable = s.newToken(req.AppID, "stable", now)
	}
	tok := a.stable
	exp := s.tokens[tok].exp
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, ctJSON, tokenBody(tok, exp.Sub(now)))
}

// tokenCall starts a WeChat API call authenticated by ?access_token=:
// faults, then the token. It returns the token's appid, or false when the
// request has been answered.
func (s *Server) tokenCall(w *recorder, r *http.Request) (string, bool) {
	if !s.applyFaults(w, r, ctJSON) {
		return "", false
	}
	appid, e := s.tokenApp(parseQuery(r).Get("access_token"))
	if e != 0 {
		wxError(w, ctJSON, e)
		return "", false
	}
	w.appid = appid
	return appid, true
}

// tokenApp checks an access token and returns its appid, or the errcode.
func (s *Server) tokenApp(tok string) (string, int) {
	if tok == "" {
		return "", 41001
	}
	now := s.now()
	s.mu.Lock()
	t, ok := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case !ok, !t.until.IsZero() && !now.Before(t.until):
		return "", 40001
	case !now.Before(t.exp):
		return "", 42001
	}
	return t.appid, 0
}
