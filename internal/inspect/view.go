package inspect

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/oactl/oactl/internal/auth"
)

// styles are the inspector's ways of drawing text, as termenv writes
// them for the terminal's profile (plain text for termenv.Ascii).
type styles struct {
	title, header, selected, dim, warn, key termenv.Style
	state                                   map[auth.SessionState]termenv.Style
}

func newStyles(c Colors) styles {
	p := c.Profile
	grey := p.Color("#909090")
	if c.Dark {
		grey = p.Color("#626262")
	}
	return styles{
		title:    p.String().Bold(),
		header:   p.String().Bold().Underline(),
		selected: p.String().Reverse(),
		dim:      p.String().Foreground(grey),
		warn:     p.String().Bold().Foreground(p.Color("3")),
		key:      p.String().Bold(),
		state: map[auth.SessionState]termenv.Style{
			auth.StateActive:  p.String().Foreground(p.Color("2")),
			auth.StateExpired: p.String().Foreground(grey),
			auth.StateRevoked: p.String().Foreground(p.Color("1")),
		},
	}
}

// column is one table column. Columns with a lower prio survive a narrow
// terminal longer; the flex column takes the width left over.
type column struct {
	title string
	width int
	flex  bool
	max   int
	prio  int
	cell  func(r auth.SessionRow) string
}

const (
	cursorWidth = 2
	gap         = 1
	// wideTimes is the terminal width from which times show their date
	// with the year; narrower terminals get "01-02 15:04".
	wideTimes = 110
)

func (m Model) columns(detail bool) []column {
	layout := "01-02 15:04"
	tw := 11
	if m.width >= wideTimes {
		layout, tw = "2006-01-02 15:04", 16
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.In(m.opts.Location).Format(layout)
	}
	sid := column{title: "SID", width: 7, prio: 5, cell: func(r auth.SessionRow) string { return itoa(r.Session.ID) }}
	state := column{title: "STATE", width: 7, prio: 0, cell: func(r auth.SessionRow) string { return string(r.State) }}
	created := column{title: "CREATED", width: tw, prio: 3, cell: func(r auth.SessionRow) string { return at(r.Session.CreatedAt) }}
	seen := column{title: "LAST SEEN", width: tw, prio: 4, cell: func(r auth.SessionRow) string { return at(r.Session.LastSeenAt) }}
	expires := column{title: "EXPIRES", width: tw, prio: 3, cell: func(r auth.SessionRow) string { return at(r.Session.ExpiresAt) }}
	ip := column{title: "IP", width: 15, prio: 6, cell: func(r auth.SessionRow) string { return r.Session.IP }}
	if detail {
		sid.prio = 0
		ua := column{title: "USER AGENT", width: 10, flex: true, max: 80, prio: 7, cell: func(r auth.SessionRow) string { return r.Session.UserAgent }}
		app := column{title: "APP", width: 18, prio: 8, cell: func(r auth.SessionRow) string { return appLabel(r.Session.AppID) }}
		ip.prio = 2
		return fitColumns([]column{sid, state, app, created, seen, expires, ip, ua}, m.width)
	}
	return fitColumns([]column{
		sid,
		{title: "USER", width: 7, prio: 1, cell: func(r auth.SessionRow) string { return itoa(r.Session.UserID) }},
		{title: "NICKNAME", width: 12, flex: true, max: 32, prio: 0, cell: func(r auth.SessionRow) string { return r.Nickname }},
		{title: "OPENID", width: 9, prio: 2, cell: func(r auth.SessionRow) string { return auth.MaskOpenID(r.OpenID) }},
		state, created, seen, expires, ip,
	}, m.width)
}

// appLabel names a session's app; sessions made before apps were
// recorded are the default app's, which the inspector does not know.
func appLabel(appid string) string {
	if appid == "" {
		return "(default)"
	}
	return appid
}

