package db

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Severity is a check finding's verdict. The JSON values are part of the
// `oactl migrate check --json` contract.
type Severity string

const (
	SeverityOK   Severity = "ok"
	SeverityWarn Severity = "warn"
	SeverityFail Severity = "fail"
)

// Finding is one verdict of the utf8mb4 doctor. FixSQL holds statements to
// run (one a line, each ending in ';'; lines starting with "--" are
// explanations); FixConfig holds the my.cnf / my.ini lines (or oactl
// settings) that make the fix survive a restart. Both are "" when there is
// nothing to fix.
type Finding struct {
	ID        string   `json:"id"`
	Status    Severity `json:"status"`
	Summary   string   `json:"summary"`
	Detail    string   `json:"detail"`
	FixSQL    string   `json:"fixSQL"`
	FixConfig string   `json:"fixConfig"`
}

// Report is the result of a check: findings in the order a DBA should read
// them (in particular, index length before the conversion it constrains).
type Report struct {
	Dialect  string    `json:"dialect"`
	Server   string    `json:"server"`
	Database string    `json:"database"`
	Findings []Finding `json:"findings"`
}

// Counts returns how many findings have each severity.
func (r *Report) Counts() map[Severity]int {
	c := map[Severity]int{SeverityOK: 0, SeverityWarn: 0, SeverityFail: 0}
	for _, f := range r.Findings {
		c[f.Status]++
	}
	return c
}

// Failed reports whether any finding failed: `migrate check` exits 3 then.
func (r *Report) Failed() bool { return r.Counts()[SeverityFail] > 0 }

// Find returns the finding with id, or nil.
func (r *Report) Find(id string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }

// SchemaState is what the check needs to know about migrations.
type SchemaState struct {
	Current, Latest int
	Pending         []string // "N name" of each step not applied
}

// CheckOptions configures CheckMySQL and CheckSQLite.
type CheckOptions struct {
	// Schema reports the schema version; nil leaves the finding out.
	Schema func(ctx context.Context) (SchemaState, error)
}

// The tables oactl owns; the check looks at these and nothing else.
const (
	tableUser     = "wx_user"
	tableSession  = "wx_session"
	tableVersions = "oactl_schema_migrations"
)

var checkTables = []string{tableUser, tableSession, tableVersions}

// roundTripSamples are the characters MySQL's utf8 (utf8mb3) cannot hold:
// a 4-byte emoji, a ZWJ family (7 code points, 25 bytes) and a CJK
// Extension B ideograph, which Chinese names do contain.
var roundTripSamples = []string{"😀", "👨‍👩‍👧‍👦", "𠜎"}

const (
	wantCollation = "utf8mb4_general_ci" // the seed's DDL uses it
	checkTmpTable = "oactl_check_roundtrip"
	sealPrefix    = "v1:" // internal/keyseal's format
	keySample     = 50    // rows read from each end of wx_session
)

// Byte limits of one indexed column in InnoDB, by row format.
const (
	limitCompact = 767
	limitDynamic = 3072
)

// CheckMySQL runs the utf8mb4 doctor on a MySQL or MariaDB connection. It
// needs one pinned connection because the round trip goes through a
// temporary table, which only its own session sees. It reads
// information_schema and a few rows by primary key only: its cost does not
// grow with the size of wx_user or wx_session.
func CheckMySQL(ctx context.Context, conn *sql.Conn, opts CheckOptions) (*Report, error) {
	r := &Report{Dialect: "mysql"}
	var dbName sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT VERSION(), DATABASE()").Scan(&r.Server, &dbName); err != nil {
		return nil, fmt.Errorf("check: server version: %w", err)
	}
	if !dbName.Valid || dbName.String == "" {
		return nil, errors.New("check: the DSN names no database")
	}
	r.Database = dbName.String
	steps := []func(context.Context, *sql.Conn, *Report) error{
		checkConnection, checkServerDefaults, checkDatabaseDefaults, checkTablesMySQL, checkSQLMode,
	}
	for _, step := range steps {
		if err := step(ctx, conn, r); err != nil {
			return nil, err
		}
	}
	if err := checkRoundTrip(ctx, conn, r, true); err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, r, opts); err != nil {
		return nil, err
	}
	if err := checkSessionKeys(ctx, conn, r, true); err != nil {
		return nil, err
	}
	return r, nil
}

