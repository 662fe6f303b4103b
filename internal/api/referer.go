package api

import (
	"net/http"
	"strings"
)

// WeChat sets this Referer on every request a mini-program makes, and the
// mini-program cannot change it:
//
//	https://servicewechat.com/{appid}/{version}/page-frame.html
//
// {version} is the release number, 0 in the developer tools and the trial
// version, or "devtools".
const (
	refererPrefix = "https://servicewechat.com/"
	refererSuffix = "/page-frame.html"
	maxRefAppID   = 64 // the width oactl stores appids in
	maxRefVersion = 32
)

// RefererAppID returns the appid a request's WeChat Referer names, or ""
// when the request has no such Referer (one header, exactly of the form
// above); "" selects the default app. Whether the appid is one of this
// server's apps is the service's to judge.
func RefererAppID(r *http.Request) string {
	v := r.Header.Values("Referer")
	if len(v) != 1 {
		return ""
	}
	appid, _ := ParseReferer(v[0])
	return appid
}

// ParseReferer parses a WeChat mini-program Referer strictly: the prefix
// and suffix exactly, an appid of 1 to 64 letters, digits, '_' or '-', a
// version of 1 to 32 letters, digits, '.', '_' or '-'. Anything else
// (a query, a fragment, another host, a path with more or fewer parts) is
// not such a Referer.
func ParseReferer(ref string) (appid string, ok bool) {
	rest, found := strings.CutPrefix(ref, refererPrefix)
	if !found {
		return "", false
	}
	rest, found = strings.CutSuffix(rest, refererSuffix)
	if !found {
		return "", false
	}
	appid, version, found := strings.Cut(rest, "/")
	if !found || !refererPart(appid, maxRefAppID, "_-") || !refererPart(version, maxRefVersion, "._-") {
		return "", false
	}
	return appid, true
}

// refererPart reports whether s is 1 to max ASCII letters and digits or
// bytes of extra.
func refererPart(s string, max int, extra string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}
