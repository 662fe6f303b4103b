package db

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Dialect names the SQL dialect of a database.
type Dialect string

// The dialects oactl speaks.
const (
	SQLite Dialect = "sqlite"
	MySQL  Dialect = "mysql"
)

// DefaultDSN is used when no --db is given: a SQLite file in the working
// directory, so `oactl dev` works without any database server.
const DefaultDSN = "sqlite:oactl.db"

// Forced MySQL connection settings (SPEC §8). Every connection speaks
// utf8mb4 so emoji survive, reads DATETIME into time.Time in UTC, and
// interpolates parameters client-side (one round trip per query).
const (
	mysqlCharset   = "utf8mb4"
	mysqlCollation = "utf8mb4_general_ci"
)

// maxDSNLen bounds what we parse: a DSN is configuration, not data.
const maxDSNLen = 4096

// Config is a parsed and normalised --db value.
type Config struct {
	Dialect    Dialect
	DriverName string // "sqlite" (modernc.org/sqlite) or "mysql"
	DriverDSN  string // what sql.Open gets; contains the password: never log it
	// Path is the SQLite file name (SQLite only).
	Path string
	// MySQL is the normalised driver configuration (MySQL only).
	MySQL *mysql.Config
}

// Redacted returns the DSN for logs and error messages: the password, if
// any, is replaced by xxxxx.
func (c Config) Redacted() string {
	switch c.Dialect {
	case SQLite:
		return "sqlite:" + c.Path
	case MySQL:
		if c.MySQL == nil {
			return "mysql:(invalid)"
		}
		r := c.MySQL.Clone()
		if r.Passwd != "" {
			r.Passwd = "xxxxx"
		}
		return r.FormatDSN()
	}
	return "(invalid DSN)"
}

// ParseDSN parses a --db value: "sqlite:PATH", a
// "mysql://user:pass@host:port/db?params" URL, or a go-sql-driver DSN
// ("user:pw@tcp(host:3306)/db?params"). An empty value is DefaultDSN.
// Errors never contain the password.
func ParseDSN(dsn string) (Config, error) {
	if dsn == "" {
		dsn = DefaultDSN
	}
	if len(dsn) > maxDSNLen {
		return Config{}, fmt.Errorf("database DSN is %d bytes, longer than %d", len(dsn), maxDSNLen)
	}
	if strings.ContainsRune(dsn, 0) {
		return Config{}, errors.New("database DSN contains a NUL byte")
	}
	lower := strings.ToLower(dsn)
	switch {
	case strings.HasPrefix(lower, "sqlite:"):
		return parseSQLite(dsn[len("sqlite:"):])
	case strings.HasPrefix(lower, "mysql://"):
		return parseMySQLURL(dsn)
	case strings.HasPrefix(lower, "mariadb://"):
		// MariaDB speaks MySQL's protocol; the name is what its users write.
		return parseMySQLURL("mysql://" + dsn[len("mariadb://"):])
	case strings.HasPrefix(lower, "mysql:"):
		return Config{}, errors.New(`database DSN: a MySQL URL starts with "mysql://"`)
	case strings.HasPrefix(lower, "jdbc:"):
		return Config{}, errors.New(`database DSN: a JDBC URL: write it as mysql://user:pass@host:port/db (a spring.datasource in --config is converted for you)`)
	}
	if scheme, ok := urlScheme(dsn); ok {
		return Config{}, fmt.Errorf("database DSN: unsupported scheme %q: oactl speaks MySQL and MariaDB (mysql://user:pass@host:port/db) and SQLite (sqlite:PATH)", scheme)
	}
	if strings.Contains(dsn, "/") {
		return parseMySQLDriverDSN(dsn)
	}
	return Config{}, errors.New(`database DSN: want "sqlite:PATH", "mysql://user:pass@host:port/db" or "user:pass@tcp(host:port)/db"`)
}

