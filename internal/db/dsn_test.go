package db

import (
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestParseDSNSQLite(t *testing.T) {
	for _, tc := range []struct{ in, path string }{
		{"", "oactl.db"},
		{"sqlite:oactl.db", "oactl.db"},
		{"sqlite:/var/lib/oactl/data.db", "/var/lib/oactl/data.db"},
		{"sqlite:///abs/x.db", "/abs/x.db"},
		{"sqlite://rel.db", "rel.db"},
		{"SQLITE:dir with space/数据.db", "dir with space/数据.db"},
	} {
		c, err := ParseDSN(tc.in)
		if err != nil {
			t.Errorf("ParseDSN(%q): %v", tc.in, err)
			continue
		}
		if c.Dialect != SQLite || c.DriverName != "sqlite" || c.Path != tc.path {
			t.Errorf("ParseDSN(%q) = %+v, want path %q", tc.in, c, tc.path)
		}
		for _, want := range []string{"busy_timeout", "journal_mode%28WAL%29", "foreign_keys%281%29", "_txlock=immediate"} {
			if !strings.Contains(c.DriverDSN, want) {
				t.Errorf("ParseDSN(%q).DriverDSN = %q lacks %q", tc.in, c.DriverDSN, want)
			}
		}
		if c.Redacted() != "sqlite:"+tc.path {
			t.Errorf("Redacted = %q", c.Redacted())
		}
	}
}

func TestParseDSNMySQL(t *testing.T) {
	for _, tc := range []struct {
		in                      string
		user, pass, addr, dbase string
		param                   string // a driver param expected to survive
	}{
		{"mysql://oa:pw@127.0.0.1:3306/oa", "oa", "pw", "127.0.0.1:3306", "oa", ""},
		{"mysql://oa:pw@db.internal/oa", "oa", "pw", "db.internal:3306", "oa", ""},
		{"mysql://o%40a:p%40ss%3Aw%2Fo%25rd@[::1]:3307/oa?timeout=3s", "o@a", "p@ss:w/o%rd", "[::1]:3307", "oa", "timeout=3s"},
		{"mysql://oa:@h/oa?tls=preferred&sql_mode=%27STRICT_ALL_TABLES%27", "oa", "", "h:3306", "oa", "tls=preferred"},
		{"oa:pw@tcp(10.0.0.1:3306)/oa?charset=latin1&parseTime=false&loc=Local", "oa", "pw", "10.0.0.1:3306", "oa", ""},
		{"oa:p@ss@tcp(h:1)/oa", "oa", "p@ss", "h:1", "oa", ""},
		{"mysql://oa:pw@h/oa?allowAllFiles=true&clientFoundRows=false&interpolateParams=false", "oa", "pw", "h:3306", "oa", ""},
	} {
		c, err := ParseDSN(tc.in)
		if err != nil {
			t.Errorf("ParseDSN(%q): %v", tc.in, err)
			continue
		}
		m := c.MySQL
		if c.Dialect != MySQL || c.DriverName != "mysql" || m.User != tc.user || m.Passwd != tc.pass || m.Addr != tc.addr || m.DBName != tc.dbase {
			t.Errorf("ParseDSN(%q) = %+v %+v", tc.in, c, m)
			continue
		}
		// The driver DSN parses back to the normalised settings.
		back, err := mysql.ParseDSN(c.DriverDSN)
		if err != nil {
			t.Errorf("%q: driver DSN %q does not parse: %v", tc.in, c.Redacted(), err)
			continue
		}
		if back.Passwd != tc.pass || back.User != tc.user || back.Collation != "utf8mb4_general_ci" || !back.ParseTime ||
			back.Loc != time.UTC || !back.InterpolateParams || !back.ClientFoundRows || back.AllowAllFiles {
			t.Errorf("%q: not normalised: %+v", tc.in, back)
		}
		if !strings.Contains(c.DriverDSN, "charset=utf8mb4") {
			t.Errorf("%q: driver DSN lacks charset=utf8mb4: %s", tc.in, c.Redacted())
		}
		if tc.param != "" && !strings.Contains(c.DriverDSN, tc.param) {
			t.Errorf("%q: param %q lost: %s", tc.in, tc.param, c.Redacted())
		}
		red := c.Redacted()
		if tc.pass != "" && (strings.Contains(red, tc.pass) || !strings.Contains(red, "xxxxx")) {
			t.Errorf("%q: Redacted() = %q shows the password", tc.in, red)
		}
	}
}

func TestParseDSNErrors(t *testing.T) {
	const secret = "S3cr%t-pw"
	for _, in := range []string{
		"sqlite:",
		"sqlite:a.db?_pragma=writable_schema(1)",
		"sqlite:a#b",
		"sqlite:file:x.db?mode=ro",
		"mysql:oa:pw@h/db",
		"postgres://u:" + secret + "@h/db",
		"mysql://u:" + secret + "@/db",
		"mysql://u:" + secret + "@h",
		"mysql://u:" + secret + "@h/",
		"mysql://u:" + secret + "@h/a/b",
		"mysql://:" + secret + "@h/db",
		"mysql://u:S3cr%zz-pw@h/db",
		"mysql://u:" + secret + "@h/db?timeout=banana",
		"mysql://u:" + secret + "@h/db?parseTime=maybe",
		"mysql://u:" + secret + "@h/db#frag",
		"mysql://u:" + secret + "@h:notaport/db",
		"u:" + secret + "@tcp(h:3306/db",
		"u:" + secret + "@tcp(h:3306)/",
		"u:" + secret + "@tcp(h:3306)/db?timeout=banana",
		"u:" + secret + "@nosuchnet(h)/db",
		"just-a-word",
		"mysql://u:" + secret + "@h/db\x00",
		"mysql://u:" + secret + "@h/" + strings.Repeat("a", 5000),
	} {
		c, err := ParseDSN(in)
		if err == nil {
			t.Errorf("ParseDSN(%q) = %+v, want an error", in, c)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "S3cr") || strings.Contains(msg, "-pw") {
			t.Errorf("ParseDSN(%q) error shows the password: %v", in, msg)
		}
	}
}

func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"sqlite:x.db", "mysql://u:p@h:1/d?timeout=1s", "u:p@tcp(h)/d", "", "mysql://u:%zz@h/d", "u:p@/d?x=%"} {
		f.Add(s, "pw-Zq9")
	}
	f.Fuzz(func(t *testing.T, dsn, pw string) {
		c, err := ParseDSN(dsn)
		if err != nil {
			return
		}
		if c.Dialect == MySQL {
			if _, err := mysql.ParseDSN(c.DriverDSN); err != nil {
				t.Fatalf("accepted %q but its driver DSN does not parse: %v", dsn, err)
			}
			if !c.MySQL.ParseTime || c.MySQL.Loc != time.UTC || !c.MySQL.InterpolateParams || c.MySQL.AllowAllFiles {
				t.Fatalf("accepted %q without normalising: %+v", dsn, c.MySQL)
			}
			if r, err := mysql.ParseDSN(c.Redacted()); err != nil {
				t.Fatalf("Redacted %q does not parse: %v", c.Redacted(), err)
			} else if r.Passwd != "" && r.Passwd != "xxxxx" {
				t.Fatalf("Redacted %q carries password %q", c.Redacted(), r.Passwd)
			}
		}
		// A URL carrying pw: errors must never repeat it.
		if len(pw) >= 4 && !strings.ContainsAny(pw, "@/:?#%[] \x00") {
			if _, err := ParseDSN("mysql://u:" + pw + "@" + dsn); err != nil && strings.Contains(err.Error(), pw) {
				t.Fatalf("error for a URL with password %q shows it: %v", pw, err)
			}
		}
	})
}

