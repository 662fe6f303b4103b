package doctor

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db/migrate"
	"github.com/oactl/oactl/internal/dbtest"

	_ "modernc.org/sqlite" // the SQLite driver
)

// seedDDL is the seed write-up's CREATE TABLE wx_user, byte for byte.
func seedDDL(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/seed_wx_user.sql")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// rawMySQL opens the database of a mysql:// URL with go-sql-driver
// directly and pins one connection, as the check does.
func rawMySQL(t testing.TB, url string) (*sql.DB, *sql.Conn) {
	t.Helper()
	pool, err := sql.Open("mysql", dbtest.DriverDSN(t, url, true)+"&collation=utf8mb4_general_ci&interpolateParams=true")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	conn, err := pool.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pool, conn
}

func mustExec(t testing.TB, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := q.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func runCheck(t testing.TB, conn *sql.Conn) *Report {
	t.Helper()
	r, err := CheckMySQL(context.Background(), conn, Options{})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return r
}

func want(t *testing.T, r *Report, id string, s Severity, contains ...string) *Finding {
	t.Helper()
	f := r.Find(id)
	if f == nil {
		t.Fatalf("no finding %s in %s", id, dump(r))
	}
	if f.Status != s {
		t.Fatalf("%s: status %s, want %s: %+v", id, f.Status, s, *f)
	}
	text := f.Summary + "\n" + f.Detail
	for _, c := range contains {
		if !strings.Contains(text, c) {
			t.Errorf("%s: %q does not mention %q", id, text, c)
		}
	}
	return f
}

func dump(r *Report) string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}

func indexOf(r *Report, id string) int {
	for i, f := range r.Findings {
		if f.ID == id {
			return i
		}
	}
	return -1
}

// applyFixes runs the fix SQL of every failing finding, as a DBA would
// paste it.
func applyFixes(t *testing.T, conn *sql.Conn, r *Report) {
	t.Helper()
	for _, f := range r.Findings {
		if f.Status != SeverityFail {
			continue
		}
		for _, line := range strings.Split(f.FixSQL, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "--") {
				continue
			}
			mustExec(t, conn, line)
		}
	}
}

func TestCheckHealthyMySQL(t *testing.T) {
	_, conn := rawMySQL(t, dbtest.MySQL(t))
	mustExec(t, conn, seedDDL(t))
	r := runCheck(t, conn)
	if r.Failed() {
		t.Fatalf("a seed-made wx_user on a utf8mb4 server fails: %s", dump(r))
	}
	want(t, r, "connection.charset", SeverityOK, "utf8mb4")
	want(t, r, "database.charset", SeverityOK)
	want(t, r, "table.wx_user.charset", SeverityOK)
	want(t, r, "table.wx_user.index_length", SeverityOK)
	want(t, r, "roundtrip", SeverityOK, "identical", "👨‍👩‍👧‍👦")
	if r.Find("session_keys") != nil {
		t.Error("session_keys finding without a wx_session table")
	}
	// The temporary table is gone and wx_user untouched.
	var n int
	if err := conn.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM wx_user").Scan(&n); err != nil || n != 0 {
		t.Fatalf("wx_user rows after check: %d, %v", n, err)
	}
	if _, err := conn.ExecContext(context.Background(), "SELECT 1 FROM "+checkTmpTable); err == nil {
		t.Error("the temporary table survived the check")
	}
}

