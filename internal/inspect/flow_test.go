package inspect

import (
	"bytes"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/oactl/oactl/internal/auth"
)

// The teatest flows run the model in a real tea.Program (ASCII profile,
// fixed clock, the fake lister) and read what it draws.

func startFlow(t *testing.T, f *fakeLister, mod func(*Options)) *teatest.TestModel {
	t.Helper()
	o := Options{Lister: f, Now: func() time.Time { return testNow }, Colors: plainColors()}
	if mod != nil {
		mod(&o)
	}
	tm := teatest.NewTestModel(t, New(o), teatest.WithInitialTermSize(120, 40))
	t.Cleanup(func() { _ = tm.Quit() })
	waitFor(t, tm, "30 loaded")
	return tm
}

func waitFor(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func send(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		tm.Send(keyMsg(k))
	}
}

func TestFlowFilterDetailRevoke(t *testing.T) {
	f := newFake()
	tm := startFlow(t, f, nil)
	// 张三 arrives as one message, as from an input method.
	send(tm, "/")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("张三")})
	waitFor(t, tm, "3 loaded")
	send(tm, "enter", "enter")
	waitFor(t, tm, "User 1 · 张三 · oAbC…wxYz")
	send(tm, "x")
	waitFor(t, tm, "Revoke session 101 of user 1 (张三)? (y/N)")
	send(tm, "y")
	waitFor(t, tm, "revoked 1 session")
	send(tm, "q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if s := f.session(101); s.RevokedAt.IsZero() || s.RevokeReason != "support" {
		t.Fatalf("session 101 not revoked: %+v", s)
	}
	for _, id := range []int64{102, 103, 104} {
		if s := f.session(id); id != 103 && !s.RevokedAt.IsZero() {
			t.Errorf("session %d revoked too", id)
		}
	}
}

func TestFlowCancel(t *testing.T) {
	f := newFake()
	tm := startFlow(t, f, nil)
	for _, cancel := range []string{"n", "enter", "esc"} {
		send(tm, "x")
		waitFor(t, tm, "(y/N)")
		send(tm, cancel)
		waitFor(t, tm, "cancelled")
	}
	send(tm, "X")
	waitFor(t, tm, "Revoke ALL sessions of user 1")
	send(tm, "n")
	waitFor(t, tm, "cancelled")
	send(tm, "q")
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if len(f.revokes) != 0 {
		t.Fatalf("cancelled prompts revoked: %v", f.revokes)
	}
	for _, r := range final.list.rows {
		if r.Session.ID == 101 && r.State != auth.StateActive {
			t.Errorf("session 101 is %s", r.State)
		}
	}
}

func TestFlowReadOnly(t *testing.T) {
	f := newFake()
	tm := startFlow(t, f, func(o *Options) { o.ReadOnly = true })
	send(tm, "X")
	waitFor(t, tm, "read-only: revoking is disabled")
	send(tm, "y", "q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if len(f.revokes) != 0 {
		t.Fatalf("read-only revoked: %v", f.revokes)
	}
}
