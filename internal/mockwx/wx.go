package mockwx

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// errmsgs are WeChat's messages for the errcodes mockwx answers (and the
// usual ones testers inject with err<N>~).
var errmsgs = map[int]string{
	-1:    "system error",
	40001: "invalid credential, access_token is invalid or not latest",
	40002: "invalid grant_type",
	40003: "invalid openid",
	40013: "invalid appid",
	40029: "invalid code",
	40125: "invalid appsecret",
	40163: "code been used",
	40226: "high risk user",
	41001: "access_token missing",
	41002: "appid missing",
	41004: "appsecret missing",
	41008: "missing code",
	42001: "access_token expired",
	45011: "api minute-quota reach limit  mustslower  retry next minute",
	47001: "data format error",
	87009: "invalid signature",
}

func errmsg(code int) string {
	if m, ok := errmsgs[code]; ok {
		return m
	}
	return "mockwx errcode " + strconv.Itoa(code)
}

// errBody is WeChat's error answer.
func errBody(code int) []byte {
	b := make([]byte, 0, 64)
	b = append(b, `{"errcode":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"errmsg":`...)
	b = strconv.AppendQuote(b, errmsg(code))
	return append(b, '}')
}

const (
	ctText = "text/plain"
	ctJSON = "application/json; encoding=utf-8"
)