// CheckSQLite runs the checks that mean something on SQLite, whose TEXT
// is UTF-8 whatever the schema says: the round trip, the schema version
// and the session keys.
func CheckSQLite(ctx context.Context, conn *sql.Conn, opts CheckOptions) (*Report, error) {
	r := &Report{Dialect: "sqlite", Database: "main"}
	if err := conn.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&r.Server); err != nil {
		return nil, fmt.Errorf("check: sqlite version: %w", err)
	}
	r.Server = "SQLite " + r.Server
	if err := checkRoundTrip(ctx, conn, r, false); err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, r, opts); err != nil {
		return nil, err
	}
	if err := checkSessionKeys(ctx, conn, r, false); err != nil {
		return nil, err
	}
	return r, nil
}

// charsetOf returns the character set a collation belongs to. MariaDB
// 11's uca1400 collations are shared by several sets but, as the server
// defaults of a utf8mb4 server, they stand for utf8mb4.
func charsetOf(collation string) string {
	c := strings.ToLower(collation)
	if strings.HasPrefix(c, "uca1400") {
		return "utf8mb4"
	}
	if i := strings.IndexByte(c, '_'); i > 0 {
		return c[:i]
	}
	return c
}

func isUTF8MB4(charset string) bool { return strings.EqualFold(charset, "utf8mb4") }

// charsetName explains MySQL's aliases: "utf8" is utf8mb3 on every server
// oactl supports (MySQL 8.0.30+ and MariaDB 10.6+ print utf8mb3).
func charsetName(cs string) string {
	switch strings.ToLower(cs) {
	case "utf8", "utf8mb3":
		return cs + " (utf8mb3: at most 3 bytes a character, no emoji)"
	case "latin1":
		return "latin1 (no Chinese, no emoji)"
	}
	return cs
}

func quoteIdent(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

const serverConfig = `[mysqld]
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci

[client]
default-character-set = utf8mb4`

func checkConnection(ctx context.Context, conn *sql.Conn, r *Report) error {
	var client, connection, collation string
	var results sql.NullString
	err := conn.QueryRowContext(ctx, "SELECT @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection").
		Scan(&client, &connection, &results, &collation)
	if err != nil {
		return fmt.Errorf("check: connection charset: %w", err)
	}
	f := Finding{ID: "connection.charset"}
	// A NULL character_set_results means "send as stored": fine for
	// utf8mb4 columns.
	resultsOK := !results.Valid || isUTF8MB4(results.String)
	desc := fmt.Sprintf("character_set_client=%s, character_set_connection=%s, character_set_results=%s, collation_connection=%s",
		client, connection, nullText(results), collation)
	if isUTF8MB4(client) && isUTF8MB4(connection) && resultsOK && isUTF8MB4(charsetOf(collation)) {
		f.Status = SeverityOK
		f.Summary = "the connection speaks utf8mb4 (" + collation + ")"
		f.Detail = desc
	} else {
		f.Status = SeverityFail
		f.Summary = "the connection does not speak utf8mb4: emoji are converted to '?' on the way in"
		f.Detail = desc + ". oactl asks for charset=utf8mb4 in the handshake; a server started with " +
			"skip-character-set-client-handshake, or an init_connect that runs SET NAMES, overrides it."
		f.FixSQL = "SET NAMES utf8mb4 COLLATE utf8mb4_general_ci;"
		f.FixConfig = serverConfig + "\n# and remove skip-character-set-client-handshake and any init_connect='SET NAMES ...'"
	}
	r.add(f)
	return nil
}

func nullText(s sql.NullString) string {
	if !s.Valid {
		return "NULL"
	}
	return s.String
}

func checkServerDefaults(ctx context.Context, conn *sql.Conn, r *Report) error {
	var cs, coll string
	// GLOBAL, not SESSION: the session copies were set by our handshake,
	// and SET GLOBAL (the fix) takes effect in the global ones at once.
	if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.character_set_server, @@GLOBAL.collation_server").Scan(&cs, &coll); err != nil {
		return fmt.Errorf("check: server charset: %w", err)
	}
	f := Finding{ID: "server.charset", Detail: fmt.Sprintf("character_set_server=%s, collation_server=%s", cs, coll)}
	if isUTF8MB4(cs) {
		f.Status = SeverityOK
		f.Summary = "the server's default character set is utf8mb4 (" + coll + ")"
	} else {
		f.Status = SeverityFail
		f.Summary = "the server's default character set is " + charsetName(cs)
		f.Detail += ". Databases and tables created without an explicit character set (a restore, a new " +
			"schema, another tool) get it, and cannot store emoji. SET GLOBAL lasts until the server restarts: " +
			"put the my.cnf / my.ini lines in place too (MySQL 8 may use SET PERSIST instead)."
		f.FixSQL = "SET GLOBAL character_set_server = 'utf8mb4';\nSET GLOBAL collation_server = 'utf8mb4_general_ci';"
		f.FixConfig = serverConfig
	}
	r.add(f)
	return nil
}

