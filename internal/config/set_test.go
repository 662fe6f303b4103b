package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// fileTable has a secret (which takes OA_<NAME>_FILE) and a plain setting
// (which does not).
var fileTable = Table{
	{Name: "app-secret", NoFlag: true, Env: "OA_WX_APP_SECRET", YAML: "oa.wx.app-secret", Secret: true, Commands: []string{"t"}},
	{Name: "addr", Env: "OA_ADDR", YAML: "oa.addr", Default: "127.0.0.1:8080", Commands: []string{"t"}},
}

func resolveFileTable(t *testing.T, vars map[string]string) (secret, addr string, set *Set, err error) {
	t.Helper()
	set = fileTable.For("t", pflag.NewFlagSet("t", pflag.ContinueOnError))
	set.String("app-secret", &secret)
	set.String("addr", &addr)
	err = set.resolveWith(env(vars), nil)
	return secret, addr, set, err
}

func TestSecretsFromFilesNamedByVariables(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ name, content, want string }{
		{"one newline dropped", "s3cret\n", "s3cret"},
		{"CRLF dropped", "s3cret\r\n", "s3cret"},
		{"only one newline dropped", "s3cret\n\n", "s3cret\n"},
		{"no newline", "s3cret", "s3cret"},
		{"spaces kept", " s3cret ", " s3cret "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(strings.ReplaceAll(tc.name, " ", "-"), tc.content)
			got, _, set, err := resolveFileTable(t, map[string]string{"OA_WX_APP_SECRET_FILE": path})
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if set.Source("app-secret") != FromEnv || set.Where("app-secret") != "OA_WX_APP_SECRET_FILE ("+path+")" {
				t.Errorf("source %v, where %q", set.Source("app-secret"), set.Where("app-secret"))
			}
		})
	}
	const secretText = "Hunter2TopSecret"
	secretFile := write("secret", secretText+"\n")
	huge := write("huge", strings.Repeat(secretText, MaxSecretFileSize/len(secretText)+1))
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"both set", map[string]string{"OA_WX_APP_SECRET": secretText, "OA_WX_APP_SECRET_FILE": secretFile}, "OA_WX_APP_SECRET and OA_WX_APP_SECRET_FILE are both set"},
		{"missing file", map[string]string{"OA_WX_APP_SECRET_FILE": filepath.Join(dir, "nope")}, "OA_WX_APP_SECRET_FILE: open"},
		{"empty file", map[string]string{"OA_WX_APP_SECRET_FILE": write("empty", "")}, "is empty"},
		{"just a newline", map[string]string{"OA_WX_APP_SECRET_FILE": write("newline", "\n")}, "is empty"},
		{"a directory", map[string]string{"OA_WX_APP_SECRET_FILE": dir}, "OA_WX_APP_SECRET_FILE"},
		{"huge file", map[string]string{"OA_WX_APP_SECRET_FILE": huge}, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := resolveFileTable(t, tc.vars)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secretText) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
	// Only secrets read a _FILE variable: OA_ADDR_FILE means nothing.
	_, addr, _, err := resolveFileTable(t, map[string]string{"OA_ADDR_FILE": secretFile})
	if err != nil || addr != "127.0.0.1:8080" {
		t.Errorf("OA_ADDR_FILE was read: %q, %v", addr, err)
	}
	// An empty _FILE variable counts as unset, like an empty variable.
	if got, _, _, err := resolveFileTable(t, map[string]string{"OA_WX_APP_SECRET": "direct", "OA_WX_APP_SECRET_FILE": ""}); err != nil || got != "direct" {
		t.Errorf("empty _FILE: %q, %v", got, err)
	}
}

func TestWhereNamesEachSource(t *testing.T) {
	file, err := Parse("app.yml", []byte("oa:\n  addr: 127.0.0.1:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	var o opts
	fs, set := newFlags(&o)
	if err := fs.Parse([]string{"--token-ttl", "1h"}); err != nil {
		t.Fatal(err)
	}
	if err := set.resolveWith(env(map[string]string{"OA_WX_APP_ID": "wxenv"}), file); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"token-ttl": "--token-ttl", "appid": "OA_WX_APP_ID", "addr": "app.yml: oa.addr", "trusted-proxy": "--trusted-proxy",
		"not-bound": "--not-bound",
	} {
		if got := set.Where(name); got != want {
			t.Errorf("Where(%q) = %q, want %q", name, got, want)
		}
	}
}
