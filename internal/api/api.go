// Package api is the /wx HTTP layer of oactl: the /wx/auth handlers over
// auth.Service, the /wx/storage handlers over storage.Store, the errno
// envelope every answer wears, and the client address. It is the only
// place domain errors become errno values; nothing below it knows HTTP.
package api

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/storage"
)

// Route patterns of the /wx API.
const (
	PatternLogin     = "POST /wx/auth/login_by_weixin"
	PatternInfo      = "GET /wx/auth/info"
	PatternProfile   = "POST /wx/auth/profile"
	PatternLogout    = "POST /wx/auth/logout"
	PatternCancel    = "POST /wx/auth/cancel"
	PatternBindPhone = "POST /wx/auth/bindPhone"
	PatternUpload    = "POST /wx/storage/upload"
	PatternFetch     = "GET /wx/storage/fetch/{key}"
	// FetchPrefix is the path of a fetch URL before the key.
	FetchPrefix = "/wx/storage/fetch/"
)

// TokenHeader carries the token of an authenticated request.
const TokenHeader = "X-OA-Token"

// TokenExpireHeader carries, on every answer to a request whose token
// stays valid, the token's expiry after the request (SPEC §12), in the
// tokenExpire layout: a renewal shows here.
const TokenExpireHeader = "X-OA-Token-Expire"

// TokenExpireLayout formats tokenExpire: seconds, no fraction, no offset,
// in the configured zone.
const TokenExpireLayout = "2006-01-02T15:04:05"

// Options configures the /wx handlers.
type Options struct {
	TimeZone       *time.Location // tokenExpire's zone; nil means time.Local
	TrustedProxies []netip.Prefix // whose X-Forwarded-For and X-Forwarded-Proto are believed
	Logger         *slog.Logger
	// Files keeps uploaded avatars; nil leaves the /wx/storage routes out.
	Files *storage.Store
	// PublicURL is the absolute base of fetch URLs; "" builds it from the
	// request's Host.
	PublicURL string
	// UploadLimit and BindPhoneLimit, when set, admit or refuse one
	// request of a user (internal/server's per-user rate limits); a
	// refused request is answered 429 with Retry-After before its body is
	// read.
	UploadLimit    UserLimit
	BindPhoneLimit UserLimit
}

// UserLimit takes one request of a user from a rate limit: false and how
// long until the next one would pass when none is left.
type UserLimit func(userID int64) (ok bool, wait time.Duration)

// allow applies l (nil admits everything) and answers the refusal.
func (l UserLimit) allow(w http.ResponseWriter, r *http.Request, userID int64) bool {
	if l == nil {
		return true
	}
	ok, wait := l(userID)
	if !ok {
		WriteRateLimited(w, r, wait)
	}
	return ok
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Route is one pattern of http.ServeMux and its handler. The server
// registers routes on its own mux, so that r.Pattern names them in logs
// and metrics, and may wrap some (the login rate limit).
type Route struct {
	Pattern string
	Handler http.Handler
}

type handlers struct {
	svc  *auth.Service
	opts Options
	log  *slog.Logger
}

// Routes returns the /wx routes: /wx/auth always, /wx/storage when
// opts.Files is set. Upload and the authenticated /wx/auth routes require
// a token of svc.
func Routes(svc *auth.Service, opts Options) []Route {
	h := &handlers{svc: svc, opts: opts, log: opts.logger()}
	authed := func(f func(http.ResponseWriter, *http.Request, auth.Session, auth.User)) http.Handler {
		return RequireToken(svc, h.log, opts.TimeZone, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, user, _ := FromContext(r.Context())
			f(w, r, sess, user)
		}))
	}
	routes := []Route{
		{PatternLogin, http.HandlerFunc(h.login)},
		{PatternInfo, authed(h.info)},
		{PatternProfile, authed(h.profile)},
		{PatternLogout, authed(h.logout)},
		{PatternCancel, authed(h.cancel)},
		{PatternBindPhone, authed(h.bindPhone)},
	}
	if opts.Files != nil {
		routes = append(routes,
			Route{PatternUpload, authed(h.upload)},
			Route{PatternFetch, http.HandlerFunc(h.fetch)},
		)
	}
	return routes
}

// NewHandler returns the /wx API as one handler, with envelope answers for
// unknown paths and wrong methods: for tests and for embedding without
// internal/server's log, metrics and rate limit.
func NewHandler(svc *auth.Service, opts Options) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range Routes(svc, opts) {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	return EnvelopeRouting(mux)
}
