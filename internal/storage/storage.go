// Package storage keeps avatar images on disk. It knows neither HTTP nor
// logins: internal/api reads uploads and serves fetches, and turns this
// package's errors into answers. Keys are random; nothing a client sends
// ever becomes part of a path.
//
// Every file is reached through an os.Root on the storage directory and
// opened only if it is a regular file (never a symbolic link), so neither
// a key nor a link planted in the directory leads anywhere else. Each
// upload is recorded with its owner (Records); Collect deletes the
// uploads that no user's avatar points at once Retention has passed.
package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"
)

var (
	// ErrNotImage: the bytes are not a JPEG, PNG, WebP or GIF image that
	// decodes whole.
	ErrNotImage = errors.New("not a JPEG, PNG, WebP or GIF image")
	// ErrUnknownKey: no stored image has this key (or the key cannot be
	// one of ours, or the name is not a regular file).
	ErrUnknownKey = errors.New("no image with this key")
)

// Defaults of Store.
const (
	DefaultDir       = "oactl-files"
	DefaultRetention = 7 * 24 * time.Hour
	// DirMode and FileMode keep uploads to the server's own user: other
	// users of the machine have no business reading them.
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
	// collectBatch bounds the keys one Collect round reads and deletes.
	collectBatch = 500
)

// Records keeps the owner and time of every upload (internal/db
// implements it). An upload is referenced while some user's avatar is a
// URL whose last path segment is its key.
type Records interface {
	// AddUpload records a new upload: its key, the uploading user's id,
	// its size in bytes and its time (UTC, whole seconds).
	AddUpload(ctx context.Context, key string, owner, size int64, at time.Time) error
	// UnreferencedUploads returns up to limit keys of uploads made before
	// before that no user's avatar references, oldest first.
	UnreferencedUploads(ctx context.Context, before time.Time, limit int) ([]string, error)
	// UploadKeysOf returns the keys of every upload of owner.
	UploadKeysOf(ctx context.Context, owner int64) ([]string, error)
	// DeleteUploads deletes the records of keys and returns how many it
	// deleted.
	DeleteUploads(ctx context.Context, keys []string) (int64, error)
}

// Store is a directory of images named by random keys. The zero value
// stores under DefaultDir with crypto/rand keys and records nothing. Use
// it through a pointer; Close releases the directory.
type Store struct {
	Dir     string    // where files go (--storage-dir)
	Rand    io.Reader // key bytes; nil means crypto/rand
	Records Records   // nil: uploads are not recorded and Collect does nothing
	// Retention is how long an unreferenced upload is kept
	// (--upload-retention); 0 means DefaultRetention.
	Retention time.Duration
	Now       func() time.Time
	Logger    *slog.Logger

	mu   sync.Mutex
	root *os.Root
}

// types maps each accepted image type to its key's extension.
var types = []struct{ ctype, ext string }{
	{"image/jpeg", ".jpg"},
	{"image/png", ".png"},
	{"image/webp", ".webp"},
	{"image/gif", ".gif"},
}

// keyRE is the only key shape that reaches the file system.
var keyRE = regexp.MustCompile(`^[0-9a-f]{32}\.(?:jpg|png|webp|gif)$`)

func (s *Store) dir() string {
	if s.Dir == "" {
		return DefaultDir
	}
	return s.Dir
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Prepare creates the directory (mode 0700, whatever the umask allows
// more) unless it exists, and opens it. serve calls it at start, so that
// a directory that cannot be made fails before the first upload; the
// other methods call it when needed. A directory that already exists
// keeps its mode: when other users may read it, a warning says so.
func (s *Store) Prepare() error {
	_, err := s.rootDir()
	return err
}

func (s *Store) rootDir() (*os.Root, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root != nil {
		return s.root, nil
	}
	dir := s.dir()
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, DirMode); err != nil {
			return nil, fmt.Errorf("storage dir: %w", err)
		}
		// MkdirAll's mode passes through the umask, which only removes
		// bits; Chmod makes the intent exact.
		if err := os.Chmod(dir, DirMode); err != nil {
			return nil, fmt.Errorf("storage dir: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("storage dir: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("storage dir %s: not a directory", dir)
	case fi.Mode().Perm()&0o077 != 0:
		s.logger().Warn("the storage directory is readable by other users of this machine; chmod 700 it unless something else must read it",
			"dir", dir, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storage dir: %w", err)
	}
	s.root = root
	return root, nil
}

// Close releases the directory.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root == nil {
		return nil
	}
	err := s.root.Close()
	s.root = nil
	return err
}

// Save stores data for owner under a new random key whose extension
// follows the sniffed type, atomically: a concurrent Open never sees half
// a file. Data that is not one whole image of the four types
// (CheckImage) is ErrNotImage and leaves nothing behind. The upload is
// recorded before the file is written, so a crash leaves at worst a
// record without a file, which Collect removes.
func (s *Store) Save(ctx context.Context, owner int64, data []byte) (key string, err error) {
	ctype := Sniff(data)
	ext := extOf(ctype)
	if ext == "" {
		return "", ErrNotImage
	}
	if err := CheckImage(ctx, ctype, data); err != nil {
		return "", err
	}
	root, err := s.rootDir()
	if err != nil {
		return "", err
	}
	if key, err = s.newKey(ext); err != nil {
		return "", err
	}
	if s.Records != nil {
		if err := s.Records.AddUpload(ctx, key, owner, int64(len(data)), s.now().UTC().Truncate(time.Second)); err != nil {
			return "", fmt.Errorf("storage record: %w", err)
		}
	}
	if err := s.write(root, key, data); err != nil {
		if s.Records != nil {
			// Best effort: Collect removes a record left behind.
			_, _ = s.Records.DeleteUploads(context.WithoutCancel(ctx), []string{key})
		}
		return "", err
	}
	return key, nil
}

func (s *Store) newKey(ext string) (string, error) {
	rd := s.Rand
	if rd == nil {
		rd = rand.Reader
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(rd, b); err != nil {
		return "", fmt.Errorf("storage key: %w", err)
	}
	return hex.EncodeToString(b) + ext, nil
}

func (s *Store) write(root *os.Root, key string, data []byte) error {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("storage temp name: %w", err)
	}
	tmp := ".upload-" + hex.EncodeToString(b[:])
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return fmt.Errorf("storage temp file: %w", err)
	}
	defer root.Remove(tmp) // fails harmlessly after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("storage write: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage close: %w", err)
	}
	if err := root.Rename(tmp, key); err != nil {
		return fmt.Errorf("storage rename: %w", err)
	}
	return nil
}

