// Package inspect is the Bubble Tea session inspector behind `oactl
// sessions`: a table of login sessions read page by page from an
// auth.SessionLister, a filter, a per-user detail view and revocation
// after a (y/N) prompt. The model is plain data; every database call runs
// in a tea.Cmd, so Update and View are tested without a terminal.
package inspect

import (
	"context"
	"fmt"
	"strconv"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/clipperhouse/uax29/v2/graphemes"
	"github.com/muesli/termenv"

	"github.com/oactl/oactl/internal/auth"
)

// Options configure a Model. Only Lister is required.
type Options struct {
	Lister auth.SessionLister
	// Accounts shows the detail user's state and offers d / e (disable,
	// enable); nil leaves both out.
	Accounts auth.Accounts
	// Database names the database in the header (host/db or the file);
	// never a password.
	Database string
	// Actor is who the audit rows of revocations and account changes
	// name (--actor); "": "support".
	Actor    string
	Context  context.Context  // bounds every database call; nil: Background
	Now      func() time.Time // the clock states and revocations use; nil: time.Now
	Location *time.Location   // the zone times are shown in; nil: UTC
	ReadOnly bool             // hide and refuse revocation
	PageSize int              // rows per keyset page; 0: 100
	// Refresh reloads the loaded rows this often; 0 turns it off.
	Refresh time.Duration
	// Debounce delays the query after a filter keystroke, so typing a
	// name runs one query, not one per letter; 0 queries at once.
	Debounce time.Duration
	Reason   string        // revoke_reason written; "": "support"
	Colors   *Colors       // how to draw; nil: plain text (Run asks the terminal)
	Timeout  time.Duration // per database call; 0: 10s
}

const (
	maxFilterRunes = 64
	// refreshCap bounds what a refresh re-reads when many pages were
	// scrolled through: past it, a refresh starts again at the top.
	refreshCap = 2000
)

type mode int

const (
	modeList mode = iota
	modeDetail
)

type paneID int

const (
	listPane paneID = iota
	detailPane
)

// pane is one scrolled list of rows with its keyset paging state.
type pane struct {
	rows    []auth.SessionRow
	cursor  int
	offset  int  // first row on screen
	more    bool // the database may hold rows after the last one loaded
	loading bool
	seq     int // generation of the newest request; older answers are dropped
	err     error
}

func (p *pane) selected() (auth.SessionRow, bool) {
	if p.cursor < 0 || p.cursor >= len(p.rows) {
		return auth.SessionRow{}, false
	}
	return p.rows[p.cursor], true
}

// confirmation is a pending (y/N) question.
type confirmation struct {
	prompt    string
	sessionID int64 // revoke one session, or
	userID    int64 // every session of a user when sessionID is 0 and status < 0
	// status >= 0: set the user's status instead (disable, enable).
	status int
}

// Model is the inspector's state.
type Model struct {
	opts      Options
	keys      KeyMap
	fullHelp  bool // ? shows every key, in columns
	st        styles
	width     int
	height    int
	mode      mode
	list      pane
	detail    pane
	user      auth.SessionRow // whose sessions the detail view shows
	idents    identities      // the detail user's identities
	account   account         // the detail user's row (state)
	total     total           // the count of sessions the list's filter selects
	filter    string
	filtering bool
	filterSeq int
	state     auth.SessionState
	sort      auth.SessionSort
	confirm   *confirmation
	status    string
	quitting  bool
	// after makes timer commands: tea.Tick, replaced in tests so that no
	// test waits for a timer.
	after func(time.Duration, func(time.Time) tea.Msg) tea.Cmd
}

