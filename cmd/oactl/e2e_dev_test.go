package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/mockwx"
)

// devEnv is a running `oactl dev` on its own SQLite file.
type devEnv struct {
	t      *testing.T
	p      *proc
	serve  string // base URL of the login server
	mock   string // base URL of mockwx
	dbPath string
	files  string
	c      *client
}

func startDev(t *testing.T, extra ...string) *devEnv {
	t.Helper()
	dir := t.TempDir()
	e := &devEnv{t: t, dbPath: filepath.Join(dir, "oactl.db"), files: filepath.Join(dir, "files")}
	return e.start(extra...)
}

func (e *devEnv) start(extra ...string) *devEnv {
	e.t.Helper()
	addr, maddr := freeAddr(e.t), freeAddr(e.t)
	args := append([]string{"dev", "--addr", addr, "--mockwx-addr", maddr,
		"--db", "sqlite:" + e.dbPath, "--storage-dir", e.files}, extra...)
	e.p = startOactl(e.t, nil, args...)
	e.serve, e.mock = "http://"+addr, "http://"+maddr
	e.p.waitHealthy(e.serve + "/healthz")
	e.p.waitHealthy(e.mock + "/__mock/healthz")
	if e.c == nil {
		e.c = newClient(e.t, e.serve)
	} else {
		e.c = e.c.on(e.serve)
	}
	return e
}

// sql opens the dev database directly, as a DBA would look at it.
func (e *devEnv) sql() *sqlx.DB {
	e.t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+e.dbPath, db.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { d.Close() })
	return d.SQL()
}

