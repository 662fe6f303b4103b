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
// a pool of keyed states; the exported functions use a fresh one. Every
// login computes one (a returning user's openid is known) to three, so
// the pooled path allocates only the string it returns (measured with
// BenchmarkHandlerVsBare):
//   - Reset restores the keyed state (crypto/hmac keeps the hashed ipad
//     and opad), much cheaper than hmac.New;
//   - the message is assembled in the state's own buffer and written
//     once, and the sum lands in the state's array: a []byte(string)
//     handed to hash.Hash.Write escapes, one allocation per part.
type macer struct {
	seed string
	pool *sync.Pool // of *macState; nil: a new state each time
}

type macState struct {
	h   hash.Hash
	msg []byte
	sum [sha256.Size]byte
}

func newMacState(seed string) *macState {
	return &macState{h: hmac.New(sha256.New, []byte(seed)), msg: make([]byte, 0, 256)}
}

func newMacer(seed string) macer {
	return macer{seed: seed, pool: &sync.Pool{New: func() any { return newMacState(seed) }}}
}

// sum is HMAC-SHA256(seed, the parts concatenated).
func (m macer) sum(parts ...string) [sha256.Size]byte {
	var st *macState
	if m.pool != nil {
		st = m.pool.Get().(*macState)
		st.h.Reset()
		defer m.pool.Put(st)
	} else {
		st = newMacState(m.seed)
	}
	st.msg = st.msg[:0]
	for _, p := range parts {
		st.msg = append(st.msg, p...)
	}
	st.h.Write(st.msg)
	st.h.Sum(st.sum[:0])
	if cap(st.msg) > 4<<10 {
		st.msg = make([]byte, 0, 256) // do not pool an odd long message's buffer
	}
	return st.sum
}

// id is "o" + b64u(sum)[:27], the shape of openid and unionid.
func id(sum [sha256.Size]byte) string {
	var enc [43]byte // base64url of 32 bytes, unpadded
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	var out [28]byte
	out[0] = 'o'
	copy(out[1:], enc[:27])
	return string(out[:])
}

func (m macer) openID(appid, user string) string { return id(m.sum(appid, "\n", user)) }

func (m macer) unionID(user string) string { return id(m.sum("unionid\n", user)) }

func (m macer) sessionKey(appid, code string) string {
	sum := m.sum("session_key\n", appid, "\n", code)
	var enc [24]byte // base64 of 16 bytes
	base64.StdEncoding.Encode(enc[:], sum[:16])
	return string(enc[:])
}

func (m macer) phoneNumber(user string) string {
	sum := m.sum("phone\n", user)
	n := binary.BigEndian.Uint64(sum[:8]) % 100_000_000
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
