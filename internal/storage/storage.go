// Package storage keeps avatar images on disk. It knows neither HTTP nor
// logins: internal/api reads uploads and serves fetches, and turns this
// package's errors into answers. Keys are random; nothing a client sends
// ever becomes part of a path.
package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

var (
	// ErrNotImage: the bytes are not a JPEG, PNG, WebP or GIF image.
	ErrNotImage = errors.New("not a JPEG, PNG, WebP or GIF image")
	// ErrUnknownKey: no stored image has this key (or the key cannot be
	// one of ours).
	ErrUnknownKey = errors.New("no image with this key")
)

// DefaultDir is where images go when Store.Dir is empty.
const DefaultDir = "oactl-files"

// Store is a directory of images named by random keys. The zero value
// stores under DefaultDir with crypto/rand keys.
type Store struct {
	Dir  string    // where files go (--storage-dir)
	Rand io.Reader // key bytes; nil means crypto/rand
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

// Save stores data under a new random key whose extension follows the
// sniffed type, atomically: a concurrent Open never sees half a file.
// Data that is not one of the four image types is ErrNotImage.
func (s *Store) Save(data []byte) (key string, err error) {
	ext := extOf(Sniff(data))
	if ext == "" {
		return "", ErrNotImage
	}
	if key, err = s.newKey(ext); err != nil {
		return "", err
	}
	if err := s.write(key, data); err != nil {
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

func (s *Store) write(key string, data []byte) error {
	dir := s.dir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("storage dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return fmt.Errorf("storage temp file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("storage write: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("storage chmod: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("storage close: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, key)); err != nil {
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
// missing file and anything but a regular file are ErrUnknownKey; other
// failures are wrapped as they come.
func (s *Store) Open(key string) (*File, error) {
	if !keyRE.MatchString(key) {
		return nil, ErrUnknownKey
	}
	f, err := os.Open(filepath.Join(s.dir(), key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrUnknownKey
	}
	if err != nil {
		return nil, fmt.Errorf("storage open: %w", err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, ErrUnknownKey
	}
	return &File{File: f, Type: typeOf(filepath.Ext(key)), ModTime: fi.ModTime().Truncate(time.Second)}, nil
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
