package main

import (
	"bytes"
	"context"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/dbtest"
	"github.com/oactl/oactl/internal/mockwx"
)

const e2eSecret = "e2e-app-secret"

// mysqlCluster is a database (MariaDB, or a SQLite file), one mockwx and
// any number of serve processes sharing them, as behind a load balancer.
type mysqlCluster struct {
	t    *testing.T
	dsn  string
	mock string
	env  []string
}

func startMySQLCluster(t *testing.T) *mysqlCluster {
	t.Helper()
	return startClusterOn(t, dbtest.MySQL(t))
}

// startClusterOn migrates dsn and starts a mockwx; serve processes join
// with serve(). SQLite files are shared by processes too.
func startClusterOn(t *testing.T, dsn string) *mysqlCluster {
	t.Helper()
	bin := oactlBinary(t)
	if out, err := exec.Command(bin, "migrate", "up", "--db", dsn).CombinedOutput(); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	maddr := freeAddr(t)
	m := startOactl(t, []string{"OA_WX_APP_SECRET=" + e2eSecret}, "mockwx", "--addr", maddr, "--appid", defaultDevAppID)
	c := &mysqlCluster{t: t, dsn: dsn, mock: "http://" + maddr, env: []string{"OA_WX_APP_SECRET=" + e2eSecret}}
	m.waitHealthy(c.mock + "/__mock/healthz")
	return c
}

func (c *mysqlCluster) serve(extra ...string) string {
	c.t.Helper()
	return c.serveWith(nil, extra...)
}

// serveWith starts a serve with more environment (secrets have no flag).
func (c *mysqlCluster) serveWith(env []string, extra ...string) string {
	c.t.Helper()
	addr := freeAddr(c.t)
	args := append([]string{"serve", "--addr", addr, "--db", c.dsn, "--wx-base-url", c.mock,
		"--appid", defaultDevAppID, "--storage-dir", c.t.TempDir()}, extra...)
	p := startOactl(c.t, append(append([]string{}, c.env...), env...), args...)
	p.waitHealthy("http://" + addr + "/readyz")
	return "http://" + addr
}

func TestMySQLTwoServeProcessesShareSessions(t *testing.T) {
	c := startMySQLCluster(t)
	a, b := c.serve(), c.serve()
	ca := newClient(t, a)
	cb := ca.on(b)

	tok := ca.login(uniqueCode("olga"), map[string]any{"nickName": "👨‍👩‍👧‍👦测试😀"})
	info, env := cb.info(tok.Token)
	if env.Errno != 0 || info.NickName != "👨‍👩‍👧‍👦测试😀" {
		t.Fatalf("token of serve A on serve B: errno %d nickname %q", env.Errno, info.NickName)
	}
	if env := cb.call("POST", "/wx/auth/logout", tok.Token, nil); env.Errno != 0 {
		t.Fatalf("logout on B: errno %d", env.Errno)
	}
	if _, env := ca.info(tok.Token); env.Errno != 501 {
		t.Fatalf("after logout on B, A answers errno %d, want 501", env.Errno)
	}
}

func TestMySQLServeRefusesAnOlderSchema(t *testing.T) {
	dsn := dbtest.MySQL(t)
	bin := oactlBinary(t)
	if out, err := exec.Command(bin, "migrate", "up", "--to", "2", "--db", dsn).CombinedOutput(); err != nil {
		t.Fatalf("migrate up --to 2: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--addr", freeAddr(t), "--db", dsn, "--appid", defaultDevAppID, "--wx-base-url", "http://127.0.0.1:1")
	cmd.Env = append(cmd.Environ(), "OA_WX_APP_SECRET=x")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("serve started on an older schema")
	}
	if !strings.Contains(string(out), "oactl migrate up") {
		t.Fatalf("the refusal does not name the command to run:\n%s", out)
	}
	u, _ := url.Parse(dsn)
	pw, _ := u.User.Password()
	if strings.Contains(string(out), ":"+pw+"@") {
		t.Fatalf("the refusal prints the DSN password:\n%s", out)
	}
}

