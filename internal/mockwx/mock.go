package mockwx

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oactl/oactl/internal/wechat"
)

// Faults are the settings of PUT /__mock/faults, applied to every WeChat
// API call (not to /__mock/ helpers) before the code is looked at, so a
// faulted call does not consume the code.
type Faults struct {
	ErrorRate float64 `json:"errorRate"` // 0..1: share of calls answered with Errcode
	Errcode   int     `json:"errcode"`   // default -1 (system error)
	LatencyMs int     `json:"latencyMs"` // added to every call
	JitterMs  int     `json:"jitterMs"`  // plus a uniform 0..JitterMs
	Seed      uint64  `json:"seed"`      // of the draws, so a run can be replayed
}

// check validates f as PUT /__mock/faults and a script's faults: do.
func (f Faults) check() error {
	if f.ErrorRate < 0 || f.ErrorRate > 1 || f.LatencyMs < 0 || f.LatencyMs > maxSlow || f.JitterMs < 0 || f.JitterMs > maxSlow {
		return fmt.Errorf("errorRate must be 0..1, latencyMs and jitterMs 0..%d", maxSlow)
	}
	return nil
}

func (f Faults) active() bool { return f.ErrorRate > 0 || f.LatencyMs > 0 || f.JitterMs > 0 }

func (f Faults) errcode() int {
	if f.Errcode == 0 {
		return -1
	}
	return f.Errcode
}

func (s *Server) resetFaults() { s.setFaults(Faults{}) }

func (s *Server) setFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.faultRNG = mrand.New(mrand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	s.faultsOn.Store(f.active())
	s.mu.Unlock()
}

// helperError answers a helper's failure: HTTP status and {"error"}.
func helperError(w *recorder, status int, format string, args ...any) {
	w.note = fmt.Sprintf(format, args...)
	writeJSON(w, status, map[string]string{"error": w.note})
}

func writeJSON(w *recorder, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding failed"}`)
	}
	writeRaw(w, status, ctHelper, append(b, '\n'))
}

// validUser accepts what a code body can name: 1..64 printable ASCII bytes
// without "~", "." and "/".
func validUser(u string) bool {
	if u == "" || len(u) > 64 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c < 0x21 || c > 0x7e || c == '~' || c == '.' || c == '/' {
			return false
		}
	}
	return true
}

// helperApp picks the appid of a helper call: the request's, else the
// first --appid; with --appid set, an appid not among them is refused.
func (s *Server) helperApp(w *recorder, appid string) (string, bool) {
	if appid == "" {
		appid = s.cfg.AppID
	}
	_, known := s.appSecret(appid)
	switch {
	case appid == "":
		helperError(w, http.StatusBadRequest, "appid is required (mockwx runs without --appid)")
		return "", false
	case !known:
		helperError(w, http.StatusBadRequest, "appid is not one of --appid")
		return "", false
	case len(appid) > 64:
		helperError(w, http.StatusBadRequest, "appid too long")
		return "", false
	}
	w.appid = appid
	return appid, true
}

func (s *Server) helperUser(w *recorder, user string) bool {
	if !validUser(user) {
		helperError(w, http.StatusBadRequest, "user must be 1-64 printable ASCII characters without ~ . /")
		return false
	}
	w.user = user
	return true
}

// mockLogin is POST /__mock/login: a code as wx.login would give, which
// expires if not used within --code-ttl.
func (s *Server) mockLogin(w *recorder, r *http.Request) {
	var req struct {
		User  string `json:"user"`
		AppID string `json:"appid"`
	}
	if !decodeBody(w, r, &req) {
		helperError(w, http.StatusBadRequest, "body must be a JSON object {user, appid?} of at most %d bytes", maxBody)
		return
	}
	if _, ok := s.helperApp(w, req.AppID); !ok || !s.helperUser(w, req.User) {
		return
	}
	now := s.now()
	s.mu.Lock()
	s.mintSeq++
	sum := s.mac.sum("mint\n", strconv.FormatInt(now.UnixNano(), 10), "\n", strconv.FormatUint(s.mintSeq, 10))
	code := req.User + ".m" + strconv.FormatUint(s.mintSeq, 36) + fmt.Sprintf("%x", sum[:6])
	s.codes.mint(s.codes.key("code", code), now)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
}