func checkDatabaseDefaults(ctx context.Context, conn *sql.Conn, r *Report) error {
	var cs, coll string
	err := conn.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()").
		Scan(&cs, &coll)
	if err != nil {
		return fmt.Errorf("check: database charset: %w", err)
	}
	f := Finding{ID: "database.charset", Detail: fmt.Sprintf("database %s: DEFAULT CHARACTER SET %s COLLATE %s", r.Database, cs, coll)}
	if isUTF8MB4(cs) {
		f.Status = SeverityOK
		f.Summary = "the database's default character set is utf8mb4 (" + coll + ")"
	} else {
		f.Status = SeverityFail
		f.Summary = "the database " + r.Database + " defaults to " + charsetName(cs)
		f.Detail += ". New tables get this default. ALTER DATABASE changes only the default: existing " +
			"tables keep their character set (see the table findings)."
		f.FixSQL = fmt.Sprintf("ALTER DATABASE %s CHARACTER SET utf8mb4 COLLATE %s;", quoteIdent(r.Database), wantCollation)
		f.FixConfig = serverConfig + "\n# character-set-server is the default of databases created later"
	}
	r.add(f)
	return nil
}

type tableInfo struct {
	name, collation, rowFormat string
	columns                    []columnInfo
	indexes                    []*indexInfo
}

type columnInfo struct {
	name, dataType, columnType string
	charset, collation         sql.NullString
	maxChars, maxBytes         sql.NullInt64
}

func (c columnInfo) isText() bool { return c.charset.Valid }

