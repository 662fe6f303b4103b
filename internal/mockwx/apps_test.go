package mockwx_test

import (
	"testing"

	"github.com/oactl/oactl/internal/mockwx"
)

// TestSeveralApps: mockwx with several apps accepts each with its own
// secret (or any, for an app given without one), refuses others, and its
// helpers default to the first app and take any configured one.
func TestSeveralApps(t *testing.T) {
	const appB, appC = "wxmockappb0000002", "wxmockappc0000003"
	e := start(t, mockwx.Config{AppID: testApp, Secret: testSecret, UnionID: true,
		Apps: []mockwx.App{{ID: appB, Secret: "secret-b"}, {ID: appC}}})
	a := e.login(testApp, testSecret, "alice.1")
	b := e.login(appB, "secret-b", "alice.2")
	c := e.login(appC, "anything", "alice.3")
	if a.OpenID != specOpenID("oactl", testApp, "alice") || b.OpenID != specOpenID("oactl", appB, "alice") ||
		c.OpenID != specOpenID("oactl", appC, "alice") {
		t.Fatalf("openids %s %s %s", a.Raw, b.Raw, c.Raw)
	}
	if a.UnionID == "" || a.UnionID != b.UnionID || b.UnionID != c.UnionID {
		t.Errorf("one user's unionid differs across apps: %q %q %q", a.UnionID, b.UnionID, c.UnionID)
	}
	for _, tc := range []struct {
		appid, secret string
		errcode       int
	}{
		{appB, testSecret, 40125}, // secrets are paired with their app
		{testApp, "secret-b", 40125},
		{"wxnotconfigured", testSecret, 40013},
	} {
		if got := e.login(tc.appid, tc.secret, "bob."+tc.appid+tc.secret); got.Errcode != tc.errcode {
			t.Errorf("%s/%s: %s, want errcode %d", tc.appid, tc.secret, got.Raw, tc.errcode)
		}
	}
	if r := e.must("POST", "/__mock/login", `{"user":"carol","appid":"`+appB+`"}`); r.Status != 200 {
		t.Errorf("helper with app B: %d %s", r.Status, r.Raw)
	}
	if r := e.must("GET", "/__mock/users/carol?appid="+appC, ""); r.Status != 200 || r.OpenID != specOpenID("oactl", appC, "carol") {
		t.Errorf("user of app C: %d %s", r.Status, r.Raw)
	}
	if r := e.must("GET", "/__mock/users/carol", ""); r.OpenID != specOpenID("oactl", testApp, "carol") {
		t.Errorf("helpers default to the first app: %s", r.Raw)
	}
	if r := e.must("POST", "/__mock/login", `{"user":"carol","appid":"wxnotconfigured"}`); r.Status != 400 {
		t.Errorf("helper with an app not configured: %d %s", r.Status, r.Raw)
	}

	// Without any app, every appid is accepted.
	open := start(t, mockwx.Config{})
	for _, app := range []string{testApp, appB, "wxwhatever"} {
		if got := open.login(app, "s", "dan."+app); got.OpenID != specOpenID("oactl", app, "dan") {
			t.Errorf("no --appid, %s: %s", app, got.Raw)
		}
	}
}
