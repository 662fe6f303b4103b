package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/config"
)

// probe builds one command of the settings table with runF capturing the
// options; values turns them into text by setting name.
type probe struct {
	args  []string // before the flags: a subcommand, a positional argument
	build func(f *factory, seen func(map[string]string)) *cobra.Command
}

func dur(d interface{ String() string }) string { return d.String() }

func serveValues(o *serveOptions) map[string]string {
	return map[string]string{
		"config": o.ConfigFile, "addr": o.Addr, "db": o.DB, "wx-base-url": o.WxBaseURL,
		"appid": o.AppID, "app-secret": o.AppSecret, "apps": o.Apps, "token-ttl": dur(o.TokenTTL),
		"token-max-age": dur(o.TokenMaxAge), "max-sessions-per-user": strconv.Itoa(o.MaxSessions),
		"wx-timeout": dur(o.WxTimeout), "login-rate": strconv.FormatFloat(o.LoginRate, 'g', -1, 64),
		"upload-rate": strconv.FormatFloat(o.UploadRate, 'g', -1, 64), "bind-phone-rate": strconv.FormatFloat(o.BindPhoneRate, 'g', -1, 64),
		"upload-retention": dur(o.UploadRetention),
		"trusted-proxy":    strings.Join(o.TrustedProxies, ","), "time-zone": o.TimeZone,
		"storage-dir": o.StorageDir, "public-url": o.PublicURL, "shutdown-timeout": dur(o.ShutdownTimeout),
		"session-key-secret": strings.Join(o.SessionKeySecrets, ","), "session-retention": dur(o.SessionRetention),
		"purge-interval": dur(o.PurgeInterval), "metrics-addr": o.MetricsAddr,
		"log-format": o.Log.Format, "log-level": o.Log.Level,
	}
}

func sessionsValues(o *sessionsOptions) map[string]string {
	v := map[string]string{"db": o.DSN, "config": o.ConfigFile}
	if o.actor {
		v["actor"] = o.Actor
	}
	if o.timeZone {
		v["time-zone"] = o.TimeZone
	}
	return v
}

// probes covers every command path the table names.
var probes = map[string]probe{
	"serve": {build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newServeCmd(f, func(o *serveOptions) error { seen(serveValues(o)); return nil })
	}},
	"dev": {build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newDevCmd(f, func(o *devOptions) error {
			v := serveValues(&o.serve)
			v["mockwx-addr"] = o.MockwxAddr
			v["allow-remote"] = strconv.FormatBool(o.AllowRemote)
			seen(v)
			return nil
		})
	}},
	"mockwx": {build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newMockwxCmd(f, func(o *mockwxOptions) error {
			seen(map[string]string{
				"config": o.ConfigFile, "addr": o.Addr, "seed": o.Seed, "appid": strings.Join(o.AppIDs, ","),
				"app-secret": strings.Join(o.Secrets, ","), "apps": strings.Join(o.Apps, ","),
				"unionid": strconv.FormatBool(o.UnionID), "code-ttl": dur(o.CodeTTL),
				"journal-size": strconv.Itoa(o.JournalSize), "allow-remote": strconv.FormatBool(o.AllowRemote),
				"script":     o.Script,
				"log-format": o.Log.Format, "log-level": o.Log.Level,
			})
			return nil
		})
	}},
	"mockwx openid": {args: []string{"alice"}, build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newMockwxOpenIDCmd(f, func(o *mockwxOpenIDOptions) error {
			seen(map[string]string{"config": o.ConfigFile, "appid": o.AppID, "seed": o.Seed})
			return nil
		})
	}},
	"migrate": {args: []string{"status"}, build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newMigrateCmd(f, func(o *migrateOptions) error {
			seen(map[string]string{"db": o.DSN, "config": o.ConfigFile, "lock-timeout": dur(o.LockTimeout),
				"log-format": o.Log.Format, "log-level": o.Log.Level})
			return nil
		})
	}},
	"sessions": {build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newSessionsCmd(f, func(o *sessionsTUIOptions) error {
			v := sessionsValues(o.sessionsOptions)
			v["read-only"], v["refresh"] = strconv.FormatBool(o.ReadOnly), dur(o.Refresh)
			seen(v)
			return nil
		})
	}},
	"sessions list": {build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newSessionsListCmd(f, func(o *sessionsListOptions) error { seen(sessionsValues(o.sessionsOptions)); return nil })
	}},
	"sessions revoke": {args: []string{"1"}, build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newSessionsRevokeCmd(f, func(o *sessionsRevokeOptions) error { seen(sessionsValues(o.sessionsOptions)); return nil })
	}},
	"sessions purge": {args: []string{"--expired-before", "1h"}, build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newSessionsPurgeCmd(f, func(o *sessionsPurgeOptions) error { seen(sessionsValues(o.sessionsOptions)); return nil })
	}},
	"sessions rekey": {build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newSessionsRekeyCmd(f, func(o *rekeyOptions) error {
			seen(map[string]string{"db": o.DSN, "config": o.ConfigFile, "session-key-secret": strings.Join(o.Secrets, ","), "actor": o.Actor})
			return nil
		})
	}},
	"users list": {build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newUsersListCmd(f, func(o *usersListOptions) error { seen(sessionsValues(o.sessionsOptions)); return nil })
	}},
	"users show": {args: []string{"1"}, build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newUsersShowCmd(f, func(o *usersShowOptions) error { seen(sessionsValues(o.sessionsOptions)); return nil })
	}},
	"users disable": {args: []string{"1"}, build: usersChangeProbe(auth.ActionDisable)},
	"users enable":  {args: []string{"1"}, build: usersChangeProbe(auth.ActionEnable)},
	"users cancel":  {args: []string{"1", "--yes"}, build: usersChangeProbe(auth.ActionCancel)},
	"audit list": {build: func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newAuditListCmd(f, func(o *auditListOptions) error { seen(sessionsValues(o.sessionsOptions)); return nil })
	}},
}

