// Command soak drives oactl serve + mockwx + MariaDB with simulated users
// (login → info → profile → logout → info with the dead token), optionally
// injects one fault, prints a table of errno counts and latency
// percentiles per operation, and checks the database's consistency.
//
// It is built and run by scripts/soak (and scripts/fault-*), which start
// the MariaDB server; everything listens on 127.0.0.1, every loop is
// bounded by time and count, and every process it starts is stopped by
// PID.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"github.com/oactl/oactl/internal/db"
)

const (
	appID  = "wxsoak0000000000"
	tokenH = "X-OA-Token"
	// clientTimeout is the mini-program's: it gives up after 6 s.
	clientTimeout = 6 * time.Second
)

// Operations of one simulated user's round.
const (
	opLogin = iota
	opInfo
	opProfile
	opLogout
	opInfoAfterLogout
	numOps
)

var opNames = [numOps]string{"login", "info", "profile", "logout", "info (logged out)"}

// Outcomes that are not an errno.
const (
	outRefused   = 100001 // connection refused: nobody listening
	outClosed    = 100002 // connection closed or reset before an answer
	outTimeout   = 100003 // no answer within the client's 6 s
	outNotEnvelo = 100004 // an answer that is not the JSON envelope
	outOther     = 100005
)

func outcomeName(o int) string {
	switch o {
	case outRefused:
		return "refused"
	case outClosed:
		return "closed"
	case outTimeout:
		return "timeout"
	case outNotEnvelo:
		return "not-envelope"
	case outOther:
		return "other-error"
	}
	return "errno " + strconv.Itoa(o)
}

type sample struct {
	op         uint8
	outcome    int32
	start, end time.Duration // since the run began
}

type options struct {
	oactl, dsn, mariadbDir, work, fault, out string
	users, maxRounds                         int
	duration, faultAt, wxTimeout             time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.oactl, "oactl", "", "path of the built oactl binary")
	flag.StringVar(&o.dsn, "db", "", "MariaDB DSN (mysql://...) of a server started by scripts/mariadb")
	flag.StringVar(&o.mariadbDir, "mariadb-dir", "", "that server's scripts/mariadb directory (for --fault db-restart)")
	flag.StringVar(&o.work, "work", "", "directory for logs (default: a temporary one)")
	flag.StringVar(&o.fault, "fault", "none", "none | db-restart | wx-errors | wx-slow | sigterm | sigkill")
	flag.StringVar(&o.out, "out", "", "also write the report (markdown) to this file")
	flag.IntVar(&o.users, "users", 64, "concurrent simulated users")
	flag.IntVar(&o.maxRounds, "max-rounds", 100000, "bound on each user's rounds")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "length of the run")
	flag.DurationVar(&o.faultAt, "fault-at", 0, "when the fault starts (default a third of --duration)")
	flag.DurationVar(&o.wxTimeout, "wx-timeout", 4*time.Second, "serve's --wx-timeout")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), o, logger); err != nil {
		logger.Error("soak failed", "err", err)
		os.Exit(1)
	}
}

// proc is a child process whose exit is observed once.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop signals p and waits up to timeout, then kills it. It returns the
// exit code (-1 when killed by a signal).
func (p *proc) stop(sig syscall.Signal, timeout time.Duration) (int, error) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
		select {
		case <-p.done:
		case <-time.After(timeout):
			_ = p.cmd.Process.Kill()
			<-p.done
			return -1, fmt.Errorf("%s did not exit within %v of %v", p.name, timeout, sig)
		}
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHTTP polls url until it answers 200, for at most timeout.
func waitHTTP(url string, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %v", url, timeout)
}

type harness struct {
	o                  options
	log                *slog.Logger
	client             *http.Client
	mockURL, serveAddr string
	mock, serve        *proc
	serveMu            sync.Mutex
	began              time.Time
	events             []string // what the fault did and when
	eventsMu           sync.Mutex
	// Set by inject on the main goroutine, read by judge after the load.
	dbUpAt, sigAt, faultOn, faultOff time.Duration
}

func (h *harness) since() time.Duration { return time.Since(h.began) }

func (h *harness) event(format string, args ...any) {
	h.eventsMu.Lock()
	defer h.eventsMu.Unlock()
	line := fmt.Sprintf("%6.2fs ", h.since().Seconds()) + fmt.Sprintf(format, args...)
	h.events = append(h.events, line)
	h.log.Info("event", "what", line)
}

