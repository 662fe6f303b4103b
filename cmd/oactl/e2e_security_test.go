//go:build unix

package main

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/keyseal"
	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

// statModes checks the modes of paths and logs `stat` of them, as an
// operator would look.
func statModes(t *testing.T, want map[string]os.FileMode) {
	t.Helper()
	var paths []string
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %#o, want %#o", p, fi.Mode().Perm(), mode)
		}
		paths = append(paths, p)
	}
	if out, err := exec.Command("stat", append([]string{"-c", "%A %a %n"}, paths...)...).CombinedOutput(); err == nil {
		t.Logf("stat:\n%s", out)
	}
}

// TestFileModesUnderUmask022 is the finding "the SQLite file and its -wal
// are created -rw-r--r--": `oactl dev` and `oactl serve`, started under
// umask 022, create the database, -wal and -shm 0600 and the storage
// directory 0700.
func TestFileModesUnderUmask022(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	e := startDev(t)
	e.c.login(uniqueCode("umask"), nil)
	statModes(t, map[string]os.FileMode{e.dbPath: 0o600, e.dbPath + "-wal": 0o600, e.dbPath + "-shm": 0o600, e.files: 0o700})

	maddr, addr, dir := freeAddr(t), freeAddr(t), t.TempDir()
	m := startOactl(t, nil, "mockwx", "--addr", maddr)
	m.waitHealthy("http://" + maddr + "/__mock/healthz")
	dbPath, files := filepath.Join(dir, "serve.db"), filepath.Join(dir, "var", "files")
	p := startOactl(t, []string{"OA_WX_APP_SECRET=umask-secret"}, "serve", "--appid", "wxumask", "--addr", addr,
		"--wx-base-url", "http://"+maddr, "--db", "sqlite:"+dbPath, "--storage-dir", files)
	p.waitHealthy("http://" + addr + "/readyz")
	newClient(t, "http://"+addr).login(uniqueCode("umask"), nil)
	statModes(t, map[string]os.FileMode{dbPath: 0o600, dbPath + "-wal": 0o600, dbPath + "-shm": 0o600, files: 0o700, filepath.Dir(files): 0o700})
}

// TestDevAllowRemoteWarns: off loopback, dev starts only with
// --allow-remote, and then says what that exposes.
func TestDevAllowRemoteWarns(t *testing.T) {
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	dir := t.TempDir()
	code, _, errb := runOactl(t, nil, "dev", "--addr", "0.0.0.0:"+port, "--db", "sqlite:"+filepath.Join(dir, "a.db"))
	if code != exitUsage || !strings.Contains(errb, "--allow-remote") {
		t.Fatalf("dev on 0.0.0.0 without --allow-remote: exit %d %s", code, errb)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.db")); err == nil {
		t.Error("the refused dev created its database")
	}
	p := startOactl(t, nil, "dev", "--allow-remote", "--addr", "0.0.0.0:"+port, "--mockwx-addr", freeAddr(t),
		"--db", "sqlite:"+filepath.Join(dir, "b.db"), "--storage-dir", filepath.Join(dir, "files"))
	p.waitHealthy("http://127.0.0.1:" + port + "/healthz")
	// Log lines are flushed every 100 ms.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.errOut.String(), "anyone who reaches it can log in as any user"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning:\n%s", p.errOut)
		}
	}
}

// A session_key sealed by the release before HKDF (v1: key = SHA-256 of
// the secret), with a 16-byte secret that the new rules refuse; made with
// that release's code.
const (
	v1TokenHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	v1Plain     = "tiihtNczf5v6AKRyjwEUhQ=="
	v1Short     = "old-short-secret"
	v1Sealed    = "v1:ee31e4af:AAAAAAAAAAAAAAAAIyADWiAIweR6PUwi2XyuYpEfNlnDT0AcbSCtB6FQMSywSaC-M1jZ4w"
	newSecret   = "a-new-session-key-secret-of-32-bytes"
)