// urlScheme returns the scheme of a "scheme://..." value (RFC 3986's
// letters), which a go-sql-driver DSN never starts with: its user name
// may not contain ':' followed by "//" before the '@'.
func urlScheme(dsn string) (string, bool) {
	i := strings.Index(dsn, "://")
	if i <= 0 {
		return "", false
	}
	for j, c := range dsn[:i] {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	return strings.ToLower(dsn[:i]), true
}

func parseSQLite(path string) (Config, error) {
	// "sqlite://rel" and "sqlite:///abs" are accepted as spellings of
	// "sqlite:rel" and "sqlite:/abs".
	path = strings.TrimPrefix(path, "//")
	switch {
	case path == "":
		return Config{}, errors.New("database DSN: sqlite: needs a file name, e.g. sqlite:oactl.db")
	case strings.ContainsAny(path, "?#"):
		// The driver splits its DSN at '?': a file name with one would be
		// silently cut and options smuggled in.
		return Config{}, fmt.Errorf("database DSN: sqlite file name %q must not contain '?' or '#'", path)
	case strings.HasPrefix(strings.ToLower(path), "file:"):
		return Config{}, errors.New("database DSN: give sqlite a plain file name, not a file: URI")
	}
	q := url.Values{}
	// busy_timeout first: the journal_mode switch itself can meet a lock.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return Config{
		Dialect:    SQLite,
		DriverName: "sqlite",
		DriverDSN:  path + "?" + q.Encode(),
		Path:       path,
	}, nil
}

func parseMySQLURL(dsn string) (Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Error quotes the whole URL, password included: say what is
		// wrong without it.
		return Config{}, errors.New("database DSN: malformed mysql:// URL (percent-encode special characters in the user name and password)")
	}
	if u.Opaque != "" {
		return Config{}, errors.New(`database DSN: a MySQL URL starts with "mysql://"`)
	}
	if u.Fragment != "" {
		return Config{}, errors.New("database DSN: mysql:// URL must not have a #fragment")
	}
	// Options first, through the driver's own parser, so every driver
	// parameter means what the driver documents.
	cfg, err := mysql.ParseDSN("/?" + u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("database DSN: parameters: %w", scrubErr(err, u.User))
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	if cfg.User == "" {
		return Config{}, errors.New("database DSN: mysql:// URL needs a user name")
	}
	host := u.Hostname()
	if host == "" {
		return Config{}, errors.New("database DSN: mysql:// URL needs a host")
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(host, port)
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || strings.Contains(name, "/") {
		return Config{}, errors.New("database DSN: mysql:// URL needs one database name as its path, e.g. /oactl")
	}
	cfg.DBName = name
	return finishMySQL(cfg)
}

func parseMySQLDriverDSN(dsn string) (Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return Config{}, fmt.Errorf("database DSN: %w", scrubErr(err, nil, passwordOfDriverDSN(dsn)))
	}
	if cfg.DBName == "" {
		return Config{}, errors.New("database DSN: needs a database name after the '/'")
	}
	return finishMySQL(cfg)
}

// finishMySQL applies the settings oactl relies on, whatever the DSN said.
func finishMySQL(cfg *mysql.Config) (Config, error) {
	switch cfg.Net {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		// Other names would need a dialer registered with the driver.
		return Config{}, fmt.Errorf("database DSN: network %q: want tcp or unix", cfg.Net)
	}
	if err := cfg.Apply(mysql.Charset(mysqlCharset, mysqlCollation)); err != nil {
		return Config{}, fmt.Errorf("database DSN: %w", err)
	}
	cfg.Collation = mysqlCollation
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.InterpolateParams = true
	cfg.ClientFoundRows = true
	// LOAD DATA LOCAL INFILE would let a hostile server read our files.
	cfg.AllowAllFiles = false
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return Config{
		Dialect:    MySQL,
		DriverName: "mysql",
		DriverDSN:  cfg.FormatDSN(),
		MySQL:      cfg,
	}, nil
}

// passwordOfDriverDSN finds the password in a go-sql-driver DSN the way
// the driver does (between the first ':' and the last '@' before the last
// '/'), so a parse error can be scrubbed of it.
func passwordOfDriverDSN(dsn string) string {
	slash := strings.LastIndex(dsn, "/")
	if slash < 0 {
		return ""
	}
	at := strings.LastIndex(dsn[:slash], "@")
	if at < 0 {
		return ""
	}
	colon := strings.Index(dsn[:at], ":")
	if colon < 0 {
		return ""
	}
	return dsn[colon+1 : at]
}

// scrubErr returns err with any password text replaced.
func scrubErr(err error, user *url.Userinfo, extra ...string) error {
	msg := err.Error()
	var secrets []string
	if user != nil {
		if pw, ok := user.Password(); ok {
			secrets = append(secrets, pw)
		}
	}
	secrets = append(secrets, extra...)
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return errors.New(msg)
}
