package inspect

import (
	"context"
	"fmt"
	"io"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"
)

// Colors is how the inspector may draw: the terminal's colour profile
// (termenv.Ascii is plain text) and whether its background is dark, which
// picks the grey that stays readable.
type Colors struct {
	Profile termenv.Profile
	Dark    bool
}

// DetectColors asks what out can show: the profile from the environment
// (NO_COLOR, TERM, COLORTERM...) and, only when colours are drawn, the
// background colour, which the terminal answers to an escape sequence.
func DetectColors(out io.Writer) Colors {
	o := termenv.NewOutput(out)
	c := Colors{Profile: o.Profile, Dark: true}
	if c.Profile != termenv.Ascii {
		c.Dark = o.HasDarkBackground()
	}
	return c
}

// Run shows the inspector on a terminal until the user quits or ctx ends.
// With noColor (NO_COLOR set) everything is drawn without colour. The
// terminal is asked about colours before the program takes it over, so
// its answer is not read as keys.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer, noColor bool) error {
	var c Colors
	switch {
	case noColor:
		c = Colors{Profile: termenv.Ascii, Dark: true}
	case opts.Colors != nil:
		c = *opts.Colors
	default:
		c = DetectColors(out)
	}
	opts.Colors = &c
	if opts.Context == nil {
		opts.Context = ctx
	}
	p := tea.NewProgram(New(opts), tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	if _, err := p.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("session inspector: %w", err)
	}
	return nil
}
