package api_test

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/auth/authtest"
)

const appB = "wxapib00000000002"

func TestParseReferer(t *testing.T) {
	for ref, want := range map[string]string{
		"https://servicewechat.com/wx1234567890abcdef/3/page-frame.html":              "wx1234567890abcdef",
		"https://servicewechat.com/wx1234567890abcdef/0/page-frame.html":              "wx1234567890abcdef",
		"https://servicewechat.com/wx1234567890abcdef/devtools/page-frame.html":       "wx1234567890abcdef",
		"https://servicewechat.com/touristappid/1.2.3/page-frame.html":                "touristappid",
		"https://servicewechat.com/" + strings.Repeat("w", 64) + "/1/page-frame.html": strings.Repeat("w", 64),
	} {
		if got, ok := api.ParseReferer(ref); !ok || got != want {
			t.Errorf("ParseReferer(%q) = %q, %v; want %q", ref, got, ok, want)
		}
	}
	for _, ref := range []string{
		"", "https://servicewechat.com/", "https://servicewechat.com//3/page-frame.html",
		"https://servicewechat.com/wxA//page-frame.html",
		"https://servicewechat.com/wxA/3/page-frame.html?x=1",
		"https://servicewechat.com/wxA/3/page-frame.html#f",
		"https://servicewechat.com/wxA/3/4/page-frame.html",
		"https://servicewechat.com/wxA/3/index.html",
		"http://servicewechat.com/wxA/3/page-frame.html",
		"https://servicewechat.com.evil.example/wxA/3/page-frame.html",
		"https://evil.example/https://servicewechat.com/wxA/3/page-frame.html",
		"HTTPS://SERVICEWECHAT.COM/wxA/3/page-frame.html",
		"https://servicewechat.com/wx%41/3/page-frame.html",
		"https://servicewechat.com/wx A/3/page-frame.html",
		"https://servicewechat.com/wx\x00A/3/page-frame.html",
		"https://servicewechat.com/微信/3/page-frame.html",
		"https://servicewechat.com/" + strings.Repeat("w", 65) + "/1/page-frame.html",
		"https://servicewechat.com/wxA/" + strings.Repeat("1", 33) + "/page-frame.html",
		" https://servicewechat.com/wxA/3/page-frame.html",
		"https://servicewechat.com/wxA/3/page-frame.html ",
	} {
		if got, ok := api.ParseReferer(ref); ok || got != "" {
			t.Errorf("ParseReferer(%q) = %q, %v; want no app", ref, got, ok)
		}
	}
}

// FuzzParseReferer: the Referer is whatever a client sends. Whatever it
// holds, the parser does not panic, and an appid it accepts is 1-64
// letters, digits, '_' or '-', and the whole Referer is exactly the form
// WeChat writes around it.
func FuzzParseReferer(f *testing.F) {
	for _, s := range []string{
		"https://servicewechat.com/wx1234567890abcdef/3/page-frame.html", "https://servicewechat.com/a/b/page-frame.html",
		"https://servicewechat.com//page-frame.html", "https://servicewechat.com/wxA/3/4/page-frame.html", "",
		"https://servicewechat.com/page-frame.html", strings.Repeat("/", 100), "https://servicewechat.com/wx\xff/1/page-frame.html",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		appid, ok := api.ParseReferer(ref)
		if !ok {
			if appid != "" {
				t.Fatalf("refused %q but named appid %q", ref, appid)
			}
			return
		}
		if appid == "" || len(appid) > 64 || strings.Trim(appid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			t.Fatalf("%q: appid %q", ref, appid)
		}
		version, found := strings.CutPrefix(ref, "https://servicewechat.com/"+appid+"/")
		version, found2 := strings.CutSuffix(version, "/page-frame.html")
		if !found || !found2 || version == "" || len(version) > 32 || strings.ContainsAny(version, "/?#%: ") {
			t.Fatalf("%q accepted with version %q", ref, version)
		}
	})
}

// newAppsEnv is a handler env serving the default app and app B, each with
// its own fake WeChat.
func newAppsEnv(t *testing.T) (*hEnv, *authtest.WeChat) {
	e := newHEnv(t)
	wb := &authtest.WeChat{AppID: appB, UnionID: true}
	e.WeChat.UnionID = true
	e.Service.Apps = map[string]auth.WeChat{appB: wb}
	return e, wb
}

func loginVia(t *testing.T, e *hEnv, code string, referers ...string) answer {
	t.Helper()
	req := httptest.NewRequest("POST", "/wx/auth/login_by_weixin", bytes.NewReader([]byte(`{"code":"`+code+`"}`)))
	for _, r := range referers {
		req.Header.Add("Referer", r)
	}
	return e.send(req)
}

func refererOf(appid string) string {
	return "https://servicewechat.com/" + appid + "/7/page-frame.html"
}

func TestLoginPicksTheAppOfTheReferer(t *testing.T) {
	e, wb := newAppsEnv(t)
	expect(t, "default app", loginVia(t, e, "alice.1"), 200, 0, "成功")
	expect(t, "default app named", loginVia(t, e, "alice.2", refererOf(authtest.AppID)), 200, 0, "成功")
	expect(t, "app B", loginVia(t, e, "alice.3", refererOf(appB)), 200, 0, "成功")
	expect(t, "a Referer not of WeChat's form", loginVia(t, e, "alice.4", "https://example.com/"+appB+"/7/page-frame.html"), 200, 0, "成功")
	expect(t, "two Referers", loginVia(t, e, "alice.5", refererOf(appB), refererOf(appB)), 200, 0, "成功")
	if e.WeChat.Calls != 4 || wb.Calls != 1 {
		t.Errorf("WeChat calls: default %d, B %d; want 4 and 1", e.WeChat.Calls, wb.Calls)
	}
	var apps []string
	for _, s := range e.Store.Sessions() {
		apps = append(apps, s.AppID)
	}
	if strings.Join(apps, ",") != strings.Join([]string{authtest.AppID, authtest.AppID, appB, authtest.AppID, authtest.AppID}, ",") {
		t.Errorf("session apps %v", apps)
	}
	if ids := e.Store.Identities(); len(ids) != 2 || ids[0].UserID != ids[1].UserID {
		t.Errorf("one person through two apps: identities %+v", ids)
	}
}

func TestLoginRefusesAnAppNotConfigured(t *testing.T) {
	e, wb := newAppsEnv(t)
	for _, ref := range []string{refererOf("wxnotours0000000"), refererOf("touristappid")} {
		a := loginVia(t, e, "alice.1", ref)
		expect(t, ref, a, 200, 402, "参数值不对")
		if string(a.Data) != `{"field":"appid"}` {
			t.Errorf("%s: data %s, want {\"field\":\"appid\"}", ref, a.Data)
		}
	}
	// Refused before anything else: not even a bad code is looked at.
	a := loginVia(t, e, "", refererOf("wxnotours0000000"))
	if a.Errno != 402 || string(a.Data) != `{"field":"appid"}` {
		t.Errorf("no code, unknown app: %d %s", a.Errno, a.Data)
	}
	if e.WeChat.Calls+wb.Calls != 0 || e.Store.Calls["Login"] != 0 {
		t.Errorf("an unknown app reached WeChat (%d calls) or the store (%d logins)", e.WeChat.Calls+wb.Calls, e.Store.Calls["Login"])
	}
}