// New returns a model that loads its first page in Init.
func New(opts Options) Model {
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.Reason == "" {
		opts.Reason = "support"
	}
	if opts.Actor == "" {
		opts.Actor = "support"
	}
	if opts.Colors == nil {
		opts.Colors = &Colors{Profile: termenv.Ascii}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	return Model{
		opts:   opts,
		keys:   DefaultKeyMap(opts.ReadOnly, opts.Accounts != nil),
		st:     newStyles(*opts.Colors),
		width:  80,
		height: 24,
		state:  auth.StateAll,
		sort:   auth.SortCreatedDesc,
		// Init cannot change the model, so the first request's generation
		// is set here.
		list:  pane{seq: 1, loading: true},
		after: tea.Tick,
	}
}

// Messages carrying database answers back into Update.
type (
	pageMsg struct {
		pane    paneID
		seq     int
		rows    []auth.SessionRow
		more    bool
		replace bool
		err     error
	}
	revokedMsg struct {
		n   int64
		err error
	}
	statusMsg struct {
		userID  int64
		status  int
		changed bool
		revoked int
		err     error
	}
	accountMsg struct {
		userID int64
		user   auth.User
		err    error
	}
	totalMsg struct {
		seq int
		n   int64
		err error
	}
	tickMsg     struct{}
	debounceMsg struct{ seq int }
	identsMsg   struct {
		userID int64
		list   []auth.Identity
		err    error
	}
)

// identities are the detail user's identities (one per app).
type identities struct {
	list []auth.Identity
	err  error
}

// account is the detail user's row, for its state.
type account struct {
	user   auth.User
	loaded bool
	err    error
}

// total is the list header's count; seq drops answers to an old filter.
type total struct {
	n      int64
	seq    int
	loaded bool
	err    error
}

// fetchAccount reads the detail user's row (nil without Accounts).
func (m *Model) fetchAccount() tea.Cmd {
	if m.opts.Accounts == nil {
		return nil
	}
	accts, ctx, timeout, userID := m.opts.Accounts, m.opts.Context, m.opts.Timeout, m.user.Session.UserID
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		u, err := accts.UserByID(ctx, userID)
		return accountMsg{userID: userID, user: u, err: err}
	}
}

// fetchTotal counts the sessions the list's filter selects, for the
// header.
func (m *Model) fetchTotal() tea.Cmd {
	m.total.seq++
	return m.countCmd(m.total.seq)
}

// countCmd counts for the header, as generation seq.
func (m Model) countCmd(seq int) tea.Cmd {
	f := auth.SessionFilter{State: m.state, Search: m.filter, Now: m.opts.Now().UTC()}
	lister, ctx, timeout := m.opts.Lister, m.opts.Context, m.opts.Timeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		n, err := lister.CountSessions(ctx, f)
		return totalMsg{seq: seq, n: n, err: err}
	}
}

// fetchIdentities reads the detail user's identities.
func (m *Model) fetchIdentities() tea.Cmd {
	lister, ctx, timeout, userID := m.opts.Lister, m.opts.Context, m.opts.Timeout, m.user.Session.UserID
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		list, err := lister.UserIdentities(ctx, userID)
		return identsMsg{userID: userID, list: list, err: err}
	}
}

// Init loads the first page and the count, and starts the refresh
// clock.
func (m Model) Init() tea.Cmd {
	// Init cannot change the model: its count is generation 0.
	return tea.Batch(m.fetchCmd(listPane, nil, m.opts.PageSize, true, m.list.seq), m.countCmd(0), m.tick())
}

