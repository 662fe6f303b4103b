package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestUnknownKeysUnderOAAreErrors(t *testing.T) {
	known := []string{"oa.addr", "oa.token-ttl", "oa.wx.app-id", "oa.wx.app-secret", "oa.wx.apps", "oa.mockwx.seed", "oa.wx.msg-data-format"}
	for _, tc := range []struct{ name, yaml, want string }{
		{"typo", "oa:\n  tokne-ttl: 2h\n", "line 2: unknown key oa.tokne-ttl (did you mean oa.token-ttl?)"},
		{"nested typo", "oa:\n  wx:\n    app-idd: wx1\n", "line 3: unknown key oa.wx.app-idd (did you mean oa.wx.app-id?)"},
		{"wrong section", "oa:\n  seed: x\n", "unknown key oa.seed (did you mean oa.mockwx.seed?)"},
		{"a value where keys belong", "oa:\n  wx: wx1\n", "oa.wx: want keys under it"},
		{"oa a list", "oa: [1, 2]\n", "oa: want keys under it"},
		{"inside a leaf's parent", "oa:\n  mockwx:\n    sed: 1\n", "did you mean oa.mockwx.seed?"},
		{"relaxed spelling, still unknown", "OA:\n  TokenTTLs: 1h\n", "unknown key OA.TokenTTLs (did you mean oa.token-ttl?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("app.yml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = f.CheckKeys(known)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "app.yml") {
				t.Fatalf("err = %v, want it to name app.yml and %q", err, tc.want)
			}
		})
	}
	for name, yaml := range map[string]string{
		"relaxed spellings":          "oa:\n  tokenTtl: 1h\n  WX:\n    appId: a\n    msgDataFormat: JSON\n",
		"a list of maps under a key": "oa:\n  wx:\n    apps:\n      - app-id: wx1\n        app-secret: s\n",
		"outside oa":                 "spring:\n  anything: 1\nlogging:\n  level: DEBUG\nserver:\n  port: 1\nmybatis:\n  x: y\nother: z\n",
		"empty oa":                   "oa:\n",
		"empty file":                 "",
	} {
		f, err := Parse("ok.yml", []byte(yaml))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := f.CheckKeys(known); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestEveryTableKeyIsKnown: the check knows every key of the real table
// and the seed's, so a correct application.yml never trips it.
func TestEveryTableKeyIsKnown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.yml")
	// One file per key, read through Resolve as a command reads it.
	for _, r := range append(Settings, Setting{YAML: "oa.wx.msgDataFormat"}) {
		if r.YAML == "" {
			continue
		}
		if err := os.WriteFile(path, []byte(yamlLine(r.YAML)), 0o600); err != nil {
			t.Fatal(err)
		}
		var cfg string
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		set := Table{{Name: "config", Env: "OA_CONFIG", Commands: []string{"t"}}}.For("t", fs)
		set.String("config", &cfg)
		if err := fs.Parse([]string{"--config", path}); err != nil {
			t.Fatal(err)
		}
		if err := set.Resolve(nil); err != nil {
			t.Errorf("%s: %v", r.YAML, err)
		}
	}
}

// yamlLine writes a dotted key with the value 1 as nested YAML.
func yamlLine(key string) string {
	var b strings.Builder
	for i, p := range strings.Split(key, ".") {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i == strings.Count(key, ".") {
			b.WriteString(" 1")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestNearestKeyAndEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"tokenttl", "toknettl", 2}, {"same", "same", 0}} {
		if d := editDistance(tc.a, tc.b); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
	known := map[string]string{"oa.tokenttl": "oa.token-ttl", "oa.addr": "oa.addr"}
	if k := nearestKey("oa.add", known); k != "oa.addr" {
		t.Errorf("nearest of oa.add = %q", k)
	}
}

// TestHugeUnknownKeyIsCheap: the nearest-key search is quadratic in the
// key's length, so a key as long as the file allows is cut first.
func TestHugeUnknownKeyIsCheap(t *testing.T) {
	long := strings.Repeat("x", 900<<10)
	// An explicit key: YAML limits implicit ones to 1024 characters.
	f, err := Parse("big.yml", []byte("oa:\n  ? "+long+"\n  : 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = f.CheckKeys(Settings.yamlKeys())
	if err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("err = %.200v", err)
	}
	// Uncut, this is 900 KiB × 20 bytes × 40 keys: seconds. Cut, microseconds;
	// the bound leaves room for a loaded machine.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}
