//go:build unix

package db_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/testutil"
	"log/slog"
)

// TestSQLiteFileModes is the finding "the SQLite file and its -wal are
// created -rw-r--r--": under umask 022 the database, -wal and -shm are
// 0600 once written to; an existing 0644 file is tightened, with a
// warning.
func TestSQLiteFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "oactl.db")
	d := migrated(t, "sqlite:"+path, db.Options{})
	login(t, d, record(uniq("oMode"), auth.Profile{}, time.Now()))
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %#o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	d.Close()

	loose := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	log := &testutil.Buffer{}
	d2, err := db.Open(testCtx(t), "sqlite:"+loose, db.Options{Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if fi, _ := os.Stat(loose); fi.Mode().Perm() != 0o600 {
		t.Errorf("an existing 0644 file: now %#o", fi.Mode().Perm())
	}
	if !strings.Contains(log.String(), "tightened") {
		t.Errorf("no warning: %s", log)
	}
}
