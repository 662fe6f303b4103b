package auth

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/clipperhouse/uax29/v2/graphemes"

	"github.com/oactl/oactl/internal/wechat"
)

// Limits of the login and profile rules (SPEC §3).
const (
	MaxCodeBytes     = 128 // js_code and phone-number codes
	MaxNicknameRunes = 63  // wx_user.nickname is varchar(63): MySQL counts code points
	MaxAvatarBytes   = 255 // wx_user.avatar is varchar(255)
	MaxUserAgent     = 255 // bytes of User-Agent kept with a session (wx_session.user_agent)
	MaxIP            = 63  // bytes of a client address kept (wx_user.last_login_ip, wx_session.ip)
)

// ValidateCode checks a WeChat code (login or phone number) before anything
// is sent to WeChat: junk must not burn WeChat's quota.
func ValidateCode(field, code string) error {
	if code == "" {
		return &MissingArgumentError{Field: field}
	}
	if len(code) > MaxCodeBytes {
		return &BadArgumentError{Field: field, Reason: "longer than 128 bytes"}
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; c < 0x20 || c > 0x7e {
			return &BadArgumentError{Field: field, Reason: "not printable ASCII"}
		}
	}
	return nil
}

// NormalizeNickname checks that s is valid UTF-8, removes the characters
// that StripControls removes, and cuts the rest to the longest prefix that
// ends on a grapheme boundary and holds at most 63 code points, so that a
// family emoji is kept whole or dropped whole.
func NormalizeNickname(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", &BadArgumentError{Field: field, Reason: "invalid UTF-8"}
	}
	s = StripControls(s)
	if utf8.RuneCountInString(s) <= MaxNicknameRunes {
		return s, nil
	}
	runes, end := 0, 0
	// uax29, the segmenter the TUI's width measure (x/ansi) links anyway:
	// a second one (uniseg) would add its tables to the binary.
	g := graphemes.FromString(s)
	for g.Next() {
		cluster := g.Value()
		n := utf8.RuneCountInString(cluster)
		if runes+n > MaxNicknameRunes {
			break
		}
		runes += n
		end += len(cluster)
	}
	return s[:end], nil
}

// isControl reports whether r is a character no name needs and a screen
// may obey: C0 controls (NUL, ESC, BEL, newline...), DEL, C1 controls, and
// the bidirectional embeddings, overrides and isolates U+202A–U+202E and
// U+2066–U+2069, which reorder the text shown after them (a nickname with
// U+202E reads backwards in the support TUI and in other users' lists).
func isControl(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// StripControls removes what isControl names. Zero-width joiners and
// variation selectors stay: emoji are made of them.
func StripControls(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

// ValidateAvatar checks an avatar URL: valid UTF-8, at most 255 bytes,
// and, unless empty (no avatar), an absolute https:// URL with a host, or
// http:// to a loopback host (oactl dev serves uploads there). Anything
// else (javascript:, data:, a relative path, credentials in the URL,
// spaces, controls or backslashes, which browsers and image loaders read
// differently) is refused. Avatars are not cut: a cut URL points nowhere.
func ValidateAvatar(field, s string) error {
	if !utf8.ValidString(s) {
		return &BadArgumentError{Field: field, Reason: "invalid UTF-8"}
	}
	if len(s) > MaxAvatarBytes {
		return &BadArgumentError{Field: field, Reason: "longer than 255 bytes"}
	}
	if s == "" {
		return nil
	}
	if reason := avatarURLProblem(s); reason != "" {
		return &BadArgumentError{Field: field, Reason: reason}
	}
	return nil
}

func avatarURLProblem(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return isControl(r) || r == ' ' || r == '\\' }) {
		return "holds spaces, control characters or backslashes"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "not a URL"
	}
	switch {
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "not an absolute URL with a host"
	case u.User != nil:
		return "credentials in the URL"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && wechat.IsLoopbackHost(u.Hostname()):
		return ""
	}
	return "want an https:// URL (http:// only to a loopback host)"
}

// ValidateGender checks gender ∈ {0 unknown, 1 male, 2 female}.
func ValidateGender(field string, g int) error {
	if g < 0 || g > 2 {
		return &BadArgumentError{Field: field, Reason: "must be 0, 1 or 2"}
	}
	return nil
}

// NormalizeProfile validates a login's userInfo and cuts its nickname.
func NormalizeProfile(p Profile) (Profile, error) {
	var err error
	if p.Nickname, err = NormalizeNickname("userInfo.nickName", p.Nickname); err != nil {
		return Profile{}, err
	}
	if err := ValidateAvatar("userInfo.avatarUrl", p.Avatar); err != nil {
		return Profile{}, err
	}
	if err := ValidateGender("userInfo.gender", p.Gender); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// NormalizeProfileUpdate validates a /profile request and cuts its
// nickname. At least one field must be given.
func NormalizeProfileUpdate(u ProfileUpdate) (ProfileUpdate, error) {
	if u.Nickname == nil && u.Avatar == nil && u.Gender == nil {
		// No one field is missing: the request names none (no data.field).
		return ProfileUpdate{}, &MissingArgumentError{}
	}
	out := ProfileUpdate{Gender: u.Gender}
	if u.Nickname != nil {
		n, err := NormalizeNickname("nickname", *u.Nickname)
		if err != nil {
			return ProfileUpdate{}, err
		}
		out.Nickname = &n
	}
	if u.Avatar != nil {
		if err := ValidateAvatar("avatar", *u.Avatar); err != nil {
			return ProfileUpdate{}, err
		}
		a := *u.Avatar
		out.Avatar = &a
	}
	if u.Gender != nil {
		if err := ValidateGender("gender", *u.Gender); err != nil {
			return ProfileUpdate{}, err
		}
		g := *u.Gender
		out.Gender = &g
	}
	return out, nil
}

// CutUTF8 cuts s to at most n bytes on a rune boundary, replacing invalid
// bytes first, so a hostile User-Agent cannot break the column. It is the
// one cut for every text oactl stores with a byte limit.
func CutUTF8(s string, n int) string {
	if !utf8.ValidString(s) {
		s = toValidUTF8(s)
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func toValidUTF8(s string) string {
	b := make([]byte, 0, len(s))
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			b = append(b, '?')
		} else {
			b = append(b, s[:size]...)
		}
		s = s[size:]
	}
	return string(b)
}
