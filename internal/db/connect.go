package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// NotExistError: a command that must not create a database was given a
// SQLite file that does not exist (Options.NoCreate).
type NotExistError struct {
	Path string // absolute when it could be made so
}

func (e *NotExistError) Error() string {
	return "database file " + e.Path + " does not exist"
}

// ConnectError is a database that could not be opened: one line that
// says where, what went wrong and what to check. It never holds the
// password, and names the server once.
type ConnectError struct {
	Server string // "MySQL at 127.0.0.1:3306 (user oa, database oa)" or "SQLite file /abs/x.db"
	Reason string // "connection refused", "access denied", ...
	Hint   string // what to check
	Err    error  // the driver's error, its text scrubbed of the password
	// Detail is the driver's text worth showing (a server's own message);
	// empty when Reason says it all (a network error would repeat the
	// address).
	Detail string
}

func (e *ConnectError) Error() string {
	msg := "cannot open " + e.Server + ": " + e.Reason
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	if e.Detail != "" {
		msg += " (" + oneLine(e.Detail) + ")"
	}
	return msg
}

func (e *ConnectError) Unwrap() error { return e.Err }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// MySQL server error numbers that opening a connection can meet.
const (
	erDBAccessDenied = 1044
	erAccessDenied   = 1045
	erBadDB          = 1049
)

// mysqlConnectError classifies a failed first contact with a MySQL server.
func mysqlConnectError(cfg Config, err error) error {
	m := cfg.MySQL
	scrubbed := scrubErr(err, nil, m.Passwd)
	e := &ConnectError{
		Server: fmt.Sprintf("MySQL at %s (user %s, database %s)", m.Addr, m.User, m.DBName),
		Err:    scrubbed,
	}
	if errors.As(err, new(*mysql.MySQLError)) {
		e.Detail = scrubbed.Error()
	}
	var me *mysql.MySQLError
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &me) && me.Number == erAccessDenied:
		e.Reason, e.Hint = "access denied", "check the user name and password, and that the user may connect from this host"
	case errors.As(err, &me) && me.Number == erDBAccessDenied:
		e.Reason, e.Hint = "access denied to the database", fmt.Sprintf("GRANT the user rights on %s.*", m.DBName)
	case errors.As(err, &me) && me.Number == erBadDB:
		e.Reason, e.Hint = "unknown database", fmt.Sprintf("create it (CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci) or fix its name", m.DBName)
	case errors.As(err, &dnsErr):
		e.Reason, e.Hint = "unknown host", "check the host name"
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Reason, e.Hint = "unreachable: connection refused", "is the server running, and are the host and port right?"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Reason, e.Hint = "unreachable: no answer in time", "is the host right, and does a firewall let the port through?"
	case errors.As(err, &netErr):
		e.Reason, e.Hint = "unreachable", "check the host and port"
	default:
		e.Reason, e.Detail = "failed", scrubbed.Error()
	}
	return e
}

// checkSQLiteFile is what Open checks before it opens a SQLite file: with
// noCreate the file must exist; otherwise its directory must, so that the
// error says which rather than the driver's "out of memory (14)".
func checkSQLiteFile(path string, noCreate bool) error {
	if path == ":memory:" {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	_, err = os.Stat(path)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return &ConnectError{Server: "SQLite file " + abs, Reason: "not readable", Err: err, Detail: err.Error()}
	case noCreate:
		return &NotExistError{Path: abs}
	}
	dir := filepath.Dir(abs)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return &ConnectError{Server: "SQLite file " + abs, Reason: "its directory " + dir + " does not exist", Hint: "create it, or name another file"}
	}
	return nil
}

// driverLogger sends the MySQL driver's own log lines (a connection that
// broke, a packet out of order) to the process's logger at debug level:
// on stderr they would break the log format, and the error the caller
// gets says what matters.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	log := l.log
	if log == nil {
		log = slog.Default()
	}
	log.Debug("mysql driver", "msg", oneLine(fmt.Sprint(v...)))
}

func init() {
	// Connections opened outside Open (tests, tools) log the same way.
	_ = mysql.SetLogger(driverLogger{})
}
