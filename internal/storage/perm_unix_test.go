//go:build unix

package storage

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestModesUnderUmask022: under the usual umask 022, which would leave
// new directories 0755 and files 0644, the storage directory (and any
// parent Prepare makes) is 0700 and every upload 0600.
func TestModesUnderUmask022(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "state", "files")
	s := &Store{Dir: dir}
	if err := s.Prepare(); err != nil {
		t.Fatal(err)
	}
	key, err := s.Save(context.Background(), 1, readTestdata(t, "avatar.png"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: DirMode, filepath.Dir(dir): DirMode, filepath.Join(dir, key): FileMode} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %#o, want %#o", path, got, want)
		}
	}
}