// fitColumns drops the least important columns until the rest fit in
// width, then widens the flex column with what is left.
func fitColumns(cols []column, width int) []column {
	need := func(cs []column) int {
		n := cursorWidth
		for i, c := range cs {
			if i > 0 {
				n += gap
			}
			n += c.width
		}
		return n
	}
	for need(cols) > width && len(cols) > 1 {
		worst := 0
		for i, c := range cols {
			if c.prio > cols[worst].prio {
				worst = i
			}
		}
		cols = append(cols[:worst:worst], cols[worst+1:]...)
	}
	if spare := width - need(cols); spare > 0 {
		for i := range cols {
			if cols[i].flex {
				cols[i].width = min(cols[i].width+spare, max(cols[i].max, cols[i].width))
			}
		}
	}
	return cols
}

// cleanText makes untrusted text (nicknames, user agents) safe for one
// cell: escape sequences removed, control and bidi-override characters
// replaced, so a hostile nickname cannot move the cursor or reorder the
// row.
func cleanText(s string) string {
	s = ansi.Strip(s)
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, s)
}

// fit cuts s to w terminal cells and pads it to exactly w. Widths come
// from ansi.StringWidth (grapheme clusters: CJK, ZWJ sequences and flags
// count 2), not from a per-rune table that would split a family emoji.
func fit(s string, w int) string {
	s = cleanText(s)
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

func (m Model) renderRow(cols []column, r auth.SessionRow, selected bool) string {
	var b strings.Builder
	if selected {
		b.WriteString("> ")
	} else {
		b.WriteString("  ")
	}
	for i, c := range cols {
		if i > 0 {
			b.WriteString(" ")
		}
		cell := fit(c.cell(r), c.width)
		if c.title == "STATE" && !selected {
			cell = m.st.state[r.State].Styled(cell)
		}
		b.WriteString(cell)
	}
	line := b.String()
	if selected {
		return m.st.selected.Styled(line)
	}
	return line
}

func (m Model) renderHeader(cols []column) string {
	var b strings.Builder
	b.WriteString("  ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(fit(c.title, c.width))
	}
	return m.st.header.Styled(strings.TrimRight(b.String(), " "))
}

// bodyHeight is the number of table rows that fit on screen.
func (m Model) bodyHeight() int {
	// title, second line, column header, status line, help, and in the
	// detail view the identity lines
	return max(m.height-4-m.helpHeight()-len(m.identityLines()), 1)
}

// maxIdentityLines bounds the identity lines of the detail view, so the
// session table keeps its place on a small terminal.
const maxIdentityLines = 4

// identityLines are the detail view's lines about the user's identities:
// one per app, with the openid and unionid masked.
func (m Model) identityLines() []string {
	if m.mode != modeDetail {
		return nil
	}
	id := m.idents
	switch {
	case id.err != nil:
		return []string{m.st.warn.Styled("identities: " + oneLine(id.err.Error()))}
	case id.list == nil:
		return nil
	case len(id.list) == 0:
		return []string{m.st.dim.Styled("no identities: not logged in since apps were recorded")}
	}
	var out []string
	for i, x := range id.list {
		if i == maxIdentityLines-1 && len(id.list) > maxIdentityLines {
			out = append(out, m.st.dim.Styled(fmt.Sprintf("… %d more identities", len(id.list)-i)))
			break
		}
		union := auth.MaskOpenID(x.UnionID)
		if union == "" {
			union = "-"
		}
		out = append(out, fmt.Sprintf("app %s · openid %s · unionid %s", cleanText(x.AppID), auth.MaskOpenID(x.OpenID), union))
	}
	return out
}

// View renders the screen.
func (m Model) View() string {
	if m.quitting {
		return ""
	}
	var top, second string
	p := &m.list
	detail := m.mode == modeDetail
	if detail {
		p = &m.detail
		top = m.st.title.Styled(fmt.Sprintf("User %d · %s · %s", m.user.Session.UserID,
			cleanText(m.user.Nickname), auth.MaskOpenID(m.user.OpenID))) + m.accountLabel()
		second = fmt.Sprintf("%d session%s loaded%s · esc back", len(p.rows), Plural(int64(len(p.rows))), moreMark(p))
	} else {
		// The database last: a long file path is what a narrow terminal
		// cuts.
		top = m.st.title.Styled("oactl sessions") + fmt.Sprintf(" · %s, %d loaded%s · state: %s · sort: %s",
			m.totalLabel(), len(p.rows), moreMark(p), m.state, sortLabel(m.sort)) + m.databaseLabel()
		if m.opts.ReadOnly {
			top += " · " + m.st.warn.Styled("read-only")
		}
		switch {
		case m.filtering:
			second = "filter: " + cleanText(m.filter) + "▏ (enter: keep, esc: clear)"
		case m.filter != "":
			second = "filter: " + cleanText(m.filter) + " (/ edit, esc clear)"
		default:
			second = m.st.dim.Styled("/ to filter by nickname, openid or user id")
		}
	}
	cols := m.columns(detail)
	lines := []string{cut(top, m.width)}
	idents := m.identityLines()
	for _, l := range idents {
		lines = append(lines, cut(l, m.width))
	}
	lines = append(lines, cut(second, m.width), cut(m.renderHeader(cols), m.width))
	h := m.bodyHeight()
	end := min(p.offset+h, len(p.rows))
	for i := p.offset; i < end; i++ {
		lines = append(lines, cut(m.renderRow(cols, p.rows[i], i == p.cursor), m.width))
	}
	switch {
	case p.err != nil:
		lines = append(lines, cut(m.st.warn.Styled("error: "+oneLine(p.err.Error())), m.width))
	case len(p.rows) == 0 && p.loading:
		lines = append(lines, "  loading…")
	case len(p.rows) == 0:
		lines = append(lines, "  no sessions match")
	}
	head := 3 + len(idents)
	for len(lines) < head+h {
		lines = append(lines, "")
	}
	lines = lines[:head+h]
	status := m.status
	if m.confirm != nil {
		status = m.st.warn.Styled(m.confirm.prompt)
	} else if p.loading && len(p.rows) > 0 {
		status = strings.TrimSpace(status + " loading…")
	}
	lines = append(lines, cut(status, m.width), m.helpView())
	return strings.Join(lines, "\n")
}

// databaseLabel names the database in the list's header.
func (m Model) databaseLabel() string {
	if m.opts.Database == "" {
		return ""
	}
	return " · " + cleanText(m.opts.Database)
}

// totalLabel is the count of sessions the filter selects.
func (m Model) totalLabel() string {
	switch {
	case m.total.err != nil:
		return m.st.warn.Styled("count failed")
	case !m.total.loaded:
		return "… sessions"
	}
	return fmt.Sprintf("%d session%s", m.total.n, Plural(m.total.n))
}

// accountLabel is the detail user's state (SPEC §11), loud unless active.
func (m Model) accountLabel() string {
	a := m.account
	switch {
	case m.opts.Accounts == nil:
		return ""
	case a.err != nil:
		return " · " + m.st.warn.Styled("state: "+oneLine(a.err.Error()))
	case !a.loaded:
		return " · state: …"
	}
	st := a.user.State()
	label := "state: " + string(st)
	if st != auth.UserActive {
		return " · " + m.st.warn.Styled(strings.ToUpper(label))
	}
	return " · " + m.st.state[auth.StateActive].Styled(label)
}

func cut(s string, w int) string {
	if ansi.StringWidth(s) > w {
		return ansi.Truncate(s, w, "")
	}
	return s
}

func moreMark(p *pane) string {
	if p.more {
		return "+"
	}
	return ""
}

func sortLabel(s auth.SessionSort) string {
	switch s {
	case auth.SortLastSeen:
		return "last seen"
	case auth.SortExpires:
		return "expires soonest"
	}
	return "newest"
}

func oneLine(s string) string { return cleanText(strings.Join(strings.Fields(s), " ")) }
