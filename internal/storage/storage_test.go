package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyShape(t *testing.T) {
	for k, want := range map[string]bool{
		"0123456789abcdef0123456789abcdef.png":     true,
		"0123456789abcdef0123456789abcdef.webp":    true,
		"0123456789ABCDEF0123456789abcdef.png":     false,
		"0123456789abcdef0123456789abcdef.svg":     false,
		"../0123456789abcdef0123456789abcde.png":   false,
		"0123456789abcdef0123456789abcdef.png\x00": false,
	} {
		if keyRE.MatchString(k) != want {
			t.Errorf("key %q: want %v", k, want)
		}
	}
	for ext, ct := range map[string]string{".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif", ".x": "application/octet-stream"} {
		if typeOf(ext) != ct {
			t.Errorf("typeOf(%s) = %s", ext, typeOf(ext))
		}
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSaveAndOpen(t *testing.T) {
	seq := make([]byte, 256)
	for i := range seq {
		seq[i] = byte(i)
	}
	s := &Store{Dir: filepath.Join(t.TempDir(), "files"), Rand: bytes.NewReader(seq)}
	for name, ct := range map[string]string{"avatar.png": "image/png", "avatar.jpg": "image/jpeg", "avatar.gif": "image/gif", "avatar.webp": "image/webp", "avatar-lossy.webp": "image/webp"} {
		data := readTestdata(t, name)
		key, err := s.Save(context.Background(), 1, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !keyRE.MatchString(key) || filepath.Ext(key) != filepath.Ext(name) {
			t.Errorf("%s: key %q", name, key)
		}
		f, err := s.Open(key)
		if err != nil {
			t.Fatalf("%s: open: %v", name, err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if !bytes.Equal(got, data) || f.Type != ct || f.ModTime.IsZero() || f.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: %d bytes, type %s, mtime %v", name, len(got), f.Type, f.ModTime)
		}
		if fi, _ := os.Stat(filepath.Join(s.Dir, key)); fi == nil || fi.Mode().Perm() != FileMode {
			t.Errorf("%s: stored file mode %v", name, fi)
		}
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".upload-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestSaveRejects(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	for name, data := range map[string][]byte{
		"svg":   readTestdata(t, "avatar.svg"),
		"html":  []byte("<html><script>alert(1)</script>"),
		"empty": nil,
	} {
		if _, err := s.Save(context.Background(), 1, data); !errors.Is(err, ErrNotImage) {
			t.Errorf("%s: %v, want ErrNotImage", name, err)
		}
	}
	if entries, _ := os.ReadDir(s.Dir); len(entries) != 0 {
		t.Errorf("%d files written for rejected data", len(entries))
	}
	broken := &Store{Dir: t.TempDir(), Rand: bytes.NewReader(nil)}
	if _, err := broken.Save(context.Background(), 1, readTestdata(t, "avatar.png")); err == nil || errors.Is(err, ErrNotImage) {
		t.Errorf("exhausted randomness: %v", err)
	}
}

func TestOpenUnknown(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Dir: dir}
	if err := os.Mkdir(filepath.Join(dir, "0123456789abcdef0123456789abcdef.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret.png"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"ffffffffffffffffffffffffffffffff.png", // absent
		"0123456789abcdef0123456789abcdef.png", // a directory
		"../secret.png", "..", "", ".upload-123", strings.Repeat("a", 5000),
		"0123456789ABCDEF0123456789ABCDEF.PNG",
	} {
		if f, err := s.Open(key); !errors.Is(err, ErrUnknownKey) {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%.40q): %v, want ErrUnknownKey", key, err)
		}
	}
}
