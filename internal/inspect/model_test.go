package inspect

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"

	"github.com/oactl/oactl/internal/auth"
)

func newModel(f *fakeLister, mod func(*Options)) Model {
	o := Options{Lister: f, Now: func() time.Time { return testNow }, PageSize: 100, Colors: plainColors()}
	if mod != nil {
		mod(&o)
	}
	m := New(o)
	m.after = func(time.Duration, func(time.Time) tea.Msg) tea.Cmd { return nil }
	return m
}

// plainColors draws no colour: golden views and teatest output must not
// depend on the terminal the tests run in.
func plainColors() *Colors { return &Colors{Profile: termenv.Ascii, Dark: true} }

// drive feeds msg to m and runs the commands it returns synchronously,
// feeding their messages back, as a tea.Program would.
func drive(t *testing.T, m Model, msgs ...tea.Msg) Model {
	t.Helper()
	for _, msg := range msgs {
		m = settle(m, msg)
	}
	return m
}

// settle applies one message and everything its commands lead to.
func settle(m Model, first tea.Msg) Model {
	queue := []tea.Msg{first}
	for len(queue) > 0 {
		msg := queue[0]
		queue = queue[1:]
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				queue = append(queue, run(c))
			}
			continue
		}
		if msg == nil {
			continue
		}
		next, cmd := m.Update(msg)
		m = next.(Model)
		queue = append(queue, run(cmd))
	}
	return m
}

func run(c tea.Cmd) tea.Msg {
	if c == nil {
		return nil
	}
	return c()
}

func start(t *testing.T, m Model, w, h int) Model {
	t.Helper()
	return drive(t, m, tea.WindowSizeMsg{Width: w, Height: h}, m.Init()())
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "end":
		return tea.KeyMsg{Type: tea.KeyEnd}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func keys(ss ...string) []tea.Msg {
	var out []tea.Msg
	for _, s := range ss {
		out = append(out, keyMsg(s))
	}
	return out
}

func TestGoldenViews(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(strconv.Itoa(size[0])+"x"+strconv.Itoa(size[1]), func(t *testing.T) {
			m := start(t, newModel(newFake(), nil), size[0], size[1])
			v := m.View()
			checkScreen(t, v, size[0], size[1])
			checkAligned(t, v, m.list.rows[m.list.offset:min(m.list.offset+m.bodyHeight(), len(m.list.rows))])
			golden.RequireEqual(t, []byte(v))
		})
	}
}

// checkScreen: exactly h lines, none wider than w, no secret on screen.
func checkScreen(t *testing.T, v string, w, h int) {
	t.Helper()
	lines := strings.Split(v, "\n")
	if len(lines) != h {
		t.Errorf("view has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got > w {
			t.Errorf("line %d is %d cells wide (> %d): %q", i, got, w, l)
		}
	}
	for _, secret := range []string{"SESSIONKEY", "TOKENHASH", "\x1b[2J", "\u202e"} {
		if strings.Contains(v, secret) {
			t.Errorf("view contains %q", secret)
		}
	}
}

// checkAligned: every column starts at the same display column in the
// header and in every row, and each cell holds what its row says.
func checkAligned(t *testing.T, v string, rows []auth.SessionRow) {
	t.Helper()
	lines := strings.Split(ansi.Strip(v), "\n")
	header := lines[2]
	var starts []int
	var titles []string
	for _, title := range []string{"SID", "USER", "NICKNAME", "OPENID", "STATE", "CREATED", "LAST SEEN", "EXPIRES", "IP"} {
		if i := strings.Index(header, title); i >= 0 {
			starts = append(starts, ansi.StringWidth(header[:i]))
			titles = append(titles, title)
		}
	}
	if len(starts) < 6 {
		t.Fatalf("header has only %v", titles)
	}
	width := -1
	for n, r := range rows {
		line := lines[3+n]
		if n < len(rows)-1 || width == -1 {
			if w := ansi.StringWidth(line); width == -1 {
				width = w
			} else if w != width {
				t.Errorf("row %d is %d cells wide, row 0 is %d", n, w, width)
			}
		}
		for k, s := range starts {
			if s > 0 && ansi.Cut(line, s-1, s) != " " {
				t.Errorf("row %d: no gap before column %s at %d: %q", n, titles[k], s, line)
			}
			end := ansi.StringWidth(line)
			if k+1 < len(starts) {
				end = starts[k+1] - 1
			}
			cell := strings.TrimSpace(ansi.Cut(line, s, end))
			var want string
			switch titles[k] {
			case "SID":
				want = strconv.FormatInt(r.Session.ID, 10)
			case "USER":
				want = strconv.FormatInt(r.Session.UserID, 10)
			case "OPENID":
				want = auth.MaskOpenID(r.OpenID)
			case "STATE":
				want = string(r.State)
			case "IP":
				want = r.Session.IP
			default:
				continue
			}
			if cell != want {
				t.Errorf("row %d column %s: %q, want %q (line %q)", n, titles[k], cell, want, line)
			}
		}
	}
}

