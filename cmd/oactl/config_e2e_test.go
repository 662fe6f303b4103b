package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/dbtest"
)

// The tests of SPEC §8 that need the built binary: what a user sees on
// stderr and finds on disk after a command.

// runBin runs the binary to its end in dir with extra environment (the
// test's OA_* variables are dropped first, so that only env configures
// it) and returns its exit status and output.
func runBin(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, oactlBinary(t), args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OA_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatalf("%v: %v", args, err)
	return 0, "", ""
}

// entries lists what dir holds.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadValuesExitTwoNamingTheirSourceAndCreateNothing: every value is
// checked before anything is opened or created; a bad one exits 2 and
// names the flag, variable or file key it came from (SPEC §8).
func TestBadValuesExitTwoNamingTheirSourceAndCreateNothing(t *testing.T) {
	const pw = "Pg5ecretPw"
	serve := []string{"serve", "--appid", "wxa"}
	secret := "OA_WX_APP_SECRET=s3cret-value"
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		yaml string // written to cfg.yml and given as --config
		want string
	}{
		{"port out of range, flag", append(serve, "--addr", ":99999"), []string{secret}, "", `--addr ":99999": the port must be a number from 0 to 65535`},
		{"port out of range, env", serve, []string{secret, "OA_ADDR=:99999"}, "", `OA_ADDR ":99999"`},
		{"port out of range, file", serve, []string{secret}, "oa:\n  addr: \":99999\"\n", `cfg.yml: oa.addr ":99999"`},
		{"port a name", append(serve, "--addr", "127.0.0.1:http"), []string{secret}, "", `--addr "127.0.0.1:http"`},
		{"no port", serve, []string{secret, "OA_ADDR=127.0.0.1"}, "", `OA_ADDR "127.0.0.1": want host:port`},
		{"ttl, env", serve, []string{secret, "OA_TOKEN_TTL=0s"}, "", "OA_TOKEN_TTL 0s: want at least 1s"},
		{"ttl words, file", serve, []string{secret}, "oa:\n  token-ttl: forever\n", "cfg.yml: oa.token-ttl: invalid value"},
		{"wx timeout, file", serve, []string{secret}, "oa:\n  wx:\n    timeout: 10m\n", "cfg.yml: oa.wx.timeout 10m0s"},
		{"zone, env", serve, []string{secret, "OA_TIME_ZONE=Mars/Olympus"}, "", `OA_TIME_ZONE "Mars/Olympus": unknown zone`},
		{"zone, file", serve, []string{secret}, "oa:\n  time-zone: Mars/Olympus\n", `cfg.yml: oa.time-zone "Mars/Olympus"`},
		{"public url, env", serve, []string{secret, "OA_PUBLIC_URL=/files"}, "", `OA_PUBLIC_URL "/files"`},
		{"wx base url, env", serve, []string{secret, "OA_WX_BASE_URL=http://api.example.com"}, "", "OA_WX_BASE_URL: "},
		{"trusted proxy, env", serve, []string{secret, "OA_TRUSTED_PROXY=10.0.0.0/99"}, "", `OA_TRUSTED_PROXY "10.0.0.0/99"`},
		{"postgres, flag", append(serve, "--db", "postgres://oa:"+pw+"@db:5432/oa"), []string{secret}, "", `--db: database DSN: unsupported scheme "postgres"`},
		{"postgres, env", serve, []string{secret, "OA_DB=postgres://oa:" + pw + "@db:5432/oa"}, "", `OA_DB: database DSN: unsupported scheme "postgres"`},
		{"postgres, spring", serve, []string{secret}, "spring:\n  datasource:\n    url: jdbc:postgresql://db/oa\n    username: oa\n    password: " + pw + "\n", "cfg.yml: spring.datasource.url: unsupported database"},
		{"secret file missing", serve, []string{secret, "OA_SESSION_KEY_SECRET_FILE=/nonexistent/key"}, "", "OA_SESSION_KEY_SECRET_FILE: open /nonexistent/key"},
		{"secret and its file", serve, []string{secret, "OA_WX_APP_SECRET_FILE=/etc/hostname"}, "", "OA_WX_APP_SECRET and OA_WX_APP_SECRET_FILE are both set"},
		{"unknown key", serve, []string{secret}, "oa:\n  tokne-ttl: 2h\n", "cfg.yml: line 2: unknown key oa.tokne-ttl (did you mean oa.token-ttl?)"},
		{"dev mockwx port", []string{"dev", "--mockwx-addr", "127.0.0.1:70000"}, nil, "", `--mockwx-addr "127.0.0.1:70000"`},
		{"dev mockwx port, env", []string{"dev"}, []string{"OA_MOCKWX_ADDR=127.0.0.1:70000"}, "", `OA_MOCKWX_ADDR "127.0.0.1:70000"`},
		{"mockwx port, file", []string{"mockwx"}, nil, "oa:\n  mockwx:\n    addr: 127.0.0.1:-1\n", `cfg.yml: oa.mockwx.addr "127.0.0.1:-1"`},
		{"mockwx code ttl, env", []string{"mockwx"}, []string{"OA_CODE_TTL=-1s"}, "", "OA_CODE_TTL -1s: must be positive"},
		{"migrate postgres", []string{"migrate", "status"}, []string{"OA_DB=postgres://oa:" + pw + "@db/oa"}, "", `OA_DB: database DSN: unsupported scheme`},
		{"migrate lock timeout", []string{"migrate", "up"}, []string{"OA_LOCK_TIMEOUT=2h"}, "", "OA_LOCK_TIMEOUT 2h0m0s: want 1s to 1h"},
		{"sessions refresh, file", []string{"sessions"}, nil, "oa:\n  sessions:\n    refresh: -1s\n", "cfg.yml: oa.sessions.refresh -1s: must not be negative"},
		{"sessions postgres", []string{"sessions", "list", "--db", "postgres://oa:" + pw + "@db/oa"}, nil, "", `--db: database DSN: unsupported scheme`},
		{"sessions unknown key", []string{"sessions", "list"}, nil, "oa:\n  sessions:\n    read-onyl: true\n", "unknown key oa.sessions.read-onyl (did you mean oa.sessions.read-only?)"},
		{"rekey jdbc in OA_DB", []string{"sessions", "rekey"}, []string{"OA_SESSION_KEY_SECRET=" + strings.Repeat("k", 40), "OA_DB=jdbc:mysql://db/oa"}, "", "OA_DB: database DSN: a JDBC URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := tc.args
			if tc.yaml != "" {
				cfg := filepath.Join(t.TempDir(), "cfg.yml")
				if err := os.WriteFile(cfg, []byte(tc.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(append([]string{}, args...), "--config", cfg)
			}
			code, out, errb := runBin(t, dir, tc.env, args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want 2\nstdout %s\nstderr %s", code, out, errb)
			}
			if !strings.Contains(errb, tc.want) {
				t.Errorf("stderr %q does not say %q", errb, tc.want)
			}
			if strings.Contains(errb+out, pw) || strings.Contains(errb+out, "s3cret-value") {
				t.Errorf("a secret was echoed: %s", errb)
			}
			if got := entries(t, dir); len(got) != 0 {
				t.Errorf("a refused command created %v", got)
			}
		})
	}
}

