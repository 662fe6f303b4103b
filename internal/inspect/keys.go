package inspect

import "github.com/charmbracelet/bubbles/key"

// KeyMap is the inspector's key bindings; it implements help.KeyMap so
// the `?` help always shows what the keys really do.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Filter, State, Sort, Detail, Back       key.Binding
	Revoke, RevokeAll, Refresh, Help, Quit  key.Binding
	Disable, Enable                         key.Binding
}

// DefaultKeyMap returns the bindings documented in docs/SESSIONS.md. With
// readOnly the revoke, disable and enable keys are disabled, so help does
// not offer them; without accounts (no way to change a user) disable and
// enable are too.
func DefaultKeyMap(readOnly, accounts bool) KeyMap {
	k := KeyMap{
		Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:    key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown:  key.NewBinding(key.WithKeys("pgdown", "ctrl+f", " "), key.WithHelp("pgdn", "page down")),
		Top:       key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:    key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
		Filter:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		State:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "state")),
		Sort:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "sort")),
		Detail:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "user detail")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back/clear")),
		Revoke:    key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "revoke")),
		RevokeAll: key.NewBinding(key.WithKeys("X"), key.WithHelp("X", "revoke all of user")),
		Refresh:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Disable:   key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "disable user")),
		Enable:    key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "enable user")),
	}
	if readOnly {
		k.Revoke.SetEnabled(false)
		k.RevokeAll.SetEnabled(false)
	}
	if readOnly || !accounts {
		k.Disable.SetEnabled(false)
		k.Enable.SetEnabled(false)
	}
	return k
}

// ShortHelp is the one-line help under the table.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Filter, k.State, k.Sort, k.Detail, k.Revoke, k.RevokeAll, k.Disable, k.Enable, k.Back, k.Refresh, k.Help, k.Quit}
}

// FullHelp is the `?` help, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Filter, k.State, k.Sort, k.Refresh},
		{k.Detail, k.Back, k.Revoke, k.RevokeAll, k.Disable, k.Enable},
		{k.Help, k.Quit},
	}
}