func TestFitMeasuresGraphemes(t *testing.T) {
	for _, s := range append(nicknames, "a", "") {
		for w := 1; w <= 20; w++ {
			got := fit(s, w)
			if ansi.StringWidth(got) != w {
				t.Errorf("fit(%q, %d) = %q: %d cells", s, w, got, ansi.StringWidth(got))
			}
		}
	}
	if got := fit("👨‍👩‍👧‍👦x", 3); got != "👨‍👩‍👧‍👦x" {
		t.Errorf("family emoji measured wrongly: %q", got)
	}
	if got := fit("张三李四", 6); got != "张三… " {
		t.Errorf("CJK cut: %q", got)
	}
}

func TestFilterAsYouTypeCJK(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, nil), 120, 40)
	// An input method delivers 张三 as one KeyMsg with two runes.
	m = drive(t, m, keyMsg("/"), tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("张三")})
	if got := f.lastFilter().Search; got != "张三" {
		t.Fatalf("search %q", got)
	}
	if len(m.list.rows) != 3 {
		t.Fatalf("%d rows for 张三", len(m.list.rows))
	}
	if !strings.Contains(m.View(), "filter: 张三") {
		t.Error("filter not shown")
	}
	m = drive(t, m, keyMsg("backspace"))
	if m.filter != "张" {
		t.Errorf("backspace left %q", m.filter)
	}
	// Backspace removes a whole grapheme, not a rune of a family emoji.
	m = drive(t, m, keyMsg("backspace"), tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("a👨‍👩‍👧‍👦")}, keyMsg("backspace"))
	if m.filter != "a" {
		t.Errorf("backspace after emoji left %q", m.filter)
	}
	// Control characters never reach the query.
	m = drive(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("\x1b[2J")})
	if m.filter != "a[2J" {
		t.Errorf("filter %q", m.filter)
	}
	m = drive(t, m, keyMsg("esc"))
	if m.filter != "" || m.filtering || len(m.list.rows) != 30 {
		t.Errorf("esc: filter %q filtering %v rows %d", m.filter, m.filtering, len(m.list.rows))
	}
	long := strings.Repeat("長", 200)
	m = drive(t, m, keyMsg("/"), keyMsg(long))
	if n := len([]rune(m.filter)); n != maxFilterRunes {
		t.Errorf("filter kept %d runes", n)
	}
}

func TestRunesInOneReadAreSeparateKeys(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, nil), 120, 40)
	// A terminal may hand "/" and the text typed after it to one read.
	m = drive(t, m, keyMsg("/张三"))
	if !m.filtering || m.filter != "张三" || len(m.list.rows) != 3 {
		t.Fatalf("filtering %v filter %q rows %d", m.filtering, m.filter, len(m.list.rows))
	}
	m = drive(t, m, keyMsg("enter"), keyMsg("jj"))
	if m.list.cursor != 2 {
		t.Errorf("jj moved the cursor to %d", m.list.cursor)
	}
	m = drive(t, m, keyMsg("xn"))
	if m.confirm != nil || len(f.revokes) != 0 || !strings.Contains(m.View(), "cancelled") {
		t.Errorf("xn: confirm %v revokes %v", m.confirm, f.revokes)
	}
}

func TestDebouncedFilterDropsStaleKeystrokes(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, func(o *Options) { o.Debounce = time.Hour }), 120, 40)
	calls := len(f.filters)
	next, _ := m.Update(keyMsg("/"))
	next, _ = next.Update(keyMsg("a"))
	next, _ = next.Update(keyMsg("l"))
	m = drive(t, next.(Model), debounceMsg{seq: 1}) // the "a" timer: stale
	if len(f.filters) != calls {
		t.Fatalf("stale debounce queried")
	}
	drive(t, m, debounceMsg{seq: 2})
	if len(f.filters) != calls+1 || f.lastFilter().Search != "al" {
		t.Fatalf("filters %v", f.filters[calls:])
	}
}