func (h *harness) startServe() error {
	p, err := startProc("serve", filepath.Join(h.o.work, "serve.log"),
		[]string{"OA_WX_APP_SECRET=soak-secret"}, h.o.oactl, "serve",
		"--addr", h.serveAddr, "--db", h.o.dsn, "--wx-base-url", h.mockURL, "--appid", appID,
		"--login-rate", "0", "--wx-timeout", h.o.wxTimeout.String(), "--storage-dir", filepath.Join(h.o.work, "files"),
		"--shutdown-timeout", "10s")
	if err != nil {
		return err
	}
	h.serveMu.Lock()
	h.serve = p
	h.serveMu.Unlock()
	return waitHTTP("http://"+h.serveAddr+"/readyz", 20*time.Second)
}

func run(ctx context.Context, o options, logger *slog.Logger) error {
	if o.oactl == "" || o.dsn == "" {
		return errors.New("--oactl and --db are required")
	}
	if o.users < 1 || o.maxRounds < 1 || o.duration <= 0 {
		return errors.New("--users, --max-rounds and --duration must be positive")
	}
	if o.faultAt == 0 {
		o.faultAt = o.duration / 3
	}
	if o.work == "" {
		d, err := os.MkdirTemp("", "soak-")
		if err != nil {
			return fmt.Errorf("work dir: %w", err)
		}
		o.work = d
	}
	if out, err := exec.Command(o.oactl, "migrate", "up", "--db", o.dsn).CombinedOutput(); err != nil {
		return fmt.Errorf("migrate up: %v: %s", err, out)
	}
	mockAddr, err := freePort()
	if err != nil {
		return err
	}
	serveAddr, err := freePort()
	if err != nil {
		return err
	}
	h := &harness{o: o, log: logger, mockURL: "http://" + mockAddr, serveAddr: serveAddr}
	h.client = &http.Client{Timeout: clientTimeout, Transport: &http.Transport{
		MaxIdleConns: 2 * o.users, MaxIdleConnsPerHost: 2 * o.users, IdleConnTimeout: 30 * time.Second,
	}}
	h.mock, err = startProc("mockwx", filepath.Join(o.work, "mockwx.log"), nil, o.oactl, "mockwx",
		"--addr", mockAddr, "--appid", appID, "--secret", "soak-secret", "--journal-size", "100")
	if err != nil {
		return err
	}
	defer h.mock.stop(syscall.SIGTERM, 5*time.Second)
	if err := waitHTTP(h.mockURL+"/__mock/healthz", 10*time.Second); err != nil {
		return err
	}
	if err := h.startServe(); err != nil {
		return err
	}
	defer func() {
		h.serveMu.Lock()
		p := h.serve
		h.serveMu.Unlock()
		p.stop(syscall.SIGTERM, 15*time.Second)
	}()

	h.began = time.Now()
	deadline := h.began.Add(o.duration)
	results := make([][]sample, o.users)
	tallies := make([]tally, o.users)
	var wg sync.WaitGroup
	for u := 0; u < o.users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[u], tallies[u] = h.user(ctx, u, deadline)
		}()
	}
	faultErr := h.inject(ctx, deadline)
	wg.Wait()
	h.event("load stopped")

	var all []sample
	var t tally
	t.identOK = map[string]bool{}
	t.identTried = map[string]bool{}
	for u := range results {
		all = append(all, results[u]...)
		t.add(tallies[u])
	}
	rep := &strings.Builder{}
	fmt.Fprintf(rep, "soak: %d users, %v, fault %s, serve --wx-timeout %v\n\n", o.users, o.duration, o.fault, o.wxTimeout)
	table(rep, all, h.since())
	// The rest is plain text: fenced, so the report pastes into markdown.
	fmt.Fprintf(rep, "\n```text")
	if len(h.events) > 0 {
		fmt.Fprintf(rep, "\nevents:\n")
		for _, e := range h.events {
			fmt.Fprintf(rep, "  %s\n", e)
		}
	}
	faultProblems := h.judge(rep, all)
	if faultErr != nil {
		faultProblems = append(faultProblems, faultErr.Error())
	}
	problems, err := check(ctx, rep, o.dsn, t)
	if err != nil {
		return err
	}
	problems = append(problems, faultProblems...)
	if n := grepPanics(filepath.Join(o.work, "serve.log")); n > 0 {
		problems = append(problems, fmt.Sprintf("serve's log has %d panic lines", n))
	}
	if len(problems) == 0 {
		fmt.Fprintf(rep, "\nresult: PASS\n")
	} else {
		fmt.Fprintf(rep, "\nresult: FAIL\n")
		for _, p := range problems {
			fmt.Fprintf(rep, "  - %s\n", p)
		}
	}
	fmt.Fprintf(rep, "```\n")
	fmt.Print(rep.String())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep.String()), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems", len(problems))
	}
	return nil
}

