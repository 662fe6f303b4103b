// Package storage keeps uploaded avatar images on disk and serves them:
// POST /wx/storage/upload and GET /wx/storage/fetch/{key}. Keys are random;
// nothing a client sends ever becomes part of a path.
package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/oactl/oactl/internal/auth"
)

// Route patterns.
const (
	PatternUpload = "POST /wx/storage/upload"
	PatternFetch  = "GET /wx/storage/fetch/{key}"
	FetchPrefix   = "/wx/storage/fetch/"
)

// MaxImage is the largest image accepted (2 MiB).
const MaxImage = 2 << 20

// multipartSlack is what multipart framing may add around the file.
const multipartSlack = 16 << 10

// Options configures the storage routes.
type Options struct {
	Dir            string         // where files go (--storage-dir)
	PublicURL      string         // absolute base of fetch URLs; "" builds it from the request
	TrustedProxies []netip.Prefix // whose X-Forwarded-Proto is believed
	Rand           io.Reader      // key bytes; nil means crypto/rand
	Logger         *slog.Logger
}

// types are the accepted image types, by http.DetectContentType's names.
var types = map[string]string{
	"image/jpeg": ".jpg",
	"image/png":  ".png",
	"image/webp": ".webp",
	"image/gif":  ".gif",
}

// keyRE is the only key shape that reaches the file system.
var keyRE = regexp.MustCompile(`^[0-9a-f]{32}\.(?:jpg|png|webp|gif)$`)

type store struct {
	opts Options
	log  *slog.Logger
}

// Routes returns the storage routes; upload requires a token of svc.
func Routes(svc *auth.Service, opts Options) []auth.Route {
	s := &store{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return []auth.Route{
		{Pattern: PatternUpload, Handler: auth.RequireToken(svc, s.log, http.HandlerFunc(s.upload))},
		{Pattern: PatternFetch, Handler: http.HandlerFunc(s.fetch)},
	}
}

func (s *store) upload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxImage+multipartSlack)
	data, err := readFilePart(r)
	if err != nil {
		auth.WriteError(w, r, s.log, err)
		return
	}
	ext, ok := types[http.DetectContentType(data)]
	if !ok {
		auth.WriteError(w, r, s.log, &auth.BadArgumentError{Field: "file", Reason: "not a JPEG, PNG, WebP or GIF image"})
		return
	}
	key, err := s.newKey(ext)
	if err != nil {
		auth.WriteError(w, r, s.log, err)
		return
	}
	// The URL is built before the file is written: a request whose Host
	// cannot make one leaves no file behind.
	base, err := s.baseURL(r)
	if err != nil {
		auth.WriteError(w, r, s.log, err)
		return
	}
	if err := s.write(key, data); err != nil {
		auth.WriteError(w, r, s.log, err)
		return
	}
	auth.WriteOK(w, r, map[string]any{"key": key, "url": base + FetchPrefix + key})
}

// readFilePart streams the multipart body to the part named "file" and
// reads at most MaxImage bytes of it.
func readFilePart(r *http.Request) ([]byte, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		if isTooBig(err) {
			return nil, &auth.BadArgumentError{Field: "file", Reason: "over 2 MiB"}
		}
		if r.ContentLength == 0 {
			return nil, &auth.MissingArgumentError{Field: "file"}
		}
		return nil, &auth.BadArgumentError{Reason: "not a multipart/form-data body"}
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, &auth.MissingArgumentError{Field: "file"}
		}
		if err != nil {
			if isTooBig(err) {
				return nil, &auth.BadArgumentError{Field: "file", Reason: "over 2 MiB"}
			}
			return nil, &auth.BadArgumentError{Reason: "malformed multipart body"}
		}
		if part.FormName() != "file" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, MaxImage+1))
		if err != nil {
			if isTooBig(err) {
				return nil, &auth.BadArgumentError{Field: "file", Reason: "over 2 MiB"}
			}
			return nil, &auth.BadArgumentError{Reason: "malformed multipart body"}
		}
		if len(data) > MaxImage {
			return nil, &auth.BadArgumentError{Field: "file", Reason: "over 2 MiB"}
		}
		if len(data) == 0 {
			return nil, &auth.MissingArgumentError{Field: "file"}
		}
		return data, nil
	}
}

func isTooBig(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}

func (s *store) newKey(ext string) (string, error) {
	rd := s.opts.Rand
	if rd == nil {
		rd = rand.Reader
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(rd, b); err != nil {
		return "", fmt.Errorf("storage key: %w", err)
	}
	return hex.EncodeToString(b) + ext, nil
}

// write stores data under key atomically: a fetch never sees half a file.
func (s *store) write(key string, data []byte) error {
	if err := os.MkdirAll(s.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("storage dir: %w", err)
	}
	tmp, err := os.CreateTemp(s.opts.Dir, ".upload-*")
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
	if err := os.Rename(tmp.Name(), filepath.Join(s.opts.Dir, key)); err != nil {
		return fmt.Errorf("storage rename: %w", err)
	}
	return nil
}

// baseURL is PublicURL, or scheme://Host of the request. The scheme comes
// from TLS, or from X-Forwarded-Proto when the peer is a trusted proxy.
func (s *store) baseURL(r *http.Request) (string, error) {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/"), nil
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if auth.IsTrusted(auth.PeerAddr(r), s.opts.TrustedProxies) {
		switch p := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto"))); p {
		case "http", "https":
			scheme = p
		}
	}
	if !validHost(r.Host) {
		return "", &auth.BadArgumentError{Field: "Host", Reason: "not a host name"}
	}
	return scheme + "://" + r.Host, nil
}

// validHost accepts host, host:port and [v6]:port: a hostile Host header
// must not turn the returned URL into something else.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-:[]_", c) >= 0) {
			return false
		}
	}
	// The characters alone allow "[" or "a]b": brackets only around an
	// IPv6 address, and the URL built from the host must parse back to it.
	if strings.ContainsAny(h, "[]") {
		end := strings.IndexByte(h, ']')
		if h[0] != '[' || end < 0 || strings.Count(h, "[") != 1 || strings.Count(h, "]") != 1 {
			return false
		}
		if a, err := netip.ParseAddr(h[1:end]); err != nil || !a.Is6() {
			return false
		}
	}
	u, err := url.Parse("http://" + h + "/")
	return err == nil && u.Host == h && u.Hostname() != ""
}

func (s *store) fetch(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !keyRE.MatchString(key) {
		auth.WriteEnvelope(w, r, http.StatusNotFound, auth.ErrnoNotFound, auth.MsgNotFound, nil)
		return
	}
	f, err := os.Open(filepath.Join(s.opts.Dir, key))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.ErrorContext(r.Context(), "storage open", "err", err)
		}
		auth.WriteEnvelope(w, r, http.StatusNotFound, auth.ErrnoNotFound, auth.MsgNotFound, nil)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		auth.WriteEnvelope(w, r, http.StatusNotFound, auth.ErrnoNotFound, auth.MsgNotFound, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", typeOf(filepath.Ext(key)))
	h.Set("X-Content-Type-Options", "nosniff")
	// A key names one upload forever: its bytes never change.
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if ri := auth.RequestInfoFrom(r.Context()); ri != nil {
		ri.Errno = auth.ErrnoOK
	}
	http.ServeContent(w, r, "", fi.ModTime().Truncate(time.Second), f)
}

// typeOf is the content type of a stored key's extension. The system's
// mime.types is not consulted: it differs between hosts.
func typeOf(ext string) string {
	for t, e := range types {
		if e == ext {
			return t
		}
	}
	return "application/octet-stream"
}