func writeRaw(w *recorder, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// wxError answers errcode code, HTTP 200, as WeChat does.
func wxError(w *recorder, contentType string, code int) {
	w.errcode = code
	writeRaw(w, http.StatusOK, contentType, errBody(code))
}

// parseQuery keeps whatever pairs parse: WeChat does not reject a query
// for one bad pair, it reports the parameter it then misses.
func parseQuery(r *http.Request) url.Values {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	return q
}

// sleep waits d of wall time, or until the client goes away.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// applyFaults injects the /__mock/faults settings into a WeChat API call.
// It reports false when the request has been answered (or abandoned).
func (s *Server) applyFaults(w *recorder, r *http.Request, contentType string) bool {
	s.mu.Lock()
	f := s.faults
	var delay time.Duration
	fail := false
	if f.active() {
		delay = time.Duration(f.LatencyMs) * time.Millisecond
		if f.JitterMs > 0 {
			delay += time.Duration(s.faultRNG.IntN(f.JitterMs+1)) * time.Millisecond
		}
		fail = f.ErrorRate > 0 && s.faultRNG.Float64() < f.ErrorRate
	}
	s.mu.Unlock()
	if !sleep(r.Context(), delay) {
		w.note = "client gone"
		return false
	}
	if fail {
		w.note = "fault"
		wxError(w, contentType, f.errcode())
		return false
	}
	return true
}

// answer carries what the directives of a code made of the reply.
type answer struct {
	status  int
	errcode int
	garbage bool
}

// runDirectives applies ds left to right: slow waits at once, drop closes
// at once, err / http / garbage set the pending answer (later ones win).
// It reports false when the request is over (dropped or client gone).
func runDirectives(w *recorder, r *http.Request, ds []directive) (answer, bool) {
	a := answer{status: http.StatusOK}
	for _, d := range ds {
		switch d.kind {
		case dirSlow:
			if !sleep(r.Context(), time.Duration(d.n)*time.Millisecond) {
				w.note = "client gone"
				return a, false
			}
		case dirDrop:
			drop(w)
			return a, false
		case dirErr:
			a.errcode, a.garbage = d.n, false
		case dirHTTP:
			a.status = d.n
		case dirGarbage:
			a.garbage = true
		}
	}
	return a, true
}

// drop closes the connection without an answer.
func drop(w *recorder) {
	w.dropped = true
	w.note = "dropped"
	conn, _, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		// HTTP/2 and test recorders cannot hijack: abort the stream, which
		// net/http turns into a reset without logging a panic.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// finish writes a pending answer built by directives; ok is the success
// body, used when no directive replaced it.
func finish(w *recorder, a answer, contentType string, ok []byte) {
	switch {
	case a.garbage:
		w.note = "garbage"
		writeRaw(w, a.status, contentType, []byte(`{"errcode":0,"openid":"o`))
	case a.errcode != 0:
		w.errcode = a.errcode
		writeRaw(w, a.status, contentType, errBody(a.errcode))
	case a.status != http.StatusOK:
		writeRaw(w, a.status, "text/html", []byte("<html><body>mockwx: HTTP "+strconv.Itoa(a.status)+"</body></html>"))
	default:
		writeRaw(w, http.StatusOK, contentType, ok)
	}
}

func (s *Server) checkApp(appid, secret string) int {
	switch {
	case appid == "":
		return 41002
	case secret == "":
		return 41004
	case s.cfg.AppID != "" && appid != s.cfg.AppID:
		return 40013
	case s.cfg.Secret != "" && secret != s.cfg.Secret:
		return 40125
	}
	return 0
}

func (s *Server) jscode2session(w *recorder, r *http.Request) {
	if !s.applyFaults(w, r, ctText) {
		return
	}
	q := parseQuery(r)
	appid, secret, code := q.Get("appid"), q.Get("secret"), q.Get("js_code")
	w.appid = appid
	if e := s.checkApp(appid, secret); e != 0 {
		wxError(w, ctText, e)
		return
	}
	if code == "" {
		wxError(w, ctText, 41008)
		return
	}
	if gt := q.Get("grant_type"); gt != "" && gt != "authorization_code" {
		wxError(w, ctText, 40002)
		return
	}
	pc, err := parseCode(code)
	if err != nil {
		wxError(w, ctText, 40029)
		return
	}
	w.user = pc.user
	now := s.now()
	k := keyOf("code", "", code)
	s.mu.Lock()
	e := s.codes.use(k, now)
	s.mu.Unlock()
	if e != 0 {
		wxError(w, ctText, e)
		return
	}
	a, ok := runDirectives(w, r, pc.directives)
	if !ok {
		return
	}
	if a.garbage || a.errcode != 0 || a.status != http.StatusOK {
		finish(w, a, ctText, nil)
		return
	}
	openid := s.mac.openID(appid, pc.user)
	key := s.mac.sessionKey(appid, code)
	s.mu.Lock()
	s.setSessionKey(openid, appid, pc.user, key)
	s.mu.Unlock()
	b := make([]byte, 0, 128)
	b = append(b, `{"session_key":"`...)
	b = append(b, key...)
	b = append(b, `","openid":"`...)
	b = append(b, openid...)
	if s.cfg.UnionID {
		b = append(b, `","unionid":"`...)
		b = append(b, s.mac.unionID(pc.user)...)
	}
	b = append(b, `"}`...)
	writeRaw(w, http.StatusOK, ctText, b)
}

// setSessionKey keeps the newest session_key of a user; the oldest users
// are forgotten beyond maxUsers. Callers hold s.mu.
func (s *Server) setSessionKey(openid, appid, user, key string) {
	if u, ok := s.users[openid]; ok {
		u.sessionKey = key
		return
	}
	for len(s.users) >= maxUsers && len(s.userFIFO) > 0 {
		delete(s.users, s.userFIFO[0])
		s.userFIFO[0] = ""
		s.userFIFO = s.userFIFO[1:]
	}
	s.users[openid] = &userEntry{appid: appid, user: user, sessionKey: key}
	s.userFIFO = append(s.userFIFO, openid)
}

// sessionKeyOf returns the newest session_key of user under appid.
func (s *Server) sessionKeyOf(appid, user string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[s.mac.openID(appid, user)]
	if !ok || u.appid != appid || u.user != user {
		return "", false
	}
	return u.sessionKey, true
}

// newToken mints an access token; callers hold s.mu.
func (s *Server) newToken(appid, kind string, now time.Time) string {
	s.tokenSeq++
	sum := s.mac.sum("access_token\n", appid, "\n", kind, "\n",
		strconv.FormatInt(now.UnixNano(), 10), "\n", strconv.FormatUint(s.tokenSeq, 10))
	tok := base64.RawURLEncoding.EncodeToString(sum)
	s.tokens[tok] = tokenEntry{appid: appid, exp: now.Add(tokenTTL)}
	return tok
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

func tokenBody(tok string, expires time.Duration) []byte {
	b, _ := json.Marshal(map[string]any{"access_token": tok, "expires_in": int64(expires / time.Second)})
	return b
}

// cgiToken is GET /cgi-bin/token: every call mints a new token and the
// previous one of the app stops working, as WeChat's normal tokens do.
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
	delete(s.tokens, a.normal)
	a.normal = s.newToken(appid, "normal", now)
	tok := a.normal
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, ctJSON, tokenBody(tok, tokenTTL))
}

// stableToken is POST /cgi-bin/stable_token: the same token until it
// expires (expires_in counts down), a new one with force_refresh.
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
	t, ok := s.tokens[a.stable]
	if !ok || req.ForceRefresh || !now.Before(t.exp) {
		delete(s.tokens, a.stable)
		a.stable = s.newToken(req.AppID, "stable", now)
		t = s.tokens[a.stable]
	}
	tok := a.stable
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, ctJSON, tokenBody(tok, t.exp.Sub(now)))
}

