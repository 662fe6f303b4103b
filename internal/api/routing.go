package api

import (
	"net/http"
	"path"
	"strings"
)

// EnvelopeRouting answers the mux's own routing failures with the
// envelope: 404 for an unknown path, 405 (with Allow) for a wrong method.
// The mux's path-cleaning redirects become 404 too: API clients send clean
// paths, and a redirect of /wx/storage/fetch/../x helps no one.
func EnvelopeRouting(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Registered patterns hold a method and a space; mux.Handler reports
		// "" for 404 and 405, and the bare target path for its redirects.
		// An unclean path reports the pattern it would redirect to.
		h, pattern := mux.Handler(r)
		if strings.Contains(pattern, " ") && isClean(r.URL.Path) {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			if allow := rec.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			WriteEnvelope(w, r, http.StatusMethodNotAllowed, ErrnoMethod, MsgMethod, nil)
			return
		}
		writeNotFound(w, r)
	})
}

// isClean reports whether the mux would serve p without a redirect.
func isClean(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// statusRecorder captures what the mux's internal handlers write.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}