// TestParseDSNNamesWhatIsWrong: other databases' URLs and a JDBC URL get
// a message that says what oactl speaks, not a driver parse error.
func TestParseDSNNamesWhatIsWrong(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/db":         `unsupported scheme "postgres"`,
		"postgresql://u:pw@h/db":            `unsupported scheme "postgresql"`,
		"sqlserver://u:pw@h/db":             `unsupported scheme "sqlserver"`,
		"redis://h:6379/0":                  `unsupported scheme "redis"`,
		"jdbc:mysql://h:3306/oa":            "a JDBC URL",
		"JDBC:postgresql://h/db":            "a JDBC URL",
		"mysql+tcp://u:pw@h/db":             `unsupported scheme "mysql+tcp"`,
		"u:p://w@tcp(h:3306)/db":            "", // a password with :// in a driver DSN is not a scheme
		"mariadb://oa:pw@127.0.0.1:3306/oa": "", // MariaDB's name for the same protocol
		"MariaDB://oa:pw@127.0.0.1:3306/oa": "",
		"u:pw@unix(/tmp/mysql.sock)/db":     "",
		"sqlite:///var/lib/oactl/oactl.db":  "",
	} {
		_, err := ParseDSN(in)
		switch {
		case want == "" && err != nil:
			t.Errorf("ParseDSN(%q): %v", in, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("ParseDSN(%q) = %v, want %q", in, err, want)
		}
	}
	c, err := ParseDSN("mariadb://oa:pw@127.0.0.1:3306/oa")
	if err != nil || c.Dialect != MySQL || c.MySQL.DBName != "oa" || c.MySQL.Passwd != "pw" {
		t.Fatalf("mariadb://: %+v %v", c, err)
	}
}