// A wx_user of utf8 (utf8mb3) columns in COMPACT format with a long
// index: the columns are named, the index is named before the conversion
// is suggested, and the printed fix works.
func TestCheckUTF8Columns(t *testing.T) {
	_, conn := rawMySQL(t, dbtest.MySQL(t))
	mustExec(t, conn, "CREATE TABLE wx_user (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, "+
		"username VARCHAR(63) CHARACTER SET utf8 COLLATE utf8_general_ci NOT NULL, "+
		"nickname VARCHAR(63) CHARACTER SET utf8 COLLATE utf8_general_ci NOT NULL DEFAULT '', "+
		"avatar VARCHAR(255) CHARACTER SET utf8 NOT NULL DEFAULT '', "+
		"mobile VARCHAR(20) CHARACTER SET utf8mb4 NOT NULL DEFAULT '', "+
		"KEY idx_avatar (avatar)) ENGINE=InnoDB DEFAULT CHARSET=utf8 ROW_FORMAT=COMPACT",
		"INSERT INTO wx_user (username, nickname) VALUES ('u1', 'plain')")
	r := runCheck(t, conn)
	if !r.Failed() {
		t.Fatalf("utf8 columns pass: %s", dump(r))
	}
	cs := want(t, r, "table.wx_user.charset", SeverityFail, "username", "nickname", "avatar")
	if strings.Contains(cs.Summary, "mobile") {
		t.Errorf("the utf8mb4 column is named: %s", cs.Summary)
	}
	want(t, r, "table.wx_user.index_length", SeverityFail, "idx_avatar", "1020", "767", "Compact")
	if i, j := indexOf(r, "table.wx_user.index_length"), indexOf(r, "table.wx_user.charset"); i > j {
		t.Errorf("index length (%d) comes after the conversion (%d)", i, j)
	}
	if !strings.Contains(cs.FixSQL, "ROW_FORMAT=DYNAMIC") || !strings.Contains(cs.FixSQL, "CONVERT TO CHARACTER SET utf8mb4") {
		t.Errorf("conversion fix does not change the row format: %q", cs.FixSQL)
	}
	want(t, r, "roundtrip", SeverityFail, "refused") // the test server is strict: error 1366

	// The conversion as naively written fails exactly as predicted.
	if _, err := conn.ExecContext(context.Background(), "ALTER TABLE wx_user CONVERT TO CHARACTER SET utf8mb4"); err == nil ||
		!(strings.Contains(err.Error(), "1071") || strings.Contains(err.Error(), "1709")) {
		t.Fatalf("naive conversion: %v, want error 1071 or 1709", err)
	}
	applyFixes(t, conn, r)
	r = runCheck(t, conn)
	if r.Failed() {
		t.Fatalf("after the printed fixes: %s", dump(r))
	}
	want(t, r, "roundtrip", SeverityOK)
	var nick string
	if err := conn.QueryRowContext(context.Background(), "SELECT nickname FROM wx_user WHERE username = 'u1'").Scan(&nick); err != nil || nick != "plain" {
		t.Fatalf("row after conversion: %q %v", nick, err)
	}
}

// An index too long even for DYNAMIC is named, and no conversion that
// would fail is printed without a warning.
func TestCheckIndexTooLongForAnyFormat(t *testing.T) {
	_, conn := rawMySQL(t, dbtest.MySQL(t))
	mustExec(t, conn, "CREATE TABLE wx_user (id INT NOT NULL PRIMARY KEY, username VARCHAR(63) CHARACTER SET latin1 NOT NULL, "+
		"nickname VARCHAR(1000) CHARACTER SET latin1 NOT NULL DEFAULT '', KEY idx_nick (nickname)) ENGINE=InnoDB ROW_FORMAT=DYNAMIC")
	r := runCheck(t, conn)
	ix := want(t, r, "table.wx_user.index_length", SeverityFail, "idx_nick", "4000", "any row format")
	if !strings.HasPrefix(ix.FixSQL, "--") {
		t.Errorf("fix SQL for an impossible conversion is not a comment: %q", ix.FixSQL)
	}
	cs := want(t, r, "table.wx_user.charset", SeverityFail, "nickname", "latin1")
	if !strings.HasPrefix(cs.FixSQL, "-- first shorten") {
		t.Errorf("conversion suggested without naming the index first: %q", cs.FixSQL)
	}
}

func TestCheckLatin1Server(t *testing.T) {
	url := dbtest.StartMariaDB(t, "--latin1")
	_, conn := rawMySQL(t, url)
	mustExec(t, conn, seedDDL(t))
	r := runCheck(t, conn)
	want(t, r, "server.charset", SeverityFail, "latin1")
	want(t, r, "database.charset", SeverityFail, "latin1", "oactl")
	// The seed's DDL names utf8mb4 itself, so its table is fine.
	want(t, r, "table.wx_user.charset", SeverityOK)
	want(t, r, "roundtrip", SeverityOK)
	applyFixes(t, conn, r)
	// A new connection sees the new global defaults, as a restart with the
	// my.cnf lines would.
	_, conn2 := rawMySQL(t, url)
	r = runCheck(t, conn2)
	if r.Failed() {
		t.Fatalf("after the printed fixes: %s", dump(r))
	}
}

func TestCheckNonStrictSQLMode(t *testing.T) {
	url := dbtest.StartMariaDB(t, "--sql-mode=")
	_, conn := rawMySQL(t, url)
	mustExec(t, conn, strings.Replace(seedDDL(t), "`nickname` varchar(63) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
		"`nickname` varchar(63) CHARACTER SET utf8 COLLATE utf8_general_ci", 1))
	r := runCheck(t, conn)
	f := want(t, r, "sql_mode", SeverityWarn, "'?'")
	if !strings.Contains(f.FixSQL, "STRICT_TRANS_TABLES") || !strings.Contains(f.FixConfig, "sql_mode = STRICT_TRANS_TABLES") {
		t.Errorf("sql_mode fix: %+v", f)
	}
	// Non-strict: the emoji is silently stored as '?', which only a byte
	// comparison notices.
	want(t, r, "roundtrip", SeverityFail, "came back as 3F")
	want(t, r, "table.wx_user.charset", SeverityFail, "nickname")
	applyFixes(t, conn, r)
	mustExec(t, conn, f.FixSQL)
	_, conn2 := rawMySQL(t, url)
	r = runCheck(t, conn2)
	want(t, r, "sql_mode", SeverityOK)
	if r.Failed() {
		t.Fatalf("after the printed fixes: %s", dump(r))
	}
}