func (m Model) tick() tea.Cmd {
	if m.opts.Refresh <= 0 {
		return nil
	}
	return m.after(m.opts.Refresh, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *Model) pane(id paneID) *pane {
	if id == detailPane {
		return &m.detail
	}
	return &m.list
}

// reload re-reads a pane from its first row, as many rows as are loaded
// now (at least a page), so a refresh keeps the user's place.
func (m *Model) reload(id paneID) tea.Cmd {
	p := m.pane(id)
	n := max(len(p.rows), m.opts.PageSize)
	if n > refreshCap {
		n = m.opts.PageSize
	}
	return m.fetch(id, nil, n, true)
}

// nextPage reads the page after the last loaded row (keyset).
func (m *Model) nextPage(id paneID) tea.Cmd {
	p := m.pane(id)
	if !p.more || p.loading || len(p.rows) == 0 {
		return nil
	}
	last := p.rows[len(p.rows)-1]
	return m.fetch(id, &last, m.opts.PageSize, false)
}

func (m *Model) fetch(id paneID, after *auth.SessionRow, limit int, replace bool) tea.Cmd {
	p := m.pane(id)
	p.seq++
	p.loading = true
	return m.fetchCmd(id, after, limit, replace, p.seq)
}

func (m *Model) fetchCmd(id paneID, after *auth.SessionRow, limit int, replace bool, seq int) tea.Cmd {
	f := auth.SessionFilter{
		State: m.state,
		Sort:  m.sort,
		// One row more than shown tells whether another page exists.
		Limit:  limit + 1,
		After:  after,
		Now:    m.opts.Now().UTC(),
		Search: m.filter,
	}
	if id == detailPane {
		f = auth.SessionFilter{UserID: m.user.Session.UserID, State: auth.StateAll, Sort: auth.SortCreatedDesc,
			Limit: limit + 1, After: after, Now: f.Now}
	}
	lister, ctx, timeout := m.opts.Lister, m.opts.Context, m.opts.Timeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		rows, err := lister.ListSessions(ctx, f)
		more := len(rows) > limit
		if more {
			rows = rows[:limit]
		}
		return pageMsg{pane: id, seq: seq, rows: rows, more: more, replace: replace, err: err}
	}
}

// audit is the audit of a change made now.
func (m *Model) audit() auth.Audit {
	return auth.Audit{Actor: m.opts.Actor, Reason: m.opts.Reason, At: m.opts.Now().UTC().Truncate(time.Second)}
}

// apply runs a confirmed change: a revocation or a status change.
func (m *Model) apply(c confirmation) tea.Cmd {
	lister, accts, ctx, timeout, a := m.opts.Lister, m.opts.Accounts, m.opts.Context, m.opts.Timeout, m.audit()
	if c.status >= 0 {
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			changed, revoked, err := accts.SetUserStatus(ctx, c.userID, c.status, a)
			return statusMsg{userID: c.userID, status: c.status, changed: changed, revoked: len(revoked), err: err}
		}
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var n int64
		var err error
		if c.sessionID != 0 {
			n, err = lister.RevokeSessions(ctx, []int64{c.sessionID}, a)
		} else {
			n, err = lister.RevokeUserSessions(ctx, c.userID, a)
		}
		return revokedMsg{n: n, err: err}
	}
}

// afterChange reloads what a change may have altered.
func (m *Model) afterChange() tea.Cmd {
	cmds := []tea.Cmd{m.reload(listPane), m.fetchTotal()}
	if m.mode == modeDetail {
		cmds = append(cmds, m.reload(detailPane), m.fetchAccount())
	}
	return tea.Batch(cmds...)
}

