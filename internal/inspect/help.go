package inspect

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Separators of the help, and the mark of help cut short.
const (
	shortSeparator = " • "
	fullSeparator  = "    "
	helpEllipsis   = "…"
)

// helpView is the help under the table, each line cut to the width.
func (m Model) helpView() string {
	lines := strings.Split(m.help(m.activeKeys()), "\n")
	for i, l := range lines {
		lines[i] = cut(l, m.width)
	}
	return strings.Join(lines, "\n")
}

func (m Model) helpHeight() int {
	return strings.Count(m.helpView(), "\n") + 1
}

// activeKeys is the key map help shows: the list-only keys are left out
// of a user's detail.
func (m Model) activeKeys() KeyMap {
	k := m.keys
	if m.mode == modeDetail {
		k.Filter.Disabled = true
		k.State.Disabled = true
		k.Sort.Disabled = true
		k.Detail.Disabled = true
	} else {
		k.Disable.Disabled = true
		k.Enable.Disabled = true
	}
	return k
}

// help is k's help: one line of its enabled keys, or after `?` all of them
// in columns. Keys are bold, the rest grey; it is laid out as bubbles'
// help model did before the inspector drew its own (lipgloss, which that
// model needs, took about 250 KB of the binary for a few styled strings).
func (m Model) help(k KeyMap) string {
	if m.fullHelp {
		return m.fullHelpView(k.FullHelp())
	}
	return m.shortHelpView(k.ShortHelp())
}

func (m Model) shortHelpView(bindings []Binding) string {
	var b strings.Builder
	total := 0
	for _, kb := range bindings {
		if kb.Disabled {
			continue
		}
		item := m.st.key.Styled(kb.Key) + " " + m.st.dim.Styled(kb.Desc)
		if total > 0 {
			item = m.st.dim.Styled(shortSeparator) + item
		}
		w := ansi.StringWidth(item)
		if tail, ok := m.helpFits(total, w); !ok {
			b.WriteString(tail)
			break
		}
		total += w
		b.WriteString(item)
	}
	return b.String()
}

// block is some lines of text of one width, a part of the full help.
type block struct {
	lines []string
	width int
}

// fullHelpView draws each group of bindings as a column (keys, then their
// descriptions, each padded to the widest), the columns side by side.
func (m Model) fullHelpView(groups [][]Binding) string {
	var cols []block
	total := 0
	for _, group := range groups {
		var keys, descs []string
		for _, kb := range group {
			if !kb.Disabled {
				keys, descs = append(keys, kb.Key), append(descs, kb.Desc)
			}
		}
		if len(keys) == 0 {
			continue
		}
		sep := ""
		if total > 0 {
			sep = fullSeparator
		}
		keyW, descW := widest(keys), widest(descs)
		col := block{width: len(sep) + keyW + 1 + descW}
		for i := range keys {
			lead := strings.Repeat(" ", len(sep))
			if i == 0 {
				lead = m.st.dim.Styled(sep)
			}
			col.lines = append(col.lines, lead+pad(m.st.key.Styled(keys[i]), keyW)+" "+pad(m.st.dim.Styled(descs[i]), descW))
		}
		if tail, ok := m.helpFits(total, col.width); !ok {
			if tail != "" {
				cols = append(cols, block{lines: []string{tail}, width: ansi.StringWidth(tail)})
			}
			break
		}
		total += col.width
		cols = append(cols, col)
	}
	return joinBlocks(cols)
}

// helpFits decides whether an item w cells wide still fits after total
// cells. One that does not ends the help with " …" when that fits; when
// not even that fits, the item is added all the same and the line cut.
func (m Model) helpFits(total, w int) (tail string, ok bool) {
	if m.width > 0 && total+w > m.width {
		tail = " " + m.st.dim.Styled(helpEllipsis)
		if total+ansi.StringWidth(tail) < m.width {
			return tail, false
		}
	}
	return "", true
}

// joinBlocks puts blocks side by side, top-aligned, each line of each
// block padded to the block's width.
func joinBlocks(blocks []block) string {
	height := 0
	for _, b := range blocks {
		height = max(height, len(b.lines))
	}
	lines := make([]string, height)
	for i := range lines {
		var l strings.Builder
		for _, b := range blocks {
			s := ""
			if i < len(b.lines) {
				s = b.lines[i]
			}
			l.WriteString(pad(s, b.width))
		}
		lines[i] = l.String()
	}
	return strings.Join(lines, "\n")
}

func widest(ss []string) int {
	w := 0
	for _, s := range ss {
		w = max(w, ansi.StringWidth(s))
	}
	return w
}

// pad fills s with spaces to w cells.
func pad(s string, w int) string {
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}