// TestRekeyMigratesV1Keys: serve refuses the old short secret (exit 2);
// rekey with NEW,OLD opens the v1 key and seals it again as v2 under NEW;
// without OLD it cannot; a second run changes nothing.
func TestRekeyMigratesV1Keys(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "old.db")
	if code, _, errb := runOactl(t, nil, "migrate", "up", "--db", dsn); code != 0 {
		t.Fatalf("migrate up: %d %s", code, errb)
	}
	d, err := db.Open(context.Background(), dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	now := time.Now().UTC().Format("2006-01-02 15:04:05")
	for _, q := range []string{
		`INSERT INTO wx_user (id, username, password, weixin_openid, add_time, update_time) VALUES (1, 'u', '', 'oOld', '` + now + `', '` + now + `')`,
		`INSERT INTO wx_session (token_hash, user_id, session_key, created_at, expires_at, last_seen_at) VALUES ('` +
			v1TokenHash + `', 1, '` + v1Sealed + `', '` + now + `', '` + now + `', '` + now + `')`,
	} {
		if _, err := d.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() string {
		var k string
		if err := d.SQL().Get(&k, `SELECT session_key FROM wx_session WHERE token_hash = ?`, v1TokenHash); err != nil {
			t.Fatal(err)
		}
		return k
	}
	if code, _, errb := runOactl(t, map[string]string{"OA_WX_APP_SECRET": "x", "OA_SESSION_KEY_SECRET": v1Short}, "serve", "--appid", "wxa", "--db", dsn); code != exitUsage ||
		!strings.Contains(errb, "at least 32") {
		t.Fatalf("serve with the old short secret: exit %d %s", code, errb)
	}
	if code, _, _ := runOactl(t, map[string]string{"OA_SESSION_KEY_SECRET": newSecret}, "sessions", "rekey", "--db", dsn); code != 1 || stored() != v1Sealed {
		t.Fatalf("rekey without the old secret: exit %d, key now %q", code, stored())
	}
	code, out, errb := runOactl(t, map[string]string{"OA_SESSION_KEY_SECRET": newSecret + "," + v1Short}, "sessions", "rekey", "--db", dsn)
	if code != 0 || !strings.Contains(out, "re-encrypted 1 session keys") {
		t.Fatalf("rekey NEW,OLD: exit %d %s %s", code, out, errb)
	}
	sealer, err := keyseal.New(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	if k := stored(); !strings.HasPrefix(k, "v2:"+sealer.SealingKeyID()+":") {
		t.Fatalf("after rekey: %q", k)
	} else if plain, err := sealer.Open(k, v1TokenHash); err != nil || plain != v1Plain {
		t.Fatalf("the new value does not open with NEW alone: %v", err)
	}
	if code, out, _ := runOactl(t, map[string]string{"OA_SESSION_KEY_SECRET": newSecret}, "sessions", "rekey", "--db", dsn); code != 0 || !strings.Contains(out, "re-encrypted 0") {
		t.Fatalf("second rekey: exit %d %s", code, out)
	}
	if strings.Contains(out+errb, v1Short) || strings.Contains(out+errb, newSecret) {
		t.Fatal("rekey printed a secret")
	}
}

// TestFindingsRefusedEndToEnd replays the red-team findings against the
// built `oactl dev` (real SQLite, real mockwx over HTTP) and checks the
// answer and that nothing was written.
func TestFindingsRefusedEndToEnd(t *testing.T) {
	e := startDev(t, "--trusted-proxy", "127.0.0.1", "--upload-rate", "3")
	x := e.sql()
	alice := e.c.login(mintCode(t, e.mock, "alice"), nil)
	bob := e.c.login(mintCode(t, e.mock, "bob"), nil)

	t.Run("phone code of another user", func(t *testing.T) {
		env := e.c.call("POST", "/wx/auth/bindPhone", bob.Token, map[string]any{"code": "alice.phone1"})
		if env.Errno != -1 || !strings.Contains(string(env.Data), `"wxErrcode":40003`) {
			t.Fatalf("bob with alice's phone code: errno %d %s", env.Errno, env.Data)
		}
		if n := count(t, x, `SELECT COUNT(*) FROM wx_user WHERE mobile <> ''`); n != 0 {
			t.Fatalf("%d users got a number", n)
		}
	})

	t.Run("hostile avatar and nickname", func(t *testing.T) {
		for _, avatar := range []string{"javascript:alert(1)", "data:text/html,<script>alert(1)</script>"} {
			if env := e.c.call("POST", "/wx/auth/profile", alice.Token, map[string]any{"avatar": avatar}); env.Errno != 402 {
				t.Errorf("avatar %q: errno %d", avatar, env.Errno)
			}
		}
		if n := count(t, x, `SELECT COUNT(*) FROM wx_user WHERE avatar <> ''`); n != 0 {
			t.Fatalf("%d avatars stored", n)
		}
		if env := e.c.call("POST", "/wx/auth/profile", alice.Token, map[string]any{"nickname": "a\x00b\x1b[2J\x1b]52;c;eA==\x07\u202Ec"}); env.Errno != 0 {
			t.Fatalf("nickname: errno %d", env.Errno)
		}
		var nick string
		if err := x.Get(&nick, `SELECT nickname FROM wx_user WHERE weixin_openid = ?`, mockwx.OpenID("oactl", defaultDevAppID, "alice")); err != nil || nick != "ab[2J]52;c;eA==c" {
			t.Fatalf("stored nickname %q, %v", nick, err)
		}
	})

	t.Run("legacy payload with timestamp 0", func(t *testing.T) {
		code := mintCode(t, e.mock, "carol")
		carol := e.c.login(code, nil)
		plain := []byte(`{"phoneNumber":"13800001111","purePhoneNumber":"13800001111","countryCode":"86","watermark":{"appid":"` + defaultDevAppID + `","timestamp":0}}`)
		data, iv, err := wechat.Encrypt(mockwx.SessionKey("oactl", defaultDevAppID, code), plain, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if env := e.c.call("POST", "/wx/auth/bindPhone", carol.Token, map[string]any{"encryptedData": data, "iv": iv}); env.Errno != 402 {
			t.Fatalf("timestamp 0: errno %d", env.Errno)
		}
		if n := count(t, x, `SELECT COUNT(*) FROM wx_user WHERE mobile <> ''`); n != 0 {
			t.Fatalf("%d users got a number", n)
		}
	})

	t.Run("polyglot and flood uploads", func(t *testing.T) {
		polyglot := append([]byte("GIF89a"), "<html><script>alert(1)</script>"...)
		if _, b := upload(e.c, alice.Token, "a.gif", polyglot); !strings.Contains(string(b), `"errno":402`) {
			t.Fatalf("polyglot: %s", b)
		}
		// The refused polyglot counted: the limit takes a token before the
		// body is read. Two more pass, the fourth attempt is refused.
		for range 2 {
			uploadOK(t, e.c, alice.Token, tinyPNG(t))
		}
		resp, b := upload(e.c, alice.Token, "a.png", tinyPNG(t))
		if !strings.Contains(string(b), `"errno":429`) || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("4th upload in a minute: %s %v", b, resp.Header)
		}
		ents, _ := os.ReadDir(e.files)
		if n := count(t, x, `SELECT COUNT(*) FROM oa_upload WHERE user_id = (SELECT id FROM wx_user WHERE weixin_openid = ?)`,
			mockwx.OpenID("oactl", defaultDevAppID, "alice")); n != 2 || len(ents) != 2 {
			t.Fatalf("%d records and %d files for 2 accepted uploads", n, len(ents))
		}
	})

	t.Run("symbolic link in the storage directory", func(t *testing.T) {
		link := "0123456789abcdef0123456789abcdef.png"
		if err := os.Symlink(e.dbPath, filepath.Join(e.files, link)); err != nil {
			t.Fatal(err)
		}
		resp, b := e.c.do("GET", "/wx/storage/fetch/"+link, "", nil, "")
		if resp.StatusCode != 404 || strings.Contains(string(b), "SQLite") {
			t.Fatalf("fetch of a link to the database: %d %.40q", resp.StatusCode, b)
		}
	})

	t.Run("forwarded-for with a port", func(t *testing.T) {
		login := `{"code":"dave.xff0001"}`
		status, body := rawRequest(t, e.serve, "POST /wx/auth/login_by_weixin HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7:5000\r\n"+
			"Content-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(login))+"\r\nConnection: close\r\n\r\n"+login)
		if status != 200 || !strings.Contains(body, `"errno":0`) {
			t.Fatalf("login: %d %s", status, body)
		}
		var ip string
		if err := x.Get(&ip, `SELECT last_login_ip FROM wx_user WHERE weixin_openid = ?`, mockwx.OpenID("oactl", defaultDevAppID, "dave")); err != nil || ip != "203.0.113.7" {
			t.Fatalf("last_login_ip %q, %v", ip, err)
		}
	})

	t.Run("mockwx helpers from a rebinding page", func(t *testing.T) {
		resp, raw := rawExchange(t, e.mock, "POST /__mock/login HTTP/1.1\r\nHost: evil.example:9090\r\nContent-Type: application/json\r\n"+
			"Content-Length: 16\r\nConnection: close\r\n\r\n"+`{"user":"alice"}`)
		status, body := resp.StatusCode, string(raw)
		if status != 403 || strings.Contains(body, `"code"`) {
			t.Fatalf("Host evil.example: %d %s", status, body)
		}
	})
}
