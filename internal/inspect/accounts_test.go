package inspect

import (
	"errors"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/auth"
)

// TestHeaderNamesDatabaseAndTotal: the list's header names the database
// and counts the sessions the filter selects (not only those loaded).
func TestHeaderNamesDatabaseAndTotal(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, func(o *Options) { o.Database = "oa@db.internal:3306/oa"; o.PageSize = 5 }), 120, 40)
	top := strings.SplitN(m.View(), "\n", 2)[0]
	if top != "oactl sessions · 30 sessions, 5 loaded+ · state: all · sort: newest · oa@db.internal:3306/oa" {
		t.Fatalf("header %q", top)
	}
	// The state filter changes the count.
	m = drive(t, m, keyMsg("s"))
	if top := strings.SplitN(m.View(), "\n", 2)[0]; !strings.Contains(top, "8 sessions") || !strings.Contains(top, "state: active") {
		t.Fatalf("active header %q", top)
	}
	// A failing count says so instead of a stale number.
	f.fail = errors.New("db down")
	m = drive(t, m, keyMsg("r"))
	if top := strings.SplitN(m.View(), "\n", 2)[0]; !strings.Contains(top, "count failed") {
		t.Fatalf("failing count header %q", top)
	}
}

// TestDetailDisableEnable: in a user's detail, d asks (y/N) and disables
// the account (its sessions revoked, the state shown), e enables it, each
// with the actor in its audit; anything but y changes nothing.
func TestDetailDisableEnable(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, func(o *Options) { o.Accounts = f; o.Actor = "zhang.san" }), 120, 40)
	// d in the list points at the detail view and changes nothing.
	m = drive(t, m, keyMsg("d"))
	if m.confirm != nil || !strings.Contains(m.View(), "open a user (enter) to disable") {
		t.Fatalf("d in the list:\n%s", m.View())
	}
	m = drive(t, m, keys("/", "alice", "enter", "enter")...)
	v := m.View()
	if !strings.Contains(v, "User 4 · alice · oAbC…wxYz · state: active") || !strings.Contains(v, "d disable user") || !strings.Contains(v, "e enable user") {
		t.Fatalf("detail view:\n%s", v)
	}
	for _, no := range []string{"n", "esc", "d"} {
		m = drive(t, m, keyMsg("d"))
		if !strings.Contains(m.View(), "Disable user 4 (alice) and revoke all their sessions? (y/N)") {
			t.Fatalf("no disable prompt:\n%s", m.View())
		}
		m = drive(t, m, keyMsg(no))
		if len(f.statusCalls) != 0 || m.mode != modeDetail {
			t.Fatalf("%q disabled the user: %v", no, f.statusCalls)
		}
	}
	m = drive(t, m, keyMsg("d"), keyMsg("y"))
	v = m.View()
	if len(f.statusCalls) != 1 || f.statusCalls[0] != "4=1" {
		t.Fatalf("status calls %v", f.statusCalls)
	}
	if a := f.audits[0]; a.Actor != "zhang.san" || !a.At.Equal(testNow) {
		t.Errorf("audit %+v", a)
	}
	if !strings.Contains(v, "STATE: DISABLED") || !strings.Contains(v, "disabled user 4, revoked 2 sessions") {
		t.Fatalf("after disable:\n%s", v)
	}
	for _, r := range m.detail.rows {
		if r.State == auth.StateActive {
			t.Errorf("session %d still active after disable", r.Session.ID)
		}
	}
	// Disabling again says so and writes nothing.
	m = drive(t, m, keyMsg("d"), keyMsg("y"))
	if len(f.statusCalls) != 1 || !strings.Contains(m.View(), "user 4 was already disabled") {
		t.Fatalf("second disable: %v\n%s", f.statusCalls, m.View())
	}
	m = drive(t, m, keyMsg("e"))
	if !strings.Contains(m.View(), "Enable user 4 (alice)? (y/N)") {
		t.Fatalf("no enable prompt:\n%s", m.View())
	}
	m = drive(t, m, keyMsg("y"))
	if len(f.statusCalls) != 2 || f.statusCalls[1] != "4=0" || !strings.Contains(m.View(), "state: active") {
		t.Fatalf("enable: %v\n%s", f.statusCalls, m.View())
	}
}

// TestDetailShowsEveryState: cancelled and deleted accounts are named as
// such; a failed read says so.
func TestDetailShowsEveryState(t *testing.T) {
	f := newFake()
	f.status = map[int64]int{4: auth.StatusCancelled}
	m := start(t, newModel(f, func(o *Options) { o.Accounts = f }), 120, 40)
	m = drive(t, m, keys("/", "alice", "enter", "enter")...)
	if !strings.Contains(m.View(), "STATE: CANCELLED") {
		t.Fatalf("cancelled:\n%s", m.View())
	}
	f.fail = errors.New("db down")
	m = drive(t, m, keyMsg("r"))
	if !strings.Contains(m.View(), "state: db down") {
		t.Fatalf("failed read:\n%s", m.View())
	}
}

// TestNoAccountsNoStatusKeys: without Accounts (a lister only) the detail
// offers neither d nor e, and d does nothing.
func TestNoAccountsNoStatusKeys(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, nil), 120, 40)
	m = drive(t, m, keys("/", "alice", "enter", "enter", "d", "y")...)
	if v := m.View(); strings.Contains(v, "disable") || strings.Contains(v, "state:") || len(f.statusCalls) != 0 {
		t.Fatalf("detail without accounts:\n%s", v)
	}
}
