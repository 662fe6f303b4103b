package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/oactl/oactl/internal/db"
)

// seedColumn is one column of the seed's wx_user as information_schema
// reports it, after normalisation.
type seedColumn struct {
	Name, Type string
	Nullable   bool
	Default    string // "NULL" for none or NULL; otherwise the unquoted value
	Extra      string
	Charset    string // "" for non-text columns
	Collation  string
}

const (
	cs  = "utf8mb4"
	col = "utf8mb4_general_ci"
)

// seedUserColumns is the seed's wx_user (migrations/mysql/001).
var seedUserColumns = []seedColumn{
	{"id", "int", false, "NULL", "auto_increment", "", ""},
	{"username", "varchar(63)", false, "NULL", "", cs, col},
	{"password", "varchar(63)", false, "", "", cs, col},
	{"gender", "tinyint", false, "0", "", "", ""},
	{"birthday", "date", true, "NULL", "", "", ""},
	{"last_login_time", "datetime", true, "NULL", "", "", ""},
	{"last_login_ip", "varchar(63)", false, "", "", cs, col},
	{"user_level", "tinyint", true, "0", "", "", ""},
	{"nickname", "varchar(63)", false, "", "", cs, col},
	{"mobile", "varchar(20)", false, "", "", cs, col},
	{"avatar", "varchar(255)", false, "", "", cs, col},
	{"weixin_openid", "varchar(63)", false, "", "", cs, col},
	{"status", "tinyint", false, "0", "", "", ""},
	{"add_time", "datetime", true, "NULL", "", "", ""},
	{"update_time", "datetime", true, "NULL", "", "", ""},
	{"deleted", "tinyint(1)", true, "0", "", "", ""},
	{"share_user_id", "int", true, "NULL", "", "", ""},
}

