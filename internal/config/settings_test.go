package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite docs/CONFIG.md's settings table from Settings")

// historicalEnv are the variables that do not follow the flag's name: the
// names SPEC §8 keeps, and mockwx's address, which is dev's --mockwx-addr
// (OA_ADDR is serve's; one environment must not put both on one port).
// OA_WX_APPS (SPEC §10) is serve's and mockwx's "apps" alike.
var historicalEnv = map[string]bool{"OA_WX_APP_ID": true, "OA_WX_APP_SECRET": true, "OA_MOCKWX_ADDR": true, "OA_WX_APPS": true}

func TestSettingsTableIsWellFormed(t *testing.T) {
	type key struct{ name, command string }
	seen := map[key]bool{}
	yamlOfEnv := map[string]string{}
	for _, s := range Settings {
		if s.Name == "" || s.Usage == "" || len(s.Commands) == 0 {
			t.Errorf("%+v: want a name, a usage and commands", s)
		}
		if want := "OA_" + strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_")); s.Env != want && !historicalEnv[s.Env] {
			t.Errorf("--%s: env %s, want %s (SPEC §8)", s.Name, s.Env, want)
		}
		if s.Name != "config" && !strings.HasPrefix(s.YAML, "oa.") {
			t.Errorf("--%s: YAML key %q, want one under oa.", s.Name, s.YAML)
		}
		if s.NoFlag && !s.Secret {
			t.Errorf("--%s: only secrets go without a flag", s.Name)
		}
		// Two rows may be one setting (the same variable) for different
		// commands; then they must have one YAML key too.
		if y, ok := yamlOfEnv[s.Env]; ok && y != s.YAML {
			t.Errorf("%s is %s in one row and %s in another", s.Env, y, s.YAML)
		}
		yamlOfEnv[s.Env] = s.YAML
		for _, c := range s.Commands {
			if seen[key{s.Name, c}] {
				t.Errorf("%s has two rows for --%s", c, s.Name)
			}
			seen[key{s.Name, c}] = true
		}
	}
}

func TestResolveReadsTheFileNamedByFlagOrEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.yml")
	if err := os.WriteFile(file, []byte(seedYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	table := append(Table{{Name: "config", Env: "OA_CONFIG", Commands: []string{"t"}}}, settings...)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"flag", []string{"--config", file}, nil},
		{"env", nil, map[string]string{"OA_CONFIG": file}},
		{"flag over env", []string{"--config", file}, map[string]string{"OA_CONFIG": filepath.Join(dir, "missing.yml")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var path, appid string
			var ttl time.Duration
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			set := table.For("t", fs)
			set.String("config", &path)
			set.String("appid", &appid)
			set.Duration("token-ttl", &ttl)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := set.Resolve(env(tc.env)); err != nil {
				t.Fatal(err)
			}
			if path != file || appid != "wxf23b28b5e4ea4d6a" || ttl != 2*time.Hour {
				t.Fatalf("config %q appid %q ttl %v", path, appid, ttl)
			}
			if set.Source("appid") != FromFile || set.Source("config") == FromDefault {
				t.Fatalf("sources: appid %v, config %v", set.Source("appid"), set.Source("config"))
			}
		})
	}
	var path string
	set := table.For("t", pflag.NewFlagSet("t", pflag.ContinueOnError))
	set.String("config", &path)
	if err := set.Resolve(env(map[string]string{"OA_CONFIG": filepath.Join(dir, "missing.yml")})); err == nil || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("a missing file: err = %v", err)
	}
}

func TestSettingsWithoutAFlag(t *testing.T) {
	table := Table{{Name: "app-secret", NoFlag: true, Env: "OA_WX_APP_SECRET", YAML: "oa.wx.app-secret", Secret: true, Commands: []string{"t"}}}
	file, err := Parse("app.yml", []byte(seedYAML))
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var secret string
	set := table.For("t", fs)
	set.String("app-secret", &secret)
	if fs.Lookup("app-secret") != nil {
		t.Fatal("a NoFlag setting got a flag")
	}
	if err := fs.Parse([]string{"--app-secret", "x"}); err == nil {
		t.Fatal("--app-secret parsed")
	}
	if err := set.resolveWith(env(nil), file); err != nil || secret != "212621faa31cdf0691367ea45b2b6041" || set.Source("app-secret") != FromFile {
		t.Fatalf("from the file: %q %v", secret, err)
	}
	if err := set.resolveWith(env(map[string]string{"OA_WX_APP_SECRET": "from-env"}), file); err != nil || secret != "from-env" || set.Source("app-secret") != FromEnv {
		t.Fatalf("from the environment: %q %v", secret, err)
	}
}

// markdownTable renders Settings as docs/CONFIG.md shows it.
func markdownTable(t Table) string {
	var b strings.Builder
	b.WriteString("| flag | env | YAML key | default | commands | meaning |\n|---|---|---|---|---|---|\n")
	code := func(s string) string {
		if s == "" {
			return "—"
		}
		return "`" + s + "`"
	}
	for _, s := range t {
		flag := code("--" + s.Name)
		if s.NoFlag {
			flag = "(none)"
		}
		meaning := s.Usage
		if s.Hidden {
			meaning = "(hidden) " + meaning
		}
		if s.Secret {
			meaning += "; secret: never echoed"
		}
		env := code(s.Env)
		if s.Secret {
			env += " or " + code(s.Env+"_FILE")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", flag, env, code(s.YAML), code(s.Default),
			strings.Join(s.Commands, ", "), strings.ReplaceAll(meaning, "|", `\|`))
	}
	return b.String()
}

const (
	docsPath  = "../../docs/CONFIG.md"
	beginMark = "<!-- settings table: begin (written from internal/config/settings.go by `go test ./internal/config -run DocsTable -update`) -->\n"
	endMark   = "<!-- settings table: end -->\n"
)

// TestDocsTableMatchesSettings keeps docs/CONFIG.md's table the table the
// code has: run with -update after changing Settings.
func TestDocsTableMatchesSettings(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, beginMark), strings.Index(doc, endMark)
	if i < 0 || j < i {
		t.Fatalf("%s has no settings table between %q and %q", docsPath, beginMark, endMark)
	}
	want := markdownTable(Settings)
	got := doc[i+len(beginMark) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(docsPath, []byte(doc[:i+len(beginMark)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want, "\n")
	for k := range max(len(gotLines), len(wantLines)) {
		g, w := "", ""
		if k < len(gotLines) {
			g = gotLines[k]
		}
		if k < len(wantLines) {
			w = wantLines[k]
		}
		if g != w {
			t.Fatalf("%s's settings table differs from Settings at line %d:\n have %s\n want %s\n(run go test ./internal/config -run DocsTable -update)", docsPath, k+1, g, w)
		}
	}
	t.Fatalf("%s's settings table differs from Settings (run with -update)", docsPath)
}