// mockUser is GET /__mock/users/{user}?appid=.
func (s *Server) mockUser(w *recorder, r *http.Request) {
	user := r.PathValue("user")
	appid, ok := s.helperApp(w, parseQuery(r).Get("appid"))
	if !ok || !s.helperUser(w, user) {
		return
	}
	_, issued := s.sessionKeyOf(appid, user)
	s.mu.Lock()
	b := s.behaviourOf(user).unpack()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"openid":           s.mac.openID(appid, user),
		"unionid":          s.mac.unionID(user),
		"sessionKeyIssued": issued,
		"errcode":          b.Errcode,
		"noUnionid":        b.NoUnionID,
		"riskRank":         b.RiskRank,
		"stickySessionKey": b.StickySessionKey,
	})
}

// mockPhone is PUT /__mock/phones/{user} {"phoneNumber", "countryCode"?}.
func (s *Server) mockPhone(w *recorder, r *http.Request) {
	user := r.PathValue("user")
	if !s.helperUser(w, user) {
		return
	}
	var req struct {
		PhoneNumber string `json:"phoneNumber"`
		CountryCode string `json:"countryCode"`
	}
	if !decodeBody(w, r, &req) {
		helperError(w, http.StatusBadRequest, "body must be a JSON object {phoneNumber, countryCode?} of at most %d bytes", maxBody)
		return
	}
	p, err := parsePhone(req.PhoneNumber, req.CountryCode)
	if err != nil {
		helperError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.mu.Lock()
	ok := s.setPhone(user, p)
	s.mu.Unlock()
	if !ok {
		helperError(w, http.StatusInsufficientStorage, "too many registered phones (%d)", maxUsers)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"phoneNumber": p.number, "purePhoneNumber": p.pure, "countryCode": p.country})
}

// parsePhone reads a phone number as PUT /__mock/phones and a script's
// phones: take it.
func parsePhone(number, country string) (phone, error) {
	if country == "" {
		country = "86"
	}
	pure := strings.TrimPrefix(number, "+"+country)
	if !digits(pure, 5, 15) || !digits(country, 1, 4) {
		return phone{}, fmt.Errorf("phoneNumber must be 5-15 digits (optionally +countryCode first), countryCode 1-4 digits")
	}
	full := pure
	if country != "86" {
		full = "+" + country + pure
	}
	return phone{number: full, pure: pure, country: country}, nil
}

// setPhone registers p for user and reports false when the table is
// full; callers hold s.mu.
func (s *Server) setPhone(user string, p phone) bool {
	if _, known := s.phones[user]; !known && len(s.phones) >= maxUsers {
		return false
	}
	s.phones[user] = p
	return true
}