// Update applies one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.scrollIntoView(&m.list)
		m.scrollIntoView(&m.detail)
		return m, nil
	case pageMsg:
		return m.applyPage(msg)
	case identsMsg:
		if m.mode == modeDetail && msg.userID == m.user.Session.UserID {
			m.idents = identities{list: msg.list, err: msg.err}
			m.scrollIntoView(&m.detail)
		}
		return m, nil
	case accountMsg:
		if m.mode == modeDetail && msg.userID == m.user.Session.UserID {
			m.account = account{user: msg.user, loaded: msg.err == nil, err: msg.err}
		}
		return m, nil
	case totalMsg:
		if msg.seq == m.total.seq {
			m.total = total{n: msg.n, seq: msg.seq, loaded: msg.err == nil, err: msg.err}
		}
		return m, nil
	case revokedMsg:
		if msg.err != nil {
			m.status = "revoke failed: " + oneLine(msg.err.Error())
			return m, nil
		}
		m.status = fmt.Sprintf("revoked %d session%s", msg.n, Plural(msg.n))
		return m, m.afterChange()
	case statusMsg:
		m.status = statusText(msg)
		if msg.err != nil {
			return m, nil
		}
		return m, m.afterChange()
	case tickMsg:
		var cmds []tea.Cmd
		// A refresh never races a load in flight: it would only repeat it.
		if !m.list.loading {
			cmds = append(cmds, m.reload(listPane), m.fetchTotal())
		}
		if m.mode == modeDetail && !m.detail.loading {
			cmds = append(cmds, m.reload(detailPane), m.fetchIdentities(), m.fetchAccount())
		}
		return m, tea.Batch(append(cmds, m.tick())...)
	case debounceMsg:
		if msg.seq != m.filterSeq {
			return m, nil
		}
		return m, m.restart()
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m Model) applyPage(msg pageMsg) (tea.Model, tea.Cmd) {
	p := m.pane(msg.pane)
	if msg.seq != p.seq {
		return m, nil // an answer to a query the user has moved past
	}
	p.loading = false
	p.err = msg.err
	if msg.err != nil {
		return m, nil
	}
	if msg.replace {
		var keep int64
		if r, ok := p.selected(); ok {
			keep = r.Session.ID
		}
		p.rows = msg.rows
		p.cursor = min(p.cursor, max(len(p.rows)-1, 0))
		for i, r := range p.rows {
			if r.Session.ID == keep {
				p.cursor = i
				break
			}
		}
	} else {
		p.rows = append(p.rows, msg.rows...)
	}
	p.more = msg.more
	if msg.pane == detailPane {
		// The list row that opened the detail may be stale; the newest
		// session carries the user's current nickname.
		if len(p.rows) > 0 {
			m.user.Nickname, m.user.OpenID = p.rows[0].Nickname, p.rows[0].OpenID
		}
	}
	m.scrollIntoView(p)
	return m, nil
}

// statusText is the status line after a status change.
func statusText(msg statusMsg) string {
	verb := "disable"
	if msg.status == auth.StatusActive {
		verb = "enable"
	}
	switch {
	case msg.err != nil:
		return verb + " failed: " + oneLine(msg.err.Error())
	case !msg.changed:
		return fmt.Sprintf("user %d was already %sd", msg.userID, verb)
	case msg.status == auth.StatusDisabled:
		return fmt.Sprintf("disabled user %d, revoked %d session%s", msg.userID, msg.revoked, Plural(int64(msg.revoked)))
	}
	return fmt.Sprintf("enabled user %d", msg.userID)
}

// restart reloads the list from the top after the filter, state or sort
// changed.
func (m *Model) restart() tea.Cmd {
	m.list.rows, m.list.cursor, m.list.offset, m.list.more = nil, 0, 0, false
	return tea.Batch(m.fetch(listPane, nil, m.opts.PageSize, true), m.fetchTotal())
}

