package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/oactl/oactl/internal/auth"
)

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
	// The raw address and User-Agent: the service cuts them to the columns.
	in := auth.LoginInput{
		AppID:     RefererAppID(r),
		IP:        ClientOf(r, h.opts.TrustedProxies).String(),
		UserAgent: r.UserAgent(),
	}
	if body.Code != nil {
		in.Code = *body.Code
	}
	if ui := body.UserInfo; ui != nil {
		p := &auth.Profile{}
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

func (h *handlers) formatTime(t time.Time) string { return formatTime(h.opts.TimeZone, t) }

// formatTime is t in the tokenExpire layout in loc (nil: time.Local).
// Every authenticated answer carries one: RFC 3339, which package time
// formats on a fast path, begins with the layout (for four-digit years),
// where Format would interpret the layout on every call.
func formatTime(loc *time.Location, t time.Time) string {
	if loc == nil {
		loc = time.Local
	}
	t = t.In(loc)
	if y := t.Year(); y < 0 || y > 9999 {
		return t.Format(TokenExpireLayout)
	}
	var buf [len(time.RFC3339Nano) + 8]byte
	return string(t.AppendFormat(buf[:0], time.RFC3339)[:len(TokenExpireLayout)])
}

func (h *handlers) info(w http.ResponseWriter, r *http.Request, _ auth.Session, u auth.User) {
	WriteOK(w, r, infoData{NickName: u.Nickname, Avatar: u.Avatar, Gender: u.Gender, Mobile: u.Mobile})
}

type profileBody struct {
	Nickname *string `json:"nickname"`
	Avatar   *string `json:"avatar"`
	Gender   *int    `json:"gender"`
}

func (h *handlers) profile(w http.ResponseWriter, r *http.Request, _ auth.Session, u auth.User) {
	var body profileBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	if _, err := h.svc.UpdateProfile(r.Context(), u, auth.ProfileUpdate(body)); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteOK(w, r, nil)
}

func (h *handlers) logout(w http.ResponseWriter, r *http.Request, s auth.Session, _ auth.User) {
	if err := h.svc.Logout(r.Context(), s); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	// The token is dead: it has no expiry left to announce.
	w.Header().Del(TokenExpireHeader)
	WriteOK(w, r, nil)
}

// cancel deletes the caller's account (SPEC §11). The body is optional
// and ignored, so a mini-program may send the {} wx.request adds.
func (h *handlers) cancel(w http.ResponseWriter, r *http.Request, _ auth.Session, u auth.User) {
	if _, err := h.svc.Cancel(r.Context(), u.ID, auth.Audit{Actor: auth.ActorUser}); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.Header().Del(TokenExpireHeader)
	WriteOK(w, r, nil)
}

type bindPhoneBody struct {
	Code          *string `json:"code"`
	EncryptedData *string `json:"encryptedData"`
	IV            *string `json:"iv"`
}

func (h *handlers) bindPhone(w http.ResponseWriter, r *http.Request, sess auth.Session, u auth.User) {
	if !h.opts.BindPhoneLimit.allow(w, r, u.ID) {
		return
	}
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
		mobile, err = h.svc.BindPhoneByCode(r.Context(), sess, u, code)
	case data != "" || iv != "":
		mobile, err = h.svc.BindPhoneEncrypted(r.Context(), sess, u, data, iv)
	default:
		err = &auth.MissingArgumentError{Field: "code"}
	}
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteOK(w, r, map[string]any{"mobile": mobile})
}

type sessionKey struct{}

type authed struct {
	sess auth.Session
	user auth.User
}

// FromContext returns the session and user RequireToken found.
func FromContext(ctx context.Context) (auth.Session, auth.User, bool) {
	a, ok := ctx.Value(sessionKey{}).(*authed)
	if !ok {
		if ri := RequestInfoFrom(ctx); ri != nil && ri.hasAuth {
			a, ok = &ri.auth, true
		}
	}
	if !ok {
		return auth.Session{}, auth.User{}, false
	}
	return a.sess, a.user, true
}

// tokenExpireKey is TokenExpireHeader canonicalised once ("X-Oa-..."), as
// Header.Set would on every authenticated answer.
var tokenExpireKey = http.CanonicalHeaderKey(TokenExpireHeader)

// RequireToken lets a request through only with a usable X-OA-Token;
// otherwise it answers 501 (or 700 for a blocked account) without calling
// next. Malformed values are refused without a database read.
//
// The answer carries X-OA-Token-Expire, the session's expiry after this
// request (renewed or not) in loc (nil: time.Local).
func RequireToken(svc *auth.Service, logger *slog.Logger, loc *time.Location, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, user, err := svc.Authenticate(r.Context(), r.Header.Get(TokenHeader))
		if err != nil {
			WriteError(w, r, logger, err)
			return
		}
		w.Header()[tokenExpireKey] = []string{formatTime(loc, sess.ExpiresAt)}
		if ri := RequestInfoFrom(r.Context()); ri != nil {
			ri.UserID, ri.auth, ri.hasAuth = user.ID, authed{sess, user}, true
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, &authed{sess, user})))
	})
}
