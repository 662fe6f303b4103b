package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestConvertJDBC(t *testing.T) {
	for _, tc := range []struct {
		name, url, user, pass string
		dsn, zone             string
	}{
		{"seed", "jdbc:mysql://db:3306/oa?useUnicode=true&characterEncoding=utf8&serverTimezone=Asia/Shanghai", "oa", "pw",
			"mysql://oa:pw@db:3306/oa", "Asia/Shanghai"},
		{"mariadb, default port", "jdbc:mariadb://db.internal/oa", "oa", "", "mysql://oa@db.internal:3306/oa", ""},
		{"upper-case scheme and params", "JDBC:MySQL://h:3307/x?SERVERTIMEZONE=UTC&useSSL=false", "u", "p", "mysql://u:p@h:3307/x", "UTC"},
		{"GMT+8, percent-encoded", "jdbc:mysql://h/x?serverTimezone=GMT%2B8", "u", "p", "mysql://u:p@h:3306/x", "Etc/GMT-8"},
		{"Java short id", "jdbc:mysql://h/x?serverTimezone=CTT", "u", "p", "mysql://u:p@h:3306/x", "Asia/Shanghai"},
		{"connectionTimeZone", "jdbc:mysql://h/x?connectionTimeZone=GMT-5", "u", "p", "mysql://u:p@h:3306/x", "Etc/GMT+5"},
		{"IPv6", "jdbc:mysql://[::1]:3306/oa", "u", "p", "mysql://u:p@[::1]:3306/oa", ""},
		{"credentials in the URL", "jdbc:mysql://urluser:url%40pw@h/x", "", "", "mysql://urluser:url%40pw@h:3306/x", ""},
		{"credentials as params", "jdbc:mysql://h/x?user=pu&password=pp", "", "", "mysql://pu:pp@h:3306/x", ""},
		{"keys win over the URL", "jdbc:mysql://urluser:urlpw@h/x", "keyuser", "keypw", "mysql://keyuser:keypw@h:3306/x", ""},
		{"special characters in the password", "jdbc:mysql://h/x", "oa", "p@ss:w/rd?#%", "mysql://oa:p%40ss%3Aw%2Frd%3F%23%25@h:3306/x", ""},
		{"sslMode REQUIRED keeps TLS", "jdbc:mysql://h/x?sslMode=REQUIRED", "u", "", "mysql://u@h:3306/x?tls=skip-verify", ""},
		{"sslMode VERIFY_IDENTITY verifies", "jdbc:mysql://h/x?sslMode=VERIFY_IDENTITY", "u", "", "mysql://u@h:3306/x?tls=true", ""},
		{"MariaDB verify-full", "jdbc:mariadb://h/x?sslMode=verify-full", "u", "", "mysql://u@h:3306/x?tls=true", ""},
		{"useSSL + requireSSL", "jdbc:mysql://h/x?useSSL=true&requireSSL=true", "u", "", "mysql://u@h:3306/x?tls=skip-verify", ""},
		{"useSSL alone prefers", "jdbc:mysql://h/x?useSSL=true", "u", "", "mysql://u@h:3306/x?tls=preferred", ""},
		{"sslMode DISABLED", "jdbc:mysql://h/x?sslMode=DISABLED", "u", "", "mysql://u@h:3306/x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := convertJDBC(tc.url, tc.user, tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			if ds.DSN != tc.dsn || ds.TimeZone != tc.zone {
				t.Errorf("got %q zone %q, want %q zone %q", ds.DSN, ds.TimeZone, tc.dsn, tc.zone)
			}
			if ds.TimeZone != "" {
				if _, err := time.LoadLocation(ds.TimeZone); err != nil {
					t.Errorf("zone %q does not load: %v", ds.TimeZone, err)
				}
			}
		})
	}
}

