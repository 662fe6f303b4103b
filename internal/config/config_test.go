package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type opts struct {
	addr    string
	appid   string
	ttl     time.Duration
	proxies []string
	secret  string
}

// settings is a small table of the real table's shapes.
var settings = Table{
	{Name: "addr", Env: "OA_ADDR", YAML: "oa.addr", Default: "127.0.0.1:8080", Commands: []string{"t"}},
	{Name: "appid", Env: "OA_WX_APP_ID", YAML: "oa.wx.app-id", Commands: []string{"t"}},
	{Name: "token-ttl", Env: "OA_TOKEN_TTL", YAML: "oa.token-ttl", Default: "24h", Commands: []string{"t"}},
	{Name: "trusted-proxy", YAML: "oa.trusted-proxy", Commands: []string{"t"}},
	{Name: "session-key-secret", Env: "OA_SESSION_KEY_SECRET", Secret: true, Commands: []string{"t"}},
}

func newFlags(o *opts) (*pflag.FlagSet, *Set) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	s := settings.For("t", fs)
	s.String("addr", &o.addr)
	s.String("appid", &o.appid)
	s.Duration("token-ttl", &o.ttl)
	s.Strings("trusted-proxy", &o.proxies)
	s.String("session-key-secret", &o.secret)
	return fs, s
}

// seedYAML is the seed's application.yml layout, with Spring keys around it.
const seedYAML = `
server:
  port: 8080
spring:
  datasource:
    url: jdbc:mysql://127.0.0.1:3306/oa
oa:
  wx:
    app-id: wxf23b28b5e4ea4d6a
    app-secret: 212621faa31cdf0691367ea45b2b6041
    msgDataFormat: JSON
  token-ttl: 2h
  trusted-proxy: [10.0.0.0/8, 192.168.1.1]
`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedenceFlagsThenEnvThenFileThenDefault(t *testing.T) {
	file, err := Parse("app.yml", []byte(seedYAML))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantAppID string
		wantTTL   time.Duration
		wantAddr  string
	}{
		{"file only", nil, nil, "wxf23b28b5e4ea4d6a", 2 * time.Hour, "127.0.0.1:8080"},
		{"env beats file", nil, map[string]string{"OA_WX_APP_ID": "wxenv", "OA_TOKEN_TTL": "3h"}, "wxenv", 3 * time.Hour, "127.0.0.1:8080"},
		{"flag beats env", []string{"--appid", "wxflag", "--token-ttl", "1h"}, map[string]string{"OA_WX_APP_ID": "wxenv"}, "wxflag", time.Hour, "127.0.0.1:8080"},
		{"env for a key the file lacks", nil, map[string]string{"OA_ADDR": "127.0.0.1:9999"}, "wxf23b28b5e4ea4d6a", 2 * time.Hour, "127.0.0.1:9999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o opts
			fs, set := newFlags(&o)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := set.resolveWith(env(tt.env), file); err != nil {
				t.Fatal(err)
			}
			if o.appid != tt.wantAppID || o.ttl != tt.wantTTL || o.addr != tt.wantAddr {
				t.Fatalf("got appid %q ttl %v addr %q, want %q %v %q", o.appid, o.ttl, o.addr, tt.wantAppID, tt.wantTTL, tt.wantAddr)
			}
		})
	}
}

func TestDefaultsWithoutAnySource(t *testing.T) {
	var o opts
	_, set := newFlags(&o)
	if err := set.resolveWith(env(nil), nil); err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:8080" || o.ttl != 24*time.Hour || o.appid != "" {
		t.Fatalf("defaults changed: %+v", o)
	}
}

