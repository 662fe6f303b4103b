package inspect

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oactl/oactl/internal/auth"
)

// TableWriter prints session rows as a text table for `oactl sessions
// list`. Column widths are fixed, so rows stream page by page and still
// line up; cells are measured and cut like the TUI's (CJK and emoji
// aligned). Times are RFC 3339 UTC, openids masked.
type TableWriter struct{ c *Columns }

// NewTableWriter returns a TableWriter that writes to w.
func NewTableWriter(w io.Writer) *TableWriter {
	cols := make([]Column, len(tableCols))
	for i, c := range tableCols {
		cols[i] = Column{Title: c.title, Width: c.width}
	}
	return &TableWriter{c: NewColumns(w, cols...)}
}

var tableCols = []struct {
	title string
	width int
	cell  func(r auth.SessionRow) string
}{
	{"ID", 8, func(r auth.SessionRow) string { return itoa(r.Session.ID) }},
	{"USER", 8, func(r auth.SessionRow) string { return itoa(r.Session.UserID) }},
	{"NICKNAME", 20, func(r auth.SessionRow) string { return r.Nickname }},
	{"OPENID", 9, func(r auth.SessionRow) string { return auth.MaskOpenID(r.OpenID) }},
	{"STATE", 7, func(r auth.SessionRow) string { return string(r.State) }},
	{"CREATED", 20, func(r auth.SessionRow) string { return rfc3339(r.Session.CreatedAt) }},
	{"LAST SEEN", 20, func(r auth.SessionRow) string { return rfc3339(r.Session.LastSeenAt) }},
	{"EXPIRES", 20, func(r auth.SessionRow) string { return rfc3339(r.Session.ExpiresAt) }},
	{"IP", 0, func(r auth.SessionRow) string { return r.Session.IP }},
}

// RFC3339 is t as RFC 3339 UTC, "-" for the zero time: the tables'
// times.
func RFC3339(t time.Time) string { return rfc3339(t) }

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// Write prints rows, preceded by the header on the first call.
func (t *TableWriter) Write(rows []auth.SessionRow) error {
	if len(rows) == 0 {
		return t.c.Header()
	}
	for _, r := range rows {
		cells := make([]string, len(tableCols))
		for i, c := range tableCols {
			cells[i] = c.cell(r)
		}
		if err := t.c.Row(cells...); err != nil {
			return err
		}
	}
	return nil
}

// Column is one column of a Columns table; Width 0 is the last column,
// written as it is.
type Column struct {
	Title string
	Width int
}

// Columns prints rows of text cells under a header, each cell cleaned and
// cut like the inspector's (CJK and emoji aligned, no escape sequences):
// the tables of `oactl users` and `oactl audit`.
type Columns struct {
	w      io.Writer
	cols   []Column
	header bool
}

// NewColumns returns a Columns table that writes to w.
func NewColumns(w io.Writer, cols ...Column) *Columns { return &Columns{w: w, cols: cols} }

// Header prints the header unless it was printed.
func (c *Columns) Header() error { return c.write(nil) }

// Row prints one row (the header first, once).
func (c *Columns) Row(cells ...string) error { return c.write(cells) }

func (c *Columns) write(cells []string) error {
	var b strings.Builder
	line := func(cell func(i int) string) {
		for i, col := range c.cols {
			if i > 0 {
				b.WriteString(" ")
			}
			if col.Width == 0 {
				b.WriteString(cleanText(cell(i)))
			} else {
				b.WriteString(fit(cell(i), col.Width))
			}
		}
		b.WriteString("\n")
	}
	if !c.header {
		c.header = true
		line(func(i int) string { return c.cols[i].Title })
	}
	if cells != nil {
		line(func(i int) string {
			if i < len(cells) {
				return cells[i]
			}
			return ""
		})
	}
	if _, err := io.WriteString(c.w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
