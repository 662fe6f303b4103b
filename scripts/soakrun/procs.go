package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

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

// serveLog is serve process i's log file.
func (h *harness) serveLog(i int) string {
	if len(h.serveAddrs) == 1 {
		return filepath.Join(h.o.work, "serve.log")
	}
	return filepath.Join(h.o.work, fmt.Sprintf("serve%d.log", i+1))
}

// startServe starts serve process i (on serveAddrs[i], with dsns[i]) and
// waits until it is ready.
func (h *harness) startServe(i int) error {
	p, err := startProc("serve", h.serveLog(i),
		// OA_DB: a password in --db would show in ps (and serve warns).
		[]string{"OA_WX_APP_SECRET=soak-secret", "OA_DB=" + h.o.dsns[i]}, h.o.oactl, "serve",
		"--addr", h.serveAddrs[i], "--wx-base-url", h.mockURL, "--appid", appID,
		"--login-rate", "0", "--wx-timeout", h.o.wxTimeout.String(), "--storage-dir", filepath.Join(h.o.work, "files"),
		"--shutdown-timeout", "10s")
	if err != nil {
		return err
	}
	h.serveMu.Lock()
	h.serves[i] = p
	h.serveMu.Unlock()
	return waitHTTP("http://"+h.serveAddrs[i]+"/readyz", 20*time.Second)
}
