package mockwx

import (
	"fmt"
	"hash/maphash"
	"net/http"
	"time"
)

// maxBehaviours bounds the users given a behaviour. A behaviour is a
// 64-bit hash of the user and 8 bytes of settings, no pointer for the
// garbage collector to follow: 38 bytes of live heap a user as measured
// (TestBehavioursAreBounded), 36 MiB at the cap. Beyond it PUT answers
// 507 and a script is refused.
const maxBehaviours = 1_000_000

// stickyWindow: with stickySessionKey, a login less than this after the
// user's session_key was issued answers that same key, as WeChat may.
const stickyWindow = 5 * time.Minute

// Behaviour is how WeChat treats one user until it is reset: what
// PUT /__mock/users/{user} sets and what a script's users: entries hold.
type Behaviour struct {
	// Errcode, when not 0, answers every code of the user (jscode2session
	// and getuserphonenumber) with it; the code is consumed.
	Errcode int `json:"errcode"`
	// NoUnionID leaves unionid out even with --unionid.
	NoUnionID bool `json:"noUnionid"`
	// RiskRank is getuserriskrank's risk_rank, 0..4.
	RiskRank int `json:"riskRank"`
	// StickySessionKey: a login within 5 minutes of the key's issue keeps
	// the same session_key.
	StickySessionKey bool `json:"stickySessionKey"`
}

func (b Behaviour) check() error {
	if b.Errcode < -1_000_000 || b.Errcode > 1_000_000 {
		return fmt.Errorf("errcode must be -1000000..1000000")
	}
	if b.RiskRank < 0 || b.RiskRank > 4 {
		return fmt.Errorf("riskRank must be 0..4 (WeChat's risk_rank values)")
	}
	return nil
}

// behaviour is a Behaviour packed into 8 bytes.
type behaviour struct {
	errcode int32
	rank    uint8
	flags   uint8
}

const (
	flagNoUnionID uint8 = 1 << iota
	flagSticky
)

func pack(b Behaviour) behaviour {
	p := behaviour{errcode: int32(b.Errcode), rank: uint8(b.RiskRank)}
	if b.NoUnionID {
		p.flags |= flagNoUnionID
	}
	if b.StickySessionKey {
		p.flags |= flagSticky
	}
	return p
}

func (p behaviour) unpack() Behaviour {
	return Behaviour{
		Errcode:          int(p.errcode),
		NoUnionID:        p.flags&flagNoUnionID != 0,
		RiskRank:         int(p.rank),
		StickySessionKey: p.flags&flagSticky != 0,
	}
}

func (p behaviour) noUnionID() bool { return p.flags&flagNoUnionID != 0 }
func (p behaviour) sticky() bool    { return p.flags&flagSticky != 0 }

// behaviourKey names a user in the behaviour table by a 64-bit hash, so
// the table holds no strings. Two of a million users collide with a
// chance of about 3 in 10⁸.
func (s *Server) behaviourKey(user string) uint64 { return maphash.String(s.hseed, user) }

// behaviourOf returns user's behaviour; callers hold s.mu. With no
// behaviour set at all (the usual case) it costs a length check.
func (s *Server) behaviourOf(user string) behaviour {
	if len(s.behaviours) == 0 {
		return behaviour{}
	}
	return s.behaviours[s.behaviourKey(user)]
}

// setBehaviour stores b for user (the zero Behaviour removes it) and
// reports false when the table is full; callers hold s.mu.
func (s *Server) setBehaviour(user string, b Behaviour) bool {
	k := s.behaviourKey(user)
	if b == (Behaviour{}) {
		delete(s.behaviours, k)
		return true
	}
	if _, known := s.behaviours[k]; !known && len(s.behaviours) >= maxBehaviours {
		return false
	}
	s.behaviours[k] = pack(b)
	return true
}

// mockUserPut is PUT /__mock/users/{user} {"errcode"?, "noUnionid"?,
// "riskRank"?, "stickySessionKey"?}: the user's behaviour from now on,
// replacing the previous one.
func (s *Server) mockUserPut(w *recorder, r *http.Request) {
	user := r.PathValue("user")
	if !s.helperUser(w, user) {
		return
	}
	var b Behaviour
	if !decodeStrict(w, r, &b, "errcode", "noUnionid", "riskRank", "stickySessionKey") {
		helperError(w, http.StatusBadRequest, "body must be a JSON object {errcode?, noUnionid?, riskRank?, stickySessionKey?} of at most %d bytes", maxBody)
		return
	}
	if err := b.check(); err != nil {
		helperError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.mu.Lock()
	ok := s.setBehaviour(user, b)
	s.mu.Unlock()
	if !ok {
		helperError(w, http.StatusInsufficientStorage, "too many users with a behaviour (%d): DELETE some first", maxBehaviours)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// mockUserDelete is DELETE /__mock/users/{user}: back to the default
// behaviour. The user's session_key stays.
func (s *Server) mockUserDelete(w *recorder, r *http.Request) {
	user := r.PathValue("user")
	if !s.helperUser(w, user) {
		return
	}
	s.mu.Lock()
	s.setBehaviour(user, Behaviour{})
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
