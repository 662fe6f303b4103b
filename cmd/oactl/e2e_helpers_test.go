package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/testutil"
	"github.com/oactl/oactl/internal/testutil/apispec"
)

// The end-to-end tests run the built binary, as a user would, and talk to
// it over HTTP. The binary is built once per test run.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func oactlBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "oactl-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "oactl")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// proc is a running oactl process.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	out    *testutil.Buffer
	errOut *testutil.Buffer
	done   chan struct{}
	exit   error
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startOactl starts the binary with args and extra environment. It is
// stopped by PID (SIGTERM, then SIGKILL) when the test ends.
func startOactl(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(oactlBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	p := &proc{t: t, cmd: cmd, out: &testutil.Buffer{}, errOut: &testutil.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exit = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(5 * time.Second) })
	return p
}

// stop sends SIGTERM and waits up to d, then kills. It returns the exit error.
func (p *proc) stop(d time.Duration) error {
	select {
	case <-p.done:
		return p.exit
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.exit
}

// waitHealthy polls url until it answers 200, the process exits, or 15 s pass.
func (p *proc) waitHealthy(url string) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			p.t.Fatalf("oactl exited before it was ready: %v\nstdout:\n%s\nstderr:\n%s", p.exit, p.out, p.errOut)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("%s not healthy within 15s\nstderr:\n%s", url, p.errOut)
}

// rawRequest writes a request byte for byte (Go's client refuses hostile
// header values) and returns the status and body.
func rawRequest(t testing.TB, base, raw string) (int, string) {
	t.Helper()
	resp, b := rawExchange(t, base, raw)
	if req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw))); err == nil {
		checkAgainstSpec(t, req, resp, b)
	}
	return resp.StatusCode, string(b)
}

// rawExchange sends raw as it is and reads the answer, without checking it
// against docs/openapi.yaml: for servers the document does not describe
// (mockwx).
func rawExchange(t testing.TB, base, raw string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// envelope is the JSON answer of every /wx API.
type envelope struct {
	Errno  int             `json:"errno"`
	Errmsg string          `json:"errmsg"`
	Data   json.RawMessage `json:"data"`
}

// client talks to one serve and records every response body, so the
// secrets test can search them.
type client struct {
	t       testing.TB
	base    string
	referer string // sent when set: WeChat's Referer names the app
	mu      *sync.Mutex
	seen    *[]string
}

func newClient(t testing.TB, base string) *client {
	return &client{t: t, base: base, mu: &sync.Mutex{}, seen: &[]string{}}
}

// on returns a client for another server that shares the record.
func (c *client) on(base string) *client {
	d := *c
	d.base = base
	return &d
}

// via returns a client that speaks for mini-program appid, as WeChat
// does: with its Referer ("" sends none).
func (c *client) via(appid string) *client {
	d := *c
	d.referer = ""
	if appid != "" {
		d.referer = "https://servicewechat.com/" + appid + "/0/page-frame.html"
	}
	return &d
}

func (c *client) do(method, path, token string, body io.Reader, contentType string) (*http.Response, []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("X-OA-Token", token)
	}
	if c.referer != "" {
		req.Header.Set("Referer", c.referer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	c.mu.Lock()
	*c.seen = append(*c.seen, string(b), fmt.Sprint(resp.Header))
	c.mu.Unlock()
	checkAgainstSpec(c.t, req, resp, b)
	return resp, b
}

// checkAgainstSpec holds an answer of serve against docs/openapi.yaml
// (SPEC §13: every answer the end-to-end tests receive validates).
func checkAgainstSpec(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	spec, err := apispec.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Check(req, resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("an answer differs from docs/openapi.yaml: %v", err)
	}
}

// call sends a JSON body (nil: none) and decodes the envelope, checking
// the HTTP status is 200 and the content type JSON.
func (c *client) call(method, path, token string, body any) envelope {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			r = strings.NewReader(b)
		case []byte:
			r = bytes.NewReader(b)
		default:
			j, err := json.Marshal(body)
			if err != nil {
				c.t.Fatal(err)
			}
			r = bytes.NewReader(j)
		}
	}
	resp, b := c.do(method, path, token, r, "application/json")
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s %s: HTTP %d, want 200: %s", method, path, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		c.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		c.t.Fatalf("%s %s: not an envelope: %v: %s", method, path, err, b)
	}
	return e
}

type loginData struct {
	Token       string `json:"token"`
	TokenExpire string `json:"tokenExpire"`
	UserInfo    struct {
		NickName  string `json:"nickName"`
		AvatarURL string `json:"avatarUrl"`
		Gender    int    `json:"gender"`
	} `json:"userInfo"`
}

type infoData struct {
	NickName string `json:"nickName"`
	Avatar   string `json:"avatar"`
	Gender   int    `json:"gender"`
	Mobile   string `json:"mobile"`
}

// login logs in with code and optional userInfo and wants errno 0.
func (c *client) login(code string, userInfo map[string]any) loginData {
	c.t.Helper()
	body := map[string]any{"code": code}
	if userInfo != nil {
		body["userInfo"] = userInfo
	}
	e := c.call("POST", "/wx/auth/login_by_weixin", "", body)
	if e.Errno != 0 {
		c.t.Fatalf("login %q: errno %d %s %s", code, e.Errno, e.Errmsg, e.Data)
	}
	var d loginData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		c.t.Fatal(err)
	}
	if len(d.Token) != 43 {
		c.t.Fatalf("token length %d, want 43", len(d.Token))
	}
	return d
}

func (c *client) info(token string) (infoData, envelope) {
	c.t.Helper()
	e := c.call("GET", "/wx/auth/info", token, nil)
	var d infoData
	if e.Errno == 0 {
		if err := json.Unmarshal(e.Data, &d); err != nil {
			c.t.Fatal(err)
		}
	}
	return d, e
}

// mockCall talks to mockwx's helpers.
func mockCall(t testing.TB, base, method, path string, body any, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, base+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("mockwx %s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("mockwx %s: %v: %s", path, err, b)
		}
	}
}

func mintCode(t testing.TB, mockBase, user string) string {
	t.Helper()
	var out struct {
		Code string `json:"code"`
	}
	mockCall(t, mockBase, "POST", "/__mock/login", map[string]any{"user": user}, &out)
	if out.Code == "" {
		t.Fatal("mockwx minted an empty code")
	}
	return out.Code
}
