// Package dbtest gives tests real databases: a fresh SQLite file, a fresh
// database on the MariaDB server named by OACTL_TEST_MYSQL_DSN, or a
// throwaway MariaDB server of its own with special settings; Backends runs
// one test on both kinds and Open opens one for the test's lifetime.
//
// It imports internal/db but not its subpackages, so that their own tests
// can use it.
//
// MySQL tests skip when no server is configured, unless
// OACTL_REQUIRE_MYSQL=1 (set by scripts/test and CI), where a missing
// server fails the test: a green CI run always includes MariaDB.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the MySQL driver, for creating databases

	"github.com/oactl/oactl/internal/db"
)

// SQLite returns the DSN of a new SQLite file in the test's temp dir.
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "oactl.db")
}

// Backends runs fn against a fresh SQLite file and a fresh MariaDB
// database (skipped without a test server, see ServerDSN): the same test
// on both.
func Backends(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("mariadb", func(t *testing.T) { fn(t, MySQL(t)) })
}

// Open opens dsn with db.Open and closes it when the test ends.
func Open(t testing.TB, dsn string, opts db.Options) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// ServerDSN returns OACTL_TEST_MYSQL_DSN, skipping or failing the test
// when it is unset.
func ServerDSN(t testing.TB) string {
	t.Helper()
	return envOrSkip(t, "OACTL_TEST_MYSQL_DSN", "OACTL_REQUIRE_MYSQL", "start one with scripts/mariadb start NAME",
		"no MariaDB: set OACTL_TEST_MYSQL_DSN (scripts/test does)")
}

// envOrSkip returns the variable name, or skips the test without it, or
// fails it when the variable require is 1 (CI): a green run then always
// includes the server.
func envOrSkip(t testing.TB, name, require, howTo, skip string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv(require) == "1" {
			t.Fatalf("%s is not set but %s=1: %s", name, require, howTo)
		}
		t.Skip(skip)
	}
	return v
}

// MySQL creates a new, empty database on the test server and returns its
// DSN in the mysql:// form. The database is dropped when the test ends.
func MySQL(t testing.TB) string {
	t.Helper()
	return NewDatabase(t, ServerDSN(t))
}

// NewDatabase creates a new empty database on the server of serverDSN (a
// mysql:// URL) and returns a mysql:// DSN for it; it is dropped at cleanup.
func NewDatabase(t testing.TB, serverDSN string) string {
	t.Helper()
	u, err := url.Parse(serverDSN)
	if err != nil || u.Scheme != "mysql" {
		t.Fatalf("dbtest: want a mysql:// DSN, got %q", serverDSN)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "oactl_t_" + hex.EncodeToString(b[:])
	admin := openAdmin(t, u)
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		a := openAdmin(t, u)
		defer a.Close()
		_, _ = a.Exec("DROP DATABASE IF EXISTS `" + name + "`")
	})
	v := *u
	v.Path = "/" + name
	return v.String()
}

// DriverDSN turns a mysql:// URL into a go-sql-driver DSN (no database
// when withDB is false), for tests that talk to the server directly.
func DriverDSN(t testing.TB, mysqlURL string, withDB bool) string {
	t.Helper()
	u, err := url.Parse(mysqlURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	name := ""
	if withDB {
		name = strings.TrimPrefix(u.Path, "/")
	}
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?charset=utf8mb4&parseTime=true&loc=UTC&multiStatements=true", u.User.Username(), pw, u.Host, name)
}

func openAdmin(t testing.TB, u *url.URL) *sql.DB {
	t.Helper()
	a, err := sql.Open("mysql", DriverDSN(t, u.String(), false))
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return a
}

// StartMariaDB starts a throwaway MariaDB server of the test's own through
// scripts/mariadb (args such as "--latin1" or "--sql-mode=") and returns
// its mysql:// DSN (database oactl). The server is stopped at cleanup.
// It needs the same things as ServerDSN: a test server configuration.
func StartMariaDB(t testing.TB, args ...string) string {
	t.Helper()
	ServerDSN(t) // skip or fail exactly like the other MySQL tests
	script := os.Getenv("OACTL_MARIADB_SCRIPT")
	if script == "" {
		script = filepath.Join(moduleRoot(), "scripts", "mariadb")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "t" + hex.EncodeToString(b[:])
	cmd := exec.Command(script, append([]string{"start", name}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dbtest: scripts/mariadb start: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command(script, "stop", name).Run() })
	return strings.TrimSpace(string(out))
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// GaleraDSNs returns the DSNs of the three nodes of the Galera cluster
// named by OACTL_TEST_GALERA_DSNS (comma-separated mysql:// URLs, as
// scripts/galera start prints them), skipping the test when it is unset,
// unless OACTL_REQUIRE_GALERA=1 (set by CI), where it fails.
func GaleraDSNs(t testing.TB) []string {
	t.Helper()
	v := envOrSkip(t, "OACTL_TEST_GALERA_DSNS", "OACTL_REQUIRE_GALERA", "start a cluster with scripts/galera start",
		"no Galera cluster: set OACTL_TEST_GALERA_DSNS (scripts/test-galera does)")
	var dsns []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.TrimSpace(d); d != "" {
			dsns = append(dsns, d)
		}
	}
	if len(dsns) < 3 {
		t.Fatalf("OACTL_TEST_GALERA_DSNS names %d nodes, want 3", len(dsns))
	}
	return dsns
}

// NewGaleraDatabase creates a new empty database through the cluster's
// first node and returns its DSN on every node, once every node has it
// (DDL reaches the other nodes a moment after it returns on the first).
// It is dropped when the test ends.
func NewGaleraDatabase(t testing.TB) []string {
	t.Helper()
	nodes := GaleraDSNs(t)
	first := NewDatabase(t, nodes[0])
	u, err := url.Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(nodes))
	for i, n := range nodes {
		v, err := url.Parse(n)
		if err != nil || v.Scheme != "mysql" {
			t.Fatalf("dbtest: want a mysql:// DSN, got %q", n)
		}
		v.Path = u.Path
		out[i] = v.String()
		admin := openAdmin(t, v)
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int
			err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", strings.TrimPrefix(u.Path, "/")).Scan(&n)
			if err == nil && n == 1 {
				break
			}
			if time.Now().After(deadline) {
				admin.Close()
				t.Fatalf("dbtest: database %s did not reach node %d within 30s (%v)", u.Path, i+1, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		admin.Close()
	}
	return out
}
