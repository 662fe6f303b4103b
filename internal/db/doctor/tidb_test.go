package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/dbtest"
)

// No TiDB to test against: these tests feed the doctor TiDB's VERSION()
// on a MariaDB connection, and check that what it prints for TiDB is what
// TiDB's documentation asks for, and that the SQL it prints is right
// (it runs on MariaDB too).

const tidbVersion = "8.0.11-TiDB-v7.5.1"

// TestTiDBIgnoresCompactLimit: TiDB says Compact for every table; the
// 767-byte rule is InnoDB's and must not fail a TiDB table.
func TestTiDBIgnoresCompactLimit(t *testing.T) {
	tab := &tableInfo{
		name: "wx_user", collation: "utf8_general_ci", rowFormat: "Compact",
		columns: []columnInfo{{name: "avatar", dataType: "varchar", columnType: "varchar(255)",
			charset: sql.NullString{String: "utf8", Valid: true}, maxChars: sql.NullInt64{Int64: 255, Valid: true}}},
		indexes: []*indexInfo{{name: "idx_avatar", parts: []indexPart{{column: "avatar"}}}},
	}
	if got := tab.keyProblems(false); len(got) != 1 || got[0].limit != limitCompact {
		t.Fatalf("InnoDB Compact: %v, want the 767-byte problem", got)
	}
	tab.tidb = true
	if got := tab.keyProblems(false); len(got) != 0 {
		t.Fatalf("TiDB: %v, want none", got)
	}
	if f := indexFinding(tab); f.Status != SeverityOK || !strings.Contains(f.Summary, "TiDB") {
		t.Fatalf("TiDB index finding: %+v", f)
	}
}

type indexShape struct {
	name   string
	unique bool
	parts  string
}

func shapes(tab *tableInfo) []indexShape {
	var out []indexShape
	for _, ix := range tab.indexes {
		var parts []string
		for _, p := range ix.parts {
			parts = append(parts, fmt.Sprintf("%s(%v)", p.column, p.subPart.Int64))
		}
		out = append(out, indexShape{ix.name, ix.unique, strings.Join(parts, ",")})
	}
	slices.SortFunc(out, func(a, b indexShape) int { return strings.Compare(a.name, b.name) })
	return out
}

// TestTiDBConversionDropsAndReaddsIndexes: for TiDB the conversion fix
// drops every index on a text column, converts, and adds them back as
// they were; run on MariaDB, it leaves the same indexes on utf8mb4
// columns.
func TestTiDBConversionDropsAndReaddsIndexes(t *testing.T) {
	_, conn := rawMySQL(t, dbtest.MySQL(t))
	ctx := context.Background()
	mustExec(t, conn, "CREATE TABLE wx_user (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, "+
		"username VARCHAR(63) CHARACTER SET utf8 NOT NULL, nickname VARCHAR(63) CHARACTER SET utf8 NOT NULL DEFAULT '', "+
		"avatar VARCHAR(255) CHARACTER SET utf8 NOT NULL DEFAULT '', gender TINYINT NOT NULL DEFAULT 0, "+
		"UNIQUE KEY user_name (username), KEY idx_nick_gender (nickname, gender), KEY idx_avatar (avatar(100)), KEY idx_gender (gender)"+
		") ENGINE=InnoDB DEFAULT CHARSET=utf8 ROW_FORMAT=DYNAMIC",
		"INSERT INTO wx_user (username, nickname) VALUES ('u1', 'plain')")
	r := &Report{Server: tidbVersion}
	if err := checkTablesMySQL(ctx, conn, r); err != nil {
		t.Fatal(err)
	}
	f := r.Find("table.wx_user.charset")
	if f == nil || f.Status != SeverityFail {
		t.Fatalf("charset finding: %s", dump(r))
	}
	for _, want := range []string{"DROP INDEX `user_name`", "DROP INDEX `idx_nick_gender`", "DROP INDEX `idx_avatar`",
		"ADD UNIQUE INDEX `user_name` (`username`)", "ADD INDEX `idx_avatar` (`avatar`(100))", "CONVERT TO CHARACTER SET utf8mb4", "8200"} {
		if !strings.Contains(f.FixSQL+f.Detail, want) {
			t.Errorf("TiDB fix lacks %q:\n%s", want, f.FixSQL)
		}
	}
	if strings.Contains(f.FixSQL, "idx_gender") || strings.Contains(f.FixSQL, "ROW_FORMAT") {
		t.Errorf("TiDB fix touches what it need not:\n%s", f.FixSQL)
	}
	if strings.Index(f.FixSQL, "DROP INDEX") > strings.Index(f.FixSQL, "CONVERT") || strings.Index(f.FixSQL, "ADD UNIQUE") < strings.Index(f.FixSQL, "CONVERT") {
		t.Errorf("TiDB fix out of order:\n%s", f.FixSQL)
	}
	before, err := loadTables(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	applyFixes(t, conn, &Report{Findings: []Finding{*f}})
	after, err := loadTables(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(after[0].badColumns()) != 0 || after[0].needsConversion() {
		t.Fatalf("still to convert after the TiDB fix: %+v", after[0].columns)
	}
	if b, a := shapes(before[0]), shapes(after[0]); !slices.Equal(b, a) {
		t.Fatalf("indexes changed by the fix:\nbefore %v\nafter  %v", b, a)
	}
	var nick string
	if err := conn.QueryRowContext(ctx, "SELECT nickname FROM wx_user WHERE username = 'u1'").Scan(&nick); err != nil || nick != "plain" {
		t.Fatalf("row after the fix: %q %v", nick, err)
	}
}