var intWidth = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)`)
var timeFrac0 = regexp.MustCompile(`^(datetime|timestamp|time)\(0\)`)

// normaliseType drops integer display widths (MySQL 8 stopped showing
// them; MariaDB still does) except tinyint(1), which means boolean to
// both, and a zero fraction on time types.
func normaliseType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if strings.HasPrefix(t, "tinyint(1)") {
		return t
	}
	t = intWidth.ReplaceAllString(t, "$1")
	t = timeFrac0.ReplaceAllString(t, "$1")
	return t
}

// normaliseCharset names utf8mb3 one way: MySQL 5.7 and MariaDB < 10.6
// say utf8, newer servers utf8mb3.
func normaliseCharset(s string) string {
	s = strings.ToLower(s)
	if s == "utf8" {
		return "utf8mb3"
	}
	if strings.HasPrefix(s, "utf8_") {
		return "utf8mb3_" + strings.TrimPrefix(s, "utf8_")
	}
	return s
}

func normaliseDefault(v sql.NullString) string {
	if !v.Valid || strings.EqualFold(v.String, "NULL") {
		return "NULL"
	}
	s := v.String
	// MariaDB quotes string literals in COLUMN_DEFAULT; MySQL does not.
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// ColumnDiff is one difference between a database's wx_user and the seed's.
type ColumnDiff struct {
	Column string
	Have   string // "" when the column is missing
	Want   string // "" when the column is not the seed's
}

func (c ColumnDiff) String() string {
	switch {
	case c.Have == "":
		return fmt.Sprintf("column %s: missing (want %s)", c.Column, c.Want)
	case c.Want == "":
		return fmt.Sprintf("column %s: not in the seed's wx_user (have %s)", c.Column, c.Have)
	}
	return fmt.Sprintf("column %s: have %s, want %s", c.Column, c.Have, c.Want)
}

// AdoptionError: wx_user exists but is not the seed's; nothing was changed.
type AdoptionError struct{ Diffs []ColumnDiff }

func (e *AdoptionError) Error() string {
	var b strings.Builder
	b.WriteString("migrate: wx_user exists but differs from the seed's table, so it was left alone:")
	for _, d := range e.Diffs {
		b.WriteString("\n  ")
		b.WriteString(d.String())
	}
	return b.String()
}

// adoption looks at an existing wx_user: none (false), the seed's (true:
// adopt it), or another (an *AdoptionError).
func (m *Migrator) adoption(ctx context.Context, q db.Queryer) (bool, error) {
	exists, err := db.TableExists(ctx, q, m.d.Dialect(), "wx_user")
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	if !exists {
		return false, nil
	}
	diffs, err := m.compareUserTable(ctx, q)
	if err != nil {
		return false, err
	}
	if len(diffs) > 0 {
		return false, &AdoptionError{Diffs: diffs}
	}
	return true, nil
}

func (c seedColumn) describe() string {
	s := c.Type
	if c.Nullable {
		s += " NULL"
	} else {
		s += " NOT NULL"
	}
	if c.Default == "" {
		s += " DEFAULT ''"
	} else {
		s += " DEFAULT " + c.Default
	}
	if c.Extra != "" {
		s += " " + c.Extra
	}
	if c.Charset != "" {
		s += " " + c.Charset + "/" + c.Collation
	}
	return s
}

// compareUserTable compares the database's wx_user with the seed's and
// returns the differences (none: adoptable).
func (m *Migrator) compareUserTable(ctx context.Context, q db.Queryer) ([]ColumnDiff, error) {
	var have []seedColumn
	var err error
	if m.d.Dialect() == db.MySQL {
		have, err = mysqlUserColumns(ctx, q)
	} else {
		have, err = sqliteUserColumns(ctx, q)
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: read wx_user columns: %w", err)
	}
	want := seedUserColumns
	if m.d.Dialect() == db.SQLite {
		want = sqliteComparable(seedUserColumns)
	}
	return diffColumns(have, want), nil
}

func diffColumns(have, want []seedColumn) []ColumnDiff {
	byName := map[string]seedColumn{}
	for _, c := range have {
		byName[c.Name] = c
	}
	var diffs []ColumnDiff
	seen := map[string]bool{}
	for _, w := range want {
		seen[w.Name] = true
		h, ok := byName[w.Name]
		switch {
		case !ok:
			diffs = append(diffs, ColumnDiff{Column: w.Name, Want: w.describe()})
		case h != w:
			diffs = append(diffs, ColumnDiff{Column: w.Name, Have: h.describe(), Want: w.describe()})
		}
	}
	var extra []ColumnDiff
	for _, h := range have {
		if !seen[h.Name] {
			extra = append(extra, ColumnDiff{Column: h.Name, Have: h.describe()})
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Column < extra[j].Column })
	return append(diffs, extra...)
}

func mysqlUserColumns(ctx context.Context, q db.Queryer) ([]seedColumn, error) {
	return readColumns(ctx, q, `SELECT column_name, column_type, is_nullable, column_default, extra,
		COALESCE(character_set_name, ''), COALESCE(collation_name, '')
		FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'wx_user'
		ORDER BY ordinal_position`, func(rows *sql.Rows, c *seedColumn) error {
		var nullable string
		var def sql.NullString
		if err := rows.Scan(&c.Name, &c.Type, &nullable, &def, &c.Extra, &c.Charset, &c.Collation); err != nil {
			return err
		}
		c.Type = normaliseType(c.Type)
		c.Nullable = nullable == "YES"
		c.Default = normaliseDefault(def)
		// MySQL 8 marks expression defaults; not part of the shape.
		c.Extra = strings.TrimSpace(strings.ReplaceAll(strings.ToLower(c.Extra), "default_generated", ""))
		c.Charset = normaliseCharset(c.Charset)
		c.Collation = normaliseCharset(c.Collation)
		return nil
	})
}

// readColumns runs query and scans each row into a seedColumn with scan;
// column names compare in lower case.
func readColumns(ctx context.Context, q db.Queryer, query string, scan func(*sql.Rows, *seedColumn) error) ([]seedColumn, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []seedColumn
	for rows.Next() {
		var c seedColumn
		if err := scan(rows, &c); err != nil {
			return nil, err
		}
		c.Name = strings.ToLower(c.Name)
		out = append(out, c)
	}
	return out, rows.Err()
}

// sqliteComparable keeps what PRAGMA table_info can show: names,
// nullability and defaults (SQLite's types are affinities).
func sqliteComparable(cols []seedColumn) []seedColumn {
	out := make([]seedColumn, len(cols))
	for i, c := range cols {
		out[i] = seedColumn{Name: c.Name, Nullable: c.Nullable, Default: c.Default}
		if c.Name == "id" {
			out[i].Nullable = true // an INTEGER PRIMARY KEY reports notnull 0
		}
	}
	return out
}

func sqliteUserColumns(ctx context.Context, q db.Queryer) ([]seedColumn, error) {
	return readColumns(ctx, q, "SELECT name, \"notnull\", dflt_value FROM pragma_table_info('wx_user')", func(rows *sql.Rows, c *seedColumn) error {
		var notnull int
		var def sql.NullString
		if err := rows.Scan(&c.Name, &notnull, &def); err != nil {
			return err
		}
		c.Nullable = notnull == 0
		c.Default = normaliseDefault(def)
		return nil
	})
}