func digits(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// mockEncrypt is POST /__mock/encrypt: open data as the mini-program would
// receive it, encrypted with the user's newest session_key.
func (s *Server) mockEncrypt(w *recorder, r *http.Request) {
	var req struct {
		User  string          `json:"user"`
		AppID string          `json:"appid"`
		Kind  string          `json:"kind"`
		Data  json.RawMessage `json:"data"`
	}
	if !decodeBody(w, r, &req) {
		helperError(w, http.StatusBadRequest, "body must be a JSON object {user, appid?, kind, data?} of at most %d bytes", maxBody)
		return
	}
	appid, ok := s.helperApp(w, req.AppID)
	if !ok || !s.helperUser(w, req.User) {
		return
	}
	var raw []byte
	switch {
	case len(req.Data) > 0 && !bytes.Equal(req.Data, []byte("null")):
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(req.Data, &obj); err != nil || !utf8.Valid(req.Data) {
			helperError(w, http.StatusBadRequest, "data must be a JSON object")
			return
		}
		if _, has := obj["watermark"]; has {
			helperError(w, http.StatusBadRequest, "data must not hold a watermark: mockwx adds it")
			return
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, req.Data); err != nil {
			helperError(w, http.StatusBadRequest, "data must be a JSON object")
			return
		}
		raw = buf.Bytes()
	case req.Kind == "userinfo":
		raw, _ = json.Marshal(struct {
			OpenID    string `json:"openId"`
			NickName  string `json:"nickName"`
			Gender    int    `json:"gender"`
			Language  string `json:"language"`
			City      string `json:"city"`
			Province  string `json:"province"`
			Country   string `json:"country"`
			AvatarURL string `json:"avatarUrl"`
			UnionID   string `json:"unionId,omitempty"`
		}{s.mac.openID(appid, req.User), req.User, 0, "zh_CN", "", "", "", "", s.unionOf(req.User)})
	case req.Kind == "phone":
		s.mu.Lock()
		p, registered := s.phones[req.User]
		s.mu.Unlock()
		if !registered {
			n := s.mac.phoneNumber(req.User)
			p = phone{number: n, pure: n, country: "86"}
		}
		raw, _ = json.Marshal(map[string]string{"phoneNumber": p.number, "purePhoneNumber": p.pure, "countryCode": p.country})
	default:
		helperError(w, http.StatusBadRequest, `kind must be "userinfo" or "phone" (or give data)`)
		return
	}
	key, ok := s.sessionKeyOf(appid, req.User)
	if !ok {
		helperError(w, http.StatusConflict, "no session_key issued to this user under this appid yet: log in first")
		return
	}
	wm, _ := json.Marshal(wechat.Watermark{AppID: appid, Timestamp: s.now().Unix()})
	plain := make([]byte, 0, len(raw)+len(wm)+16)
	plain = append(plain, raw[:len(raw)-1]...)
	if len(raw) > 2 {
		plain = append(plain, ',')
	}
	plain = append(plain, `"watermark":`...)
	plain = append(plain, wm...)
	plain = append(plain, '}')
	enc, iv, err := wechat.Encrypt(key, plain, s.rand)
	if err != nil {
		helperError(w, http.StatusInternalServerError, "encryption failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"encryptedData": enc,
		"iv":            iv,
		"rawData":       string(raw),
		"signature":     wechat.Signature(string(raw), key),
	})
}

// unionOf is the unionid WeChat gives user: none without --unionid or
// with the user's noUnionid.
func (s *Server) unionOf(user string) string {
	s.mu.Lock()
	no := s.behaviourOf(user).noUnionID()
	s.mu.Unlock()
	if !s.cfg.UnionID || no {
		return ""
	}
	return s.mac.unionID(user)
}

// mockJournal is GET /__mock/journal?api=&user=&since=.
func (s *Server) mockJournal(w *recorder, r *http.Request) {
	f, ok := s.journalFilter(w, r)
	if !ok {
		return
	}
	out, _ := s.journal.list(f)
	writeJSON(w, http.StatusOK, out)
}

// mockCalls is GET /__mock/calls?api=&user=&since=: {"count": N} of the
// journal's matching entries. "complete" is false when the journal has
// dropped older entries that the filter might have matched (raise
// --journal-size or DELETE /__mock/journal between tests).
func (s *Server) mockCalls(w *recorder, r *http.Request) {
	f, ok := s.journalFilter(w, r)
	if !ok {
		return
	}
	out, complete := s.journal.list(f)
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "complete": complete})
}

func (s *Server) journalFilter(w *recorder, r *http.Request) (journalFilter, bool) {
	q := parseQuery(r)
	f := journalFilter{api: q.Get("api"), user: q.Get("user")}
	if f.api != "" && !s.apis[f.api] {
		names := make([]string, 0, len(s.apis))
		for n := range s.apis {
			names = append(names, n)
		}
		slices.Sort(names)
		helperError(w, http.StatusBadRequest, "api must be one of %s", strings.Join(names, ", "))
		return f, false
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			helperError(w, http.StatusBadRequest, "since must be an RFC 3339 time such as 2026-01-02T03:04:05Z")
			return f, false
		}
		f.since = t
	}
	return f, true
}

func (s *Server) mockJournalClear(w *recorder, r *http.Request) {
	s.journal.clear()
	w.WriteHeader(http.StatusNoContent)
}

// mockFaultsSet is PUT /__mock/faults.
func (s *Server) mockFaultsSet(w *recorder, r *http.Request) {
	var f Faults
	if !decodeBody(w, r, &f) {
		helperError(w, http.StatusBadRequest, "body must be a JSON object {errorRate, errcode, latencyMs, jitterMs, seed}")
		return
	}
	if err := f.check(); err != nil {
		helperError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.setFaults(f)
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) mockFaultsClear(w *recorder, r *http.Request) {
	s.resetFaults()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) mockHealthz(w *recorder, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