func count(t testing.TB, x *sqlx.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := x.Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func uniqueCode(user string) string {
	return fmt.Sprintf("%s.%d", user, time.Now().UnixNano())
}

func TestDevLoginNewAndReturningUser(t *testing.T) {
	e := startDev(t)
	if !strings.Contains(e.p.out.String(), "curl") {
		t.Errorf("dev printed no ready-to-paste curl:\n%s", e.p.out)
	}
	first := e.c.login(uniqueCode("alice"), map[string]any{"nickName": "Alice", "avatarUrl": "https://example.com/a.png", "gender": 2})
	if first.UserInfo.NickName != "Alice" || first.UserInfo.Gender != 2 || first.UserInfo.AvatarURL != "https://example.com/a.png" {
		t.Fatalf("first login userInfo = %+v", first.UserInfo)
	}
	if _, err := time.Parse("2006-01-02T15:04:05", first.TokenExpire); err != nil {
		t.Fatalf("tokenExpire %q: %v", first.TokenExpire, err)
	}
	// A returning login does not overwrite the stored nickname: changes go
	// through /profile. userInfo answers the stored profile.
	second := e.c.login(uniqueCode("alice"), map[string]any{"nickName": "Someone else"})
	if second.UserInfo.NickName != "Alice" {
		t.Fatalf("returning login nickName = %q, want the stored Alice", second.UserInfo.NickName)
	}
	if second.Token == first.Token {
		t.Fatal("two logins got one token")
	}
	// Both devices stay logged in.
	for _, tok := range []string{first.Token, second.Token} {
		info, env := e.c.info(tok)
		if env.Errno != 0 || info.NickName != "Alice" || info.Gender != 2 {
			t.Fatalf("info = %+v errno %d", info, env.Errno)
		}
	}
	x := e.sql()
	openid := mockwx.OpenID("oactl", defaultDevAppID, "alice")
	if n := count(t, x, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid = ?", openid); n != 1 {
		t.Fatalf("%d wx_user rows for alice, want 1", n)
	}
	var u struct {
		Username string `db:"username"`
		Password string `db:"password"`
		Status   int    `db:"status"`
	}
	if err := x.Get(&u, "SELECT username, password, status FROM wx_user WHERE weixin_openid = ?", openid); err != nil {
		t.Fatal(err)
	}
	if u.Username != openid || u.Password != "" || u.Status != 0 {
		t.Fatalf("row = %+v, want username = openid, empty password, status 0", u)
	}
}

func TestDevAnonymousLoginAndBadCodes(t *testing.T) {
	e := startDev(t)
	d := e.c.login(uniqueCode("anon"), nil)
	if d.UserInfo.NickName != "" {
		t.Fatalf("anonymous login nickName = %q", d.UserInfo.NickName)
	}
	for _, tc := range []struct {
		name string
		body string
		want int
	}{
		{"no body", "", 401},
		{"empty code", `{"code":""}`, 401},
		{"not json", `{"code":`, 402},
		{"code not a string", `{"code":5}`, 402},
		{"10 kB code", `{"code":"` + strings.Repeat("a", 10<<10) + `"}`, 402},
		{"code with a control character", `{"code":"a\u0001b"}`, 402},
		{"code not ASCII", `{"code":"代码.1"}`, 402},
		{"invalid utf-8", "{\"code\":\"abc\",\"userInfo\":{\"nickName\":\"\xff\xfe\"}}", 402},
		{"gender 7", `{"code":"x.1","userInfo":{"gender":7}}`, 402},
		{"long avatar", `{"code":"x.2","userInfo":{"avatarUrl":"` + strings.Repeat("a", 300) + `"}}`, 402},
		{"reused code", "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == -1 {
				code := uniqueCode("reuse")
				e.c.login(code, nil)
				env := e.c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": code})
				var data struct {
					WxErrcode int `json:"wxErrcode"`
				}
				_ = json.Unmarshal(env.Data, &data)
				if env.Errno != -1 || data.WxErrcode != 40163 {
					t.Fatalf("reused code: errno %d data %s, want -1 with wxErrcode 40163", env.Errno, env.Data)
				}
				return
			}
			env := e.c.call("POST", "/wx/auth/login_by_weixin", "", tc.body)
			if env.Errno != tc.want {
				t.Fatalf("errno %d (%s), want %d", env.Errno, env.Errmsg, tc.want)
			}
		})
	}
	// A 10 MB body is refused without the server falling over.
	resp, b := e.c.do("POST", "/wx/auth/login_by_weixin", "", bytes.NewReader(bytes.Repeat([]byte("a"), 10<<20)), "application/json")
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"errno":402`)) {
		t.Fatalf("10 MB body: HTTP %d %s", resp.StatusCode, b)
	}
	x := e.sql()
	if n := count(t, x, "SELECT COUNT(*) FROM wx_user"); n != 2 {
		t.Fatalf("%d users after bad input, want 2 (anon and reuse)", n)
	}
}

func TestDevProfileEmojiAndGraphemeCut(t *testing.T) {
	e := startDev(t)
	tok := e.c.login(uniqueCode("bob"), nil).Token
	const family = "👨‍👩‍👧‍👦测试😀"
	if env := e.c.call("POST", "/wx/auth/profile", tok, map[string]any{"nickname": family, "gender": 1}); env.Errno != 0 {
		t.Fatalf("profile: %d %s", env.Errno, env.Errmsg)
	}
	info, _ := e.c.info(tok)
	if info.NickName != family {
		t.Fatalf("nickname %q (% x), want %q byte-equal", info.NickName, info.NickName, family)
	}
	var stored string
	if err := e.sql().Get(&stored, "SELECT nickname FROM wx_user WHERE weixin_openid = ?", mockwx.OpenID("oactl", defaultDevAppID, "bob")); err != nil {
		t.Fatal(err)
	}
	if stored != family {
		t.Fatalf("stored nickname % x, want % x", stored, family)
	}

	// 62 ASCII code points, then a family emoji of 7 code points: the cut
	// may not split the family, so it goes whole.
	long := strings.Repeat("a", 62) + "👨‍👩‍👧‍👦" + "bbb"
	if utf8.RuneCountInString(long) != 72 {
		t.Fatalf("test string has %d code points", utf8.RuneCountInString(long))
	}
	if env := e.c.call("POST", "/wx/auth/profile", tok, map[string]any{"nickname": long}); env.Errno != 0 {
		t.Fatalf("profile: %d", env.Errno)
	}
	info, _ = e.c.info(tok)
	if info.NickName != strings.Repeat("a", 62) {
		t.Fatalf("cut nickname %q, want the 62 a's (the emoji does not fit whole)", info.NickName)
	}
	// 70 code points of CJK: cut to 63.
	cjk := strings.Repeat("测", 70)
	e.c.call("POST", "/wx/auth/profile", tok, map[string]any{"nickname": cjk})
	info, _ = e.c.info(tok)
	if info.NickName != strings.Repeat("测", 63) {
		t.Fatalf("cut CJK nickname has %d code points, want 63", utf8.RuneCountInString(info.NickName))
	}
	if env := e.c.call("POST", "/wx/auth/profile", tok, map[string]any{"gender": 7}); env.Errno != 402 {
		t.Fatalf("gender 7: errno %d, want 402", env.Errno)
	}
}

func tinyPNG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func upload(c *client, token string, name string, content []byte) (*http.Response, []byte) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, _ := w.CreateFormFile("file", name)
	_, _ = fw.Write(content)
	_ = w.Close()
	return c.do("POST", "/wx/storage/upload", token, &body, w.FormDataContentType())
}

type uploaded struct{ Key, URL string }

// uploadOK uploads img as avatar.png and fails the test unless it worked.
func uploadOK(t *testing.T, c *client, token string, img []byte) uploaded {
	t.Helper()
	resp, b := upload(c, token, "avatar.png", img)
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil || resp.StatusCode != 200 || env.Errno != 0 {
		t.Fatalf("upload: HTTP %d %s", resp.StatusCode, b)
	}
	var up uploaded
	if err := json.Unmarshal(env.Data, &up); err != nil {
		t.Fatal(err)
	}
	return up
}

func TestDevAvatarUploadProfileInfo(t *testing.T) {
	e := startDev(t)
	tok := e.c.login(uniqueCode("carol"), nil).Token
	img := tinyPNG(t)
	up := uploadOK(t, e.c, tok, img)
	if !strings.HasPrefix(up.URL, e.serve+"/wx/storage/fetch/") {
		t.Fatalf("url %q is not absolute on %s", up.URL, e.serve)
	}
	if env := e.c.call("POST", "/wx/auth/profile", tok, map[string]any{"avatar": up.URL}); env.Errno != 0 {
		t.Fatalf("profile: %d", env.Errno)
	}
	info, _ := e.c.info(tok)
	if info.Avatar != up.URL {
		t.Fatalf("avatar %q, want %q", info.Avatar, up.URL)
	}
	fetched, got := e.c.do("GET", strings.TrimPrefix(up.URL, e.serve), "", nil, "") // no token: <image> cannot send one
	if fetched.StatusCode != 200 || !bytes.Equal(got, img) || fetched.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("fetch: HTTP %d %q, %d bytes", fetched.StatusCode, fetched.Header.Get("Content-Type"), len(got))
	}

	// Not an image, too big, no token, and path tricks.
	if _, b := upload(e.c, tok, "a.png", []byte("<html>not an image</html>")); !bytes.Contains(b, []byte(`"errno":402`)) {
		t.Fatalf("non-image upload: %s", b)
	}
	big := append(append([]byte{}, img...), bytes.Repeat([]byte{0}, 3<<20)...)
	if resp, b := upload(e.c, tok, "big.png", big); resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"errno":402`)) {
		t.Fatalf("3 MiB upload: HTTP %d %s", resp.StatusCode, b)
	}
	if _, b := upload(e.c, "", "a.png", img); !bytes.Contains(b, []byte(`"errno":501`)) {
		t.Fatalf("upload without token: %s", b)
	}
	for _, key := range []string{"nope", "..%2F..%2Foactl.db", "../../etc/passwd", "%00", strings.Repeat("k", 5000)} {
		resp, b := e.c.do("GET", "/wx/storage/fetch/"+key, "", nil, "")
		if resp.StatusCode != 404 && resp.StatusCode != 400 {
			t.Errorf("fetch %.20q: HTTP %d, want 404", key, resp.StatusCode)
		}
		if bytes.Contains(b, []byte("SQLite")) || bytes.Contains(b, []byte("root:")) {
			t.Errorf("fetch %.20q leaked a file", key)
		}
	}
}

