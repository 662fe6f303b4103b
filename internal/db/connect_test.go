package db_test

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// TestOpenErrorsAreOneLineWithAHint: SPEC §8: a database error is one
// line with a hint (unreachable, access denied, unknown database), names
// the server once and never holds the password.
func TestOpenErrorsAreOneLineWithAHint(t *testing.T) {
	ctx := testCtx(t)
	const pw = "Wrong!Secret%"
	b := dbtest.BrokenDSNs(t, pw)
	for _, tc := range []struct {
		name, dsn, reason, hint string
	}{
		{"refused", b.Refused + "?timeout=2s", "unreachable: connection refused", "is the server running"},
		{"denied", b.Denied, "access denied", "check the user name and password"},
		{"unknown database", b.UnknownDB, "unknown database", "CREATE DATABASE `" + b.DBName + "` CHARACTER SET utf8mb4"},
		{"unknown host", "mysql://oa:" + url.QueryEscape(pw) + "@no-such-host.invalid:3306/oa?timeout=2s", "unknown host", "check the host name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.Open(ctx, tc.dsn, db.Options{})
			var ce *db.ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a *db.ConnectError", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.reason) || !strings.Contains(msg, tc.hint) {
				t.Errorf("%q lacks %q or %q", msg, tc.reason, tc.hint)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("more than one line: %q", msg)
			}
			if strings.Contains(msg, "Wrong!Secret") || strings.Contains(msg, url.QueryEscape(pw)) {
				t.Errorf("the password is in %q", msg)
			}
			if !strings.HasPrefix(msg, "cannot open MySQL at ") || strings.Count(msg, "charset=") > 0 {
				t.Errorf("want the server named once, not the DSN: %q", msg)
			}
		})
	}
}

func TestOpenSQLiteNoCreate(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "missing.db")
	_, err := db.Open(ctx, "sqlite:"+path, db.Options{NoCreate: true})
	var ne *db.NotExistError
	if !errors.As(err, &ne) || ne.Path != path {
		t.Fatalf("err = %v, want a NotExistError for %s", err, path)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("NoCreate created the file: %v", err)
	}
	// A relative name is reported absolute.
	t.Chdir(dir)
	if _, err := db.Open(ctx, "sqlite:rel.db", db.Options{NoCreate: true}); !errors.As(err, &ne) || ne.Path != filepath.Join(dir, "rel.db") {
		t.Fatalf("relative: %v", err)
	}
	// An existing file opens with NoCreate.
	d, err := db.Open(ctx, "sqlite:"+path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, err = db.Open(ctx, "sqlite:"+path, db.Options{NoCreate: true})
	if err != nil {
		t.Fatalf("an existing file with NoCreate: %v", err)
	}
	d.Close()
	// A missing directory is named as such, not as the driver's "out of memory".
	_, err = db.Open(ctx, "sqlite:"+filepath.Join(dir, "no", "such", "x.db"), db.Options{})
	if err == nil || !strings.Contains(err.Error(), "directory "+filepath.Join(dir, "no", "such")+" does not exist") {
		t.Fatalf("missing directory: %v", err)
	}
}

func TestOnCloseRunsAfterClose(t *testing.T) {
	ran := false
	d, err := db.Open(testCtx(t), dbtest.SQLite(t), db.Options{OnClose: func() { ran = true }})
	if err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("OnClose ran before Close")
	}
	d.Close()
	if !ran {
		t.Fatal("OnClose did not run")
	}
}
