package inspect

import (
	"slices"

	tea "github.com/charmbracelet/bubbletea"
)

// Binding is one action of the inspector: the keys that do it and its
// entry in the help.
type Binding struct {
	Keys      []string // as tea.KeyMsg.String() names them
	Key, Desc string   // what the help shows
	// Disabled bindings match no key and are left out of the help.
	Disabled bool
}

// Matches reports whether msg is one of b's keys and b is enabled.
func (b Binding) Matches(msg tea.KeyMsg) bool {
	return !b.Disabled && slices.Contains(b.Keys, msg.String())
}

// KeyMap is the inspector's key bindings; the `?` help is drawn from it,
// so it always shows what the keys really do.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom Binding
	Filter, State, Sort, Detail, Back       Binding
	Revoke, RevokeAll, Refresh, Help, Quit  Binding
	Disable, Enable                         Binding
}

// DefaultKeyMap returns the bindings documented in docs/SESSIONS.md. With
// readOnly the revoke, disable and enable keys are disabled, so help does
// not offer them; without accounts (no way to change a user) disable and
// enable are too.
func DefaultKeyMap(readOnly, accounts bool) KeyMap {
	return KeyMap{
		Up:        Binding{Keys: []string{"up", "k"}, Key: "↑/k", Desc: "up"},
		Down:      Binding{Keys: []string{"down", "j"}, Key: "↓/j", Desc: "down"},
		PageUp:    Binding{Keys: []string{"pgup", "ctrl+b"}, Key: "pgup", Desc: "page up"},
		PageDown:  Binding{Keys: []string{"pgdown", "ctrl+f", " "}, Key: "pgdn", Desc: "page down"},
		Top:       Binding{Keys: []string{"home", "g"}, Key: "g", Desc: "top"},
		Bottom:    Binding{Keys: []string{"end", "G"}, Key: "G", Desc: "bottom"},
		Filter:    Binding{Keys: []string{"/"}, Key: "/", Desc: "filter"},
		State:     Binding{Keys: []string{"s"}, Key: "s", Desc: "state"},
		Sort:      Binding{Keys: []string{"o"}, Key: "o", Desc: "sort"},
		Detail:    Binding{Keys: []string{"enter"}, Key: "enter", Desc: "user detail"},
		Back:      Binding{Keys: []string{"esc"}, Key: "esc", Desc: "back/clear"},
		Revoke:    Binding{Keys: []string{"x"}, Key: "x", Desc: "revoke", Disabled: readOnly},
		RevokeAll: Binding{Keys: []string{"X"}, Key: "X", Desc: "revoke all of user", Disabled: readOnly},
		Refresh:   Binding{Keys: []string{"r"}, Key: "r", Desc: "refresh"},
		Help:      Binding{Keys: []string{"?"}, Key: "?", Desc: "help"},
		Quit:      Binding{Keys: []string{"q", "ctrl+c"}, Key: "q", Desc: "quit"},
		Disable:   Binding{Keys: []string{"d"}, Key: "d", Desc: "disable user", Disabled: readOnly || !accounts},
		Enable:    Binding{Keys: []string{"e"}, Key: "e", Desc: "enable user", Disabled: readOnly || !accounts},
	}
}

// ShortHelp is the one-line help under the table.
func (k KeyMap) ShortHelp() []Binding {
	return []Binding{k.Filter, k.State, k.Sort, k.Detail, k.Revoke, k.RevokeAll, k.Disable, k.Enable, k.Back, k.Refresh, k.Help, k.Quit}
}

// FullHelp is the `?` help, in columns.
func (k KeyMap) FullHelp() [][]Binding {
	return [][]Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Filter, k.State, k.Sort, k.Refresh},
		{k.Detail, k.Back, k.Revoke, k.RevokeAll, k.Disable, k.Enable},
		{k.Help, k.Quit},
	}
}