func TestDevLogoutAndExpiry(t *testing.T) {
	e := startDev(t, "--token-ttl", "2s")
	a := e.c.login(uniqueCode("dave"), nil).Token
	b := e.c.login(uniqueCode("dave"), nil).Token
	if env := e.c.call("POST", "/wx/auth/logout", a, nil); env.Errno != 0 {
		t.Fatalf("logout: %d", env.Errno)
	}
	if _, env := e.c.info(a); env.Errno != 501 {
		t.Fatalf("info after logout: errno %d, want 501", env.Errno)
	}
	if _, env := e.c.info(b); env.Errno != 0 {
		t.Fatalf("the other device was logged out too: errno %d", env.Errno)
	}
	time.Sleep(2100 * time.Millisecond) // the shortest TTL serve accepts is 1s; expiry is wall-clock here
	if _, env := e.c.info(b); env.Errno != 501 {
		t.Fatalf("info after expiry: errno %d, want 501", env.Errno)
	}
	for _, tok := range []string{"", "nope", strings.Repeat("x", 10<<10), "abc\x01def", "tok\ttab", "\xff\xfe", b + "\x00"} {
		status, body := rawRequest(t, e.serve, "GET /wx/auth/info HTTP/1.1\r\nHost: x\r\nX-OA-Token: "+tok+"\r\nConnection: close\r\n\r\n")
		if status != 200 && status != 400 {
			t.Errorf("token %.12q: HTTP %d", tok, status)
		}
		if status == 200 && !strings.Contains(body, `"errno":501`) {
			t.Errorf("token %.12q: %s, want errno 501", tok, body)
		}
	}
}