// TestReadOnlyCommandsCreateNoDatabase: the commands that only read (and
// rekey, which has nothing to rekey in a new file) exit 1 naming the
// missing file and the command that creates it, and create nothing.
func TestReadOnlyCommandsCreateNoDatabase(t *testing.T) {
	key := "OA_SESSION_KEY_SECRET=" + strings.Repeat("k", 40)
	for _, args := range [][]string{
		{"migrate", "status"}, {"migrate", "status", "--json"}, {"migrate", "check"},
		{"migrate", "down", "--to", "1", "--yes"},
		{"sessions"}, {"sessions", "list", "--json"}, {"sessions", "revoke", "1", "--yes"},
		{"sessions", "purge", "--expired-before", "1h"}, {"sessions", "rekey"},
	} {
		for _, where := range []string{"default", "OA_DB"} {
			t.Run(strings.Join(args, " ")+"/"+where, func(t *testing.T) {
				dir := t.TempDir()
				env, file := []string{key}, filepath.Join(dir, "oactl.db")
				if where == "OA_DB" {
					env = append(env, "OA_DB=sqlite:sub.db")
					file = filepath.Join(dir, "sub.db")
				}
				code, out, errb := runBin(t, dir, env, args...)
				if code != exitFailure {
					t.Fatalf("exit %d, want 1\nstdout %s\nstderr %s", code, out, errb)
				}
				if !strings.Contains(errb, "database file "+file+" does not exist") || !strings.Contains(errb, "oactl migrate up") {
					t.Errorf("stderr %q does not name %s and the command that creates it", errb, file)
				}
				if got := entries(t, dir); len(got) != 0 {
					t.Errorf("created %v", got)
				}
			})
		}
	}
	dir := t.TempDir()
	if code, out, errb := runBin(t, dir, nil, "migrate", "up", "--dry-run"); code != 0 || !strings.Contains(out, "CREATE TABLE") {
		t.Errorf("up --dry-run on a missing file: exit %d\n%s\n%s", code, out, errb)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("up --dry-run created %v", got)
	}
}