func TestStaleAnswerIsDropped(t *testing.T) {
	m := start(t, newModel(newFake(), nil), 120, 40)
	next, _ := m.Update(pageMsg{pane: listPane, seq: m.list.seq - 1, replace: true})
	if len(next.(Model).list.rows) != 30 {
		t.Error("a stale page replaced the rows")
	}
}

func TestStateAndSortCycle(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, nil), 120, 40)
	want := []auth.SessionState{auth.StateActive, auth.StateExpired, auth.StateRevoked, auth.StateAll}
	for _, w := range want {
		m = drive(t, m, keyMsg("s"))
		if got := f.lastFilter().State; got != w {
			t.Fatalf("state %q, want %q", got, w)
		}
		for _, r := range m.list.rows {
			if w != auth.StateAll && r.State != w {
				t.Errorf("state %s shows a %s row", w, r.State)
			}
		}
	}
	for _, w := range []auth.SessionSort{auth.SortLastSeen, auth.SortExpires, auth.SortCreatedDesc} {
		m = drive(t, m, keyMsg("o"))
		if got := f.lastFilter().Sort; got != w {
			t.Fatalf("sort %q, want %q", got, w)
		}
	}
	if !f.lastFilter().Now.Equal(testNow) {
		t.Errorf("states computed at %v, not the injected clock", f.lastFilter().Now)
	}
}

func TestKeysetPaging(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, func(o *Options) { o.PageSize = 7 }), 120, 12)
	if len(m.list.rows) != 7 || !m.list.more {
		t.Fatalf("first page: %d rows, more %v", len(m.list.rows), m.list.more)
	}
	if f.lastFilter().After != nil || f.lastFilter().Limit != 8 {
		t.Fatalf("first page filter %+v", f.lastFilter())
	}
	seen := map[int64]bool{}
	for range 40 {
		m = drive(t, m, keyMsg("down"))
	}
	for _, r := range m.list.rows {
		if seen[r.Session.ID] {
			t.Errorf("session %d twice", r.Session.ID)
		}
		seen[r.Session.ID] = true
	}
	if len(m.list.rows) != 30 || m.list.more {
		t.Fatalf("after scrolling: %d rows, more %v", len(m.list.rows), m.list.more)
	}
	if m.list.cursor != 29 || m.list.offset+m.bodyHeight() != 30 {
		t.Errorf("cursor %d offset %d body %d", m.list.cursor, m.list.offset, m.bodyHeight())
	}
	// Every later page started after the previous page's last row.
	var afters int
	for _, fl := range f.filters {
		if fl.After != nil {
			afters++
			if fl.Limit != 8 {
				t.Errorf("page limit %d", fl.Limit)
			}
		}
	}
	if afters != 4 {
		t.Errorf("%d keyset pages, want 4", afters)
	}
	if !strings.Contains(m.View(), "> ") {
		t.Error("no cursor on screen")
	}
}

func TestDetailRevokeConfirm(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, nil), 120, 40)
	m = drive(t, m, keys("/", "alice", "enter", "enter")...)
	if m.mode != modeDetail || m.user.Session.UserID != 4 {
		t.Fatalf("detail of %d (mode %v)", m.user.Session.UserID, m.mode)
	}
	if fl := f.lastFilter(); fl.UserID != 4 || fl.State != auth.StateAll || fl.Search != "" {
		t.Fatalf("detail filter %+v", fl)
	}
	if len(m.detail.rows) != 3 || !strings.Contains(m.View(), "User 4 · alice · oAbC…wxYz") {
		t.Fatalf("detail view:\n%s", m.View())
	}
	target := m.detail.rows[0].Session.ID
	for _, cancel := range []string{"n", "enter", "esc", "q"} {
		m = drive(t, m, keyMsg("x"))
		if m.confirm == nil || !strings.Contains(m.View(), "Revoke session "+strconv.FormatInt(target, 10)+" of user 4 (alice)? (y/N)") {
			t.Fatalf("no prompt:\n%s", m.View())
		}
		m = drive(t, m, keyMsg(cancel))
		if m.confirm != nil || len(f.revokes) != 0 || m.mode != modeDetail {
			t.Fatalf("%q did not cancel: revokes %v", cancel, f.revokes)
		}
		if !strings.Contains(m.View(), "cancelled") {
			t.Errorf("%q: no cancel message", cancel)
		}
	}
	m = drive(t, m, keyMsg("x"), keyMsg("y"))
	s := f.session(target)
	if !s.RevokedAt.Equal(testNow) || s.RevokeReason != "support" {
		t.Fatalf("session %d: revoked %v reason %q", target, s.RevokedAt, s.RevokeReason)
	}
	if m.detail.rows[0].State != auth.StateRevoked || !strings.Contains(m.View(), "revoked 1 session") {
		t.Errorf("detail not refreshed:\n%s", m.View())
	}
	m = drive(t, m, keyMsg("X"))
	if !strings.Contains(m.View(), "Revoke ALL sessions of user 4 (alice)? (y/N)") {
		t.Fatalf("no revoke-all prompt:\n%s", m.View())
	}
	m = drive(t, m, keyMsg("y"))
	if got := f.revokes; len(got) != 2 || got[1] != "user 4" {
		t.Fatalf("revokes %v", got)
	}
	for _, r := range m.detail.rows {
		if r.State != auth.StateRevoked {
			t.Errorf("session %d still %s", r.Session.ID, r.State)
		}
	}
	m = drive(t, m, keyMsg("esc"))
	if m.mode != modeList || m.filter != "alice" {
		t.Errorf("esc from detail: mode %v filter %q", m.mode, m.filter)
	}
}

