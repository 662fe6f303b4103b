package mockwx

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// sessionParams are the parameters of checksession and
// resetusersessionkey. WeChat documents them in the JSON body and shows
// them in the query in its examples: both are read, the query first.
type sessionParams struct {
	OpenID    string `json:"openid"`
	Signature string `json:"signature"`
	SigMethod string `json:"sig_method"`
}

// readSessionParams reports false when a body is there but is not one
// JSON object of strings (47001).
func readSessionParams(w *recorder, r *http.Request) (sessionParams, bool) {
	var p sessionParams
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.note = "body too large"
			return p, false
		}
		if len(bytes.TrimSpace(body)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(body))
			if dec.Decode(&p) != nil || dec.More() {
				return p, false
			}
		}
	}
	q := parseQuery(r)
	for _, f := range []struct {
		name string
		v    *string
	}{{"openid", &p.OpenID}, {"signature", &p.Signature}, {"sig_method", &p.SigMethod}} {
		if v := q.Get(f.name); v != "" {
			*f.v = v
		}
	}
	return p, true
}

// sessionUser starts a session-key call: faults, the access token, the
// parameters. It returns a copy of the user the openid names under the
// token's appid (nil when mockwx issued it no session_key), or false
// when the request has been answered.
func (s *Server) sessionUser(w *recorder, r *http.Request) (sessionParams, *userEntry, bool) {
	appid, ok := s.tokenCall(w, r)
	if !ok {
		return sessionParams{}, nil, false
	}
	p, ok := readSessionParams(w, r)
	if !ok {
		wxError(w, ctJSON, 47001)
		return p, nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[p.OpenID]
	if !ok || u.appid != appid {
		return p, nil, true
	}
	w.user = u.user
	cp := *u
	return p, &cp, true
}

// signs reports whether signature = hex(HMAC-SHA256(key, "")).
func signs(key, signature string) bool {
	m := hmac.New(sha256.New, []byte(key))
	want := hex.EncodeToString(m.Sum(nil))
	return key != "" && hmac.Equal([]byte(want), []byte(signature))
}

// checkSession is GET /wxa/checksession: the signature is
// hex(HMAC-SHA256(key = the user's newest session_key, message = "")).
func (s *Server) checkSession(w *recorder, r *http.Request) {
	p, u, ok := s.sessionUser(w, r)
	if !ok {
		return
	}
	if u == nil || p.SigMethod != "hmac_sha256" || !signs(u.sessionKey, p.Signature) {
		wxError(w, ctJSON, 87009)
		return
	}
	wxError(w, ctJSON, 0)
}

// resetUserSessionKey is GET /wxa/resetusersessionkey: signed with the
// user's newest session_key, it issues a new one (the old one stops
// working) and answers {"errcode":0,"errmsg":"ok","openid","session_key"}.
func (s *Server) resetUserSessionKey(w *recorder, r *http.Request) {
	p, u, ok := s.sessionUser(w, r)
	switch {
	case !ok:
		return
	case p.SigMethod != "hmac_sha256":
		wxError(w, ctJSON, 87008)
		return
	case u == nil || !signs(u.sessionKey, p.Signature):
		wxError(w, ctJSON, 87009)
		return
	}
	// Derived from the key it replaces, so a run replays; the issue time
	// stays: WeChat's reset does not extend the key's life.
	sum := s.mac.sum("session_key_reset\n", u.appid, "\n", u.sessionKey)
	key := base64.StdEncoding.EncodeToString(sum[:16])
	s.mu.Lock()
	if cur, ok := s.users[p.OpenID]; ok && cur.sessionKey == u.sessionKey {
		cur.sessionKey = key
	} else {
		key = "" // a login replaced the key meanwhile: the signature is stale
	}
	s.mu.Unlock()
	if key == "" {
		wxError(w, ctJSON, 87009)
		return
	}
	body, _ := json.Marshal(map[string]any{"errcode": 0, "errmsg": "ok", "openid": p.OpenID, "session_key": key})
	writeRaw(w, http.StatusOK, ctJSON, body)
}

// userRiskRank is POST /wxa/getuserriskrank?access_token=
// {"appid", "openid", "scene", "client_ip", ...}: the risk_rank set for
// the openid's user (PUT /__mock/users/{user} {"riskRank"}), else 0.
func (s *Server) userRiskRank(w *recorder, r *http.Request) {
	appid, ok := s.tokenCall(w, r)
	if !ok {
		return
	}
	var req struct {
		AppID    string `json:"appid"`
		OpenID   string `json:"openid"`
		Scene    *int   `json:"scene"`
		ClientIP string `json:"client_ip"`
		MobileNo string `json:"mobile_no"`
		Email    string `json:"email_address"`
		Extended string `json:"extended_info"`
		IsTest   bool   `json:"is_test"`
	}
	if !decodeBody(w, r, &req) {
		wxError(w, ctJSON, 47001)
		return
	}
	switch {
	case req.AppID == "":
		wxError(w, ctJSON, 41002)
		return
	case req.AppID != appid:
		wxError(w, ctJSON, 40013)
		return
	case req.Scene == nil || *req.Scene < 0 || *req.Scene > 2 || req.ClientIP == "":
		w.note = "scene must be 0..2 and client_ip is required"
		wxError(w, ctJSON, 47001)
		return
	}
	s.mu.Lock()
	u, known := s.users[req.OpenID]
	known = known && u.appid == appid
	var rank uint8
	if known {
		w.user = u.user
		rank = s.behaviourOf(u.user).rank
	}
	s.riskSeq++
	seq := s.riskSeq
	s.mu.Unlock()
	if !known {
		wxError(w, ctJSON, 40003)
		return
	}
	b := make([]byte, 0, 96)
	b = append(b, `{"errcode":0,"errmsg":"getuserriskrank succ","risk_rank":`...)
	b = strconv.AppendUint(b, uint64(rank), 10)
	// unoin_id (sic) is WeChat's spelling of the request id.
	b = append(b, `,"unoin_id":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, '}')
	writeRaw(w, http.StatusOK, ctJSON, b)
}