// File is a stored image opened for reading; close it when done.
type File struct {
	*os.File
	Type    string    // the image's content type, from its key
	ModTime time.Time // when it was stored, in whole seconds
}

// Open opens the image stored under key. A key of the wrong shape, a
// missing file and anything but a regular file (a symbolic link, even to
// a file inside the directory; a directory; a FIFO) are ErrUnknownKey;
// other failures are wrapped as they come.
func (s *Store) Open(key string) (*File, error) {
	if !keyRE.MatchString(key) {
		return nil, ErrUnknownKey
	}
	root, err := s.rootDir()
	if err != nil {
		return nil, err
	}
	// Lstat does not follow a link; the opened file must then be the very
	// file Lstat saw, so a link swapped in between is refused too.
	li, err := root.Lstat(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrUnknownKey
	}
	if err != nil {
		return nil, fmt.Errorf("storage open: %w", err)
	}
	if !li.Mode().IsRegular() {
		return nil, ErrUnknownKey
	}
	f, err := root.Open(key)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrUnknownKey
		}
		return nil, fmt.Errorf("storage open: %w", err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !os.SameFile(li, fi) {
		f.Close()
		return nil, ErrUnknownKey
	}
	return &File{File: f, Type: typeOf(filepath.Ext(key)), ModTime: fi.ModTime().Truncate(time.Second)}, nil
}

// Collect deletes the uploads made more than Retention ago that no
// user's avatar references: the file, then its record (a record whose
// file is already gone is simply dropped). It returns how many uploads
// it deleted. serve runs it as a job; several processes may run it at
// once.
func (s *Store) Collect(ctx context.Context) (int, error) {
	if s.Records == nil {
		return 0, nil
	}
	retention := s.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	before := s.now().UTC().Add(-retention)
	total := 0
	for {
		keys, err := s.Records.UnreferencedUploads(ctx, before, collectBatch)
		if err != nil {
			return total, fmt.Errorf("storage collect: %w", err)
		}
		n, err := s.remove(ctx, keys)
		total += n
		// n == 0 for a full batch: the records did not go (another
		// process is ahead of us, or they cannot be deleted); reading
		// them again would loop.
		if err != nil || len(keys) < collectBatch || n == 0 {
			return total, err
		}
	}
}

// DeleteOwner deletes every upload of owner, referenced or not (an
// account's cancellation), and returns how many it deleted.
func (s *Store) DeleteOwner(ctx context.Context, owner int64) (int, error) {
	if s.Records == nil {
		return 0, nil
	}
	keys, err := s.Records.UploadKeysOf(ctx, owner)
	if err != nil {
		return 0, fmt.Errorf("storage uploads of %d: %w", owner, err)
	}
	return s.remove(ctx, keys)
}

// remove deletes the files of keys, then the records of those whose file
// is gone. A file that cannot be deleted keeps its record, for the next
// round, and makes remove fail after the others are done.
func (s *Store) remove(ctx context.Context, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	root, err := s.rootDir()
	if err != nil {
		return 0, err
	}
	var gone []string
	var errs []error
	for _, k := range keys {
		if keyRE.MatchString(k) {
			if err := root.Remove(k); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("storage delete %s: %w", k, err))
				continue
			}
		}
		gone = append(gone, k)
	}
	n, err := s.Records.DeleteUploads(ctx, gone)
	if err != nil {
		errs = append(errs, fmt.Errorf("storage delete records: %w", err))
	}
	return int(n), errors.Join(errs...)
}

// typeOf is the content type of a stored key's extension. The system's
// mime.types is not consulted: it differs between hosts.
func typeOf(ext string) string {
	for _, t := range types {
		if t.ext == ext {
			return t.ctype
		}
	}
	return "application/octet-stream"
}

func extOf(ctype string) string {
	for _, t := range types {
		if t.ctype == ctype {
			return t.ext
		}
	}
	return ""
}