func TestDevBindPhoneBothWays(t *testing.T) {
	e := startDev(t)
	tok := e.c.login(uniqueCode("erin"), nil).Token
	mockCall(t, e.mock, "PUT", "/__mock/phones/erin", map[string]any{"phoneNumber": "13900001111"}, nil)
	env := e.c.call("POST", "/wx/auth/bindPhone", tok, map[string]any{"code": mintCode(t, e.mock, "erin")})
	if env.Errno != 0 || !strings.Contains(string(env.Data), "13900001111") {
		t.Fatalf("bindPhone by code: errno %d %s", env.Errno, env.Data)
	}
	info, _ := e.c.info(tok)
	if info.Mobile != "13900001111" {
		t.Fatalf("mobile %q", info.Mobile)
	}

	mockCall(t, e.mock, "PUT", "/__mock/phones/erin", map[string]any{"phoneNumber": "13700002222"}, nil)
	var enc struct{ EncryptedData, IV string }
	mockCall(t, e.mock, "POST", "/__mock/encrypt", map[string]any{"user": "erin", "kind": "phone"}, &enc)
	env = e.c.call("POST", "/wx/auth/bindPhone", tok, map[string]any{"encryptedData": enc.EncryptedData, "iv": enc.IV})
	if env.Errno != 0 || !strings.Contains(string(env.Data), "13700002222") {
		t.Fatalf("bindPhone encrypted: errno %d %s", env.Errno, env.Data)
	}
	// Data encrypted with another user's key does not decrypt with erin's.
	e.c.login(uniqueCode("mallory"), nil)
	mockCall(t, e.mock, "POST", "/__mock/encrypt", map[string]any{"user": "mallory", "kind": "phone"}, &enc)
	env = e.c.call("POST", "/wx/auth/bindPhone", tok, map[string]any{"encryptedData": enc.EncryptedData, "iv": enc.IV})
	if env.Errno == 0 {
		t.Fatalf("bindPhone accepted data encrypted for another user: %s", env.Data)
	}
	env = e.c.call("POST", "/wx/auth/bindPhone", tok, map[string]any{"encryptedData": "!!!", "iv": "x"})
	if env.Errno != 402 {
		t.Fatalf("garbage encryptedData: errno %d, want 402", env.Errno)
	}
}

func TestDevAccountStatesWriteNothing(t *testing.T) {
	e := startDev(t)
	x := e.sql()
	for _, tc := range []struct {
		user, set, msg string
	}{
		{"frank", "status = 1", "账号不可用：已禁用"},
		{"grace", "status = 2", "账号不可用：已注销"},
		{"heidi", "deleted = 1", "账号不可用：已删除"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			e.c.login(uniqueCode(tc.user), nil)
			openid := mockwx.OpenID("oactl", defaultDevAppID, tc.user)
			if _, err := x.Exec("UPDATE wx_user SET "+tc.set+", last_login_time = '2001-01-01 00:00:00' WHERE weixin_openid = ?", openid); err != nil {
				t.Fatal(err)
			}
			sessionsBefore := count(t, x, "SELECT COUNT(*) FROM wx_session")
			env := e.c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": uniqueCode(tc.user)})
			if env.Errno != 700 || env.Errmsg != tc.msg {
				t.Fatalf("errno %d %q, want 700 %q", env.Errno, env.Errmsg, tc.msg)
			}
			if n := count(t, x, "SELECT COUNT(*) FROM wx_session"); n != sessionsBefore {
				t.Fatalf("sessions %d -> %d: a refused login wrote a session", sessionsBefore, n)
			}
			if n := count(t, x, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid = ?", openid); n != 1 {
				t.Fatalf("%d rows for the openid, want 1", n)
			}
			var last string
			if err := x.Get(&last, "SELECT last_login_time FROM wx_user WHERE weixin_openid = ?", openid); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(last, "2001-01-01") {
				t.Fatalf("last_login_time changed to %q", last)
			}
		})
	}
}