// tokenApp checks an access token and returns its appid, or the errcode.
func (s *Server) tokenApp(tok string) (string, int) {
	if tok == "" {
		return "", 41001
	}
	s.mu.Lock()
	t, ok := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case !ok:
		return "", 40001
	case !s.now().Before(t.exp):
		return "", 42001
	}
	return t.appid, 0
}

// checkSession is GET /wxa/checksession: the signature is
// hex(HMAC-SHA256(key = the user's newest session_key, message = "")).
func (s *Server) checkSession(w *recorder, r *http.Request) {
	if !s.applyFaults(w, r, ctJSON) {
		return
	}
	q := parseQuery(r)
	appid, e := s.tokenApp(q.Get("access_token"))
	if e != 0 {
		wxError(w, ctJSON, e)
		return
	}
	w.appid = appid
	s.mu.Lock()
	u, ok := s.users[q.Get("openid")]
	var key string
	if ok && u.appid == appid {
		key = u.sessionKey
		w.user = u.user
	}
	s.mu.Unlock()
	m := hmac.New(sha256.New, []byte(key))
	want := hex.EncodeToString(m.Sum(nil))
	if key == "" || q.Get("sig_method") != "hmac_sha256" || !hmac.Equal([]byte(want), []byte(q.Get("signature"))) {
		wxError(w, ctJSON, 87009)
		return
	}
	wxError(w, ctJSON, 0)
}

// phoneNumber is POST /wxa/business/getuserphonenumber.
func (s *Server) phoneNumber(w *recorder, r *http.Request) {
	if !s.applyFaults(w, r, ctJSON) {
		return
	}
	appid, e := s.tokenApp(parseQuery(r).Get("access_token"))
	if e != 0 {
		wxError(w, ctJSON, e)
		return
	}
	w.appid = appid
	var req struct {
		Code   string `json:"code"`
		OpenID string `json:"openid"`
	}
	if !decodeBody(w, r, &req) {
		wxError(w, ctJSON, 47001)
		return
	}
	if req.Code == "" {
		wxError(w, ctJSON, 41008)
		return
	}
	pc, err := parseCode(req.Code)
	if err != nil {
		wxError(w, ctJSON, 40029)
		return
	}
	w.user = pc.user
	// A code belongs to the user whose mini-program obtained it: with the
	// openid of anyone else it is refused, and stays usable by its owner.
	if req.OpenID != "" && req.OpenID != s.mac.openID(appid, pc.user) {
		wxError(w, ctJSON, 40003)
		return
	}
	now := s.now()
	s.mu.Lock()
	e = s.codes.use(keyOf("phone", "", req.Code), now)
	p, registered := s.phones[pc.user]
	s.mu.Unlock()
	if e != 0 {
		wxError(w, ctJSON, e)
		return
	}
	a, ok := runDirectives(w, r, pc.directives)
	if !ok {
		return
	}
	if !registered {
		n := s.mac.phoneNumber(pc.user)
		p = phone{number: n, pure: n, country: "86"}
	}
	body, _ := json.Marshal(map[string]any{
		"errcode": 0,
		"errmsg":  "ok",
		"phone_info": map[string]any{
			"phoneNumber":     p.number,
			"purePhoneNumber": p.pure,
			"countryCode":     p.country,
			"watermark":       map[string]any{"appid": appid, "timestamp": now.Unix()},
		},
	})
	finish(w, a, ctJSON, body)
}

// decodeBody reads one JSON object from the (capped) body. Trailing data
// or an oversized body count as malformed; invalid UTF-8 becomes U+FFFD,
// which the code and user checks then reject.
func decodeBody(w *recorder, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			w.note = "body too large"
		}
		return false
	}
	if dec.More() {
		return false
	}
	return true
}

func (s *Server) notFound(w *recorder, r *http.Request) {
	w.errcode = -1
	writeRaw(w, http.StatusNotFound, ctJSON, []byte(`{"errcode":-1,"errmsg":"mockwx: no such API"}`))
}