// tally is what the clients know was (or may have been) written.
type tally struct {
	loginOK, loginMaybe   int // answered 0; failed in a way that may have committed
	logoutOK, logoutMaybe int
	identOK, identTried   map[string]bool
}

func (t *tally) add(o tally) {
	t.loginOK += o.loginOK
	t.loginMaybe += o.loginMaybe
	t.logoutOK += o.logoutOK
	t.logoutMaybe += o.logoutMaybe
	for k := range o.identOK {
		t.identOK[k] = true
	}
	for k := range o.identTried {
		t.identTried[k] = true
	}
}

// maybeWritten: an answer that does not prove nothing was written (the
// server may have committed before the failure reached the client).
func maybeWritten(outcome int) bool {
	return outcome == 502 || outcome >= outRefused && outcome != outRefused
}

// user runs one simulated user's rounds until deadline or maxRounds. Two
// users share each identity, so first logins of one openid race.
func (h *harness) user(ctx context.Context, u int, deadline time.Time) ([]sample, tally) {
	t := tally{identOK: map[string]bool{}, identTried: map[string]bool{}}
	var out []sample
	idents := max(h.o.users/2, 1)
	ident := fmt.Sprintf("user%d", u%idents)
	do := func(op int, method, path, token string, body any) (int, json.RawMessage) {
		start := h.since()
		outcome, data := h.call(ctx, method, path, token, body)
		out = append(out, sample{op: uint8(op), outcome: int32(outcome), start: start, end: h.since()})
		return outcome, data
	}
	for round := 0; round < h.o.maxRounds && time.Now().Before(deadline); round++ {
		code := fmt.Sprintf("%s.%d.%d", ident, u, round)
		t.identTried[ident] = true
		oc, data := do(opLogin, "POST", "/wx/auth/login_by_weixin", "", map[string]any{
			"code":     code,
			"userInfo": map[string]any{"nickName": fmt.Sprintf("用户😀%d", u), "gender": u % 3, "avatarUrl": fmt.Sprintf("https://example.invalid/a%d.png", u)},
		})
		if oc != 0 {
			if maybeWritten(oc) {
				t.loginMaybe++
			}
			time.Sleep(20 * time.Millisecond) // no hot loop while the server is away
			continue
		}
		var ld struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(data, &ld) != nil || ld.Token == "" {
			out[len(out)-1].outcome = outNotEnvelo
			continue
		}
		t.loginOK++
		t.identOK[ident] = true
		if oc, _ := do(opInfo, "GET", "/wx/auth/info", ld.Token, nil); oc != 0 {
			continue
		}
		if oc, _ := do(opProfile, "POST", "/wx/auth/profile", ld.Token, map[string]any{"nickname": fmt.Sprintf("改名👨‍👩‍👧‍👦%d", round)}); oc != 0 {
			continue
		}
		oc, _ = do(opLogout, "POST", "/wx/auth/logout", ld.Token, nil)
		if oc != 0 {
			if maybeWritten(oc) {
				t.logoutMaybe++
			}
			continue
		}
		t.logoutOK++
		do(opInfoAfterLogout, "GET", "/wx/auth/info", ld.Token, nil)
	}
	return out, t
}

