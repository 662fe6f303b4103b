package mockwx_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

// fullScript uses every field a script has.
const fullScript = `# a test environment in one file
users:
  nina: {errcode: 40226}
  lena: {stickySessionKey: true, riskRank: 3, noUnionid: true}
  omar:
    errcode: -1
    noUnionid: false
    riskRank: 0
    stickySessionKey: false
phones:
  alice: "13800001111"
  bob: {phoneNumber: "61234567", countryCode: "852"}
  carl: 13900002222
faults: {errorRate: 1, errcode: 45011, latencyMs: 1, jitterMs: 1, seed: 7}
`

func writeScript(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "env.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScriptAppliesEveryField(t *testing.T) {
	sc, err := mockwx.LoadScript(writeScript(t, fullScript))
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, mockwx.Config{AppID: testApp, UnionID: true, Script: sc})
	// faults: every WeChat call fails with 45011 until they are cleared.
	if a := e.login(testApp, testSecret, "otto.1"); a.Errcode != 45011 {
		t.Fatalf("script faults: %s", a.Raw)
	}
	e.must("DELETE", "/__mock/faults", "")

	if a := e.login(testApp, testSecret, "nina.1"); a.Errcode != 40226 || a.Errmsg != "code blocked" {
		t.Errorf("nina: %s", a.Raw)
	}
	if a := e.login(testApp, testSecret, "omar.1"); a.Errcode != -1 {
		t.Errorf("omar: %s", a.Raw)
	}
	k1 := e.login(testApp, testSecret, "lena.1")
	if k1.OpenID == "" || k1.UnionID != "" {
		t.Errorf("lena (noUnionid): %s", k1.Raw)
	}
	e.clk.Add(time.Minute)
	if k := e.login(testApp, testSecret, "lena.2"); k.SessionKey != k1.SessionKey {
		t.Errorf("lena (stickySessionKey): %s, want %s", k.SessionKey, k1.SessionKey)
	}
	var u struct {
		Errcode          int
		NoUnionid        bool
		RiskRank         int
		StickySessionKey bool
	}
	json.Unmarshal([]byte(e.must("GET", "/__mock/users/lena", "").Raw), &u)
	if u.RiskRank != 3 || !u.NoUnionid || !u.StickySessionKey || u.Errcode != 0 {
		t.Errorf("GET lena: %+v", u)
	}
	tok := e.stableToken(testApp, false).AccessToken
	var rank struct {
		RiskRank int `json:"risk_rank"`
	}
	json.Unmarshal([]byte(e.must("POST", "/wxa/getuserriskrank?access_token="+tok,
		`{"appid":"`+testApp+`","openid":"`+k1.OpenID+`","scene":1,"client_ip":"192.0.2.1"}`).Raw), &rank)
	if rank.RiskRank != 3 {
		t.Errorf("lena's risk_rank: %d", rank.RiskRank)
	}
	for user, want := range map[string]wechat.PhoneInfo{
		"alice": {PhoneNumber: "13800001111", PurePhoneNumber: "13800001111", CountryCode: "86"},
		"bob":   {PhoneNumber: "+85261234567", PurePhoneNumber: "61234567", CountryCode: "852"},
		"carl":  {PhoneNumber: "13900002222", PurePhoneNumber: "13900002222", CountryCode: "86"},
	} {
		var p struct {
			PhoneInfo wechat.PhoneInfo `json:"phone_info"`
		}
		json.Unmarshal([]byte(e.must("POST", "/wxa/business/getuserphonenumber?access_token="+tok, `{"code":"`+user+`.p1"}`).Raw), &p)
		p.PhoneInfo.Watermark = wechat.Watermark{}
		if p.PhoneInfo != want {
			t.Errorf("%s's phone: %+v, want %+v", user, p.PhoneInfo, want)
		}
	}
	// The script's behaviours reset like any other.
	e.must("DELETE", "/__mock/users/nina", "")
	if a := e.login(testApp, testSecret, "nina.2"); a.OpenID == "" {
		t.Errorf("nina after DELETE: %s", a.Raw)
	}
}

