package api

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/storage"
)

// MaxImage is the largest image accepted (2 MiB).
const MaxImage = 2 << 20

// multipartSlack is what multipart framing may add around the file.
const multipartSlack = 16 << 10

// UploadField is the multipart field of an upload, and data.field of every
// 401 and 402 about it.
const UploadField = "file"

var errImageTooBig = &auth.BadArgumentError{Field: UploadField, Reason: "over 2 MiB"}

func (h *handlers) upload(w http.ResponseWriter, r *http.Request, _ auth.Session, u auth.User) {
	if !h.opts.UploadLimit.allow(w, r, u.ID) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxImage+multipartSlack)
	data, err := readFilePart(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	// The URL is built before the file is written: a request whose Host
	// cannot make one leaves no file behind.
	base, err := h.baseURL(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	key, err := h.opts.Files.Save(r.Context(), u.ID, data)
	if err != nil {
		if errors.Is(err, storage.ErrNotImage) {
			// The reason (polyglot, trailing bytes, dimensions) is for the
			// log; the client sees 402.
			h.log.InfoContext(r.Context(), "upload refused", "user", u.ID, "reason", err.Error())
		}
		WriteError(w, r, h.log, err)
		return
	}
	WriteOK(w, r, map[string]any{"key": key, "url": base + FetchPrefix + key})
}

// readFilePart streams the multipart body to the part named "file" and
// reads at most MaxImage bytes of it.
func readFilePart(r *http.Request) ([]byte, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		if isTooBig(err) {
			return nil, errImageTooBig
		}
		if r.ContentLength == 0 {
			return nil, &auth.MissingArgumentError{Field: UploadField}
		}
		return nil, &auth.BadArgumentError{Field: UploadField, Reason: "not a multipart/form-data body"}
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, &auth.MissingArgumentError{Field: UploadField}
		}
		if err != nil {
			if isTooBig(err) {
				return nil, errImageTooBig
			}
			return nil, &auth.BadArgumentError{Field: UploadField, Reason: "malformed multipart body"}
		}
		if part.FormName() != UploadField {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, MaxImage+1))
		if err != nil {
			if isTooBig(err) {
				return nil, errImageTooBig
			}
			return nil, &auth.BadArgumentError{Field: UploadField, Reason: "malformed multipart body"}
		}
		if len(data) > MaxImage {
			return nil, errImageTooBig
		}
		if len(data) == 0 {
			return nil, &auth.MissingArgumentError{Field: UploadField}
		}
		return data, nil
	}
}

// baseURL is PublicURL, or scheme://Host of the request. The scheme comes
// from TLS, or from X-Forwarded-Proto when the peer is a trusted proxy.
func (h *handlers) baseURL(r *http.Request) (string, error) {
	if h.opts.PublicURL != "" {
		return strings.TrimRight(h.opts.PublicURL, "/"), nil
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if IsTrusted(PeerAddr(r), h.opts.TrustedProxies) {
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

func (h *handlers) fetch(w http.ResponseWriter, r *http.Request) {
	f, err := h.opts.Files.Open(r.PathValue("key"))
	if err != nil {
		if !errors.Is(err, storage.ErrUnknownKey) {
			h.log.ErrorContext(r.Context(), "storage open", "err", err)
		}
		writeNotFound(w, r)
		return
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("Content-Type", f.Type)
	hd.Set("X-Content-Type-Options", "nosniff")
	// Opened as a document (a link, a new tab), the bytes may run nothing
	// and load nothing, whatever a browser makes of them.
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	// A key names one upload forever: its bytes never change.
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	if ri := RequestInfoFrom(r.Context()); ri != nil {
		ri.Errno = ErrnoOK
	}
	http.ServeContent(w, r, "", f.ModTime, f)
}
