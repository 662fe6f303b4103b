package mockwx

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
)

// macer computes HMAC-SHA256 keyed with one seed. A Server keeps one with
// a pool of keyed states (Reset restores the keyed state, much cheaper
// than hmac.New on every login); the exported functions use a fresh one.
type macer struct {
	seed string
	pool *sync.Pool // nil: hmac.New each time
}

func newMacer(seed string) macer {
	return macer{seed: seed, pool: &sync.Pool{New: func() any { return hmac.New(sha256.New, []byte(seed)) }}}
}

func (m macer) sum(parts ...string) []byte {
	var h hash.Hash
	if m.pool != nil {
		h = m.pool.Get().(hash.Hash)
		h.Reset()
		defer m.pool.Put(h)
	} else {
		h = hmac.New(sha256.New, []byte(m.seed))
	}
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return h.Sum(make([]byte, 0, sha256.Size))
}

func (m macer) openID(appid, user string) string {
	return "o" + base64.RawURLEncoding.EncodeToString(m.sum(appid, "\n", user))[:27]
}

func (m macer) unionID(user string) string {
	return "o" + base64.RawURLEncoding.EncodeToString(m.sum("unionid\n", user))[:27]
}

func (m macer) sessionKey(appid, code string) string {
	return base64.StdEncoding.EncodeToString(m.sum("session_key\n", appid, "\n", code)[:16])
}

func (m macer) phoneNumber(user string) string {
	n := binary.BigEndian.Uint64(m.sum("phone\n", user)[:8]) % 100_000_000
	return fmt.Sprintf("138%08d", n)
}

// OpenID is the openid mockwx gives user under appid:
// "o" + b64u(HMAC-SHA256(seed, appid + "\n" + user))[:27].
func OpenID(seed, appid, user string) string { return macer{seed: seed}.openID(appid, user) }

// UnionID is the unionid of user, the same under every appid:
// "o" + b64u(HMAC-SHA256(seed, "unionid\n" + user))[:27].
func UnionID(seed, user string) string { return macer{seed: seed}.unionID(user) }

// SessionKey is the session_key issued for code (the whole js_code,
// directives included) under appid:
// b64(HMAC-SHA256(seed, "session_key\n" + appid + "\n" + code)[:16]).
func SessionKey(seed, appid, code string) string { return macer{seed: seed}.sessionKey(appid, code) }

// PhoneNumber is the number mockwx gives user unless one was registered
// through /__mock/phones: "138" + 8 digits derived from the seed.
func PhoneNumber(seed, user string) string { return macer{seed: seed}.phoneNumber(user) }
