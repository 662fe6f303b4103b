package auth

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
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
	ok := []Profile{{}, {Nickname: "x", Avatar: strings.Repeat("a", 255), Gender: 2}, {Gender: 1}}
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
