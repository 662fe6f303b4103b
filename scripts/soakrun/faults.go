package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oactl/oactl/internal/db"
)

// inject applies o.fault at o.faultAt and returns when it is over.
func (h *harness) inject(ctx context.Context, deadline time.Time) error {
	if h.o.fault == "none" {
		return nil
	}
	if h.o.fault == "galera-node" {
		// /readyz from the start: it must be 200 everywhere before the fault.
		h.readyDone.Add(1)
		go func() { defer h.readyDone.Done(); h.pollReady(deadline) }()
		defer h.readyDone.Wait()
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
	case "galera-node":
		return h.galeraNode(ctx, deadline)
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
	p := h.serves[0]
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
	if err := h.startServe(0); err != nil {
		return errors.Join(problem, fmt.Errorf("restart serve: %w", err))
	}
	h.event("serve restarted and ready")
	return problem
}
