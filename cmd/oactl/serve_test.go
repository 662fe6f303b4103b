package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeRefusesBadSettingsWithUsageExit(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(badYAML, []byte("oa: [unclosed"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", 2<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := map[string]string{"OA_WX_APP_SECRET": "s3cret-value"}
	withApps := func(apps string) map[string]string {
		return map[string]string{"OA_WX_APP_SECRET": "s3cret-value", "OA_WX_APPS": apps}
	}
	appsYAML := filepath.Join(dir, "apps.yml")
	if err := os.WriteFile(appsYAML, []byte("oa:\n  wx:\n    apps:\n      - app-id: wxb\n        app-secret: s3cret-value\n        secret: s3cret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no appid", []string{"serve"}, ok, "no appid"},
		{"no secret", []string{"serve", "--appid", "wxa"}, nil, "no app secret"},
		{"http base url off loopback", []string{"serve", "--appid", "wxa", "--wx-base-url", "http://api.example.com"}, ok, "--wx-base-url"},
		{"base url junk", []string{"serve", "--appid", "wxa", "--wx-base-url", "::::"}, ok, "--wx-base-url"},
		{"addr junk", []string{"serve", "--appid", "wxa", "--addr", "nonsense"}, ok, "--addr"},
		{"ttl zero", []string{"serve", "--appid", "wxa", "--token-ttl", "0s"}, ok, "--token-ttl"},
		{"ttl words", []string{"serve", "--appid", "wxa", "--token-ttl", "forever"}, ok, "token-ttl"},
		{"wx timeout huge", []string{"serve", "--appid", "wxa", "--wx-timeout", "10m"}, ok, "--wx-timeout"},
		{"negative rate", []string{"serve", "--appid", "wxa", "--login-rate", "-1"}, ok, "--login-rate"},
		{"bad proxy", []string{"serve", "--appid", "wxa", "--trusted-proxy", "10.0.0.0/99"}, ok, "--trusted-proxy"},
		{"bad zone", []string{"serve", "--appid", "wxa", "--time-zone", "Mars/Olympus"}, ok, "--time-zone"},
		{"relative public url", []string{"serve", "--appid", "wxa", "--public-url", "/files"}, ok, "--public-url"},
		{"appid with spaces", []string{"serve", "--appid", "wx a"}, ok, "--appid"},
		{"appid huge", []string{"serve", "--appid", strings.Repeat("w", 1000)}, ok, "--appid"},
		{"secret with newline", []string{"serve", "--appid", "wxa"}, map[string]string{"OA_WX_APP_SECRET": "a\nb"}, "app secret"},
		{"env ttl junk", []string{"serve", "--appid", "wxa"}, map[string]string{"OA_WX_APP_SECRET": "s", "OA_TOKEN_TTL": "soon"}, "OA_TOKEN_TTL"},
		{"missing config", []string{"serve", "--config", filepath.Join(dir, "nope.yml")}, ok, "config file"},
		{"malformed config", []string{"serve", "--config", badYAML}, ok, "bad.yml"},
		{"huge config", []string{"serve", "--config", big}, ok, "larger than"},
		{"config from env", []string{"serve"}, map[string]string{"OA_CONFIG": badYAML}, "bad.yml"},
		{"stray argument", []string{"serve", "extra"}, ok, ""},
		{"dev mockwx off loopback", []string{"dev", "--mockwx-addr", "0.0.0.0:9090"}, nil, "loopback"},
		{"app given twice", []string{"serve", "--appid", "wxa"}, withApps("wxb=s3cret-value,wxb=s3cret-value"), "wxb is given twice"},
		{"app is the default app", []string{"serve", "--appid", "wxa"}, withApps("wxa=s3cret-value"), "wxa is given twice"},
		{"app without secret", []string{"serve", "--appid", "wxa"}, withApps("wxb"), "wxb has no secret"},
		{"app secret with a tab", []string{"serve", "--appid", "wxa"}, withApps("wxb=s3cret-value\tx"), "secret of appid wxb"},
		{"apps on lines", []string{"serve", "--appid", "wxa"}, withApps("wxb=s3cret-value\nwxc"), "wxc has no secret"},
		{"app secret not ASCII", []string{"serve", "--appid", "wxa"}, withApps("wxb=s3cret-value密"), "secret of appid wxb"},
		{"appid with space", []string{"serve", "--appid", "wxa"}, withApps("wx b=s3cret-value"), "OA_WX_APPS"},
		{"appid empty", []string{"serve", "--appid", "wxa"}, withApps("=s3cret-value"), "OA_WX_APPS"},
		{"dev app given twice", []string{"dev"}, withApps("wxb,wxb"), "wxb is given twice"},
		{"apps malformed in YAML", []string{"serve", "--appid", "wxa", "--config", appsYAML}, ok, "oa.wx.apps: line 4"},
		{"dev off loopback", []string{"dev", "--addr", "0.0.0.0:8080"}, nil, "--addr \"0.0.0.0:8080\" is not a loopback address: add --allow-remote"},
		{"dev on every interface", []string{"dev", "--addr", ":8080"}, nil, "--allow-remote"},
		{"dev on a LAN address", []string{"dev", "--addr", "192.168.1.20:8080"}, nil, "--allow-remote"},
		{"negative upload rate", []string{"serve", "--appid", "wxa", "--upload-rate", "-1"}, ok, "--upload-rate"},
		{"bind phone rate words", []string{"serve", "--appid", "wxa", "--bind-phone-rate", "lots"}, ok, "bind-phone-rate"},
		{"upload retention zero", []string{"serve", "--appid", "wxa", "--upload-retention", "0s"}, ok, "--upload-retention"},
		{"short session-key secret", []string{"serve", "--appid", "wxa"}, map[string]string{"OA_WX_APP_SECRET": "s3cret-value", "OA_SESSION_KEY_SECRET": "only-31-bytes-of-secret-text-xx"}, "at least 32"},
		{"short second session-key secret", []string{"serve", "--appid", "wxa"}, map[string]string{"OA_WX_APP_SECRET": "s3cret-value", "OA_SESSION_KEY_SECRET": "a-session-key-secret-of-32-bytes,short"}, "secret 2 is 5 bytes"},
		{"dev short session-key secret", []string{"dev"}, map[string]string{"OA_SESSION_KEY_SECRET": "short"}, "at least 32"},
		{"rekey short sealing secret", []string{"sessions", "rekey", "--db", "sqlite:" + filepath.Join(dir, "none.db")}, map[string]string{"OA_SESSION_KEY_SECRET": "short,a-session-key-secret-of-32-bytes"}, "secret 1 is 5 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, out, errb := testStdio(tc.env)
			if code := run(tc.args, s); code != exitUsage {
				t.Fatalf("exit %d, want 2; stderr: %s", code, errb)
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr %q does not name %q", errb, tc.want)
			}
			for _, secret := range []string{"s3cret-value", "only-31-bytes-of-secret-text-xx", "a-session-key-secret-of-32-bytes"} {
				if strings.Contains(errb.String()+out.String(), secret) {
					t.Errorf("a secret was echoed: %s", errb)
				}
			}
		})
	}
}

// TestServeReadsTheSeedApplicationYML starts serve with nothing but the
// Java backend's application.yml (plus where WeChat is) and logs in.
func TestServeReadsTheSeedApplicationYML(t *testing.T) {
	maddr := freeAddr(t)
	m := startOactl(t, []string{"OA_WX_APP_SECRET=212621faa31cdf0691367ea45b2b6041"}, "mockwx", "--addr", maddr, "--appid", "wxf23b28b5e4ea4d6a")
	m.waitHealthy("http://" + maddr + "/__mock/healthz")
	dir := t.TempDir()
	yml := filepath.Join(dir, "application.yml")
	content := `server:
  port: 8080
spring:
  datasource:
    url: jdbc:mysql://127.0.0.1:3306/oa
oa:
  wx:
    app-id: wxf23b28b5e4ea4d6a
    app-secret: 212621faa31cdf0691367ea45b2b6041
    msgDataFormat: JSON
  db: sqlite:` + filepath.Join(dir, "oa.db") + `
`
	if err := os.WriteFile(yml, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := startOactl(t, []string{"OA_WX_BASE_URL=http://" + maddr}, "serve", "--config", yml, "--addr", addr, "--storage-dir", filepath.Join(dir, "files"))
	p.waitHealthy("http://" + addr + "/readyz")
	c := newClient(t, "http://"+addr)
	c.login(uniqueCode("sam"), nil)
	if _, err := os.Stat(filepath.Join(dir, "oa.db")); err != nil {
		t.Fatalf("oa.db from the YAML was not used: %v", err)
	}
	if err := p.stop(10 * time.Second); err != nil {
		t.Fatalf("serve did not exit cleanly: %v", err)
	}
	if strings.Contains(p.errOut.String(), "212621faa31cdf0691367ea45b2b6041") {
		t.Fatal("the log holds the app secret")
	}
}

// TestDevDefaultsUnlessASourceSaysOtherwise: dev's own appid, made-up
// secret and in-process mockwx give way to any source of the setting.
func TestDevDefaultsUnlessASourceSaysOtherwise(t *testing.T) {
	parse := func(env map[string]string, args ...string) *devOptions {
		t.Helper()
		s, _, errb := testStdio(env)
		var got *devOptions
		cmd := newDevCmd(&factory{io: s}, func(o *devOptions) error { got = o; return nil })
		if err := execute(cmd, s, args...); err != nil {
			t.Fatalf("%v: %v %s", args, err, errb)
		}
		return got
	}
	o := parse(nil)
	if !o.mockIsWeChat || o.serve.WxBaseURL != "http://127.0.0.1:9090" || o.serve.AppID != defaultDevAppID || len(o.serve.AppSecret) != 32 {
		t.Errorf("defaults: mock %v url %q appid %q secret of %d bytes", o.mockIsWeChat, o.serve.WxBaseURL, o.serve.AppID, len(o.serve.AppSecret))
	}
	if other := parse(nil); other.serve.AppSecret == o.serve.AppSecret {
		t.Error("two runs made the same secret")
	}
	yml := filepath.Join(t.TempDir(), "dev.yml")
	if err := os.WriteFile(yml, []byte("oa:\n  wx:\n    base-url: http://127.0.0.1:7\n    app-secret: from-yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*devOptions{
		parse(map[string]string{"OA_WX_BASE_URL": "http://127.0.0.1:7", "OA_WX_APP_SECRET": "from-yaml"}),
		parse(nil, "--config", yml),
		parse(map[string]string{"OA_CONFIG": yml}),
	} {
		if o.mockIsWeChat || o.serve.WxBaseURL != "http://127.0.0.1:7" || o.serve.AppSecret != "from-yaml" {
			t.Errorf("a source gave the base URL and secret: mock %v url %q secret %q", o.mockIsWeChat, o.serve.WxBaseURL, o.serve.AppSecret)
		}
	}
	if o := parse(nil, "--wx-base-url", "http://127.0.0.1:9090"); o.mockIsWeChat {
		t.Error("--wx-base-url equal to mockwx's address still counts as told")
	}

	// Other apps: from the environment or the YAML list; dev makes up the
	// secret of one named without.
	o = parse(map[string]string{"OA_WX_APPS": "wxb, wxc=given-c\n"})
	if len(o.serve.apps) != 2 || o.serve.apps[0].id != "wxb" || len(o.serve.apps[0].secret) != 32 || o.serve.apps[1] != (app{"wxc", "given-c"}) {
		t.Errorf("dev apps %+v", o.serve.apps)
	}
	apps := filepath.Join(t.TempDir(), "apps.yml")
	if err := os.WriteFile(apps, []byte("oa:\n  wx:\n    apps:\n      - app-id: wxb\n        app-secret: sb\n      - appId: wxc\n        appSecret: sc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o = parse(nil, "--config", apps)
	if len(o.serve.apps) != 2 || o.serve.apps[0] != (app{"wxb", "sb"}) || o.serve.apps[1] != (app{"wxc", "sc"}) {
		t.Errorf("apps from YAML %+v", o.serve.apps)
	}
}