func TestReadOnlyRefusesRevoke(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, func(o *Options) { o.ReadOnly = true }), 120, 40)
	for _, k := range []string{"x", "d", "X", "e"} {
		m = drive(t, m, keyMsg(k), keyMsg("y"))
		if m.confirm != nil || len(f.revokes) != 0 {
			t.Fatalf("%s revoked in read-only mode", k)
		}
	}
	// In a user's detail too: no prompt, no change of the account.
	m = drive(t, m, keyMsg("enter"))
	for _, k := range []string{"d", "e", "x", "X"} {
		m = drive(t, m, keyMsg(k), keyMsg("y"))
		if m.confirm != nil || len(f.revokes) != 0 || len(f.statusCalls) != 0 {
			t.Fatalf("%s changed something in read-only mode: %v %v", k, f.revokes, f.statusCalls)
		}
	}
	if strings.Contains(m.help(m.activeKeys()), "disable") {
		t.Error("help offers disable in read-only mode")
	}
	m = drive(t, m, keyMsg("d"))
	if !strings.Contains(m.View(), "read-only: disabling and enabling are off") {
		t.Errorf("no read-only notice for d:\n%s", m.View())
	}
	m = drive(t, m, keyMsg("esc"))
	v := m.View()
	if strings.Contains(v, "revoke") && !strings.Contains(v, "read-only") {
		t.Errorf("read-only view offers revoke:\n%s", v)
	}
	m = drive(t, m, keyMsg("x"))
	if !strings.Contains(m.View(), "read-only: revoking is disabled") {
		t.Errorf("no read-only notice:\n%s", m.View())
	}
	if strings.Contains(m.help(m.keys), "revoke") {
		t.Error("help offers revoke in read-only mode")
	}
}

// TestGoldenFullHelp pins the `?` help's columns: keys bold, then their
// descriptions, each padded to the widest; a column that does not fit
// becomes " …". Drawn before the inspector dropped bubbles' help model,
// which drew the same.
func TestGoldenFullHelp(t *testing.T) {
	for _, size := range [][2]int{{120, 30}, {64, 24}} {
		t.Run(strconv.Itoa(size[0])+"x"+strconv.Itoa(size[1]), func(t *testing.T) {
			m := start(t, newModel(newFake(), nil), size[0], size[1])
			m = drive(t, m, keyMsg("?"))
			v := m.View()
			checkScreen(t, v, size[0], size[1])
			golden.RequireEqual(t, []byte(v))
		})
	}
}