// TestMySQLSessionKeysEncryptedAtRest dumps wx_session with mysqldump and
// looks for the session keys mockwx handed out; then rotates the secret.
func TestMySQLSessionKeysEncryptedAtRest(t *testing.T) {
	dump := dumpTool(t)
	c := startMySQLCluster(t)
	const first, second, third = "first-secret-of-at-least-32-bytes!", "second-secret-of-at-least-32-bytes", "third-secret-of-at-least-32-bytes!"
	base := c.serveWith([]string{"OA_SESSION_KEY_SECRET=" + first})
	cl := newClient(t, base)
	var codes []string
	var tok string
	for i := 0; i < 3; i++ {
		code := uniqueCode("pat")
		codes = append(codes, code)
		tok = cl.login(code, nil).Token
	}
	keys := make([]string, len(codes))
	for i, code := range codes {
		keys[i] = mockwx.SessionKey("oactl", defaultDevAppID, code)
	}
	assertDumpHasNoKeys := func(when string) {
		t.Helper()
		out := mysqldump(t, dump, c.dsn)
		if !bytes.Contains(out, []byte("wx_session")) {
			t.Fatalf("%s: the dump has no wx_session table:\n%.500s", when, out)
		}
		for i, k := range keys {
			if bytes.Contains(out, []byte(k)) {
				t.Fatalf("%s: the dump holds session_key %d", when, i)
			}
		}
		if !bytes.Contains(out, []byte("v2:")) {
			t.Fatalf("%s: no sealed keys in the dump", when)
		}
	}
	assertDumpHasNoKeys("sealed")

	bindLegacy := func(base string, phone string) {
		t.Helper()
		mockCall(t, c.mock, "PUT", "/__mock/phones/pat", map[string]any{"phoneNumber": phone}, nil)
		var enc struct{ EncryptedData, IV string }
		mockCall(t, c.mock, "POST", "/__mock/encrypt", map[string]any{"user": "pat", "kind": "phone"}, &enc)
		env := cl.on(base).call("POST", "/wx/auth/bindPhone", tok, map[string]any{"encryptedData": enc.EncryptedData, "iv": enc.IV})
		if env.Errno != 0 || !strings.Contains(string(env.Data), phone) {
			t.Fatalf("legacy bindPhone with a sealed key: errno %d %s", env.Errno, env.Data)
		}
	}
	bindLegacy(base, "13611112222")

	// Rotation: a serve that knows both secrets, rekey, then only the new one.
	bin := oactlBinary(t)
	rekey := func(secrets string) ([]byte, error) {
		cmd := exec.Command(bin, "sessions", "rekey", "--db", c.dsn)
		cmd.Env = append(cmd.Environ(), "OA_SESSION_KEY_SECRET="+secrets)
		return cmd.CombinedOutput()
	}
	out, err := rekey(second + "," + first)
	if err != nil || !strings.Contains(string(out), "re-encrypted 3 session keys") {
		t.Fatalf("rekey: %v\n%s", err, out)
	}
	out, err = rekey(second + "," + first)
	if err != nil || !strings.Contains(string(out), "re-encrypted 0 session keys") {
		t.Fatalf("a second rekey must change nothing: %v\n%s", err, out)
	}
	assertDumpHasNoKeys("rekeyed")
	rotated := c.serveWith([]string{"OA_SESSION_KEY_SECRET=" + second})
	bindLegacy(rotated, "13633334444")

	// Without the right secret the stored keys cannot be opened.
	out, err = rekey(third)
	if err == nil {
		t.Fatalf("rekey without the old secret succeeded:\n%s", out)
	}
	if strings.Contains(string(out), second) || strings.Contains(string(out), third) {
		t.Fatalf("rekey printed a secret:\n%s", out)
	}
}

func dumpTool(t *testing.T) string {
	t.Helper()
	dbtest.ServerDSN(t)
	for _, name := range []string{"mariadb-dump", "mysqldump"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no mariadb-dump or mysqldump: scripts/mariadb install provides it")
	return ""
}

func mysqldump(t *testing.T, tool, dsn string) []byte {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	host, port, _ := strings.Cut(u.Host, ":")
	cmd := exec.CommandContext(context.Background(), tool, "--no-defaults", "-h", host, "-P", port, "-u", u.User.Username(), "-p"+pw,
		"--skip-extended-insert", strings.TrimPrefix(u.Path, "/"), "wx_session")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return out
}