func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	// Bubble Tea delivers runes that arrive in one read as one message
	// ("/张三" when a user types fast or a terminal batches keys). Outside
	// the filter each rune is a key of its own.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !m.filtering && !msg.Paste {
		var cmds []tea.Cmd
		var next tea.Model = m
		for i, r := range msg.Runes {
			var cmd tea.Cmd
			if nm := next.(Model); nm.filtering {
				// The rest of the batch is filter text.
				next, cmd = nm.filterKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: msg.Runes[i:]})
				cmds = append(cmds, cmd)
				break
			}
			next, cmd = next.(Model).key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt})
			cmds = append(cmds, cmd)
		}
		return next, tea.Batch(cmds...)
	}
	if msg.String() == "ctrl+c" {
		m.quitting = true
		return m, tea.Quit
	}
	if m.confirm != nil {
		c := *m.confirm
		m.confirm = nil
		if k := msg.String(); k == "y" || k == "Y" {
			m.status = "working…"
			return m, m.apply(c)
		}
		m.status = "cancelled"
		return m, nil
	}
	if m.filtering {
		return m.filterKey(msg)
	}
	m.status = ""
	p := m.active()
	switch {
	case m.keys.Quit.Matches(msg):
		m.quitting = true
		return m, tea.Quit
	case m.keys.Help.Matches(msg):
		m.fullHelp = !m.fullHelp
		m.scrollIntoView(p)
	case m.keys.Up.Matches(msg):
		return m, m.move(p, -1)
	case m.keys.Down.Matches(msg):
		return m, m.move(p, 1)
	case m.keys.PageUp.Matches(msg):
		return m, m.move(p, -m.bodyHeight())
	case m.keys.PageDown.Matches(msg):
		return m, m.move(p, m.bodyHeight())
	case m.keys.Top.Matches(msg):
		return m, m.move(p, -len(p.rows))
	case m.keys.Bottom.Matches(msg):
		return m, m.move(p, len(p.rows))
	case m.keys.Refresh.Matches(msg):
		if m.mode == modeDetail {
			return m, tea.Batch(m.reload(detailPane), m.reload(listPane), m.fetchIdentities(), m.fetchAccount(), m.fetchTotal())
		}
		return m, tea.Batch(m.reload(listPane), m.fetchTotal())
	case m.keys.Back.Matches(msg):
		if m.mode == modeDetail {
			m.mode = modeList
			m.detail = pane{}
			return m, nil
		}
		if m.filter != "" {
			m.filter = ""
			return m, m.restart()
		}
	case m.mode == modeList && m.keys.Filter.Matches(msg):
		m.filtering = true
	case m.mode == modeList && m.keys.State.Matches(msg):
		m.state = nextState(m.state)
		return m, m.restart()
	case m.mode == modeList && m.keys.Sort.Matches(msg):
		m.sort = nextSort(m.sort)
		return m, m.restart()
	case m.mode == modeList && m.keys.Detail.Matches(msg):
		r, ok := p.selected()
		if !ok {
			return m, nil
		}
		m.mode = modeDetail
		m.user = r
		m.detail = pane{}
		m.idents = identities{}
		m.account = account{}
		return m, tea.Batch(m.fetch(detailPane, nil, m.opts.PageSize, true), m.fetchIdentities(), m.fetchAccount())
	case isStatusKey(msg):
		switch {
		case m.opts.ReadOnly:
			m.status = "read-only: disabling and enabling are off (started with --read-only)"
		case m.opts.Accounts == nil:
		case m.mode != modeDetail:
			m.status = "open a user (enter) to disable or enable the account"
		default:
			status, verb := auth.StatusDisabled, "Disable"
			extra := " and revoke all their sessions"
			if m.keys.Enable.Matches(msg) {
				status, verb, extra = auth.StatusActive, "Enable", ""
			}
			m.confirm = &confirmation{userID: m.user.Session.UserID, status: status,
				prompt: fmt.Sprintf("%s user %d (%s)%s? (y/N)", verb, m.user.Session.UserID, cleanText(m.user.Nickname), extra)}
		}
		return m, nil
	case isRevokeKey(msg):
		if m.opts.ReadOnly {
			m.status = "read-only: revoking is disabled (started with --read-only)"
			return m, nil
		}
		r, ok := p.selected()
		if !ok {
			return m, nil
		}
		if m.keys.RevokeAll.Matches(msg) {
			m.confirm = &confirmation{userID: r.Session.UserID, status: -1,
				prompt: fmt.Sprintf("Revoke ALL sessions of user %d (%s)? (y/N)", r.Session.UserID, cleanText(r.Nickname))}
		} else {
			m.confirm = &confirmation{sessionID: r.Session.ID, userID: r.Session.UserID, status: -1,
				prompt: fmt.Sprintf("Revoke session %d of user %d (%s)? (y/N)", r.Session.ID, r.Session.UserID, cleanText(r.Nickname))}
		}
	}
	return m, nil
}