func TestHelpAndResize(t *testing.T) {
	m := start(t, newModel(newFake(), nil), 120, 40)
	short := m.View()
	m = drive(t, m, keyMsg("?"))
	full := m.View()
	if !strings.Contains(full, "page down") || strings.Contains(short, "page down") {
		t.Error("? does not toggle the full help")
	}
	checkScreen(t, full, 120, 40)
	for _, size := range [][2]int{{40, 10}, {200, 60}, {20, 3}} {
		m = drive(t, m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		v := m.View()
		for i, l := range strings.Split(v, "\n") {
			if ansi.StringWidth(l) > size[0] {
				t.Errorf("%v: line %d too wide: %q", size, i, l)
			}
		}
	}
}

func TestRefreshTickKeepsSelection(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, func(o *Options) { o.Refresh = time.Hour }), 120, 40)
	m = drive(t, m, keys("down", "down")...)
	sel := m.list.rows[2].Session.ID
	// A new login appears at the top between two refreshes.
	f.mu.Lock()
	f.sessions = append(f.sessions, auth.Session{ID: 999, UserID: 4, CreatedAt: testNow, ExpiresAt: testNow.Add(time.Hour)})
	f.mu.Unlock()
	m = drive(t, m, tickMsg{})
	if len(m.list.rows) != 31 || m.list.rows[0].Session.ID != 999 {
		t.Fatalf("refresh: %d rows, first %d", len(m.list.rows), m.list.rows[0].Session.ID)
	}
	if got, _ := m.list.selected(); got.Session.ID != sel {
		t.Errorf("selection moved from %d to %d", sel, got.Session.ID)
	}
}

func TestErrorsAreShown(t *testing.T) {
	f := newFake()
	f.fail = errors.New("connection refused\nsecond line")
	m := start(t, newModel(f, nil), 120, 40)
	if !strings.Contains(m.View(), "error: connection refused second line") {
		t.Errorf("error not shown:\n%s", m.View())
	}
}

func TestNoColor(t *testing.T) {
	colour := &Colors{Profile: termenv.TrueColor, Dark: true}
	m := start(t, newModel(newFake(), func(o *Options) { o.Colors = colour }), 120, 40)
	if !strings.Contains(m.View(), "\x1b[") {
		t.Fatal("a colour renderer draws no colour: the NO_COLOR test below would prove nothing")
	}
	plain := start(t, newModel(newFake(), nil), 120, 40)
	if strings.Contains(plain.View(), "\x1b") {
		t.Error("ascii profile view contains escape sequences")
	}
}

func TestGoldenDetail(t *testing.T) {
	m := start(t, newModel(newFake(), nil), 80, 24)
	m = drive(t, m, keys("down", "down", "down", "enter", "x")...)
	v := m.View()
	checkScreen(t, v, 80, 24)
	if strings.Contains(v, "/ filter") || !strings.Contains(v, "esc back") {
		t.Errorf("detail help offers list keys:\n%s", v)
	}
	golden.RequireEqual(t, []byte(v))
}

// TestDetailIdentities: the detail view lists the user's identities, one
// line per app with the openid and unionid masked, and each session's
// app; never a whole openid or unionid.
func TestDetailIdentities(t *testing.T) {
	f := newFake()
	m := start(t, newModel(f, nil), 120, 40)
	m = drive(t, m, keys("/", "alice", "enter", "enter")...)
	v := m.View()
	for _, want := range []string{
		"app wxappa0000000000a · openid oAbC…wxYz · unionid oUnI…oNiD",
		"app wxappb0000000000b · openid oBbB…bBbB · unionid oUnI…oNiD",
		"APP", "(default)", "wxappb0000000000b",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("detail view lacks %q:\n%s", want, v)
		}
	}
	for _, id := range f.idents[4] {
		if strings.Contains(v, id.OpenID) || strings.Contains(v, id.UnionID) {
			t.Errorf("detail view shows a whole openid or unionid:\n%s", v)
		}
	}
	checkScreen(t, v, 120, 40)

	// A user without identities, one with many, and a failing read.
	f.idents[4] = nil
	m = drive(t, m, keyMsg("r"))
	if !strings.Contains(m.View(), "no identities") {
		t.Errorf("no identities:\n%s", m.View())
	}
	for i := range 9 {
		f.idents[4] = append(f.idents[4], auth.Identity{UserID: 4, AppID: "wxmany" + strconv.Itoa(i), OpenID: "oMany" + strconv.Itoa(i) + "xxxxxxxxxxxx"})
	}
	m = drive(t, m, keyMsg("r"))
	v = m.View()
	if !strings.Contains(v, "… 6 more identities") || strings.Contains(v, "wxmany3") || !strings.Contains(v, "unionid -") {
		t.Errorf("many identities:\n%s", v)
	}
	checkScreen(t, v, 120, 40)
	small := drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 12})
	checkScreen(t, small.View(), 80, 12)
	f.fail = errors.New("db down")
	m = drive(t, m, keyMsg("r"))
	if !strings.Contains(m.View(), "identities: db down") {
		t.Errorf("failing read:\n%s", m.View())
	}
}