func TestDevConcurrentFirstLoginsMakeOneRow(t *testing.T) {
	e := startDev(t, "--login-rate", "0")
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			env := e.c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": fmt.Sprintf("ivan.%d.%d", i, time.Now().UnixNano())})
			if env.Errno != 0 {
				errs <- fmt.Sprintf("login %d: errno %d %s", i, env.Errno, env.Errmsg)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	x := e.sql()
	if n := count(t, x, "SELECT COUNT(*) FROM wx_user WHERE weixin_openid = ?", mockwx.OpenID("oactl", defaultDevAppID, "ivan")); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	if n := count(t, x, "SELECT COUNT(*) FROM wx_session"); n != 20 {
		t.Fatalf("%d sessions, want 20", n)
	}
}

func TestDevWeChatFaultsAnswerEnvelopesAndWriteNothing(t *testing.T) {
	e := startDev(t, "--wx-timeout", "1s", "--login-rate", "0")
	for _, tc := range []struct {
		code      string
		wxErrcode int // 0: WeChat did not answer usefully
	}{
		{"err40029~judy.1", 40029},
		{"err45011~judy.2", 45011},
		{"err-1~judy.3", -1},
		{"slow3000~judy.4", 0},
		{"http500~judy.5", 0},
		{"garbage~judy.6", 0},
		{"drop~judy.7", 0},
		{"bogus~judy.8", 40029},
	} {
		t.Run(tc.code, func(t *testing.T) {
			start := time.Now()
			env := e.c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": tc.code})
			if took := time.Since(start); took > 2500*time.Millisecond {
				t.Errorf("answered after %v: past the 1s WeChat timeout", took)
			}
			if env.Errno != -1 {
				t.Fatalf("errno %d, want -1", env.Errno)
			}
			if tc.wxErrcode != 0 {
				var d struct {
					WxErrcode int    `json:"wxErrcode"`
					WxErrmsg  string `json:"wxErrmsg"`
				}
				if err := json.Unmarshal(env.Data, &d); err != nil || d.WxErrcode != tc.wxErrcode {
					t.Fatalf("data %s, want wxErrcode %d", env.Data, tc.wxErrcode)
				}
			}
		})
	}
	x := e.sql()
	if n := count(t, x, "SELECT COUNT(*) FROM wx_user"); n != 0 {
		t.Fatalf("%d users written by failed logins", n)
	}
	if n := count(t, x, "SELECT COUNT(*) FROM wx_session"); n != 0 {
		t.Fatalf("%d sessions written by failed logins", n)
	}
}

func TestDevRestartKeepsUsersAndSessions(t *testing.T) {
	e := startDev(t)
	tok := e.c.login(uniqueCode("kim"), map[string]any{"nickName": "Kim"}).Token
	if err := e.p.stop(10 * time.Second); err != nil {
		t.Fatalf("dev did not exit cleanly on SIGTERM: %v\n%s", err, e.p.errOut)
	}
	e.start()
	info, env := e.c.info(tok)
	if env.Errno != 0 || info.NickName != "Kim" {
		t.Fatalf("after restart: errno %d %+v", env.Errno, info)
	}
}

// TestDevSecretsNeverLeak runs logins, failures and timeouts, then looks
// for every secret in every response and in the whole server log.
func TestDevSecretsNeverLeak(t *testing.T) {
	const secret = "s3cr3t-app-secret-value-0123456789"
	dir := t.TempDir()
	e := &devEnv{t: t, dbPath: filepath.Join(dir, "oactl.db"), files: filepath.Join(dir, "files")}
	addr, maddr := freeAddr(t), freeAddr(t)
	e.p = startOactl(t, []string{"OA_WX_APP_SECRET=" + secret}, "dev", "--addr", addr, "--mockwx-addr", maddr,
		"--db", "sqlite:"+e.dbPath, "--storage-dir", e.files, "--wx-timeout", "500ms")
	e.serve, e.mock = "http://"+addr, "http://"+maddr
	e.p.waitHealthy(e.serve + "/healthz")
	e.c = newClient(t, e.serve)

	var codes, tokens []string
	for i := 0; i < 3; i++ {
		code := uniqueCode("leo")
		codes = append(codes, code)
		tokens = append(tokens, e.c.login(code, map[string]any{"nickName": "Leo"}).Token)
	}
	for _, code := range []string{"slow2000~leo.x", "err40029~leo.y", "drop~leo.z", "garbage~leo.w"} {
		codes = append(codes, code)
		e.c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": code})
	}
	e.c.call("POST", "/wx/auth/login_by_weixin", "", map[string]any{"code": codes[0]}) // reuse
	e.c.info(tokens[0])
	e.c.call("POST", "/wx/auth/bindPhone", tokens[1], map[string]any{"code": "leo.phone"})
	e.c.call("POST", "/wx/auth/logout", tokens[2], nil)
	resp, _ := e.c.do("GET", "/metrics", "", nil, "")
	resp.Body.Close()
	time.Sleep(600 * time.Millisecond) // let the slow call's log line land
	if err := e.p.stop(10 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}

	haystacks := map[string]string{"server log": e.p.errOut.String() + e.p.out.String(), "responses": strings.Join(*e.c.seen, "\n")}
	needles := map[string]string{"app secret": secret}
	for i, code := range codes {
		needles[fmt.Sprintf("code %d", i)] = code
		needles[fmt.Sprintf("session_key %d", i)] = mockwx.SessionKey("oactl", defaultDevAppID, code)
	}
	for i, tok := range tokens {
		needles[fmt.Sprintf("token %d", i)] = tok
	}
	for hname, hay := range haystacks {
		for nname, needle := range needles {
			if hname == "responses" && strings.HasPrefix(nname, "token") {
				continue // each token is in its own login answer, by design
			}
			if strings.Contains(hay, needle) {
				t.Errorf("%s contains the %s", hname, nname)
			}
		}
	}
	raw, err := os.ReadFile(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(e.dbPath + "-wal")
	for i, tok := range tokens {
		if bytes.Contains(raw, []byte(tok)) || bytes.Contains(wal, []byte(tok)) {
			t.Errorf("the database file holds raw token %d", i)
		}
	}
}

func TestDevRoutingErrorsAndHealth(t *testing.T) {
	e := startDev(t)
	resp, b := e.c.do("GET", "/wx/nope", "", nil, "")
	if resp.StatusCode != 404 || !bytes.Contains(b, []byte(`"errno":404`)) {
		t.Fatalf("unknown path: HTTP %d %s", resp.StatusCode, b)
	}
	resp, b = e.c.do("GET", "/wx/auth/login_by_weixin", "", nil, "")
	if resp.StatusCode != 405 || !bytes.Contains(b, []byte(`"errno":405`)) {
		t.Fatalf("wrong method: HTTP %d %s", resp.StatusCode, b)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if resp, _ := e.c.do("GET", path, "", nil, ""); resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d", path, resp.StatusCode)
		}
	}
}

// TestDevStorageSettingsFromTheEnvironment: OA_STORAGE_DIR and
// OA_PUBLIC_URL were once silently ignored (uploads went to ./oactl-files
// under a Host-built URL). Every setting now has its variable.
func TestDevStorageSettingsFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "env-files")
	addr, maddr := freeAddr(t), freeAddr(t)
	p := startOactl(t, []string{"OA_STORAGE_DIR=" + files, "OA_PUBLIC_URL=https://oa.example.com"},
		"dev", "--addr", addr, "--mockwx-addr", maddr, "--db", "sqlite:"+filepath.Join(dir, "oa.db"))
	p.waitHealthy("http://" + addr + "/healthz")
	c := newClient(t, "http://"+addr)
	tok := c.login(uniqueCode("erin"), nil).Token
	up := uploadOK(t, c, tok, tinyPNG(t))
	if !strings.HasPrefix(up.URL, "https://oa.example.com/wx/storage/fetch/") {
		t.Errorf("url %q does not use OA_PUBLIC_URL", up.URL)
	}
	stored := 0
	_ = filepath.WalkDir(files, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			stored++
		}
		return nil
	})
	if stored == 0 {
		t.Errorf("nothing stored under OA_STORAGE_DIR %s", files)
	}
	if err := p.stop(10 * time.Second); err != nil {
		t.Fatalf("dev did not exit cleanly: %v", err)
	}
}
