package inspect

import (
	"context"
	"fmt"
	"io"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Run shows the inspector on a terminal until the user quits or ctx ends.
// With noColor (NO_COLOR set) everything is drawn without colour.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer, noColor bool) error {
	if opts.Renderer == nil {
		opts.Renderer = lipgloss.NewRenderer(out)
	}
	if noColor {
		opts.Renderer.SetColorProfile(termenv.Ascii)
	}
	if opts.Context == nil {
		opts.Context = ctx
	}
	p := tea.NewProgram(New(opts), tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	if _, err := p.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("session inspector: %w", err)
	}
	return nil
}
