package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/doctor"
	"github.com/oactl/oactl/internal/db/migrate"
	"github.com/oactl/oactl/internal/dbtest"
)

// runOactl runs oactl in-process with env as its environment.
func runOactl(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	s, out, errb := testStdio(env)
	code := run(args, s)
	return code, out.String(), errb.String()
}

func TestMigrateFlags(t *testing.T) {
	parse := func(env map[string]string, args ...string) (*migrateOptions, error) {
		s, _, _ := testStdio(env)
		var got *migrateOptions
		cmd := newMigrateCmd(&factory{io: s}, func(o *migrateOptions) error { got = o; return nil })
		cmd.SetArgs(args)
		cmd.SetOut(s.Out)
		cmd.SetErr(s.Err)
		err := cmd.Execute()
		return got, err
	}
	o, err := parse(nil, "up", "--to", "2", "--dry-run", "--db", "sqlite:/x.db", "--lock-timeout", "5s", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if o.Action != "up" || o.To != 2 || !o.ToSet || !o.DryRun || o.DSN != "sqlite:/x.db" || o.LockTimeout != 5*time.Second || !o.JSON {
		t.Errorf("up flags: %+v", o)
	}
	if o.Open == nil {
		t.Error("no lazy Open")
	}
	o, err = parse(nil, "status")
	if err != nil || o.DSN != db.DefaultDSN || o.LockTimeout != migrate.DefaultLockTimeout || o.ToSet || o.JSON {
		t.Errorf("defaults: %+v %v", o, err)
	}
	o, err = parse(map[string]string{"OA_DB": "sqlite:/env.db"}, "check")
	if err != nil || o.DSN != "sqlite:/env.db" || o.Action != "check" {
		t.Errorf("OA_DB: %+v %v", o, err)
	}
	o, err = parse(map[string]string{"OA_DB": "sqlite:/env.db"}, "check", "--db", "sqlite:/flag.db")
	if err != nil || o.DSN != "sqlite:/flag.db" {
		t.Errorf("flag over env: %+v %v", o, err)
	}
	cfg := filepath.Join(t.TempDir(), "application.yml")
	if err := os.WriteFile(cfg, []byte("spring:\n  datasource: {url: x}\noa:\n  db: sqlite:/yaml.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err = parse(map[string]string{"OA_CONFIG": cfg}, "status")
	if err != nil || o.DSN != "sqlite:/yaml.db" {
		t.Errorf("config file: %+v %v", o, err)
	}
	o, err = parse(nil, "down", "--to", "2", "--yes")
	if err != nil || o.Action != "down" || o.To != 2 || !o.Yes {
		t.Errorf("down: %+v %v", o, err)
	}
	if o, err = parse(nil, "down", "--to", "1", "--dry-run"); err != nil || !o.DryRun {
		t.Errorf("down --dry-run needs no --yes: %+v %v", o, err)
	}
}

func TestMigrateUsageErrors(t *testing.T) {
	cfgDir := t.TempDir()
	for _, args := range [][]string{
		{"migrate"},
		{"migrate", "sideways"},
		{"migrate", "status", "extra"},
		{"migrate", "down", "--to", "2"}, // no --yes
		{"migrate", "down", "--yes"},     // no --to
		{"migrate", "up", "--to", "-1"},  // out of range
		{"migrate", "up", "--to", "99"},  // no such step
		{"migrate", "up", "--to", "two"}, // not a number
		{"migrate", "up", "--lock-timeout", "0s"},
		{"migrate", "up", "--lock-timeout", "2h"},
		{"migrate", "check", "--bogus"},
		{"migrate", "check", "--config", filepath.Join(cfgDir, "missing.yml")},
	} {
		dsn := dbtest.SQLite(t)
		code, _, errb := runOactl(t, nil, append(args, "--db", dsn)...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb)
		}
		// A usage error never creates the database.
		if _, err := os.Stat(strings.TrimPrefix(dsn, "sqlite:")); err == nil {
			t.Errorf("%v: the database file was created", args)
		}
	}
	code, _, errb := runOactl(t, nil, "migrate", "down", "--to", "2", "--db", dbtest.SQLite(t))
	if code != exitUsage || !strings.Contains(errb, "--yes") {
		t.Errorf("down without --yes: exit %d, %q", code, errb)
	}
}

// statusShape decodes `migrate status --json` strictly.
type statusShape struct {
	Dialect   string `json:"dialect"`
	Current   int    `json:"current"`
	Latest    int    `json:"latest"`
	Pending   []int  `json:"pending"`
	Adoptable bool   `json:"adoptable"`
	Steps     []struct {
		Version   int        `json:"version"`
		Name      string     `json:"name"`
		Applied   bool       `json:"applied"`
		AppliedAt *time.Time `json:"appliedAt"`
		HasDown   bool       `json:"hasDown"`
	} `json:"steps"`
}

type checkShape struct {
	Dialect  string `json:"dialect"`
	Server   string `json:"server"`
	Database string `json:"database"`
	OK       bool   `json:"ok"`
	Counts   struct {
		OK   int `json:"ok"`
		Warn int `json:"warn"`
		Fail int `json:"fail"`
	} `json:"counts"`
	Findings []doctor.Finding `json:"findings"`
}

func decodeStrict(t *testing.T, text string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("JSON %q: %v", text, err)
	}
}

// keysOf returns the sorted keys of a JSON object, to pin the shapes.
func keysOf(t *testing.T, text string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("JSON %q: %v", text, err)
	}
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func (c checkShape) find(id string) *doctor.Finding {
	for i := range c.Findings {
		if c.Findings[i].ID == id {
			return &c.Findings[i]
		}
	}
	return nil
}

func TestMigrateSQLite(t *testing.T) {
	dsn := dbtest.SQLite(t)
	path := strings.TrimPrefix(dsn, "sqlite:")
	// A file that does not exist: the commands that change nothing create
	// nothing (SPEC §8); a dry run plans against an empty database.
	for _, args := range [][]string{{"status"}, {"check"}, {"down", "--to", "1", "--yes"}} {
		code, out, errb := runOactl(t, nil, append(append([]string{"migrate"}, args...), "--db", dsn)...)
		if code != exitFailure || !strings.Contains(errb, path+" does not exist") || !strings.Contains(errb, "oactl migrate up --db "+dsn) || strings.Count(errb, "\n") != 1 {
			t.Errorf("%v on a missing file: exit %d, want 1 naming the file and migrate up in one line\nout %s\nerr %s", args, code, out, errb)
		}
	}
	code, out, errb := runOactl(t, nil, "migrate", "up", "--dry-run", "--db", dsn)
	if code != 0 || !strings.Contains(out, "CREATE TABLE") || !strings.Contains(out, "would be applied: 1, 2, 3") || !strings.Contains(errb, "nothing is created") {
		t.Errorf("dry run on a missing file: exit %d\n%s\n%s", code, out, errb)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a command that changes nothing created %s: %v", path, err)
	}
	// An empty file is an empty SQLite database.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errb = runOactl(t, nil, "migrate", "status", "--json", "--db", dsn)
	if code != exitProblems {
		t.Fatalf("status of an empty database: exit %d, want 3: %s", code, errb)
	}
	if got := keysOf(t, out); !reflect.DeepEqual(got, []string{"adoptable", "current", "dialect", "latest", "pending", "steps"}) {
		t.Errorf("status keys %v", got)
	}
	var st statusShape
	decodeStrict(t, out, &st)
	if st.Dialect != "sqlite" || st.Current != 0 || st.Latest != db.SchemaVersion || !slices.Equal(st.Pending, []int{1, 2, 3, 4, 5}) ||
		len(st.Steps) != db.SchemaVersion || st.Steps[0].HasDown || st.Steps[0].AppliedAt != nil {
		t.Errorf("status: %+v", st)
	}

	code, out, _ = runOactl(t, nil, "migrate", "up", "--dry-run", "--db", dsn)
	if code != 0 || !strings.Contains(out, "CREATE TABLE") || !strings.Contains(out, "would be applied: 1, 2, 3, 4, 5") {
		t.Errorf("dry run: exit %d\n%s", code, out)
	}
	if code, _, _ = runOactl(t, nil, "migrate", "status", "--db", dsn); code != exitProblems {
		t.Errorf("the dry run changed something: status exit %d", code)
	}
	code, out, errb = runOactl(t, nil, "migrate", "up", "--to", "2", "--json", "--db", dsn)
	if code != 0 {
		t.Fatalf("up --to 2: exit %d %s", code, errb)
	}
	var steps stepsResult
	decodeStrict(t, out, &steps)
	if steps.Action != "up" || steps.DryRun || !slices.Equal(steps.Applied, []int{1, 2}) {
		t.Errorf("up --to 2 --json: %+v", steps)
	}
	code, out, _ = runOactl(t, nil, "migrate", "status", "--db", dsn)
	if code != exitProblems || !strings.Contains(out, "schema version 2 of 5") || !strings.Contains(out, "create_wx_session") {
		t.Errorf("status at 2: exit %d\n%s", code, out)
	}
	// check warns about the pending step but passes.
	code, out, _ = runOactl(t, nil, "migrate", "check", "--json", "--db", dsn)
	if code != 0 {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	var c checkShape
	decodeStrict(t, out, &c)
	if got := keysOf(t, out); !reflect.DeepEqual(got, []string{"counts", "database", "dialect", "findings", "ok", "server"}) {
		t.Errorf("check keys %v", got)
	}
	if !c.OK || c.Dialect != "sqlite" || c.find("roundtrip") == nil || c.find("roundtrip").Status != doctor.SeverityOK ||
		c.find("schema.version") == nil || c.find("schema.version").Status != doctor.SeverityWarn || c.Counts.Warn != 1 {
		t.Errorf("check: %+v", c)
	}
	var one map[string]json.RawMessage
	raw, _ := json.Marshal(c.Findings[0])
	_ = json.Unmarshal(raw, &one)
	for _, k := range []string{"id", "status", "summary", "detail", "fixSQL", "fixConfig"} {
		if _, ok := one[k]; !ok {
			t.Errorf("finding without %q: %s", k, raw)
		}
	}

	if code, out, _ = runOactl(t, nil, "migrate", "up", "--db", dsn); code != 0 || !strings.Contains(out, "applied: 3, 4, 5") {
		t.Errorf("up: exit %d %s", code, out)
	}
	if code, out, _ = runOactl(t, nil, "migrate", "up", "--db", dsn); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("second up: exit %d %s", code, out)
	}
	if code, _, _ = runOactl(t, nil, "migrate", "status", "--db", dsn); code != 0 {
		t.Errorf("status after up: exit %d", code)
	}
	// down: the session step warns; the wx_user step has no down.
	code, out, errb = runOactl(t, nil, "migrate", "down", "--to", "2", "--dry-run", "--db", dsn)
	if code != 0 || !strings.Contains(errb, "logged out") || !strings.Contains(out, "-- WARNING: dropping wx_session logs everyone out") ||
		!strings.Contains(out, "DROP TABLE") || !strings.Contains(out, "would be reverted: 5, 4, 3") {
		t.Errorf("down --to 2 --dry-run: exit %d\nout %s\nerr %s", code, out, errb)
	}
	code, out, errb = runOactl(t, nil, "migrate", "down", "--to", "2", "--yes", "--db", dsn)
	if code != 0 || !strings.Contains(errb, "logged out") || !strings.Contains(out, "reverted: 5, 4, 3") || !strings.Contains(out, "logs everyone out") {
		t.Errorf("down --to 2: exit %d\nout %s\nerr %s", code, out, errb)
	}
	if code, _, errb = runOactl(t, nil, "migrate", "down", "--to", "0", "--yes", "--db", dsn); code != exitUsage || !strings.Contains(errb, "no down") {
		t.Errorf("down --to 0: exit %d %s", code, errb)
	}
	if code, _, _ = runOactl(t, nil, "migrate", "status", "--db", dsn); code != exitProblems {
		t.Errorf("status after down: exit %d", code)
	}
}

func TestMigrateBadDatabase(t *testing.T) {
	const pw = "s3cretPassw0rd"
	code, out, errb := runOactl(t, nil, "migrate", "status", "--db", "mysql://oactl:"+pw+"@127.0.0.1:1/oactl")
	if code != exitFailure {
		t.Errorf("unreachable server: exit %d", code)
	}
	if strings.Contains(out+errb, pw) {
		t.Errorf("the DSN password is printed: %s", errb)
	}
	code, _, _ = runOactl(t, nil, "migrate", "check", "--db", "postgres://x")
	if code != exitFailure && code != exitUsage {
		t.Errorf("unknown scheme: exit %d", code)
	}
}

// --- MariaDB acceptance ---

func sqlOpen(t *testing.T, url string) *sql.DB {
	t.Helper()
	d, err := sql.Open("mysql", dbtest.DriverDSN(t, url, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func execAll(t *testing.T, d *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.Exec(s); err != nil {
			t.Fatalf("%.200s: %v", s, err)
		}
	}
}

func seedDDL(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "db", "doctor", "testdata", "seed_wx_user.sql"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// applyCheckFixes runs the fix SQL of every failing finding, as a DBA
// would paste it from `migrate check`.
func applyCheckFixes(t *testing.T, d *sql.DB, c checkShape) {
	t.Helper()
	for _, f := range c.Findings {
		if f.Status != doctor.SeverityFail {
			continue
		}
		for _, line := range strings.Split(f.FixSQL, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "--") {
				execAll(t, d, line)
			}
		}
	}
}

func TestMigrateCheckLatin1Server(t *testing.T) {
	url := dbtest.StartMariaDB(t, "--latin1")
	code, out, errb := runOactl(t, nil, "migrate", "check", "--db", url)
	if code != exitProblems {
		t.Fatalf("latin1 server: exit %d, want 3\n%s%s", code, out, errb)
	}
	for _, want := range []string{"FAIL  server.charset", "FAIL  database.charset", "latin1", "SET GLOBAL character_set_server", "ALTER DATABASE `oactl`", "character-set-server = utf8mb4"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runOactl(t, nil, "migrate", "check", "--json", "--db", url)
	var c checkShape
	decodeStrict(t, out, &c)
	if code != exitProblems || c.OK || c.Counts.Fail < 2 {
		t.Fatalf("check --json: exit %d %+v", code, c)
	}
	applyCheckFixes(t, sqlOpen(t, url), c)
	code, out, _ = runOactl(t, nil, "migrate", "check", "--db", url)
	if code != 0 {
		t.Fatalf("after the printed fixes: exit %d\n%s", code, out)
	}
	if code, out, errb = runOactl(t, nil, "migrate", "up", "--db", url); code != 0 {
		t.Fatalf("up: %d %s %s", code, out, errb)
	}
	if code, out, _ = runOactl(t, nil, "migrate", "check", "--db", url); code != 0 || strings.Contains(out, "WARN") {
		t.Fatalf("after up: exit %d\n%s", code, out)
	}
}

func TestMigrateCheckUTF8Table(t *testing.T) {
	url := dbtest.MySQL(t)
	d := sqlOpen(t, url)
	ddl := seedDDL(t)
	for _, col := range []string{"nickname", "avatar"} {
		ddl = strings.Replace(ddl, "`"+col+"` varchar(63) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", "`"+col+"` varchar(63) CHARACTER SET utf8 COLLATE utf8_general_ci", 1)
		ddl = strings.Replace(ddl, "`"+col+"` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", "`"+col+"` varchar(255) CHARACTER SET utf8 COLLATE utf8_general_ci", 1)
	}
	execAll(t, d, ddl, "CREATE INDEX idx_avatar ON wx_user (avatar)")
	code, out, _ := runOactl(t, nil, "migrate", "check", "--json", "--db", url)
	var c checkShape
	decodeStrict(t, out, &c)
	if code != exitProblems {
		t.Fatalf("exit %d\n%s", code, out)
	}
	cs := c.find("table.wx_user.charset")
	if cs == nil || cs.Status != doctor.SeverityFail || !strings.Contains(cs.Summary, "nickname, avatar") {
		t.Fatalf("charset finding: %+v", cs)
	}
	ix := c.find("table.wx_user.index_length")
	if ix == nil || ix.Status != doctor.SeverityFail || !strings.Contains(ix.Summary, "idx_avatar") {
		t.Fatalf("index finding: %+v", ix)
	}
	ixAt, csAt := slices.IndexFunc(c.Findings, func(f doctor.Finding) bool { return f.ID == ix.ID }), slices.IndexFunc(c.Findings, func(f doctor.Finding) bool { return f.ID == cs.ID })
	if ixAt > csAt {
		t.Error("the conversion is suggested before the index that blocks it is named")
	}
	if rt := c.find("roundtrip"); rt == nil || rt.Status != doctor.SeverityFail {
		t.Errorf("roundtrip: %+v", rt)
	}
	// The same wx_user is not adopted: it differs from the seed's.
	code, _, errb := runOactl(t, nil, "migrate", "up", "--db", url)
	if code != exitFailure || !strings.Contains(errb, "column nickname") || !strings.Contains(errb, "column avatar") {
		t.Errorf("up on a differing wx_user: exit %d\n%s", code, errb)
	}
}

func TestMigrateCheckNonStrictServer(t *testing.T) {
	url := dbtest.StartMariaDB(t, "--sql-mode=")
	code, out, errb := runOactl(t, nil, "migrate", "up", "--db", url)
	if code != 0 {
		t.Fatalf("up: %d %s %s", code, out, errb)
	}
	code, out, _ = runOactl(t, nil, "migrate", "check", "--db", url)
	if code != 0 || !strings.Contains(out, "WARN  sql_mode") || !strings.Contains(out, "silently writes '?'") {
		t.Errorf("sql_mode='' must warn, not fail: exit %d\n%s", code, out)
	}
}

func checksum(t *testing.T, d *sql.DB) (rows int, sum int64) {
	t.Helper()
	if err := d.QueryRow("SELECT COUNT(*) FROM wx_user").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := d.QueryRow("CHECKSUM TABLE wx_user").Scan(&name, &sum); err != nil {
		t.Fatal(err)
	}
	return rows, sum
}

// fillSeedUsers inserts n rows the way the Java backend would have, every
// seventh with an emoji nickname.
func fillSeedUsers(t testing.TB, d *sql.DB, n int) {
	t.Helper()
	const batch = 1000
	for start := 0; start < n; start += batch {
		var b strings.Builder
		b.WriteString("INSERT INTO wx_user (username, password, gender, last_login_time, last_login_ip, nickname, avatar, weixin_openid, add_time, update_time) VALUES ")
		for i := start; i < min(n, start+batch); i++ {
			if i > start {
				b.WriteByte(',')
			}
			nick := fmt.Sprintf("用户%d", i)
			if i%7 == 0 {
				nick = fmt.Sprintf("👨‍👩‍👧‍👦%d😀𠜎", i)
			}
			fmt.Fprintf(&b, "('o%027d', '', %d, '2024-02-20 10:00:00', '10.0.0.1', '%s', 'https://thirdwx.qlogo.cn/%d/132', 'o%027d', '2024-02-20 09:00:00', '2024-02-20 10:00:00')",
				i, i%3, nick, i, i)
		}
		if _, err := d.Exec(b.String()); err != nil {
			t.Fatalf("fill wx_user: %v", err)
		}
	}
}

func TestMigrateAdoptSeedTable(t *testing.T) {
	url := dbtest.MySQL(t)
	d := sqlOpen(t, url)
	execAll(t, d, seedDDL(t))
	fillSeedUsers(t, d, 10000)
	rows, sum := checksum(t, d)

	code, out, _ := runOactl(t, nil, "migrate", "status", "--json", "--db", url)
	var st statusShape
	decodeStrict(t, out, &st)
	if code != exitProblems || !st.Adoptable || st.Current != 0 {
		t.Fatalf("status before adoption: exit %d %+v", code, st)
	}
	code, out, errb := runOactl(t, nil, "migrate", "up", "--db", url)
	if code != 0 || !strings.Contains(out, "adopted") {
		t.Fatalf("up: exit %d\n%s\n%s", code, out, errb)
	}
	if r2, s2 := checksum(t, d); r2 != rows || s2 != sum {
		t.Fatalf("adoption changed wx_user: %d rows, checksum %d; before %d rows, checksum %d", r2, s2, rows, sum)
	}
	if code, _, _ = runOactl(t, nil, "migrate", "status", "--db", url); code != 0 {
		t.Errorf("status after adoption: exit %d", code)
	}
	var nick string
	if err := d.QueryRow("SELECT nickname FROM wx_user WHERE username = ?", fmt.Sprintf("o%027d", 7)).Scan(&nick); err != nil || nick != "👨‍👩‍👧‍👦7😀𠜎" {
		t.Errorf("emoji row after adoption: %q %v", nick, err)
	}
	code, out, _ = runOactl(t, nil, "migrate", "check", "--db", url)
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Errorf("check of an adopted seed database: exit %d\n%s", code, out)
	}
}

func TestMigrateAdoptDifferingTable(t *testing.T) {
	url := dbtest.MySQL(t)
	d := sqlOpen(t, url)
	ddl := strings.Replace(seedDDL(t), "`mobile` varchar(20)", "`mobile` varchar(32)", 1)
	ddl = strings.Replace(ddl, ",`share_user_id` int(11) NULL DEFAULT NULL", "", 1)
	execAll(t, d, ddl)
	fillSeedUsers(t, d, 100)
	rows, sum := checksum(t, d)
	code, out, errb := runOactl(t, nil, "migrate", "up", "--db", url)
	if code != exitFailure {
		t.Fatalf("up on a differing wx_user: exit %d\n%s", code, out)
	}
	for _, want := range []string{"column mobile", "varchar(32)", "column share_user_id: missing"} {
		if !strings.Contains(errb, want) {
			t.Errorf("the report lacks %q:\n%s", want, errb)
		}
	}
	if r2, s2 := checksum(t, d); r2 != rows || s2 != sum {
		t.Error("a differing wx_user was changed")
	}
	var n int
	if err := d.QueryRow("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'wx_user' AND INDEX_NAME <> 'PRIMARY' AND INDEX_NAME <> 'user_name'").Scan(&n); err != nil || n != 0 {
		t.Errorf("indexes added to a differing wx_user: %d %v", n, err)
	}
	if code, _, _ = runOactl(t, nil, "migrate", "up", "--dry-run", "--db", url); code != exitFailure {
		t.Errorf("dry run on a differing wx_user: exit %d", code)
	}
}

func TestMigrateConcurrentUp(t *testing.T) {
	url := dbtest.MySQL(t)
	const runs = 4
	var wg sync.WaitGroup
	codes := make([]int, runs)
	errs := make([]string, runs)
	for i := range runs {
		wg.Go(func() { codes[i], _, errs[i] = runOactl(t, nil, "migrate", "up", "--db", url) })
	}
	wg.Wait()
	for i := range runs {
		if codes[i] != 0 {
			t.Errorf("run %d: exit %d %s", i, codes[i], errs[i])
		}
	}
	d := sqlOpen(t, url)
	rows, err := d.Query("SELECT version, COUNT(*) FROM oactl_schema_migrations GROUP BY version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var v, n int
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("step %d recorded %d times", v, n)
		}
		got = append(got, v)
	}
	if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Errorf("versions %v", got)
	}
	// applied logs: each step once across all runs.
	applied := 0
	for _, e := range errs {
		applied += strings.Count(e, "migrate: applied")
	}
	if applied != db.SchemaVersion {
		t.Errorf("%d step applications in the logs, want %d", applied, db.SchemaVersion)
	}
}

func TestMigrateLockTimeout(t *testing.T) {
	url := dbtest.MySQL(t)
	d := sqlOpen(t, url)
	conn, err := d.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK('oactl_migrate', 5)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("take the lock: %d %v", got, err)
	}
	code, _, errb := runOactl(t, nil, "migrate", "up", "--lock-timeout", "1s", "--db", url)
	if code != exitFailure || !strings.Contains(errb, "lock") {
		t.Errorf("up while locked: exit %d %s", code, errb)
	}
	var n int
	if err := d.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&n); err != nil || n != 0 {
		t.Errorf("tables created without the lock: %d %v", n, err)
	}
}
