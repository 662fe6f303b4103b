package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/oactl/oactl/internal/db"
)

// tableInfo is what information_schema says about one of our tables:
// the charset findings and the index-length findings both judge it.
type tableInfo struct {
	name, collation, rowFormat string
	columns                    []columnInfo
	indexes                    []*indexInfo
	// tidb: the server is TiDB, which reports every table as Compact
	// (the 767-byte rule is InnoDB's, not TiDB's) and refuses to change
	// the collation of an indexed column (error 8200).
	tidb bool
}

type columnInfo struct {
	name, dataType, columnType string
	charset, collation         sql.NullString
	maxChars, maxBytes         sql.NullInt64
}

func (c columnInfo) isText() bool { return c.charset.Valid }

type indexInfo struct {
	name   string
	unique bool
	parts  []indexPart
}

type indexPart struct {
	column  string
	subPart sql.NullInt64
}

// loadTables reads what information_schema knows about our tables.
func loadTables(ctx context.Context, conn *sql.Conn) ([]*tableInfo, error) {
	in := "('" + strings.Join(checkTables, "','") + "')"
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_NAME, COALESCE(TABLE_COLLATION, ''), COALESCE(ROW_FORMAT, '') FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME IN "+in+" ORDER BY FIELD(TABLE_NAME, '"+strings.Join(checkTables, "','")+"')")
	if err != nil {
		return nil, fmt.Errorf("check: list tables: %w", err)
	}
	byName := map[string]*tableInfo{}
	var tables []*tableInfo
	for rows.Next() {
		t := &tableInfo{}
		if err := rows.Scan(&t.name, &t.collation, &t.rowFormat); err != nil {
			rows.Close()
			return nil, fmt.Errorf("check: list tables: %w", err)
		}
		byName[t.name] = t
		tables = append(tables, t)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("check: list tables: %w", err)
	}
	if len(tables) == 0 {
		return nil, nil
	}
	rows, err = conn.QueryContext(ctx, "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, "+
		"CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH FROM information_schema.COLUMNS "+
		"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN "+in+" ORDER BY TABLE_NAME, ORDINAL_POSITION")
	if err != nil {
		return nil, fmt.Errorf("check: list columns: %w", err)
	}
	for rows.Next() {
		var tn string
		var c columnInfo
		if err := rows.Scan(&tn, &c.name, &c.dataType, &c.columnType, &c.charset, &c.collation, &c.maxChars, &c.maxBytes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("check: list columns: %w", err)
		}
		if t := byName[tn]; t != nil {
			t.columns = append(t.columns, c)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("check: list columns: %w", err)
	}
	rows, err = conn.QueryContext(ctx, "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "+
		"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN "+in+" ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX")
	if err != nil {
		return nil, fmt.Errorf("check: list indexes: %w", err)
	}
	for rows.Next() {
		var tn, in string
		var nonUnique int
		var col sql.NullString // NULL for MySQL 8 functional key parts
		var p indexPart
		if err := rows.Scan(&tn, &in, &nonUnique, &col, &p.subPart); err != nil {
			rows.Close()
			return nil, fmt.Errorf("check: list indexes: %w", err)
		}
		t := byName[tn]
		if t == nil || !col.Valid {
			continue
		}
		p.column = col.String
		if n := len(t.indexes); n == 0 || t.indexes[n-1].name != in {
			t.indexes = append(t.indexes, &indexInfo{name: in, unique: nonUnique == 0})
		}
		ix := t.indexes[len(t.indexes)-1]
		ix.parts = append(ix.parts, p)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("check: list indexes: %w", err)
	}
	return tables, nil
}

func (t *tableInfo) column(name string) *columnInfo {
	for i := range t.columns {
		if strings.EqualFold(t.columns[i].name, name) {
			return &t.columns[i]
		}
	}
	return nil
}

// badColumns returns the text columns that are not utf8mb4.
func (t *tableInfo) badColumns() []columnInfo {
	var bad []columnInfo
	for _, c := range t.columns {
		if c.isText() && !isUTF8MB4(c.charset.String) && !isBinaryCharset(c.charset.String) {
			bad = append(bad, c)
		}
	}
	return bad
}

func (t *tableInfo) needsConversion() bool {
	return len(t.badColumns()) > 0 || !isUTF8MB4(charsetOf(t.collation))
}

func checkTablesMySQL(ctx context.Context, conn *sql.Conn, r *Report) error {
	tables, err := loadTables(ctx, conn)
	if err != nil {
		return err
	}
	tidb := db.IsTiDB(r.Server)
	for _, t := range tables {
		t.tidb = tidb
		r.add(indexFinding(t))
		r.add(charsetFinding(t))
	}
	return nil
}

// indexFinding comes before charsetFinding on purpose: a conversion of a
// COMPACT table with a long index fails in a DBA's maintenance window with

func charsetFinding(t *tableInfo) Finding {
	f := Finding{ID: "table." + t.name + ".charset"}
	bad := t.badColumns()
	tableCS := charsetOf(t.collation)
	if len(bad) == 0 && isUTF8MB4(tableCS) {
		f.Status = SeverityOK
		f.Summary = fmt.Sprintf("%s: the table and its text columns are utf8mb4 (%s)", t.name, t.collation)
		return f
	}
	f.Status = SeverityFail
	var names, details []string
	for _, c := range bad {
		names = append(names, c.name)
		details = append(details, fmt.Sprintf("column %s %s CHARACTER SET %s COLLATE %s", quoteIdent(c.name), c.columnType, c.charset.String, c.collation.String))
	}
	if len(bad) > 0 {
		f.Summary = fmt.Sprintf("%s: columns %s are not utf8mb4: emoji and rare CJK characters in them are refused or turned into '?'",
			t.name, strings.Join(names, ", "))
	} else {
		f.Summary = fmt.Sprintf("%s: the table's default character set is %s: columns added later will not be utf8mb4", t.name, charsetName(tableCS))
	}
	details = append(details, fmt.Sprintf("table default COLLATE %s, ROW_FORMAT=%s", t.collation, t.rowFormat))
	f.Detail = strings.Join(details, "\n") + "\nCONVERT TO CHARACTER SET rebuilds the table: it takes time and free disk about the size of the table, " +
		"and blocks writes unless done online (see docs/DBA.md)."
	if t.tidb {
		f.Detail += "\nTiDB refuses to change the collation of an indexed column (error 8200): the fix drops the indexes on text columns, " +
			"converts, and adds them back. Between the DROP and the ADD a unique index is not enforced: run it while nothing writes."
		if len(t.keyProblems(true)) > 0 {
			f.FixSQL = fmt.Sprintf("-- first shorten the index named by table.%s.index_length, then:\n", t.name)
		}
		f.FixSQL += tidbConversion(t)
		f.FixConfig = serverConfig
		return f
	}
	alter := "ALTER TABLE " + quoteIdent(t.name)
	if len(t.keyProblems(false)) > 0 {
		if len(t.keyProblems(true)) > 0 {
			f.FixSQL = fmt.Sprintf("-- first shorten the index named by table.%s.index_length, then:\n", t.name)
		}
		alter += " ROW_FORMAT=DYNAMIC,"
	}
	f.FixSQL += fmt.Sprintf("%s CONVERT TO CHARACTER SET utf8mb4 COLLATE %s;", alter, wantCollation)
	f.FixConfig = serverConfig
	return f
}

// tidbConversion is the conversion to utf8mb4 as TiDB accepts it: every
// index with a text column dropped first and added back after, as it was
// (name, uniqueness, columns and prefix lengths). TiDB cannot drop a
// clustered primary key: one on a text column is left to the DBA.
func tidbConversion(t *tableInfo) string {
	var drops, adds []string
	var notes string
	for _, ix := range t.indexes {
		text := false
		for _, p := range ix.parts {
			if c := t.column(p.column); c != nil && c.isText() {
				text = true
			}
		}
		if !text {
			continue
		}
		if strings.EqualFold(ix.name, "PRIMARY") {
			notes += "-- the primary key has a text column: TiDB cannot drop a clustered primary key; copy the table instead\n"
			continue
		}
		cols := make([]string, len(ix.parts))
		for i, p := range ix.parts {
			cols[i] = quoteIdent(p.column)
			if p.subPart.Valid {
				cols[i] += fmt.Sprintf("(%d)", p.subPart.Int64)
			}
		}
		kind := "INDEX"
		if ix.unique {
			kind = "UNIQUE INDEX"
		}
		drops = append(drops, fmt.Sprintf("ALTER TABLE %s DROP INDEX %s;", quoteIdent(t.name), quoteIdent(ix.name)))
		adds = append(adds, fmt.Sprintf("ALTER TABLE %s ADD %s %s (%s);", quoteIdent(t.name), kind, quoteIdent(ix.name), strings.Join(cols, ", ")))
	}
	out := append(drops, fmt.Sprintf("ALTER TABLE %s CONVERT TO CHARACTER SET utf8mb4 COLLATE %s;", quoteIdent(t.name), wantCollation))
	return notes + strings.Join(append(out, adds...), "\n")
}
