package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tmuxTerm is a real terminal for the built binary: a detached tmux
// session on a tmux server of the test's own (its own socket), so keys go
// through a pty exactly as a user's would. Reusable by other end-to-end
// tests of the TUI.
type tmuxTerm struct {
	t      testing.TB
	socket string
	name   string
}

// startTmux runs argv in a w×h terminal. It skips when tmux is not
// installed, unless OACTL_REQUIRE_TMUX=1.
func startTmux(t testing.TB, w, h int, env []string, argv ...string) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("OACTL_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is not installed but OACTL_REQUIRE_TMUX=1")
		}
		t.Skip("tmux is not installed")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	tt := &tmuxTerm{t: t, socket: "oactl-test-" + hex.EncodeToString(b[:]), name: "s"}
	// env(1) sets the program's environment whatever the tmux server's is.
	cmd := append([]string{"env", "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}, env...)
	cmd = append(cmd, argv...)
	args := append([]string{"new-session", "-d", "-s", tt.name, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h)}, cmd...)
	tt.tmux(args...)
	// Keep the pane after the program exits, so a crash can be read.
	tt.tmux("set-option", "-t", tt.name, "remain-on-exit", "on")
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", tt.socket, "kill-server").Run() })
	return tt
}

func (tt *tmuxTerm) tmux(args ...string) string {
	tt.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-u", "-L", tt.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		tt.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names (Enter, Escape, C-c) or single characters.
func (tt *tmuxTerm) keys(keys ...string) {
	tt.t.Helper()
	tt.tmux(append([]string{"send-keys", "-t", tt.name}, keys...)...)
}

// text types s literally (UTF-8, so CJK arrives as a user's IME sends it).
func (tt *tmuxTerm) text(s string) {
	tt.t.Helper()
	tt.tmux("send-keys", "-t", tt.name, "-l", s)
}

// screen is what the terminal shows now.
func (tt *tmuxTerm) screen() string {
	tt.t.Helper()
	return tt.tmux("capture-pane", "-p", "-t", tt.name)
}

// waitFor polls the screen until it contains s (bounded), and returns it.
func (tt *tmuxTerm) waitFor(s string) string {
	tt.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		scr := tt.screen()
		if strings.Contains(scr, s) {
			return scr
		}
		if time.Now().After(deadline) {
			tt.t.Fatalf("screen never showed %q:\n%s", s, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// detailLoaded is the detail view's second line once at least one of the
// user's sessions is loaded: keys sent before it would land on an empty pane.
var detailLoaded = regexp.MustCompile(`[1-9][0-9]* sessions? loaded`)

// waitForMatch polls the screen until re matches (bounded), and returns it.
func (tt *tmuxTerm) waitForMatch(re *regexp.Regexp) string {
	tt.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		scr := tt.screen()
		if re.MatchString(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			tt.t.Fatalf("screen never matched %s:\n%s", re, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// paneDead reports whether the program in the pane has exited.
func (tt *tmuxTerm) paneDead() bool {
	return strings.TrimSpace(tt.tmux("display-message", "-p", "-t", tt.name, "#{pane_dead}")) == "1"
}

func TestSessionsTUIInTmux(t *testing.T) {
	bin := oactlBinary(t)
	dsn := "sqlite:" + t.TempDir() + "/tui.db"
	seeded := fillSessions(t, dsn, defaultSeed(time.Now().UTC()))
	var target seededSession
	for _, s := range seeded {
		if s.Nickname == "张三" {
			target = s // the newest of 张三's two sessions: first in the detail
			break
		}
	}
	tt := startTmux(t, 120, 40, []string{"NO_COLOR=1"}, bin, "sessions", "--db", dsn, "--refresh", "0")
	scr := tt.waitFor("oactl sessions")
	tt.waitFor(strconv.Itoa(len(seeded)) + " loaded")
	for _, s := range seeded {
		if strings.Contains(scr, s.Token) || strings.Contains(scr, s.OpenID) || strings.Contains(scr, "SEEDKEY") {
			t.Fatal("the screen shows a token, a raw openid or a session key")
		}
	}
	tt.keys("/")
	tt.text("张三")
	tt.waitFor("2 loaded")
	tt.keys("Enter")
	tt.keys("Enter")
	tt.waitFor("User " + strconv.FormatInt(target.UserID, 10) + " · 张三")
	tt.waitForMatch(detailLoaded)
	tt.keys("x")
	tt.waitFor("Revoke session " + strconv.FormatInt(target.ID, 10) + " of user")
	tt.keys("n")
	tt.waitFor("cancelled")
	if r, _ := sessionRevoked(t, dsn, target.ID); r {
		t.Fatal("revoked although the answer was n")
	}
	tt.keys("x")
	tt.waitFor("(y/N)")
	tt.keys("y")
	scr = tt.waitFor("revoked 1 session")
	if !strings.Contains(scr, "revoked ") {
		t.Errorf("detail does not show the revoked state:\n%s", scr)
	}
	if r, reason := sessionRevoked(t, dsn, target.ID); !r || reason != "support" {
		t.Fatalf("session %d in the database: revoked %v, reason %q", target.ID, r, reason)
	}
	tt.keys("q")
	deadline := time.Now().Add(5 * time.Second)
	for !tt.paneDead() {
		if time.Now().After(deadline) {
			t.Fatalf("oactl did not quit on q:\n%s", tt.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