func usersChangeProbe(action string) func(f *factory, seen func(map[string]string)) *cobra.Command {
	return func(f *factory, seen func(map[string]string)) *cobra.Command {
		return newUsersChangeCmd(f, action, func(o *usersChangeOptions) error {
			v := sessionsValues(o.sessionsOptions)
			if action == auth.ActionCancel {
				v["storage-dir"] = o.StorageDir
			}
			seen(v)
			return nil
		})
	}
}

// walkValues are valid, non-default values of every setting, as the
// options print them back.
var walkValues = map[string]string{
	"addr": "127.0.0.1:1234", "mockwx-addr": "127.0.0.1:4321", "db": "sqlite:/walk/oa.db",
	"wx-base-url": "http://127.0.0.1:7", "appid": "wxwalk", "app-secret": "walk-app-secret",
	"apps":      "wxwalkb=walk-secret-b,wxwalkc=walk-secret-c",
	"token-ttl": "1h30m0s", "wx-timeout": "7s", "login-rate": "2.5", "trusted-proxy": "10.1.0.0/16",
	"upload-rate": "3.5", "bind-phone-rate": "2", "upload-retention": "24h0m0s",
	"time-zone": "Asia/Shanghai", "storage-dir": "/walk/files", "public-url": "https://oa.example.com",
	"shutdown-timeout": "3s", "session-key-secret": "walk-session-key-secret-of-32-bytes-or-more",
	"session-retention": "48h0m0s", "purge-interval": "2m0s",
	"seed": "walkseed", "unionid": "true", "code-ttl": "1m0s", "journal-size": "7", "allow-remote": "true",
	"lock-timeout": "5s", "read-only": "true", "refresh": "3s",
	"token-max-age": "240h0m0s", "max-sessions-per-user": "3", "actor": "walk.actor",
	"metrics-addr": "127.0.0.1:9102", "log-format": "json", "log-level": "warn",
}