// TestServeWarnsWhenNoDatabaseIsNamed: serve with no database anywhere
// uses ./oactl.db and says so at WARN with the absolute path; naming one
// (here through a Spring file's oa.db) leaves the warning out.
func TestServeWarnsWhenNoDatabaseIsNamed(t *testing.T) {
	addr := freeAddr(t)
	p := startOactl(t, []string{"OA_WX_APP_SECRET=s"}, "serve", "--appid", "wxa", "--addr", addr, "--wx-base-url", "http://127.0.0.1:1")
	p.waitHealthy("http://" + addr + "/readyz")
	want := filepath.Join(p.cmd.Dir, "oactl.db")
	if err := p.stop(10 * time.Second); err != nil {
		t.Fatalf("serve: %v", err)
	}
	var warn string
	for _, line := range strings.Split(p.errOut.String(), "\n") {
		if strings.Contains(line, "no database configured") {
			warn = line
		}
	}
	if !strings.Contains(warn, "level=WARN") || !strings.Contains(warn, want) {
		t.Errorf("no WARN line naming %s:\n%s", want, p.errOut)
	}
	if _, err := os.Stat(want); err != nil {
		t.Errorf("the default database is not where the warning says: %v", err)
	}

	addr = freeAddr(t)
	dir := t.TempDir()
	yml := writeFile(t, dir, "app.yml", "oa:\n  db: sqlite:"+filepath.Join(dir, "named.db")+"\n")
	p = startOactl(t, []string{"OA_WX_APP_SECRET=s"}, "serve", "--appid", "wxa", "--addr", addr, "--wx-base-url", "http://127.0.0.1:1", "--config", yml)
	p.waitHealthy("http://" + addr + "/readyz")
	_ = p.stop(10 * time.Second)
	if strings.Contains(p.errOut.String(), "no database configured") {
		t.Errorf("warned although oa.db names the database:\n%s", p.errOut)
	}
}

// TestAddressInUseNamesItsSource: the listen error names the setting the
// address came from, and serve listens before it opens (and, for SQLite,
// creates) the database.
func TestAddressInUseNamesItsSource(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"serve flag", []string{"serve", "--appid", "wxa", "--addr", busy}, []string{"OA_WX_APP_SECRET=s"}, "--addr " + busy + ": address already in use"},
		{"serve env", []string{"serve", "--appid", "wxa"}, []string{"OA_WX_APP_SECRET=s", "OA_ADDR=" + busy}, "OA_ADDR " + busy + ": address already in use"},
		{"dev", []string{"dev", "--addr", busy, "--mockwx-addr", "127.0.0.1:0"}, nil, "--addr " + busy + ": address already in use"},
		{"dev mockwx", []string{"dev", "--mockwx-addr", busy}, nil, "--mockwx-addr " + busy + ": address already in use"},
		{"mockwx env", []string{"mockwx"}, []string{"OA_MOCKWX_ADDR=" + busy}, "OA_MOCKWX_ADDR " + busy + ": address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			code, out, errb := runBin(t, dir, tc.env, tc.args...)
			if code != exitFailure || !strings.Contains(errb, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q\n%s", code, errb, tc.want, out)
			}
			if got := entries(t, dir); len(got) != 0 {
				t.Errorf("created %v before the listen failed", got)
			}
		})
	}
}

