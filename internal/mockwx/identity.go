package mockwx

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

func mac(seed string, parts ...string) []byte {
	m := hmac.New(sha256.New, []byte(seed))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// OpenID is the openid mockwx gives user under appid:
// "o" + b64u(HMAC-SHA256(seed, appid + "\n" + user))[:27].
func OpenID(seed, appid, user string) string {
	return "o" + base64.RawURLEncoding.EncodeToString(mac(seed, appid, "\n", user))[:27]
}

// UnionID is the unionid of user, the same under every appid:
// "o" + b64u(HMAC-SHA256(seed, "unionid\n" + user))[:27].
func UnionID(seed, user string) string {
	return "o" + base64.RawURLEncoding.EncodeToString(mac(seed, "unionid\n", user))[:27]
}

// SessionKey is the session_key issued for code (the whole js_code,
// directives included) under appid:
// b64(HMAC-SHA256(seed, "session_key\n" + appid + "\n" + code)[:16]).
func SessionKey(seed, appid, code string) string {
	return base64.StdEncoding.EncodeToString(mac(seed, "session_key\n", appid, "\n", code)[:16])
}

// PhoneNumber is the number mockwx gives user unless one was registered
// through /__mock/phones: "138" + 8 digits derived from the seed.
func PhoneNumber(seed, user string) string {
	n := binary.BigEndian.Uint64(mac(seed, "phone\n", user)[:8]) % 100_000_000
	return fmt.Sprintf("138%08d", n)
}
