package auth

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
)

// TokenHeader carries the token of an authenticated request.
const TokenHeader = "X-OA-Token"

// TokenExpireLayout formats tokenExpire: seconds, no fraction, no offset,
// in the configured zone.
const TokenExpireLayout = "2006-01-02T15:04:05"

// Route patterns of the /wx/auth API.
const (
	PatternLogin     = "POST /wx/auth/login_by_weixin"
	PatternInfo      = "GET /wx/auth/info"
	PatternProfile   = "POST /wx/auth/profile"
	PatternLogout    = "POST /wx/auth/logout"
	PatternBindPhone = "POST /wx/auth/bindPhone"
)

// HandlerOptions configures the /wx/auth handlers.
type HandlerOptions struct {
	TimeZone       *time.Location // tokenExpire's zone; nil means time.Local
	TrustedProxies []netip.Prefix // whose X-Forwarded-For is believed
	Logger         *slog.Logger
}

func (o HandlerOptions) logger() *slog.Logger {
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

// Routes returns the /wx/auth routes.
func Routes(svc *Service, opts HandlerOptions) []Route {
	h := &handlers{svc: svc, opts: opts, log: opts.logger()}
	auth := func(f func(http.ResponseWriter, *http.Request, Session, User)) http.Handler {
		return RequireToken(svc, h.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, user, _ := FromContext(r.Context())
			f(w, r, sess, user)
		}))
	}
	return []Route{
		{PatternLogin, http.HandlerFunc(h.login)},
		{PatternInfo, auth(h.info)},
		{PatternProfile, auth(h.profile)},
		{PatternLogout, auth(h.logout)},
		{PatternBindPhone, auth(h.bindPhone)},
	}
}

// NewHandler returns the /wx/auth API as one handler, with envelope
// answers for unknown paths and wrong methods.
func NewHandler(svc *Service, opts HandlerOptions) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range Routes(svc, opts) {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	return EnvelopeRouting(mux)
}

type handlers struct {
	svc  *Service
	opts HandlerOptions
	log  *slog.Logger
}

type loginBody struct {
	Code     *string `json:"code"`
	UserInfo *struct {
		NickName  *string `json:"nickName"`
		AvatarURL *string `json:"avatarUrl"`
		Gender    *int    `json:"gender"`
	} `json:"userInfo"`
}

func (h *handlers) login(w http.ResponseWriter, r *http.Request) {
	var body loginBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	in := LoginInput{
		IP:        ClientAddr(r, h.opts.TrustedProxies).String(),
		UserAgent: r.UserAgent(),
	}
	if body.Code != nil {
		in.Code = *body.Code
	}
	if ui := body.UserInfo; ui != nil {
		p := &Profile{}
		if ui.NickName != nil {
			p.Nickname = *ui.NickName
		}
		if ui.AvatarURL != nil {
			p.Avatar = *ui.AvatarURL
		}
		if ui.Gender != nil {
			p.Gender = *ui.Gender
		}
		in.UserInfo = p
	}
	res, err := h.svc.Login(r.Context(), in)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	if ri := RequestInfoFrom(r.Context()); ri != nil {
		ri.UserID = res.User.ID
	}
	WriteOK(w, r, loginData{
		Token:       res.Token,
		TokenExpire: h.formatTime(res.ExpiresAt),
		UserInfo:    loginUserInfo{NickName: res.User.Nickname, AvatarURL: res.User.Avatar, Gender: res.User.Gender},
	})
}

// The answers' data are structs, not maps: encoding/json sorts a map's
// keys on every request, a visible cost on the hot info path (CPU profile
// of BenchmarkInfo). Field names follow the seed's litemall origin on
// purpose: login says avatarUrl, info says avatar.
type loginData struct {
	Token       string        `json:"token"`
	TokenExpire string        `json:"tokenExpire"`
	UserInfo    loginUserInfo `json:"userInfo"`
}

type loginUserInfo struct {
	NickName  string `json:"nickName"`
	AvatarURL string `json:"avatarUrl"`
	Gender    int    `json:"gender"`
}

type infoData struct {
	NickName string `json:"nickName"`
	Avatar   string `json:"avatar"`
	Gender   int    `json:"gender"`
	Mobile   string `json:"mobile"`
}

func (h *handlers) formatTime(t time.Time) string {
	loc := h.opts.TimeZone
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format(TokenExpireLayout)
}

func (h *handlers) info(w http.ResponseWriter, r *http.Request, _ Session, u User) {
	WriteOK(w, r, infoData{NickName: u.Nickname, Avatar: u.Avatar, Gender: u.Gender, Mobile: u.Mobile})
}

type profileBody struct {
	Nickname *string `json:"nickname"`
	Avatar   *string `json:"avatar"`
	Gender   *int    `json:"gender"`
}

func (h *handlers) profile(w http.ResponseWriter, r *http.Request, _ Session, u User) {
	var body profileBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	if _, err := h.svc.UpdateProfile(r.Context(), u, ProfileUpdate(body)); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteOK(w, r, nil)
}

func (h *handlers) logout(w http.ResponseWriter, r *http.Request, s Session, _ User) {
	if err := h.svc.Logout(r.Context(), s); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteOK(w, r, nil)
}

type bindPhoneBody struct {
	Code          *string `json:"code"`
	EncryptedData *string `json:"encryptedData"`
	IV            *string `json:"iv"`
}

func (h *handlers) bindPhone(w http.ResponseWriter, r *http.Request, _ Session, u User) {
	var body bindPhoneBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	code, data, iv := deref(body.Code), deref(body.EncryptedData), deref(body.IV)
	var (
		mobile string
		err    error
	)
	switch {
	case code != "":
		mobile, err = h.svc.BindPhoneByCode(r.Context(), u, code)
	case data != "" || iv != "":
		mobile, err = h.svc.BindPhoneEncrypted(r.Context(), u, data, iv)
	default:
		err = &MissingArgumentError{Field: "code"}
	}
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteOK(w, r, map[string]any{"mobile": mobile})
}

type sessionKey struct{}

type authed struct {
	sess Session
	user User
}

// FromContext returns the session and user RequireToken found.
func FromContext(ctx context.Context) (Session, User, bool) {
	a, ok := ctx.Value(sessionKey{}).(*authed)
	if !ok {
		return Session{}, User{}, false
	}
	return a.sess, a.user, true
}

// RequireToken lets a request through only with a usable X-OA-Token;
// otherwise it answers 501 (or 700 for a blocked account) without calling
// next. Malformed values are refused without a database read.
func RequireToken(svc *Service, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, user, err := svc.Authenticate(r.Context(), r.Header.Get(TokenHeader))
		if err != nil {
			WriteError(w, r, logger, err)
			return
		}
		if ri := RequestInfoFrom(r.Context()); ri != nil {
			ri.UserID = user.ID
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, &authed{sess, user})))
	})
}

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
		WriteEnvelope(w, r, http.StatusNotFound, ErrnoNotFound, MsgNotFound, nil)
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

// retryAfter formats a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// WriteRateLimited answers 429 with a Retry-After header.
func WriteRateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfter(wait))
	WriteEnvelope(w, r, http.StatusOK, ErrnoRateLimited, MsgRateLimited, nil)
}