// TestDatabaseErrorsAreOneLine on MariaDB: refused, denied and unknown
// database each print one line with a hint, name the server once, and no
// driver log line reaches stderr.
func TestDatabaseErrorsAreOneLine(t *testing.T) {
	const pw = "NotThePassw0rd"
	b := dbtest.BrokenDSNs(t, pw)
	for _, tc := range []struct {
		name, dsn, host, want string
	}{
		{"refused", b.Refused, b.Closed, "unreachable: connection refused; is the server running"},
		{"denied", b.Denied, b.Server, "access denied; check the user name and password"},
		{"unknown database", b.UnknownDB, b.Server, "unknown database; create it (CREATE DATABASE `" + b.DBName + "`"},
	} {
		for _, args := range [][]string{{"migrate", "status"}, {"sessions", "list"}, {"serve", "--appid", "wxa", "--addr", "127.0.0.1:0"}} {
			t.Run(tc.name+"/"+args[0], func(t *testing.T) {
				code, out, errb := runBin(t, t.TempDir(), []string{"OA_DB=" + tc.dsn, "OA_WX_APP_SECRET=s"}, args...)
				if code != exitFailure {
					t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errb)
				}
				lines := strings.Split(strings.TrimRight(errb, "\n"), "\n")
				if len(lines) != 1 {
					t.Errorf("stderr has %d lines, want 1:\n%s", len(lines), errb)
				}
				last := lines[len(lines)-1]
				if !strings.HasPrefix(last, "oactl: cannot open MySQL at "+tc.host) || !strings.Contains(last, tc.want) {
					t.Errorf("stderr %q, want %q", last, tc.want)
				}
				if strings.Count(errb, tc.host) != 1 || strings.Contains(errb, "[mysql]") || strings.Contains(errb, "packets.go") || strings.Contains(errb, pw) {
					t.Errorf("the server named more than once, a driver log line or the password:\n%s", errb)
				}
			})
		}
	}
}

// TestSpringDatasourceOnMariaDB: serve with the Java backend's
// application.yml, whose database is only in spring.datasource, logs in
// against that MariaDB and creates no SQLite file.
func TestSpringDatasourceOnMariaDB(t *testing.T) {
	srv := dbtest.MySQL(t)
	u, err := url.Parse(srv)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	if code, out, errb := runBin(t, t.TempDir(), []string{"OA_DB=" + srv}, "migrate", "up"); code != 0 {
		t.Fatalf("migrate up: %d %s %s", code, out, errb)
	}
	maddr := freeAddr(t)
	m := startOactl(t, []string{"OA_WX_APP_SECRET=212621faa31cdf0691367ea45b2b6041"}, "mockwx", "--addr", maddr, "--appid", "wxf23b28b5e4ea4d6a")
	m.waitHealthy("http://" + maddr + "/__mock/healthz")
	dir := t.TempDir()
	yml := writeFile(t, dir, "application.yml", fmt.Sprintf(`server:
  port: 8080
spring:
  datasource:
    driver-class-name: com.mysql.cj.jdbc.Driver
    url: jdbc:mysql://%s%s?useUnicode=true&characterEncoding=utf8&serverTimezone=Asia/Shanghai&useSSL=false
    username: %s
    password: %s
mybatis:
  mapper-locations: classpath:mapper/*.xml
oa:
  wx:
    app-id: wxf23b28b5e4ea4d6a
    app-secret: 212621faa31cdf0691367ea45b2b6041
    msgDataFormat: JSON
`, u.Host, u.Path, u.User.Username(), pw))
	addr := freeAddr(t)
	p := startOactl(t, []string{"OA_WX_BASE_URL=http://" + maddr}, "serve", "--config", yml, "--addr", addr, "--storage-dir", filepath.Join(dir, "files"))
	p.waitHealthy("http://" + addr + "/readyz")
	tok := newClient(t, "http://"+addr).login(uniqueCode("sam"), map[string]any{"nickName": "Sam"})
	// serverTimezone=Asia/Shanghai is the time zone: tokenExpire is in it.
	exp, err := time.ParseInLocation("2006-01-02T15:04:05", tok.TokenExpire, time.FixedZone("CST", 8*3600))
	if err != nil || time.Until(exp) < 23*time.Hour || time.Until(exp) > 25*time.Hour {
		t.Errorf("tokenExpire %q is not now+24h in Asia/Shanghai: %v", tok.TokenExpire, err)
	}
	_ = p.stop(10 * time.Second)
	if got := entries(t, p.cmd.Dir); len(got) != 0 {
		t.Errorf("serve created %v instead of using spring.datasource", got)
	}
	code, out, errb := runBin(t, t.TempDir(), []string{"OA_DB=" + srv}, "sessions", "list", "--json")
	if code != 0 || !strings.Contains(out, `"nickname":"Sam"`) {
		t.Errorf("the login is not in the MariaDB database: %d %s %s", code, out, errb)
	}
	if strings.Contains(p.errOut.String(), ":"+pw+"@") || strings.Contains(p.errOut.String(), "212621faa31cdf0691367ea45b2b6041") {
		t.Error("the log holds a secret")
	}
}
