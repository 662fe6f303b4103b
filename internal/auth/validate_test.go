package auth

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oactl/oactl/internal/wechat"
)

func TestValidateCode(t *testing.T) {
	cases := []struct {
		code string
		want string // "", "missing", "bad"
	}{
		{"081abcDEF", ""},
		{"err40029~alice", ""},
		{strings.Repeat("a", 128), ""},
		{"", "missing"},
		{strings.Repeat("a", 129), "bad"},
		{strings.Repeat("a", 10_000), "bad"},
		{"abc\x00", "bad"},
		{"abc\n", "bad"},
		{"abc\x7f", "bad"},
		{"代码", "bad"},
		{"a\xff", "bad"},
	}
	for _, c := range cases {
		err := ValidateCode("code", c.code)
		var m *MissingArgumentError
		var b *BadArgumentError
		switch {
		case c.want == "" && err != nil,
			c.want == "missing" && !errors.As(err, &m),
			c.want == "bad" && !errors.As(err, &b):
			t.Errorf("ValidateCode(%.20q) = %v, want %s", c.code, err, c.want)
		}
	}
}

func TestNormalizeNickname(t *testing.T) {
	family := "👨‍👩‍👧‍👦" // 7 code points, one grapheme
	cases := []struct {
		name, in, want string
	}{
		{"short", "微信用户", "微信用户"},
		{"exactly 63", strings.Repeat("a", 63), strings.Repeat("a", 63)},
		{"64 cut", strings.Repeat("a", 64), strings.Repeat("a", 63)},
		{"cjk cut", strings.Repeat("中", 70), strings.Repeat("中", 63)},
		// 60 + 7 code points: the family would end at 67, so it goes whole.
		{"zwj not split", strings.Repeat("a", 60) + family, strings.Repeat("a", 60)},
		{"zwj fits", strings.Repeat("a", 56) + family + "b", strings.Repeat("a", 56) + family},
		{"combining kept whole", strings.Repeat("a", 62) + "e\u0301", strings.Repeat("a", 62)},
		// क्ष is 3 code points and one grapheme since Unicode 15.1 (GB9c).
		{"conjunct kept whole", strings.Repeat("a", 61) + "क्ष", strings.Repeat("a", 61)},
		{"empty", "", ""},
	}
	for _, c := range cases {
		got, err := NormalizeNickname("nickName", c.in)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q (%d runes), %v; want %q", c.name, got, utf8.RuneCountInString(got), err, c.want)
		}
		if utf8.RuneCountInString(got) > MaxNicknameRunes {
			t.Errorf("%s: %d code points", c.name, utf8.RuneCountInString(got))
		}
	}
	if _, err := NormalizeNickname("nickName", "a\xffb"); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