// yamlFor writes value at a dotted key as nested YAML.
func yamlFor(key, value string) string {
	var b strings.Builder
	parts := strings.Split(key, ".")
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i == len(parts)-1 {
			b.WriteString(" " + strconv.Quote(value))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestEverySettingIsHonouredFromEachSource walks config.Settings: for each
// setting, each command that takes it and each of its sources (flag, OA_*
// variable, YAML key, and for a secret the file OA_<NAME>_FILE names),
// the value given there alone reaches the options the command runs with.
func TestEverySettingIsHonouredFromEachSource(t *testing.T) {
	dir := t.TempDir()
	emptyYAML := filepath.Join(dir, "empty.yml")
	if err := os.WriteFile(emptyYAML, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	values := maps.Clone(walkValues)
	values["config"] = emptyYAML
	// mockwx reads its script while validating: the value must be a real file.
	script := filepath.Join(dir, "script.yml")
	if err := os.WriteFile(script, []byte("users:\n  nina: {errcode: 40226}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	values["script"] = script

	for i, s := range config.Settings {
		want, ok := values[s.Name]
		if !ok {
			t.Errorf("no test value for setting %q", s.Name)
			continue
		}
		for _, command := range s.Commands {
			p, ok := probes[command]
			if !ok {
				t.Errorf("no probe for command %q", command)
				continue
			}
			for _, source := range []string{"flag", "env", "yaml", "file"} {
				if (source == "flag" && s.NoFlag) || (source == "yaml" && s.YAML == "") || (source == "file" && !s.Secret) {
					continue
				}
				t.Run(fmt.Sprintf("%s/--%s/%s", command, s.Name, source), func(t *testing.T) {
					env := map[string]string{}
					args := append([]string{}, p.args...)
					// serve and dev need an appid and a secret, rekey a
					// session-key secret; give them where they cannot hide
					// the setting under test.
					if command == "serve" && s.Name != "appid" {
						args = append(args, "--appid", "wxbase")
					}
					if command == "sessions rekey" && s.Name != "session-key-secret" {
						env["OA_SESSION_KEY_SECRET"] = "base-session-key-secret-of-32-bytes-or-more"
					}
					if (command == "serve" || command == "dev") && s.Name != "app-secret" {
						env["OA_WX_APP_SECRET"] = "base-secret"
					}
					switch source {
					case "flag":
						args = append(args, "--"+s.Name+"="+want)
					case "env":
						env[s.Env] = want
					case "yaml":
						file := filepath.Join(dir, fmt.Sprintf("row%d-%s.yml", i, strings.ReplaceAll(command, " ", "-")))
						if err := os.WriteFile(file, []byte(yamlFor(s.YAML, want)), 0o600); err != nil {
							t.Fatal(err)
						}
						args = append(args, "--config", file)
					case "file":
						// One trailing newline, as `echo` writes it, is dropped.
						file := filepath.Join(dir, fmt.Sprintf("row%d-%s.secret", i, strings.ReplaceAll(command, " ", "-")))
						if err := os.WriteFile(file, []byte(want+"\n"), 0o600); err != nil {
							t.Fatal(err)
						}
						env[s.Env+"_FILE"] = file
					}
					st, _, errb := testStdio(env)
					var got map[string]string
					cmd := p.build(&factory{io: st}, func(v map[string]string) { got = v })
					if err := execute(cmd, st, args...); err != nil {
						t.Fatalf("%v: %v %s", args, err, errb)
					}
					if got == nil {
						t.Fatal("runF was not called")
					}
					v, ok := got[s.Name]
					if !ok {
						t.Fatalf("the options of %q have no %q", command, s.Name)
					}
					if v != want {
						t.Errorf("%s from %s: options have %q, want %q", s.Name, source, v, want)
					}
				})
			}
		}
	}
	for command := range probes {
		if !slices.ContainsFunc(config.Settings, func(s config.Setting) bool { return slices.Contains(s.Commands, command) }) {
			t.Errorf("probe %q names no command of the table", command)
		}
	}
}

// arguments are the flags that are not settings: what one invocation acts
// on or prints (see config.Settings).
var arguments = map[string][]string{
	"":                {"version"},
	"migrate":         {"json"},
	"migrate up":      {"to", "dry-run"},
	"migrate down":    {"to", "dry-run", "yes"},
	"sessions list":   {"json", "state", "user", "search", "limit"},
	"sessions revoke": {"user", "reason", "yes"},
	"sessions purge":  {"expired-before"},
	"users list":      {"json", "state", "search", "limit"},
	"users show":      {"json"},
	"users disable":   {"reason", "yes"},
	"users enable":    {"reason", "yes"},
	"users cancel":    {"reason", "yes"},
	"audit list":      {"json", "user", "since", "limit"},
}

// TestEveryFlagIsASettingOrAnArgument walks the real command tree: a flag
// that is not in config.Settings for its command must be a listed
// argument, so that no setting escapes the table.
func TestEveryFlagIsASettingOrAnArgument(t *testing.T) {
	s, _, _ := testStdio(nil)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), "oactl")
		path = strings.TrimSpace(path)
		c.LocalNonPersistentFlags().VisitAll(func(fl *pflag.Flag) { check(t, path, fl.Name) })
		c.PersistentFlags().VisitAll(func(fl *pflag.Flag) { check(t, path, fl.Name) })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&factory{io: s}))
}

func check(t *testing.T, command, flag string) {
	t.Helper()
	if flag == "help" || slices.Contains(arguments[command], flag) {
		return
	}
	for _, s := range config.Settings {
		if s.Name == flag && !s.NoFlag && slices.Contains(s.Commands, command) {
			return
		}
	}
	t.Errorf("oactl %s --%s is neither in config.Settings nor a listed argument", command, flag)
}

// TestNoSecretHasAFlag walks the real command tree: no command has a flag
// for an app secret or a session-key secret (SPEC §8: a flag shows in
// ps), under the table's names or the ones they had before.
func TestNoSecretHasAFlag(t *testing.T) {
	secretNames := map[string]bool{"secret": true}
	for _, r := range config.Settings {
		if r.Secret && r.Name != "db" {
			secretNames[r.Name] = true
			if !r.NoFlag {
				t.Errorf("--%s is a secret with a flag", r.Name)
			}
		}
	}
	if !secretNames["app-secret"] || !secretNames["session-key-secret"] {
		t.Fatalf("the table's secrets are %v, want app-secret and session-key-secret among them", secretNames)
	}
	s, _, _ := testStdio(nil)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(fl *pflag.Flag) {
				if secretNames[fl.Name] {
					t.Errorf("%s has a flag --%s", c.CommandPath(), fl.Name)
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&factory{io: s}))
	for _, args := range [][]string{
		{"serve", "--app-secret", "x"}, {"serve", "--session-key-secret", "x"},
		{"mockwx", "--app-secret", "x"}, {"mockwx", "--secret", "x"}, {"mockwx", "--apps", "x"}, {"sessions", "rekey", "--session-key-secret", "x"},
	} {
		s, _, errb := testStdio(nil)
		if code := run(args, s); code != exitUsage || !strings.Contains(errb.String(), "unknown flag") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and unknown flag", args, code, errb)
		}
		if strings.Contains(errb.String(), " x") {
			t.Errorf("%v: the value was echoed: %q", args, errb)
		}
	}
}