func TestCheckSessionKeys(t *testing.T) {
	_, conn := rawMySQL(t, dbtest.MySQL(t))
	mustExec(t, conn, seedDDL(t), "CREATE TABLE wx_session (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, token_hash CHAR(64) NOT NULL, "+
		"session_key VARCHAR(255) NOT NULL DEFAULT '') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	r := runCheck(t, conn)
	want(t, r, "session_keys", SeverityOK, "empty")
	mustExec(t, conn, "INSERT INTO wx_session (token_hash, session_key) VALUES ('a', 'v2:k1:AAAA'), ('b', 'v2:k1:BBBB')")
	r = runCheck(t, conn)
	want(t, r, "session_keys", SeverityOK, "encrypted")
	// A key sealed by an older release (SHA-256 derivation) asks for a rekey.
	mustExec(t, conn, "UPDATE wx_session SET session_key = 'v1:k0:CCCC' WHERE token_hash = 'b'")
	r = runCheck(t, conn)
	want(t, r, "session_keys", SeverityWarn, "1 of 2 sampled rows")
	mustExec(t, conn, "UPDATE wx_session SET session_key = 'v2:k1:BBBB' WHERE token_hash = 'b'")
	const secret = "tiihtNczf5v6AKRyjwEUhQ=="
	mustExec(t, conn, "INSERT INTO wx_session (token_hash, session_key) VALUES ('c', '"+secret+"')")
	r = runCheck(t, conn)
	want(t, r, "session_keys", SeverityWarn, "1 of 3 sampled rows")
	if strings.Contains(dump(r), secret) {
		t.Fatal("the report contains a session key")
	}
}

func TestCheckSQLite(t *testing.T) {
	dsn := strings.TrimPrefix(dbtest.SQLite(t), "sqlite:")
	pool, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r, err := CheckSQLite(ctx, conn, Options{Schema: &migrate.Status{
		SchemaState: auth.SchemaState{Current: 1, Required: 3},
		Steps: []migrate.StepStatus{
			{Step: migrate.Step{Version: 1, Name: "u"}, Applied: true},
			{Step: migrate.Step{Version: 2, Name: "wx_session"}},
			{Step: migrate.Step{Version: 3, Name: "x"}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want(t, r, "roundtrip", SeverityOK, "does not exist yet")
	want(t, r, "schema.version", SeverityWarn, "2 migration step(s) pending")
	if r.Failed() {
		t.Fatal(dump(r))
	}
	mustExec(t, conn, "CREATE TABLE wx_user (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL, nickname TEXT NOT NULL DEFAULT '')",
		"CREATE TABLE wx_session (id INTEGER PRIMARY KEY, session_key TEXT NOT NULL)",
		"INSERT INTO wx_session (session_key) VALUES ('plainkey')")
	r, err = CheckSQLite(ctx, conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, r, "roundtrip", SeverityOK, "temporary copy of wx_user")
	want(t, r, "session_keys", SeverityWarn)
	if r.Find("schema.version") != nil {
		t.Error("schema finding without a schema reporter")
	}
}

func TestCharsetOf(t *testing.T) {
	for coll, cs := range map[string]string{
		"utf8mb4_general_ci": "utf8mb4", "utf8mb4_0900_ai_ci": "utf8mb4", "uca1400_ai_ci": "utf8mb4",
		"utf8mb4_uca1400_ai_ci": "utf8mb4", "utf8_general_ci": "utf8", "utf8mb3_general_ci": "utf8mb3",
		"latin1_swedish_ci": "latin1", "binary": "binary",
	} {
		if got := charsetOf(coll); got != cs {
			t.Errorf("charsetOf(%q) = %q, want %q", coll, got, cs)
		}
	}
	for mode, strict := range map[string]bool{"": false, "STRICT_TRANS_TABLES": true, "NO_ENGINE_SUBSTITUTION,STRICT_ALL_TABLES": true,
		"NO_ZERO_DATE": false, "strict_trans_tables": true} {
		if strictMode(mode) != strict {
			t.Errorf("strictMode(%q) != %v", mode, strict)
		}
	}
	if got := addStrict(""); got != "STRICT_TRANS_TABLES" {
		t.Errorf("addStrict empty = %q", got)
	}
}
