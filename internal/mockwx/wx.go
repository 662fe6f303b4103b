package mockwx

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
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
	40226: "code blocked",
	41001: "access_token missing",
	41002: "appid missing",
	41004: "appsecret missing",
	41008: "missing code",
	42001: "access_token expired",
	45009: "reach max api daily quota limit",
	45011: "api minute-quota reach limit  mustslower  retry next minute",
	47001: "data format error",
	87008: "invalid sig_method",
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

// contentType is a Content-Type header value ready to assign: every
// answer sets one, and Header.Set would canonicalise the name and make a
// one-element slice each time. net/http only reads header slices (Add
// appends to a full slice, which copies), so these are shared.
type contentType []string

var (
	ctText   = contentType{"text/plain"}                       // jscode2session, as WeChat
	ctJSON   = contentType{"application/json; encoding=utf-8"} // the other WeChat APIs
	ctHelper = contentType{"application/json"}                 // the /__mock/ helpers
	ctHTML   = contentType{"text/html"}                        // an http<status>~ page
)

// unbufferedBody is the size beyond which net/http stops buffering an
// answer and would send it chunked (its bufferBeforeChunkingSize): below
// it, net/http writes the Content-Length itself once the handler returns.
const unbufferedBody = 2048

func writeRaw(w *recorder, status int, ct contentType, body []byte) {
	h := w.Header()
	h["Content-Type"] = ct
	if len(body) > unbufferedBody {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// wxError answers errcode code, HTTP 200, as WeChat does.
func wxError(w *recorder, ct contentType, code int) {
	w.errcode = code
	writeRaw(w, http.StatusOK, ct, errBody(code))
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
func (s *Server) applyFaults(w *recorder, r *http.Request, ct contentType) bool {
	if !s.faultsOn.Load() {
		return true
	}
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
		wxError(w, ct, f.errcode())
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
func finish(w *recorder, a answer, ct contentType, ok []byte) {
	switch {
	case a.garbage:
		w.note = "garbage"
		writeRaw(w, a.status, ct, []byte(`{"errcode":0,"openid":"o`))
	case a.errcode != 0:
		w.errcode = a.errcode
		writeRaw(w, a.status, ct, errBody(a.errcode))
	case a.status != http.StatusOK:
		writeRaw(w, a.status, ctHTML, []byte("<html><body>mockwx: HTTP "+strconv.Itoa(a.status)+"</body></html>"))
	default:
		writeRaw(w, http.StatusOK, ct, ok)
	}
}

func (s *Server) checkApp(appid, secret string) int {
	want, known := s.appSecret(appid)
	switch {
	case appid == "":
		return 41002
	case secret == "":
		return 41004
	case !known:
		return 40013
	case want != "" && secret != want:
		return 40125
	}
	return 0
}

// appSecret returns the secret of appid ("" accepts any) and whether
// mockwx accepts the appid: every one when no app is configured.
func (s *Server) appSecret(appid string) (string, bool) {
	if s.cfg.AppID == "" && len(s.cfg.Apps) == 0 || appid == s.cfg.AppID {
		return s.cfg.Secret, true
	}
	for _, a := range s.cfg.Apps {
		if a.ID == appid {
			return a.Secret, true
		}
	}
	return "", false
}

func (s *Server) jscode2session(w *recorder, r *http.Request) {
	if !s.applyFaults(w, r, ctText) {
		return
	}
	var v [4]string
	parseQuery(r).gets(v[:], "appid", "secret", "js_code", "grant_type")
	appid, secret, code, grantType := v[0], v[1], v[2], v[3]
	w.appid = appid
	if e := s.checkApp(appid, secret); e != 0 {
		wxError(w, ctText, e)
		return
	}
	if code == "" {
		wxError(w, ctText, 41008)
		return
	}
	if grantType != "" && grantType != "authorization_code" {
		wxError(w, ctText, 40002)
		return
	}
	pc, err := parseCode(code)
	if err != nil {
		wxError(w, ctText, 40029)
		return
	}
	w.user = pc.user
	now := s.clock(w.start)
	k := s.codes.key("code", code)
	s.mu.Lock()
	e := s.codes.use(k, now)
	beh := s.behaviourOf(pc.user)
	u := s.byName[idKey{appid, pc.user}]
	s.mu.Unlock()
	if e != 0 {
		wxError(w, ctText, e)
		return
	}
	a, ok := runDirectives(w, r, pc.directives)
	if !ok {
		return
	}
	a.orBehaviour(beh)
	if a.garbage || a.errcode != 0 || a.status != http.StatusOK {
		finish(w, a, ctText, nil)
		return
	}
	// A user seen before brings their openid: no HMAC for it, and no
	// lookup by openid to update their key (an eighth of a login's own
	// CPU, measured with BenchmarkHandlerVsBare).
	var openid string
	if u != nil {
		openid = u.openid // set once, before the entry was shared
	} else {
		openid = s.mac.openID(appid, pc.user)
	}
	key := s.mac.sessionKey(appid, code)
	s.mu.Lock()
	key = s.setSessionKey(u, openid, appid, pc.user, key, now.UnixNano(), beh.sticky())
	s.mu.Unlock()
	b := append(w.buf[:0], `{"session_key":"`...)
	b = append(b, key...)
	b = append(b, `","openid":"`...)
	b = append(b, openid...)
	if s.cfg.UnionID && !beh.noUnionID() {
		b = append(b, `","unionid":"`...)
		b = append(b, s.mac.unionID(pc.user)...)
	}
	b = append(b, `"}`...)
	writeRaw(w, http.StatusOK, ctText, b)
}

// orBehaviour lets a user's errcode answer a code whose directives left
// the answer a success: a code's own err~, http~ and garbage~ win.
func (a *answer) orBehaviour(b behaviour) {
	if b.errcode != 0 && a.errcode == 0 && !a.garbage {
		a.errcode = int(b.errcode)
	}
}

// setSessionKey makes key the newest session_key of a user, unless sticky
// and the current one was issued less than stickyWindow ago, and returns
// the key to answer. u is the user's entry if the caller found one (it
// may have been forgotten since). The oldest users are forgotten beyond
// maxUsers. Callers hold s.mu.
func (s *Server) setSessionKey(u *userEntry, openid, appid, user, key string, now int64, sticky bool) string {
	if u == nil || u.forgotten {
		u = s.users[openid]
	}
	if u != nil {
		if sticky && now-u.issued < int64(stickyWindow) {
			return u.sessionKey
		}
		u.sessionKey, u.issued = key, now
		return key
	}
	for len(s.users) >= maxUsers && len(s.userFIFO) > 0 {
		old := s.userFIFO[0]
		delete(s.users, old.openid)
		delete(s.byName, idKey{old.appid, old.user})
		old.forgotten = true
		s.userFIFO[0] = nil
		s.userFIFO = s.userFIFO[1:]
	}
	// Copies: appid and user point into the request.
	u = &userEntry{appid: strings.Clone(appid), user: strings.Clone(user), openid: openid, sessionKey: key, issued: now}
	s.users[openid] = u
	s.byName[idKey{u.appid, u.user}] = u
	s.userFIFO = append(s.userFIFO, u)
	return key
}

// sessionKeyOf returns the newest session_key of user under appid.
func (s *Server) sessionKeyOf(appid, user string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byName[idKey{appid, user}]
	if !ok {
		return "", false
	}
	return u.sessionKey, true
}

// phoneNumber is POST /wxa/business/getuserphonenumber.
func (s *Server) phoneNumber(w *recorder, r *http.Request) {
	appid, ok := s.tokenCall(w, r)
	if !ok {
		return
	}
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
	e := s.codes.use(s.codes.key("phone", req.Code), now)
	p, registered := s.phones[pc.user]
	beh := s.behaviourOf(pc.user)
	s.mu.Unlock()
	if e != 0 {
		wxError(w, ctJSON, e)
		return
	}
	a, ok := runDirectives(w, r, pc.directives)
	if !ok {
		return
	}
	a.orBehaviour(beh)
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

// decodeStrict is decodeBody refusing any key but those named, spelled
// exactly: encoding/json matches keys case-insensitively and skips
// unknown ones, and a helper's typo ("errCode") must not be ignored.
func decodeStrict(w *recorder, r *http.Request, v any, keys ...string) bool {
	var raw json.RawMessage
	if !decodeBody(w, r, &raw) {
		return false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return false
	}
	for k := range obj {
		if !slices.Contains(keys, k) {
			return false
		}
	}
	return json.Unmarshal(raw, v) == nil
}

func (s *Server) notFound(w *recorder, r *http.Request) {
	w.errcode = -1
	writeRaw(w, http.StatusNotFound, ctJSON, []byte(`{"errcode":-1,"errmsg":"mockwx: no such API"}`))
}