// call does one API request and returns its errno (or an out* outcome)
// and the envelope's data.
func (h *harness) call(ctx context.Context, method, path, token string, body any) (int, json.RawMessage) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return outOther, nil
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+h.serveAddr+path, rd)
	if err != nil {
		return outOther, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set(tokenH, token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return classify(err), nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return classify(err), nil
	}
	var env struct {
		Errno *int            `json:"errno"`
		Data  json.RawMessage `json:"data"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &env) != nil || env.Errno == nil {
		return outNotEnvelo, nil
	}
	return *env.Errno, env.Data
}

func classify(err error) int {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return outRefused
	case errors.As(err, &ne) && ne.Timeout():
		return outTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		strings.Contains(err.Error(), "server closed idle connection"):
		return outClosed
	}
	return outOther
}

// inject applies o.fault at o.faultAt and returns when it is over.
func (h *harness) inject(ctx context.Context, deadline time.Time) error {
	if h.o.fault == "none" {
		return nil
	}
	time.Sleep(time.Until(h.began.Add(h.o.faultAt)))
	switch h.o.fault {
	case "db-restart":
		return h.dbRestart()
	case "wx-errors":
		return h.wxFaults(deadline, `{"errorRate":0.2,"errcode":-1,"seed":1}`)
	case "wx-slow":
		// Latency past serve's --wx-timeout: every login fails with -1.
		return h.wxFaults(deadline, fmt.Sprintf(`{"latencyMs":%d}`, (h.o.wxTimeout+500*time.Millisecond).Milliseconds()))
	case "sigterm", "sigkill":
		return h.signalServe(h.o.fault)
	}
	return fmt.Errorf("unknown --fault %q", h.o.fault)
}

// wxFaults turns mockwx's faults on for the middle third of the run.
func (h *harness) wxFaults(deadline time.Time, faults string) error {
	if err := h.mockRequest("PUT", "/__mock/faults", faults); err != nil {
		return err
	}
	h.faultOn = h.since()
	h.event("mockwx faults on: %s", faults)
	time.Sleep(time.Until(h.began.Add(2 * h.o.duration / 3)))
	if err := h.mockRequest("DELETE", "/__mock/faults", ""); err != nil {
		return err
	}
	h.faultOff = h.since()
	h.event("mockwx faults off")
	return nil
}

func (h *harness) mockRequest(method, path, body string) error {
	req, err := http.NewRequest(method, h.mockURL+path, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("mockwx %s %s: %w", method, path, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("mockwx %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("mockwx %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return nil
}

// dbRestart stops the MariaDB server (SIGTERM, by the PID in its pid
// file), keeps it down 5 s, and starts it again with the same command line
// and data directory.
func (h *harness) dbRestart() error {
	if h.o.mariadbDir == "" {
		return errors.New("--fault db-restart needs --mariadb-dir")
	}
	pidText, err := os.ReadFile(filepath.Join(h.o.mariadbDir, "pid"))
	if err != nil {
		return fmt.Errorf("mariadb pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		return fmt.Errorf("mariadb pid %q: %w", pidText, err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return fmt.Errorf("mariadb command line: %w", err)
	}
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	h.event("stopping MariaDB (pid %d)", pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop mariadb: %w", err)
	}
	for i := 0; i < 600 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		return errors.New("mariadb did not stop within 30 s")
	}
	h.event("MariaDB is down")
	time.Sleep(5 * time.Second)
	lf, err := os.OpenFile(filepath.Join(h.o.mariadbDir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("mariadb log: %w", err)
	}
	defer lf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// Its own session: it outlives this program, and scripts/mariadb stop
	// ends it by the PID it writes to its pid file.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart mariadb: %w", err)
	}
	h.event("MariaDB started again (pid %d)", cmd.Process.Pid)
	go cmd.Wait() // reaps it if it dies while we run
	cfg, err := db.ParseDSN(h.o.dsn)
	if err != nil {
		return err
	}
	for i := 0; i < 600; i++ {
		if c, err := net.DialTimeout("tcp", cfg.MySQL.Addr, 100*time.Millisecond); err == nil {
			c.Close()
			h.event("MariaDB accepts connections")
			h.dbUpAt = h.since()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("mariadb did not come back within 30 s")
}

// signalServe sends SIGTERM or SIGKILL to serve under load, checks how it
// ended, and starts a new serve on the same address. For SIGTERM, mockwx
// first gets 500 ms of latency so that logins are in flight at the signal.

func (h *harness) signalServe(kind string) error {
	sig := syscall.SIGKILL
	if kind == "sigterm" {
		sig = syscall.SIGTERM
		if err := h.mockRequest("PUT", "/__mock/faults", `{"latencyMs":500}`); err != nil {
			return err
		}
		h.event("mockwx latency 500 ms (logins in flight)")
		time.Sleep(time.Second)
	}
	h.serveMu.Lock()
	p := h.serve
	h.serveMu.Unlock()
	h.sigAt = h.since()
	h.event("%s to serve (pid %d)", strings.ToUpper(kind), p.cmd.Process.Pid)
	code, err := p.stop(sig, 15*time.Second)
	var problem error
	switch {
	case err != nil:
		problem = err
	case kind == "sigterm" && code != 0:
		problem = fmt.Errorf("serve exited %d after SIGTERM, want 0", code)
	}
	h.event("serve exited with status %d", code)
	if kind == "sigterm" {
		if err := h.mockRequest("DELETE", "/__mock/faults", ""); err != nil {
			return err
		}
	}
	time.Sleep(500 * time.Millisecond)
	if err := h.startServe(); err != nil {
		return errors.Join(problem, fmt.Errorf("restart serve: %w", err))
	}
	h.event("serve restarted and ready")
	return problem
}

// judge checks the fault's own promises against the samples.
func (h *harness) judge(w io.Writer, all []sample) []string {
	var problems []string
	switch h.o.fault {
	case "db-restart":
		if h.dbUpAt == 0 {
			return []string{"MariaDB never came back"}
		}
		var firstOK, lastBad time.Duration = -1, -1
		for _, s := range all {
			if s.start < h.dbUpAt || s.op == opInfoAfterLogout {
				continue
			}
			if s.outcome == 0 && (firstOK < 0 || s.end < firstOK) {
				firstOK = s.end
			}
			if s.outcome != 0 && s.end > lastBad {
				lastBad = s.end
			}
		}
		last := "none started after it"
		if lastBad >= 0 {
			last = fmt.Sprintf("%.2fs after", (lastBad - h.dbUpAt).Seconds())
		}
		fmt.Fprintf(w, "\nrecovery: first success %.2fs after MariaDB accepted connections again; last failure: %s\n",
			(firstOK - h.dbUpAt).Seconds(), last)
		if firstOK < 0 || firstOK-h.dbUpAt > 5*time.Second || lastBad-h.dbUpAt > 5*time.Second {
			problems = append(problems, "no recovery within 5 s of MariaDB's return")
		}
	case "wx-errors", "wx-slow":
		var logins, wxFailed, other int
		var slowest time.Duration
		for _, s := range all {
			if s.op != opLogin || s.start < h.faultOn || s.end > h.faultOff {
				continue
			}
			logins++
			switch s.outcome {
			case -1:
				wxFailed++
				slowest = max(slowest, s.end-s.start)
			case 0:
			default:
				other++
			}
		}
		fmt.Fprintf(w, "\nlogins while the faults were on: %d, errno -1: %d (%.0f%%), other failures: %d, slowest -1 answer: %.0f ms\n",
			logins, wxFailed, 100*float64(wxFailed)/float64(max(logins, 1)), other, float64(slowest.Milliseconds()))
		if wxFailed == 0 || other != 0 {
			problems = append(problems, "faults of mockwx did not give -1 envelopes only")
		}
		if slowest >= clientTimeout {
			problems = append(problems, "a -1 answer came after the client's 6 s")
		}
	case "sigterm":
		inflight, answered := 0, 0
		for _, s := range all {
			if s.start < h.sigAt-50*time.Millisecond && s.end > h.sigAt {
				inflight++
				if s.outcome < outRefused {
					answered++
				}
			}
		}
		fmt.Fprintf(w, "\nin flight at SIGTERM (sent > 50 ms before it, done after it): %d, answered with an envelope: %d\n", inflight, answered)
		if inflight != answered {
			problems = append(problems, fmt.Sprintf("%d in-flight requests lost at SIGTERM", inflight-answered))
		}
		if inflight == 0 {
			problems = append(problems, "no request was in flight at SIGTERM: the run proves nothing")
		}
	}
	return problems
}

// table prints per operation: count, each outcome's count, latency
// percentiles (ms) and the rate.
func table(w io.Writer, all []sample, elapsed time.Duration) {
	outcomes := map[int32]bool{}
	for _, s := range all {
		outcomes[s.outcome] = true
	}
	var keys []int
	for k := range outcomes {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	fmt.Fprintf(w, "| op | requests | req/s |")
	for _, k := range keys {
		fmt.Fprintf(w, " %s |", outcomeName(k))
	}
	fmt.Fprintf(w, " p50 ms | p90 ms | p99 ms | max ms |\n|---|---:|---:|")
	for range keys {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintf(w, "---:|---:|---:|---:|\n")
	total := 0
	for op := 0; op < numOps; op++ {
		var lat []time.Duration
		counts := map[int]int{}
		for _, s := range all {
			if int(s.op) == op {
				lat = append(lat, s.end-s.start)
				counts[int(s.outcome)]++
			}
		}
		total += len(lat)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Fprintf(w, "| %s | %d | %.0f |", opNames[op], len(lat), float64(len(lat))/elapsed.Seconds())
		for _, k := range keys {
			fmt.Fprintf(w, " %d |", counts[k])
		}
		fmt.Fprintf(w, " %s | %s | %s | %s |\n", pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), pct(lat, 1))
	}
	fmt.Fprintf(w, "\n%d requests in %.1fs (%.0f req/s).\n", total, elapsed.Seconds(), float64(total)/elapsed.Seconds())
}

func pct(sorted []time.Duration, p float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := int(float64(len(sorted)-1) * p)
	return fmt.Sprintf("%.1f", float64(sorted[i].Microseconds())/1000)
}

// check queries the database for what a crash or a race could leave
// behind, and compares it with what the clients were told.
func check(ctx context.Context, w io.Writer, dsn string, t tally) ([]string, error) {
	cfg, err := db.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	dbx, err := sqlx.Open(cfg.DriverName, cfg.DriverDSN)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	defer dbx.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	counts := []struct{ name, query string }{
		{"openids with more than one wx_user", `SELECT COUNT(*) FROM (SELECT weixin_openid FROM wx_user GROUP BY weixin_openid HAVING COUNT(*) > 1) d`},
		{"sessions without a user", `SELECT COUNT(*) FROM wx_session s LEFT JOIN wx_user u ON u.id = s.user_id WHERE u.id IS NULL`},
		{"users without a session (half-written login)", `SELECT COUNT(*) FROM wx_user u WHERE NOT EXISTS (SELECT 1 FROM wx_session s WHERE s.user_id = u.id)`},
		{"users with a bad row (openid, username, password, times)", `SELECT COUNT(*) FROM wx_user WHERE weixin_openid = '' OR username <> weixin_openid OR password <> '' OR last_login_time IS NULL OR add_time IS NULL OR update_time IS NULL OR status <> 0 OR deleted <> 0`},
		{"sessions with a bad row (hash, key, times)", `SELECT COUNT(*) FROM wx_session WHERE LENGTH(token_hash) <> 64 OR session_key = '' OR expires_at <= created_at OR (revoked_at IS NOT NULL AND revoked_at < created_at)`},
		{"nicknames with '?' (lost emoji)", `SELECT COUNT(*) FROM wx_user WHERE LOCATE('?', nickname) > 0`},
	}
	var problems []string
	fmt.Fprintf(w, "\nconsistency of the database:\n")
	for _, c := range counts {
		var n int
		if err := dbx.GetContext(ctx, &n, c.query); err != nil {
			return nil, fmt.Errorf("check %q: %w", c.name, err)
		}
		fmt.Fprintf(w, "  %-58s %d\n", c.name, n)
		if n != 0 {
			problems = append(problems, fmt.Sprintf("%s: %d", c.name, n))
		}
	}
	var sessions, revoked, users int
	for _, q := range []struct {
		dst *int
		sql string
	}{{&sessions, `SELECT COUNT(*) FROM wx_session`}, {&revoked, `SELECT COUNT(*) FROM wx_session WHERE revoked_at IS NOT NULL`}, {&users, `SELECT COUNT(*) FROM wx_user`}} {
		if err := dbx.GetContext(ctx, q.dst, q.sql); err != nil {
			return nil, fmt.Errorf("check counts: %w", err)
		}
	}
	within := func(name string, got, lo, hi int) {
		verdict := "ok"
		if got < lo || got > hi {
			verdict = "WRONG"
			problems = append(problems, fmt.Sprintf("%s: %d, want %d..%d", name, got, lo, hi))
		}
		fmt.Fprintf(w, "  %-58s %d (clients: %d..%d) %s\n", name, got, lo, hi, verdict)
	}
	within("sessions = logins answered 0 (+ ambiguous failures)", sessions, t.loginOK, t.loginOK+t.loginMaybe)
	within("revoked sessions = logouts answered 0 (+ ambiguous)", revoked, t.logoutOK, t.logoutOK+t.logoutMaybe)
	within("users = identities with a successful login (+ tried)", users, len(t.identOK), len(t.identTried))
	return problems, nil
}

func grepPanics(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(bytes.ToLower(b), []byte("panic"))
}
