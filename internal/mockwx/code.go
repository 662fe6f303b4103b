package mockwx

import (
	"errors"
	"strconv"
	"strings"
)

// maxCodeLen bounds a js_code: WeChat's are 32 characters, and serve
// rejects anything over 128 bytes before calling WeChat.
const maxCodeLen = 128

// maxSlow caps a slow<ms>~ directive (SPEC: at most 60000).
const maxSlow = 60000

type directiveKind uint8

const (
	dirErr directiveKind = iota + 1
	dirSlow
	dirHTTP
	dirGarbage
	dirDrop
)

// directive is one parsed "name<arg>~" prefix of a code.
type directive struct {
	kind directiveKind
	n    int // errcode, milliseconds or HTTP status
}

// parsedCode is a js_code split into its directives and its user.
type parsedCode struct {
	directives []directive
	user       string
}

var errBadCode = errors.New("invalid code")

// parseCode splits code = (directive "~")* body and takes the user as body
// up to its first ".". Any code that is too long, holds bytes outside
// printable ASCII, has an unknown directive or an empty user is invalid
// (errcode 40029).
func parseCode(code string) (parsedCode, error) {
	var pc parsedCode
	if code == "" || len(code) > maxCodeLen {
		return pc, errBadCode
	}
	for i := 0; i < len(code); i++ {
		if code[i] < 0x21 || code[i] > 0x7e {
			return pc, errBadCode
		}
	}
	rest := code
	for {
		i := strings.IndexByte(rest, '~')
		if i < 0 {
			break
		}
		d, err := parseDirective(rest[:i])
		if err != nil {
			return pc, err
		}
		pc.directives = append(pc.directives, d)
		rest = rest[i+1:]
	}
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		return pc, errBadCode
	}
	pc.user = rest
	return pc, nil
}

func parseDirective(s string) (directive, error) {
	switch {
	case s == "garbage":
		return directive{kind: dirGarbage}, nil
	case s == "drop":
		return directive{kind: dirDrop}, nil
	case strings.HasPrefix(s, "err"):
		n, err := strictInt(s[3:], true)
		if err != nil || n < -1_000_000 || n > 1_000_000 {
			return directive{}, errBadCode
		}
		return directive{kind: dirErr, n: n}, nil
	case strings.HasPrefix(s, "slow"):
		n, err := strictInt(s[4:], false)
		if err != nil || n > maxSlow {
			return directive{}, errBadCode
		}
		return directive{kind: dirSlow, n: n}, nil
	case strings.HasPrefix(s, "http"):
		n, err := strictInt(s[4:], false)
		if err != nil || n < 200 || n > 599 {
			return directive{}, errBadCode
		}
		return directive{kind: dirHTTP, n: n}, nil
	}
	return directive{}, errBadCode
}

// strictInt accepts decimal digits only (a leading "-" when signed), so
// "err+1", "err 1" and "err0x10" stay unknown directives.
func strictInt(s string, signed bool) (int, error) {
	digits := s
	if signed && strings.HasPrefix(s, "-") {
		digits = s[1:]
	}
	if digits == "" || len(digits) > 9 {
		return 0, errBadCode
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, errBadCode
		}
	}
	return strconv.Atoi(s)
}