// isRevokeKey matches the revoke keys whether or not they are enabled, so
// that --read-only can say why nothing happens.
func isRevokeKey(msg tea.KeyMsg) bool {
	switch msg.String() {
	case "x", "X":
		return true
	}
	return false
}

// isStatusKey matches d and e (disable, enable) whether or not they are
// enabled, for the same reason.
func isStatusKey(msg tea.KeyMsg) bool {
	switch msg.String() {
	case "d", "e":
		return true
	}
	return false
}

func (m Model) filterKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch msg.Type {
	case tea.KeyEnter:
		m.filtering = false
		return m, nil
	case tea.KeyEsc:
		m.filtering = false
		if m.filter == "" {
			return m, nil
		}
		m.filter = ""
	case tea.KeyBackspace, tea.KeyCtrlH:
		if m.filter == "" {
			return m, nil
		}
		m.filter = dropLastGrapheme(m.filter)
	case tea.KeyCtrlU:
		m.filter = ""
	case tea.KeySpace:
		m.filter = appendRunes(m.filter, []rune{' '})
	case tea.KeyRunes:
		// Runes arrive whole from an input method (CJK) or pasted text.
		m.filter = appendRunes(m.filter, msg.Runes)
	default:
		return m, nil
	}
	m.filterSeq++
	if m.opts.Debounce <= 0 {
		return m, m.restart()
	}
	seq := m.filterSeq
	return m, m.after(m.opts.Debounce, func(time.Time) tea.Msg { return debounceMsg{seq: seq} })
}

func appendRunes(s string, rs []rune) string {
	for _, r := range rs {
		if len([]rune(s)) >= maxFilterRunes {
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			continue // control characters would only corrupt the screen
		}
		s += string(r)
	}
	return s
}

// dropLastGrapheme is backspace in the filter: a family emoji or a flag
// goes whole. It walks clusters with uax29 (which x/ansi measures with
// too), not uniseg's Graphemes, whose Next also finds word, sentence and
// line breaks and so links their tables (about 250 KB) into the binary.
func dropLastGrapheme(s string) string {
	g := graphemes.FromString(s)
	last := 0
	for g.Next() {
		last = g.Start()
	}
	return s[:last]
}

func (m *Model) active() *pane {
	if m.mode == modeDetail {
		return &m.detail
	}
	return &m.list
}

// move moves the cursor by delta and asks for the next keyset page when
// the cursor reaches the last loaded row.
func (m *Model) move(p *pane, delta int) tea.Cmd {
	if len(p.rows) == 0 {
		return nil
	}
	p.cursor = min(max(p.cursor+delta, 0), len(p.rows)-1)
	m.scrollIntoView(p)
	if p.cursor >= len(p.rows)-1 {
		if m.mode == modeDetail {
			return m.nextPage(detailPane)
		}
		return m.nextPage(listPane)
	}
	return nil
}

func (m *Model) scrollIntoView(p *pane) {
	h := max(m.bodyHeight(), 1)
	if p.cursor < p.offset {
		p.offset = p.cursor
	}
	if p.cursor >= p.offset+h {
		p.offset = p.cursor - h + 1
	}
	p.offset = max(min(p.offset, len(p.rows)-h), 0)
}

func nextState(s auth.SessionState) auth.SessionState {
	switch s {
	case auth.StateAll, "":
		return auth.StateActive
	case auth.StateActive:
		return auth.StateExpired
	case auth.StateExpired:
		return auth.StateRevoked
	}
	return auth.StateAll
}

func nextSort(s auth.SessionSort) auth.SessionSort {
	switch s {
	case auth.SortCreatedDesc, "":
		return auth.SortLastSeen
	case auth.SortLastSeen:
		return auth.SortExpires
	}
	return auth.SortCreatedDesc
}

// Plural is "s" unless n is 1: "%d session%s". The inspector and the
// sessions commands print counts with it.
func Plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
