package doctor

import (
	"fmt"
	"strings"
)

// Byte limits of one indexed column in InnoDB, by row format.
const (
	limitCompact = 767
	limitDynamic = 3072
)

// compactFormat reports whether the row format limits an indexed column to
// 767 bytes.
func compactFormat(rowFormat string) bool {
	switch strings.ToLower(rowFormat) {
	case "compact", "redundant":
		return true
	}
	return false
}

// partBytes is the length a key part takes once its column is utf8mb4
// (4 bytes a character), or its current byte length when it is not text.
func (t *tableInfo) partBytes(p indexPart) int64 {
	c := t.column(p.column)
	if c == nil {
		return 0
	}
	if c.isText() {
		chars := c.maxChars.Int64
		if p.subPart.Valid {
			chars = p.subPart.Int64
		}
		if isBinaryCharset(c.charset.String) {
			return chars
		}
		return chars * 4
	}
	if p.subPart.Valid {
		return p.subPart.Int64
	}
	if c.maxBytes.Valid {
		return c.maxBytes.Int64
	}
	return fixedWidth(c.dataType)
}

// fixedWidth approximates the key bytes of non-text types; they only
// count toward the 3072-byte total, which they rarely matter for.
func fixedWidth(dataType string) int64 {
	switch strings.ToLower(dataType) {
	case "tinyint", "year":
		return 1
	case "smallint":
		return 2
	case "mediumint", "date", "time":
		return 3
	case "int", "integer", "float", "timestamp":
		return 4
	case "datetime":
		return 8
	}
	return 8
}

type keyProblem struct {
	index, column string
	bytes, limit  int64
	total         bool // the whole key, not one column
}

// keyProblems lists the key parts (and whole keys) that would exceed the
// row format's limit under utf8mb4. With dynamic true it judges as if the
// table were ROW_FORMAT=DYNAMIC. TiDB reports Compact for every table but
// limits a key to 3072 bytes whatever it says.
func (t *tableInfo) keyProblems(dynamic bool) []keyProblem {
	limit := int64(limitDynamic)
	if !dynamic && compactFormat(t.rowFormat) && !t.tidb {
		limit = limitCompact
	}
	var out []keyProblem
	for _, ix := range t.indexes {
		var total int64
		for _, p := range ix.parts {
			b := t.partBytes(p)
			total += b
			if c := t.column(p.column); c != nil && c.isText() && b > limit {
				out = append(out, keyProblem{index: ix.name, column: p.column, bytes: b, limit: limit})
			}
		}
		if total > limitDynamic {
			out = append(out, keyProblem{index: ix.name, bytes: total, limit: limitDynamic, total: true})
		}
	}
	return out
}

func (p keyProblem) String() string {
	if p.total {
		return fmt.Sprintf("index %s: %d bytes in all under utf8mb4, over InnoDB's %d-byte key limit", quoteIdent(p.index), p.bytes, p.limit)
	}
	return fmt.Sprintf("index %s, column %s: %d bytes under utf8mb4, over the %d-byte limit", quoteIdent(p.index), quoteIdent(p.column), p.bytes, p.limit)
}

// error 1071 (MySQL) or 1709 (MariaDB) unless the row format changes first.
func indexFinding(t *tableInfo) Finding {
	f := Finding{ID: "table." + t.name + ".index_length"}
	if !t.needsConversion() {
		f.Status = SeverityOK
		f.Summary = fmt.Sprintf("%s: already utf8mb4, its indexes fit (ROW_FORMAT=%s)", t.name, t.rowFormat)
		return f
	}
	probs := t.keyProblems(false)
	if len(probs) == 0 && t.tidb {
		f.Status = SeverityOK
		f.Summary = fmt.Sprintf("%s: every index fits TiDB's %d-byte key limit after a conversion to utf8mb4", t.name, limitDynamic)
		f.Detail = "TiDB reports every table as Compact; the 767-byte limit of InnoDB's COMPACT rows does not apply to it."
		return f
	}
	if len(probs) == 0 {
		f.Status = SeverityOK
		f.Summary = fmt.Sprintf("%s: every index fits ROW_FORMAT=%s after a conversion to utf8mb4", t.name, t.rowFormat)
		f.Detail = "utf8mb4 needs 4 bytes a character in an index; the limit per column is 767 bytes under COMPACT/REDUNDANT and 3072 under DYNAMIC/COMPRESSED."
		return f
	}
	f.Status = SeverityFail
	lines := make([]string, len(probs))
	for i, p := range probs {
		lines[i] = p.String()
	}
	stillBad := t.keyProblems(true)
	if len(stillBad) == 0 {
		f.Summary = fmt.Sprintf("%s: converting to utf8mb4 would fail (error 1071 or 1709, key too long) under ROW_FORMAT=%s: %s",
			t.name, t.rowFormat, strings.Join(lines, "; "))
		f.Detail = fmt.Sprintf("ROW_FORMAT=%s allows %d bytes per indexed column; DYNAMIC allows %d, enough for these indexes. "+
			"Change the row format in the same ALTER TABLE as the conversion (the table.%s.charset fix does), which rebuilds the table once.",
			t.rowFormat, limitCompact, limitDynamic, t.name)
		f.FixSQL = fmt.Sprintf("ALTER TABLE %s ROW_FORMAT=DYNAMIC;", quoteIdent(t.name))
		f.FixConfig = "[mysqld]\ninnodb_default_row_format = dynamic\n# MySQL 5.7 also needs:\n# innodb_file_format = Barracuda\n# innodb_large_prefix = ON"
		return f
	}
	rest := make([]string, len(stillBad))
	for i, p := range stillBad {
		rest[i] = p.String()
	}
	f.Summary = fmt.Sprintf("%s: an index is too long for utf8mb4 under any row format: %s", t.name, strings.Join(rest, "; "))
	f.Detail = "Shorten the index to a prefix (at most 768 characters of a utf8mb4 column) or drop it before converting; " +
		"a prefix makes a UNIQUE index compare only the prefix."
	f.FixSQL = "-- shorten or drop the index named above, e.g. ALTER TABLE " + quoteIdent(t.name) + " DROP INDEX `name`, ADD INDEX `name` (`column`(191));"
	return f
}