func TestConvertJDBCRefusals(t *testing.T) {
	const pw = "Sup3rSecretPw"
	for _, tc := range []struct{ name, url, want string }{
		{"postgres", "jdbc:postgresql://h/x", `unsupported database "postgresql"`},
		{"not JDBC", "mysql://h/x", "want a JDBC URL"},
		{"failover hosts", "jdbc:mysql://h1:3306,h2:3306/x", "several hosts"},
		{"address list", "jdbc:mysql://address=(host=h)(port=3306)/x", "several hosts"},
		{"no database", "jdbc:mysql://h:3306/", "no database name"},
		{"no database, no slash", "jdbc:mysql://h:3306", "no database name"},
		{"port out of range", "jdbc:mysql://h:99999/x", "1 to 65535"},
		{"port not a number", "jdbc:mysql://h:port/x", "1 to 65535"},
		{"no host", "jdbc:mysql://:3306/x", "no host"},
		{"half-hour offset", "jdbc:mysql://h/x?serverTimezone=GMT%2B05:30", "whole-hour"},
		{"unknown sslMode", "jdbc:mysql://h/x?sslMode=SOMETIMES", "sslMode"},
		{"bad query", "jdbc:mysql://h/x?a=%zz&password=" + pw, "malformed parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := convertJDBC(tc.url, "u", pw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
	if _, err := convertJDBC("jdbc:mysql://h/x", "", ""); err == nil || !strings.Contains(err.Error(), "spring.datasource.username") {
		t.Fatalf("no user: %v", err)
	}
}

// springTable is the real table's db and time-zone rows.
var springTable = Table{
	{Name: "config", Env: "OA_CONFIG", Commands: []string{"t"}},
	{Name: "db", Env: "OA_DB", YAML: "oa.db", Default: "sqlite:oactl.db", Secret: true, Commands: []string{"t"}},
	{Name: "time-zone", Env: "OA_TIME_ZONE", YAML: "oa.time-zone", Default: "Local", Commands: []string{"t"}},
}

const springYAML = `
spring:
  datasource:
    url: jdbc:mysql://db:3306/oa?useUnicode=true&characterEncoding=utf8&serverTimezone=Asia/Shanghai
    username: oa
    password: s3cret
oa:
  wx:
    app-id: wxf23b28b5e4ea4d6a
`

// TestSpringDataSourceIsTheDatabaseWhenNoOtherSourceNamesOne: SPEC §8's
// precedence: --db, OA_DB, oa.db, then spring.datasource, then the
// default; serverTimezone is the default --time-zone when it is used.
func TestSpringDataSourceIsTheDatabaseWhenNoOtherSourceNamesOne(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	spring := write("application.yml", springYAML)
	withOADB := write("with-oa-db.yml", springYAML+"  db: sqlite:from-oa-db.db\n")
	emptyOADB := write("empty-oa-db.yml", springYAML+"  db: \"\"\n")
	for _, tc := range []struct {
		name               string
		args               []string
		env                map[string]string
		db, zone, dbWhere  string
		dbSource, tzSource Source
	}{
		{"spring alone", []string{"--config", spring}, nil,
			"mysql://oa:s3cret@db:3306/oa", "Asia/Shanghai", spring + ": spring.datasource.url", FromFile, FromFile},
		{"an empty oa.db is unset", []string{"--config", emptyOADB}, nil,
			"mysql://oa:s3cret@db:3306/oa", "Asia/Shanghai", emptyOADB + ": spring.datasource.url", FromFile, FromFile},
		{"oa.db wins", []string{"--config", withOADB}, nil, "sqlite:from-oa-db.db", "Local", withOADB + ": oa.db", FromFile, FromDefault},
		{"OA_DB wins", []string{"--config", spring}, map[string]string{"OA_DB": "sqlite:env.db"}, "sqlite:env.db", "Local", "OA_DB", FromEnv, FromDefault},
		{"--db wins", []string{"--config", spring, "--db", "sqlite:flag.db"}, nil, "sqlite:flag.db", "Local", "--db", FromFlag, FromDefault},
		{"a zone given keeps", []string{"--config", spring, "--time-zone", "UTC"}, nil, "mysql://oa:s3cret@db:3306/oa", "UTC", spring + ": spring.datasource.url", FromFile, FromFlag},
		{"no file", nil, nil, "sqlite:oactl.db", "Local", "--db", FromDefault, FromDefault},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg, dsn, zone string
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			set := springTable.For("t", fs)
			set.String("config", &cfg)
			set.String("db", &dsn)
			set.String("time-zone", &zone)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := set.Resolve(env(tc.env)); err != nil {
				t.Fatal(err)
			}
			if dsn != tc.db || zone != tc.zone || set.Where("db") != tc.dbWhere || set.Source("db") != tc.dbSource || set.Source("time-zone") != tc.tzSource {
				t.Errorf("db %q (%s, %v) zone %q (%v); want %q (%s, %v) %q (%v)", dsn, set.Where("db"), set.Source("db"), zone, set.Source("time-zone"),
					tc.db, tc.dbWhere, tc.dbSource, tc.zone, tc.tzSource)
			}
		})
	}
}

func TestSpringDataSourceErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"placeholder in url", "spring:\n  datasource:\n    url: jdbc:mysql://${DB_HOST:localhost}:3306/oa\n    username: oa\n", "spring.datasource.url uses a ${...} placeholder"},
		{"placeholder in password", "spring:\n  datasource:\n    url: jdbc:mysql://h/oa\n    username: oa\n    password: ${DB_PASSWORD}\n", "spring.datasource.password uses a ${...} placeholder"},
		{"postgres", "spring:\n  datasource:\n    url: jdbc:postgresql://h/oa\n    username: oa\n    password: Hunter2Pw\n", "app.yml: spring.datasource.url: unsupported database"},
		{"bad zone", "spring:\n  datasource:\n    url: jdbc:mysql://h/oa?serverTimezone=GMT%2B5:45\n    username: oa\n", "spring.datasource.url: serverTimezone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("app.yml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			var dsn string
			set := springTable.For("t", pflag.NewFlagSet("t", pflag.ContinueOnError))
			set.String("db", &dsn)
			err = set.resolveSpring(f)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "Hunter2Pw") {
				t.Fatalf("err = %v, want %q without the password", err, tc.want)
			}
		})
	}
}

func TestJavaZone(t *testing.T) {
	for in, want := range map[string]string{
		"Asia/Shanghai": "Asia/Shanghai", "UTC": "UTC", "GMT": "GMT", "CTT": "Asia/Shanghai", "ctt": "Asia/Shanghai",
		"GMT+8": "Etc/GMT-8", "GMT+08:00": "Etc/GMT-8", "UTC-3": "Etc/GMT+3", "UT+1": "Etc/GMT-1", "GMT+0": "UTC",
		"EST": "Etc/GMT+5",
	} {
		got, err := JavaZone(in)
		if err != nil || got != want {
			t.Errorf("JavaZone(%q) = %q, %v; want %q", in, got, err, want)
			continue
		}
		if _, err := time.LoadLocation(got); err != nil {
			t.Errorf("JavaZone(%q) = %q does not load: %v", in, got, err)
		}
	}
	for _, in := range []string{"GMT+5:30", "GMT+123", "UTC+x"} {
		if got, err := JavaZone(in); err == nil {
			t.Errorf("JavaZone(%q) = %q, want an error", in, got)
		}
	}
}