func TestNormalizeProfile(t *testing.T) {
	ok := []Profile{{}, {Nickname: "x", Avatar: "https://a.example/" + strings.Repeat("a", 255-len("https://a.example/")), Gender: 2}, {Gender: 1}}
	for _, p := range ok {
		if _, err := NormalizeProfile(p); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := []Profile{{Gender: 7}, {Gender: -1}, {Avatar: strings.Repeat("a", 256)}, {Avatar: "\xff"}, {Nickname: "\xc3"}}
	for _, p := range bad {
		var b *BadArgumentError
		if _, err := NormalizeProfile(p); !errors.As(err, &b) {
			t.Errorf("%+v: %v, want BadArgumentError", p, err)
		}
	}
}

func TestNormalizeProfileUpdate(t *testing.T) {
	var m *MissingArgumentError
	if _, err := NormalizeProfileUpdate(ProfileUpdate{}); !errors.As(err, &m) {
		t.Errorf("empty update: %v", err)
	}
	long := strings.Repeat("😀", 70)
	g := 3
	var b *BadArgumentError
	if _, err := NormalizeProfileUpdate(ProfileUpdate{Gender: &g}); !errors.As(err, &b) {
		t.Errorf("gender 3: %v", err)
	}
	out, err := NormalizeProfileUpdate(ProfileUpdate{Nickname: &long})
	if err != nil || utf8.RuneCountInString(*out.Nickname) != 63 {
		t.Errorf("long nickname: %v", err)
	}
}

func TestCutUTF8(t *testing.T) {
	if got := CutUTF8(strings.Repeat("中", 100), 255); len(got) != 255 || !utf8.ValidString(got) {
		t.Errorf("cut to %d bytes", len(got))
	}
	if got := CutUTF8("a\xffb", 10); got != "a?b" {
		t.Errorf("invalid bytes: %q", got)
	}
}

// TestNicknameControlsStripped: the finding's nickname (NUL, ESC[2J, an
// OSC 52 clipboard write, U+202E) is stored without its control and bidi
// characters; emoji joiners stay.
func TestNicknameControlsStripped(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a\x00b", "ab"},
		{"\x1b[2Jwiped", "[2Jwiped"},
		{"\x1b]52;c;ZXZpbA==\x07x", "]52;c;ZXZpbA==x"},
		{"abc\u202Egnp.exe", "abcgnp.exe"},
		{"\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069ok", "ok"},
		{"tab\there\nnewline\r\x7f\u0085\u009b", "tabherenewline"},
		{"👨‍👩‍👧‍👦 ok", "👨‍👩‍👧‍👦 ok"}, // ZWJ kept
		{"❤️ \u200E", "❤️ \u200E"},   // variation selector and LRM kept: they reorder nothing after them
		{"微信用户", "微信用户"},
		{"\x00\x01\x02", ""},
	} {
		got, err := NormalizeNickname("nickName", c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeNickname(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	// The cut counts what is kept: 70 NULs and 63 letters keep 63 letters.
	if got, _ := NormalizeNickname("n", strings.Repeat("\x00", 70)+strings.Repeat("a", 63)); got != strings.Repeat("a", 63) {
		t.Errorf("cut after stripping: %q", got)
	}
}

// TestAvatarURL: only https:// URLs with a host (http:// to loopback for
// oactl dev) are stored; the finding's javascript: and data: URLs and
// everything a browser or image loader could read another way are 402.
func TestAvatarURL(t *testing.T) {
	good := []string{
		"", "https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132", "https://oa.example.com/wx/storage/fetch/0123456789abcdef0123456789abcdef.png",
		"HTTPS://OA.EXAMPLE/x.png", "https://oa.example:8443/a?b=c#d", "http://127.0.0.1:8080/wx/storage/fetch/x.png",
		"http://localhost:8080/a.png", "http://[::1]:8080/a.png", "https://[2001:db8::1]/a.png", "https://例子.中国/头像.png",
	}
	bad := []string{
		"javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "data:image/png;base64,AAAA",
		"vbscript:x", "file:///etc/passwd", "ftp://oa.example/a.png", "//oa.example/a.png", "/wx/storage/fetch/a.png", "a.png",
		"http://oa.example/a.png", "http://10.0.0.1/a.png", "http://127.0.0.1.evil.example/a.png", "https://", "https:///a.png",
		"https://user:pw@oa.example/a.png", "https://oa.example@evil.example/a.png", "https://oa.example/a b.png",
		"https://oa.example\\@evil.example/", "https://oa.example/\x00.png", "https://oa.example/\u202Egnp.png", " https://oa.example/a.png",
		"https:oa.example/a.png", "https://oa.example:port/a.png", "https://[::1/a.png",
	}
	for _, u := range good {
		if err := ValidateAvatar("avatar", u); err != nil {
			t.Errorf("ValidateAvatar(%q) = %v", u, err)
		}
	}
	for _, u := range bad {
		var b *BadArgumentError
		if err := ValidateAvatar("avatar", u); !errors.As(err, &b) || b.Field != "avatar" {
			t.Errorf("ValidateAvatar(%q) = %v, want a BadArgumentError for avatar", u, err)
		}
	}
}

// FuzzAvatarURL: whatever the text, ValidateAvatar accepts only what a
// browser and an image loader read as an https URL with a host (or http
// to loopback): url.Parse agrees on scheme and host, no credentials, no
// controls, spaces or backslashes, at most 255 bytes of valid UTF-8.
func FuzzAvatarURL(f *testing.F) {
	for _, s := range []string{
		"", "https://a.example/x.png", "http://127.0.0.1:8080/x.png", "http://localhost/x", "javascript:alert(1)",
		"data:text/html,x", "https://u:p@a.example/", "https://a.example\\@b.example/", "HTTPS://A.EXAMPLE",
		"https://[::1]/x", "https://a.example/\u202e", "https:/a.example", "https://a.example:99999/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateAvatar("avatar", s) != nil || s == "" {
			return
		}
		if len(s) > MaxAvatarBytes || !utf8.ValidString(s) || strings.ContainsAny(s, " \\") || strings.IndexFunc(s, isControl) >= 0 {
			t.Fatalf("accepted %q", s)
		}
		u, err := url.Parse(s)
		if err != nil || u.User != nil || u.Hostname() == "" || u.Opaque != "" {
			t.Fatalf("accepted %q: %v %+v", s, err, u)
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !wechat.IsLoopbackHost(u.Hostname()) {
				t.Fatalf("accepted http to %q", u.Hostname())
			}
		default:
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
	})
}