func TestYAMLListsAndRelaxedKeys(t *testing.T) {
	file, err := Parse("a.yml", []byte("OA:\n  WX:\n    appId: wxcamel\n  trusted_proxy:\n    - 10.0.0.0/8\n    - 127.0.0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	var o opts
	_, set := newFlags(&o)
	if err := set.resolveWith(env(nil), file); err != nil {
		t.Fatal(err)
	}
	if o.appid != "wxcamel" {
		t.Fatalf("appId not matched relaxed: %q", o.appid)
	}
	if strings.Join(o.proxies, ",") != "10.0.0.0/8,127.0.0.1" {
		t.Fatalf("proxies %v", o.proxies)
	}
	if v, ok := file.Lookup("oa.wx.app-secret"); ok {
		t.Fatalf("found a key that is not there: %q", v)
	}
}

func TestSpringKeysAreIgnoredAndSecretReadable(t *testing.T) {
	file, err := Parse("application.yml", []byte(seedYAML))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := file.Lookup("oa.wx.app-secret"); !ok || v != "212621faa31cdf0691367ea45b2b6041" {
		t.Fatalf("app-secret = %q, %v", v, ok)
	}
	if _, ok := file.Lookup("oa.wx"); ok {
		t.Fatal("a map must not read as a scalar")
	}
}

func TestBadValuesNameTheirSource(t *testing.T) {
	file, _ := Parse("app.yml", []byte("oa:\n  token-ttl: forever\n"))
	var o opts
	_, set := newFlags(&o)
	err := set.resolveWith(env(nil), file)
	if err == nil || !strings.Contains(err.Error(), "app.yml: oa.token-ttl") {
		t.Fatalf("err = %v, want it to name the file and key", err)
	}
	_, set = newFlags(&o)
	err = set.resolveWith(env(map[string]string{"OA_TOKEN_TTL": "soon"}), nil)
	if err == nil || !strings.Contains(err.Error(), "OA_TOKEN_TTL") {
		t.Fatalf("err = %v, want it to name OA_TOKEN_TTL", err)
	}
}

func TestSecretValuesAreNotEchoed(t *testing.T) {
	var o opts
	set := settings.For("t", pflag.NewFlagSet("t", pflag.ContinueOnError))
	set.Duration("session-key-secret", &o.ttl) // a parser that rejects the text
	err := set.resolveWith(env(map[string]string{"OA_SESSION_KEY_SECRET": "hunter2-very-secret"}), nil)
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error echoes the secret: %v", err)
	}
}

func TestMalformedFiles(t *testing.T) {
	for name, data := range map[string]string{
		"not yaml":   "oa: [unclosed",
		"a list":     "- a\n- b\n",
		"tabs":       "oa:\n\twx: 1\n",
		"binary":     "\x00\x01\x02\xff\xfe",
		"dup anchor": "a: &x 1\nb: *y\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("bad.yml", []byte(data))
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), "bad.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
		})
	}
	if f, err := Parse("empty.yml", nil); err != nil || f == nil {
		t.Fatalf("an empty file is valid: %v", err)
	}
}

func TestLoadLimitsAndMissingFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "nope.yml")); err == nil {
		t.Fatal("missing file: want an error")
	}
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, []byte("oa:\n  db: \""+strings.Repeat("x", MaxFileSize)+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized file: err = %v", err)
	}
	ok := filepath.Join(dir, "ok.yml")
	if err := os.WriteFile(ok, []byte(seedYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(ok)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Lookup("oa.wx.app-id"); v != "wxf23b28b5e4ea4d6a" {
		t.Fatalf("app-id = %q", v)
	}
}

func TestUnknownSettingIsAProgrammingError(t *testing.T) {
	for name, bind := range map[string]func(*Set){
		"not in the table":       func(s *Set) { var v string; s.String("nope", &v) },
		"not for this command":   func(s *Set) { var v string; s.String("addr", &v) },
		"a default of bad shape": func(s *Set) { var v time.Duration; s.Duration("addr", &v) },
	} {
		t.Run(name, func(t *testing.T) {
			command := "t"
			if name == "not for this command" {
				command = "other"
			}
			defer func() {
				if recover() == nil {
					t.Fatal("want a panic for a setting the table does not give the command")
				}
			}()
			bind(settings.For(command, pflag.NewFlagSet(command, pflag.ContinueOnError)))
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(seedYAML))
	f.Add([]byte("oa: {wx: {app-id: [1, {a: b}]}}"))
	f.Add([]byte("&a [*a, *a]"))
	f.Add([]byte(springYAML))
	f.Add([]byte("oa:\n  tokne-ttl: 1\nspring:\n  datasource:\n    url: jdbc:mariadb://[::1]/x?sslMode=trust\n    username: u\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yml", data)
		if err != nil {
			return
		}
		for _, k := range []string{"oa.wx.app-id", "oa.db", "oa.trusted-proxy", "a.b.c"} {
			file.Lookup(k)
		}
		_ = file.CheckKeys([]string{"oa.addr", "oa.wx.app-id", "oa.wx.apps"})
		// A hostile spring.datasource: an error or a DSN, never a panic;
		// its errors never hold the password.
		ds, ok, err := file.SpringDataSource()
		if pw, _ := file.Lookup(springPasswordKey); err != nil && len(pw) > 3 && strings.Contains(err.Error(), pw) {
			t.Fatalf("error shows the password: %v", err)
		}
		if ok && err == nil && !strings.HasPrefix(ds.DSN, "mysql://") {
			t.Fatalf("DSN %q", ds.DSN)
		}
	})
}

func TestDuplicateKeysAreReportedOnce(t *testing.T) {
	// Thousands of repeated keys: once made the YAML library build an
	// error quadratic in their number (found by FuzzParse).
	data := strings.Repeat("k: 1\n", 4000)
	_, err := Parse("dup.yml", []byte(data))
	if err == nil || !strings.Contains(err.Error(), `line 2: key "k" appears twice`) {
		t.Fatalf("err = %v", err)
	}
	if len(err.Error()) > 200 {
		t.Fatalf("error of %d bytes", len(err.Error()))
	}
	if _, err := Parse("nested.yml", []byte("oa:\n  wx:\n    app-id: a\n    app-id: b\n")); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("nested duplicate: err = %v", err)
	}
}

func TestAliasesResolve(t *testing.T) {
	f, err := Parse("a.yml", []byte("base: &id wxalias\noa:\n  wx:\n    app-id: *id\n  trusted-proxy: [*id, 10.0.0.1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := f.Lookup("oa.wx.app-id"); !ok || v != "wxalias" {
		t.Fatalf("app-id = %q %v", v, ok)
	}
	if v, _ := f.Lookup("oa.trusted-proxy"); v != "wxalias,10.0.0.1" {
		t.Fatalf("list = %q", v)
	}
	if _, ok := f.Lookup("oa.wx.app-id.deeper"); ok {
		t.Fatal("a scalar has no children")
	}
	if v, ok := f.Lookup("oa.missing"); ok {
		t.Fatalf("found %q", v)
	}
	if _, err := Parse("null.yml", []byte("~\n")); err != nil {
		t.Fatalf("a null document is an empty file: %v", err)
	}
}

func TestLookupPairs(t *testing.T) {
	keys := [2]string{"app-id", "app-secret"}
	for _, tc := range []struct {
		yaml, want string
		ok         bool
		err        string
	}{
		{"oa:\n  wx:\n    apps:\n      - app-id: wxa\n        app-secret: sa\n      - appId: wxb\n        APP_SECRET: 'sb=,x'\n", "wxa=sa,wxb=sb=,x", true, ""},
		{"oa:\n  wx:\n    apps:\n      - {app-id: wxa}\n", "wxa", true, ""},
		{"oa:\n  wx:\n    apps: wxa=sa,wxb=sb\n", "wxa=sa,wxb=sb", true, ""},
		{"oa:\n  wx:\n    apps: [wxa=sa, wxb=sb]\n", "wxa=sa,wxb=sb", true, ""},
		{"oa:\n  wx:\n    apps: []\n", "", true, ""},
		{"oa:\n  wx:\n    app-id: wxa\n", "", false, ""},
		{"oa:\n  wx:\n    apps:\n      - app-secret: sa\n", "", false, "line 4: an entry without app-id"},
		{"oa:\n  wx:\n    apps:\n      - app-id: wxa\n        secret: sa\n", "", false, "line 4: want only app-id and app-secret"},
		{"oa:\n  wx:\n    apps:\n      - app-id: [wxa]\n", "", false, "want only"},
		{"oa:\n  wx:\n    apps:\n      - wxa=sa\n      - {app-id: wxb}\n", "", false, "want a list of {app-id, app-secret}"},
		{"oa:\n  wx:\n    apps: {app-id: wxa}\n", "", false, ""},
	} {
		f, err := Parse("a.yml", []byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := f.LookupPairs("oa.wx.apps", keys)
		if got != tc.want || ok != tc.ok || (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %q %v %v; want %q %v %q", tc.yaml, got, ok, err, tc.want, tc.ok, tc.err)
		}
	}
	// Through a Set, a malformed list is an error naming the file and key,
	// without the secrets it holds.
	table := Table{{Name: "apps", NoFlag: true, Env: "OA_WX_APPS", YAML: "oa.wx.apps", Secret: true, Pair: keys, Commands: []string{"t"}}}
	var apps []string
	set := table.For("t", pflag.NewFlagSet("t", pflag.ContinueOnError))
	set.Strings("apps", &apps)
	f, _ := Parse("app.yml", []byte("oa:\n  wx:\n    apps:\n      - app-id: wxa\n        app-secret: TOPSECRET\n        extra: 1\n"))
	err := set.resolveWith(env(nil), f)
	if err == nil || !strings.Contains(err.Error(), "app.yml: oa.wx.apps: line 4") || strings.Contains(err.Error(), "TOPSECRET") {
		t.Errorf("malformed apps: %v", err)
	}
	f, _ = Parse("app.yml", []byte("oa:\n  wx:\n    apps:\n      - app-id: wxa\n        app-secret: sa\n"))
	if err := set.resolveWith(env(nil), f); err != nil || strings.Join(apps, ";") != "wxa=sa" {
		t.Errorf("apps %q, %v", apps, err)
	}
	set = table.For("t", pflag.NewFlagSet("t", pflag.ContinueOnError))
	set.Strings("apps", &apps)
	if err := set.resolveWith(env(map[string]string{"OA_WX_APPS": "wxb=sb,wxc=sc"}), f); err != nil || strings.Join(apps, ";") != "wxb=sb;wxc=sc" {
		t.Errorf("apps from the environment %q, %v", apps, err)
	}
}