type indexInfo struct {
	name  string
	parts []indexPart
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
	rows, err = conn.QueryContext(ctx, "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "+
		"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN "+in+" ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX")
	if err != nil {
		return nil, fmt.Errorf("check: list indexes: %w", err)
	}
	for rows.Next() {
		var tn, in string
		var col sql.NullString // NULL for MySQL 8 functional key parts
		var p indexPart
		if err := rows.Scan(&tn, &in, &col, &p.subPart); err != nil {
			rows.Close()
			return nil, fmt.Errorf("check: list indexes: %w", err)
		}
		t := byName[tn]
		if t == nil || !col.Valid {
			continue
		}
		p.column = col.String
		if n := len(t.indexes); n == 0 || t.indexes[n-1].name != in {
			t.indexes = append(t.indexes, &indexInfo{name: in})
		}
		ix := t.indexes[len(t.indexes)-1]
		ix.parts = append(ix.parts, p)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("check: list indexes: %w", err)
	}
	return tables, nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
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

func isBinaryCharset(cs string) bool { return strings.EqualFold(cs, "binary") }

func (t *tableInfo) needsConversion() bool {
	return len(t.badColumns()) > 0 || !isUTF8MB4(charsetOf(t.collation))
}

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
// table were ROW_FORMAT=DYNAMIC.
func (t *tableInfo) keyProblems(dynamic bool) []keyProblem {
	limit := int64(limitDynamic)
	if !dynamic && compactFormat(t.rowFormat) {
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

func checkTablesMySQL(ctx context.Context, conn *sql.Conn, r *Report) error {
	tables, err := loadTables(ctx, conn)
	if err != nil {
		return err
	}
	for _, t := range tables {
		r.add(indexFinding(t))
		r.add(charsetFinding(t))
	}
	return nil
}

// indexFinding comes before charsetFinding on purpose: a conversion of a
// COMPACT table with a long index fails in a DBA's maintenance window with
// error 1071 (MySQL) or 1709 (MariaDB) unless the row format changes first.
func indexFinding(t *tableInfo) Finding {
	f := Finding{ID: "table." + t.name + ".index_length"}
	if !t.needsConversion() {
		f.Status = SeverityOK
		f.Summary = fmt.Sprintf("%s: already utf8mb4, its indexes fit (ROW_FORMAT=%s)", t.name, t.rowFormat)
		return f
	}
	probs := t.keyProblems(false)
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

func checkSQLMode(ctx context.Context, conn *sql.Conn, r *Report) error {
	var global, session string
	if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.sql_mode, @@SESSION.sql_mode").Scan(&global, &session); err != nil {
		return fmt.Errorf("check: sql_mode: %w", err)
	}
	f := Finding{ID: "sql_mode", Detail: fmt.Sprintf("global sql_mode=%q, this connection's sql_mode=%q", global, session)}
	if strictMode(global) && strictMode(session) {
		f.Status = SeverityOK
		f.Summary = "sql_mode is strict: a character a column cannot hold is refused (error 1366), not lost"
		r.add(f)
		return nil
	}
	f.Status = SeverityWarn
	f.Summary = "sql_mode is not strict: MySQL silently writes '?' for every character a column cannot hold"
	f.Detail += ". Without STRICT_TRANS_TABLES an emoji sent to a utf8mb3 or latin1 column is stored as '?' with only a warning, " +
		"so the data is lost without an error anywhere. Test the Java backend before turning strictness on: it may rely on silent truncation."
	mode := addStrict(global)
	f.FixSQL = "SET GLOBAL sql_mode = " + quoteString(mode) + ";"
	f.FixConfig = "[mysqld]\nsql_mode = " + mode
	r.add(f)
	return nil
}

func strictMode(mode string) bool {
	for _, m := range strings.Split(strings.ToUpper(mode), ",") {
		if m == "STRICT_TRANS_TABLES" || m == "STRICT_ALL_TABLES" {
			return true
		}
	}
	return false
}

func addStrict(mode string) string {
	if strings.TrimSpace(mode) == "" {
		return "STRICT_TRANS_TABLES"
	}
	return "STRICT_TRANS_TABLES," + mode
}

// checkRoundTrip writes the samples into a temporary copy of wx_user on
// this connection and reads them back by primary key, comparing bytes.
// Reading back WHERE nickname = ? would prove nothing: under
// utf8mb4_general_ci every 4-byte character compares equal to every other.
func checkRoundTrip(ctx context.Context, conn *sql.Conn, r *Report, mysql bool) error {
	f := Finding{ID: "roundtrip"}
	exists, err := tableExists(ctx, conn, tableUser, mysql)
	if err != nil {
		return err
	}
	tmp := checkTmpTable
	var create []string
	switch {
	case mysql && exists:
		create = []string{"CREATE TEMPORARY TABLE " + tmp + " LIKE " + tableUser}
	case mysql:
		create = []string{"CREATE TEMPORARY TABLE " + tmp + " (id INT NOT NULL PRIMARY KEY, username VARCHAR(63) NOT NULL, nickname VARCHAR(63) NOT NULL DEFAULT '') ENGINE=InnoDB"}
	case exists:
		create = []string{"CREATE TEMP TABLE " + tmp + " AS SELECT * FROM " + tableUser + " WHERE 0"}
	default:
		create = []string{"CREATE TEMP TABLE " + tmp + " (id INTEGER PRIMARY KEY, username TEXT NOT NULL, nickname TEXT NOT NULL DEFAULT '')"}
	}
	drop := "DROP TABLE IF EXISTS temp." + tmp
	if mysql {
		drop = "DROP TEMPORARY TABLE IF EXISTS " + tmp
	}
	if _, err := conn.ExecContext(ctx, drop); err != nil {
		return fmt.Errorf("check: round trip: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), drop) }()
	for _, s := range create {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			f.Status = SeverityFail
			f.Summary = "could not create a temporary table for the round trip"
			f.Detail = err.Error()
			r.add(f)
			return nil
		}
	}
	where := "a temporary copy of wx_user (CREATE TEMPORARY TABLE ... LIKE wx_user)"
	if !mysql {
		where = "a temporary copy of wx_user (CREATE TEMP TABLE ... AS SELECT * FROM wx_user WHERE 0)"
	}
	if !exists {
		where = "a temporary table with the database's default character set (wx_user does not exist yet)"
	}
	var lines []string
	failed := false
	for i, s := range roundTripSamples {
		id := i + 1
		if _, err := conn.ExecContext(ctx, "INSERT INTO "+tmp+" (id, username, nickname) VALUES (?, ?, ?)",
			id, fmt.Sprintf("oactl-check-%d", id), s); err != nil {
			failed = true
			lines = append(lines, fmt.Sprintf("%s (%d bytes): refused: %v", s, len(s), err))
			continue
		}
		var got []byte
		if err := conn.QueryRowContext(ctx, "SELECT nickname FROM "+tmp+" WHERE id = ?", id).Scan(&got); err != nil {
			return fmt.Errorf("check: round trip read: %w", err)
		}
		if !bytes.Equal(got, []byte(s)) {
			failed = true
			lines = append(lines, fmt.Sprintf("%s (% X): came back as % X", s, []byte(s), got))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s (%d bytes): identical", s, len(s)))
	}
	f.Detail = "through " + where + ", read back by primary key and compared byte for byte:\n" + strings.Join(lines, "\n")
	if failed {
		f.Status = SeverityFail
		f.Summary = "emoji do not survive a round trip through wx_user's columns"
		f.FixSQL = "-- apply the fixes of the charset findings above"
	} else {
		f.Status = SeverityOK
		f.Summary = "😀, 👨‍👩‍👧‍👦 and 𠜎 survive a round trip byte for byte"
	}
	r.add(f)
	return nil
}

func tableExists(ctx context.Context, conn *sql.Conn, name string, mysql bool) (bool, error) {
	q := "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
	if !mysql {
		q = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	}
	var n int
	if err := conn.QueryRowContext(ctx, q, name).Scan(&n); err != nil {
		return false, fmt.Errorf("check: look up table %s: %w", name, err)
	}
	return n > 0, nil
}

func checkSchema(ctx context.Context, r *Report, opts CheckOptions) error {
	if opts.Schema == nil {
		return nil
	}
	st, err := opts.Schema(ctx)
	if err != nil {
		return fmt.Errorf("check: schema version: %w", err)
	}
	f := Finding{ID: "schema.version", Detail: fmt.Sprintf("applied version %d, this binary's latest %d", st.Current, st.Latest)}
	switch {
	case len(st.Pending) > 0:
		f.Status = SeverityWarn
		f.Summary = fmt.Sprintf("%d migration step(s) pending: %s", len(st.Pending), strings.Join(st.Pending, ", "))
		f.FixSQL = "-- run: oactl migrate up"
	case st.Current > st.Latest:
		f.Status = SeverityWarn
		f.Summary = fmt.Sprintf("the schema (version %d) is newer than this binary knows (%d): upgrade oactl", st.Current, st.Latest)
	default:
		f.Status = SeverityOK
		f.Summary = fmt.Sprintf("the schema is at version %d, the latest", st.Current)
	}
	r.add(f)
	return nil
}

// checkSessionKeys samples the oldest and newest rows of wx_session by
// primary key: bounded work however large the table is, and it catches
// both keys stored before a secret was configured and keys stored after
// one was removed.
func checkSessionKeys(ctx context.Context, conn *sql.Conn, r *Report, mysql bool) error {
	exists, err := tableExists(ctx, conn, tableSession, mysql)
	if err != nil || !exists {
		return err
	}
	// A wx_session of another shape (no session_key) has nothing to say.
	if _, err := conn.ExecContext(ctx, "SELECT session_key FROM "+tableSession+" LIMIT 0"); err != nil {
		return nil //nolint:nilerr // the column is absent, not an error of the check
	}
	pk := "rowid"
	if mysql {
		var cols []string
		rows, err := conn.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.STATISTICS "+
			"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'", tableSession)
		if err != nil {
			return fmt.Errorf("check: wx_session key: %w", err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return fmt.Errorf("check: wx_session key: %w", err)
			}
			cols = append(cols, c)
		}
		if err := closeRows(rows); err != nil {
			return fmt.Errorf("check: wx_session key: %w", err)
		}
		if len(cols) != 1 {
			return nil // no single-column primary key to read by: leave the finding out
		}
		col := cols[0]
		pk = quoteIdent(col)
	}
	one := fmt.Sprintf("SELECT %s AS k, session_key FROM %s ORDER BY %s %%s LIMIT %d", pk, tableSession, pk, keySample)
	q := "SELECT k, session_key FROM (" + fmt.Sprintf(one, "ASC") + ") a UNION ALL SELECT k, session_key FROM (" + fmt.Sprintf(one, "DESC") + ") b"
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("check: sample wx_session: %w", err)
	}
	sampled, plain := 0, 0
	seen := map[string]bool{} // a small table shows the same rows at both ends
	for rows.Next() {
		// Read as bytes and look only at the prefix: the key itself is
		// never kept, printed or logged.
		var id string
		var k []byte
		if err := rows.Scan(&id, &k); err != nil {
			rows.Close()
			return fmt.Errorf("check: sample wx_session: %w", err)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		sampled++
		if len(k) > 0 && !bytes.HasPrefix(k, []byte(sealPrefix)) {
			plain++
		}
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("check: sample wx_session: %w", err)
	}
	f := Finding{ID: "session_keys"}
	switch {
	case sampled == 0:
		f.Status = SeverityOK
		f.Summary = "wx_session is empty: no session keys stored"
	case plain == 0:
		f.Status = SeverityOK
		f.Summary = "the sampled session keys are encrypted (v1: sealed)"
		f.Detail = fmt.Sprintf("%d rows sampled (the oldest and newest %d by primary key)", sampled, keySample)
	default:
		f.Status = SeverityWarn
		f.Summary = "session keys are stored unencrypted: anyone who reads the database can decrypt users' WeChat data"
		f.Detail = fmt.Sprintf("%d of %d sampled rows (the oldest and newest %d by primary key) hold a session_key without the v1: seal. "+
			"Start serve with a session-key secret; keys already stored stay plain until those sessions expire and are purged "+
			"(oactl sessions purge), or revoke them so users log in again.", plain, sampled, keySample)
		f.FixConfig = "# oactl serve: --session-key-secret, or in the environment:\nOA_SESSION_KEY_SECRET=<a long random secret, kept out of the repository>"
	}
	r.add(f)
	return nil
}
