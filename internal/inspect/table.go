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
type TableWriter struct {
	w      io.Writer
	header bool
}

// NewTableWriter returns a TableWriter that writes to w.
func NewTableWriter(w io.Writer) *TableWriter { return &TableWriter{w: w} }

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
	{"IP", 0, func(r auth.SessionRow) string { return cleanText(r.Session.IP) }},
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// Write prints rows, preceded by the header on the first call.
func (t *TableWriter) Write(rows []auth.SessionRow) error {
	var b strings.Builder
	line := func(cell func(i int) string) {
		for i, c := range tableCols {
			if i > 0 {
				b.WriteString(" ")
			}
			if c.width == 0 {
				b.WriteString(cell(i))
			} else {
				b.WriteString(fit(cell(i), c.width))
			}
		}
		b.WriteString("\n")
	}
	if !t.header {
		t.header = true
		line(func(i int) string { return tableCols[i].title })
	}
	for _, r := range rows {
		line(func(i int) string { return tableCols[i].cell(r) })
	}
	if _, err := io.WriteString(t.w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