func TestScriptEmptyAndSparseFiles(t *testing.T) {
	for _, text := range []string{"", "# nothing yet\n", "users:\nphones:\n", "users: {}\nfaults: {}\n", "---\nusers:\n  x: {}\n"} {
		if _, err := mockwx.ParseScript("s.yaml", []byte(text)); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
	// Anchors and aliases work.
	sc, err := mockwx.ParseScript("s.yaml", []byte("users:\n  a: &blocked {errcode: 40226}\n  b: *blocked\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, mockwx.Config{Script: sc})
	if a := e.login(testApp, testSecret, "b.1"); a.Errcode != 40226 {
		t.Errorf("aliased behaviour: %s", a.Raw)
	}
}

func TestScriptErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		text string
		line int
		want string
	}{
		{"user:\n  nina: {errcode: 40226}\n", 1, `unknown key "user"`},
		{"users:\n  nina: {errcod: 40226}\n", 2, `unknown key "errcod"`},
		{"users:\n  nina: {errcode: 40226}\n  lena:\n    sticky: true\n", 4, `unknown key "sticky"`},
		{"phones:\n  alice: {phoneNumber: \"13800001111\", country: \"86\"}\n", 2, `unknown key "country"`},
		{"faults:\n  errorRate: 0.1\n  rate: 1\n", 3, `unknown key "rate"`},
		{"users:\n  nina: {errcode: 40226\n", 2, "malformed YAML"},
		{"users:\n  nina: {errcode: 40226}\n    lena: {}\n", 3, "malformed YAML"},
		{"users:\n\tnina: {}\n", 2, "malformed YAML"},
		{"users: [\n", 1, "malformed YAML"},
		{"users:\n  nina: {}\n  lena: {errcode: 1}\n  mira: [\n  otto: {}\n", 4, "malformed YAML"},
		{"users:\n  nina: {}\n  lena: {errcode: 1}\n  mira: {}\n  otto: {\n", 5, "malformed YAML"},
		{"users:\n  nina: {}\n  lena: {errcode: 1}\n mira: {}\n  otto: {}\n", 4, "malformed YAML"},
		{"users:\n  nina: {}\n  lena: \"x\n", 3, "malformed YAML"},
		{"users:\n  nina: {errcode: 1}\n\x00\n", 3, "control character"},
		{"users:\n  \xffnina: {}\n", 2, "invalid UTF-8"},
		{"a: 1\n---\nb: 2\n", 2, "one YAML document"},
		{"- nina\n", 1, "the script must be a mapping"},
		{"users: [nina]\n", 1, "users must be a mapping"},
		{"users:\n  nina: 40226\n", 2, "users.nina must be a mapping"},
		{"users:\n  nina: {errcode: abc}\n", 2, "users.nina.errcode must be an integer"},
		{"users:\n  nina: {errcode: 1.5}\n", 2, "users.nina.errcode must be an integer"},
		{"users:\n  nina: {errcode: 2000000}\n", 2, "errcode must be -1000000..1000000"},
		{"users:\n  nina: {riskRank: 5}\n", 2, "riskRank must be 0..4"},
		{"users:\n  nina: {noUnionid: yes}\n", 2, "users.nina.noUnionid must be true or false"},
		{"users:\n  nina: {stickySessionKey: 1}\n", 2, "users.nina.stickySessionKey must be true or false"},
		{"users:\n  a.b: {}\n", 2, `user "a.b"`},
		{"users:\n  [a]: {}\n", 2, "plain name"},
		{"users:\n  nina: {}\n  lena: {}\n  nina: {errcode: 1}\n", 4, `"nina" is given twice in users (first at line 2)`},
		{"faults: {}\nusers: {}\nfaults: {}\n", 3, `"faults" is given twice`},
		{"phones:\n  alice: \"12\"\n", 2, "phones.alice: phoneNumber must be 5-15 digits"},
		{"phones:\n  alice: [1]\n", 2, "phones.alice must be a string"},
		{"phones:\n  alice: {phoneNumber: \"61234567\", countryCode: \"85299\"}\n", 2, "countryCode 1-4 digits"},
		{"faults: {errorRate: 2}\n", 1, "faults: errorRate must be 0..1"},
		{"faults:\n  latencyMs: 70000\n", 2, "latencyMs and jitterMs 0..60000"},
		{"faults: {errorRate: lots}\n", 1, "faults.errorRate must be a number"},
		{"faults: {seed: -1}\n", 1, "faults.seed must be an integer"},
		{"faults: [1]\n", 1, "faults must be a mapping"},
	}
	for _, c := range cases {
		path := writeScript(t, c.text)
		_, err := mockwx.LoadScript(path)
		var se *mockwx.ScriptError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v, want a *ScriptError", c.text, err)
			continue
		}
		prefix := path + ":" + strconv.Itoa(c.line) + ": "
		if se.File != path || se.Line != c.line || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %s...%s", c.text, err, prefix, c.want)
		}
	}
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := mockwx.LoadScript(missing)
	var se *mockwx.ScriptError
	if !errors.As(err, &se) || se.File != missing || !strings.HasPrefix(err.Error(), missing+": ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
