package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/oactl/oactl/internal/wechat"
)

// WeChat is what the service needs from WeChat (internal/wechat.Client
// implements it).
type WeChat interface {
	Code2Session(ctx context.Context, code string) (wechat.SessionInfo, error)
	// PhoneNumber exchanges a phone-number code; openid is the user's, so
	// that WeChat refuses a code obtained by another user.
	PhoneNumber(ctx context.Context, code, openid string) (wechat.PhoneInfo, error)
}

// Sealer encrypts session keys at rest (internal/keyseal implements it).
// The additional data is the session's token hash: a sealed key copied to
// another session row does not open there.
type Sealer interface {
	Seal(plain, ad string) (string, error)
	Open(stored, ad string) (string, error)
}

// Defaults of the service.
const (
	DefaultTokenTTL = 24 * time.Hour
	// DefaultMaxAge is how long renewal may keep a session alive after
	// its login (--token-max-age).
	DefaultMaxAge = 30 * 24 * time.Hour
	// TouchInterval is how stale last_seen_at may get: an authenticated
	// request writes it at most this often per session.
	TouchInterval = time.Minute
	tokenBytes    = 32
	// TokenLen is the length of a token: base64url of 32 bytes, unpadded.
	TokenLen = 43
	// WatermarkWindow is how far a legacy payload's watermark timestamp
	// may be from now (SPEC §11): a captured payload cannot be replayed
	// later.
	WatermarkWindow = 10 * time.Minute
)

// Service is the login domain's logic, independent of HTTP. It serves the
// default app (AppID, WeChat) and the apps of Apps, each with its own
// WeChat client (its own secret and access token).
type Service struct {
	Store  Store
	WeChat WeChat // the default app's
	AppID  string // the default app
	// Apps are the other mini-programs of this backend, by appid; nil
	// serves the default app only.
	Apps   map[string]WeChat
	Sealer Sealer // nil stores session keys as they are
	// TokenTTL is the idle timeout: a request made when less than half of
	// it remains renews the session to now + TokenTTL (SPEC §12).
	TokenTTL time.Duration
	// MaxAge caps renewal: no session lives past its login + MaxAge
	// (0: DefaultMaxAge; equal to TokenTTL turns renewal off).
	MaxAge time.Duration
	// MaxSessions is how many unexpired, unrevoked sessions a user may
	// have; a login beyond it revokes the oldest (0: no limit).
	MaxSessions int
	// Files deletes a cancelled user's uploads; nil deletes none.
	Files  UserFiles
	Now    func() time.Time
	Rand   io.Reader // token bytes; nil means crypto/rand
	Logger *slog.Logger
}

// LoginInput is one login request. IP and UserAgent are as the client
// sent them: Login cuts them (LoginRecord.Normalize).
type LoginInput struct {
	// AppID is the app the request names (its Referer); "" is the
	// default app.
	AppID     string
	Code      string
	UserInfo  *Profile // optional: WeChat gives an anonymous profile since 2022
	IP        string
	UserAgent string
}

// maxWeChatID bounds the appids, openids and unionids oactl stores (the
// columns' width); WeChat's are 18 to 28 characters.
const maxWeChatID = 64

// app returns the appid and WeChat client of an app the request names:
// "" and the default appid are the default app; an appid that is not
// configured is a bad argument "appid", refused before WeChat is called.
func (s *Service) app(appid string) (string, WeChat, error) {
	if appid == "" || appid == s.AppID {
		return s.AppID, s.WeChat, nil
	}
	if wc, ok := s.Apps[appid]; ok {
		return appid, wc, nil
	}
	return "", nil, &BadArgumentError{Field: "appid", Reason: "not an app of this server"}
}

// sessionApp returns the appid of a session ("" in the store, made
// before apps were recorded, is the default app's) and its user's
// weixin_openid.
func (s *Service) sessionApp(ctx context.Context, sess Session) (appid, userOpenID string, err error) {
	appid, userOpenID, err = s.Store.SessionApp(ctx, sess.ID)
	if err != nil {
		return "", "", fmt.Errorf("app of session %d: %w", sess.ID, err)
	}
	if appid == "" {
		appid = s.AppID
	}
	return appid, userOpenID, nil
}

// wechatID reports whether id can be an openid or unionid from WeChat:
// 1 to 64 printable ASCII characters.
func wechatID(id string) bool {
	if id == "" || len(id) > maxWeChatID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// LoginResult is a successful login. Token is shown once and never stored.
type LoginResult struct {
	Token     string
	ExpiresAt time.Time
	User      User
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) ttl() time.Duration {
	if s.TokenTTL > 0 {
		return s.TokenTTL
	}
	return DefaultTokenTTL
}

func (s *Service) maxAge() time.Duration {
	if s.MaxAge > 0 {
		return s.MaxAge
	}
	return DefaultMaxAge
}

// expiry is a new session's expires_at: created + TokenTTL, within the
// max age.
func (s *Service) expiry(created time.Time) time.Time {
	return created.Add(min(s.ttl(), s.maxAge()))
}

// renewal is the expires_at an authenticated request at now moves sess
// to, or the zero time when it stays: only when less than half of the
// TokenTTL remains, to now + TokenTTL, never past created + MaxAge, never
// backwards.
func (s *Service) renewal(sess Session, now time.Time) time.Time {
	ttl := s.ttl()
	if sess.ExpiresAt.Sub(now) >= ttl/2 {
		return time.Time{}
	}
	to := now.UTC().Truncate(time.Second).Add(ttl)
	if limit := sess.CreatedAt.Add(s.maxAge()); to.After(limit) {
		to = limit
	}
	if !to.After(sess.ExpiresAt) {
		return time.Time{}
	}
	return to
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// HashToken returns the hex SHA-256 of a token: the only form the store
// sees.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (s *Service) newToken() (string, error) {
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Login exchanges a wx.login code for a token: validates the input before
// WeChat is called, calls code2Session, then finds or creates the user and
// inserts the session in one store transaction.
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	appid, wc, err := s.app(in.AppID)
	if err != nil {
		return LoginResult{}, err
	}
	if err := ValidateCode("code", in.Code); err != nil {
		return LoginResult{}, err
	}
	var profile Profile
	if in.UserInfo != nil {
		p, err := NormalizeProfile(*in.UserInfo)
		if err != nil {
			return LoginResult{}, err
		}
		profile = p
	}
	info, err := wc.Code2Session(ctx, in.Code)
	if err != nil {
		return LoginResult{}, upstreamError(err)
	}
	if !wechatID(info.OpenID) {
		return LoginResult{}, &UpstreamError{Err: errors.New("code2Session answered without a usable openid")}
	}
	if info.UnionID != "" && !wechatID(info.UnionID) {
		return LoginResult{}, &UpstreamError{Err: errors.New("code2Session answered an unusable unionid")}
	}
	token, err := s.newToken()
	if err != nil {
		return LoginResult{}, err
	}
	hash := HashToken(token)
	key := info.SessionKey
	if s.Sealer != nil {
		if key, err = s.Sealer.Seal(info.SessionKey, hash); err != nil {
			return LoginResult{}, fmt.Errorf("seal session key: %w", err)
		}
	}
	// Whole seconds before the TTL is added: tokenExpire has no fraction.
	now := s.now().Truncate(time.Second)
	utc := now.UTC()
	rec := LoginRecord{
		AppID:       appid,
		OpenID:      info.OpenID,
		UnionID:     info.UnionID,
		DefaultApp:  appid == s.AppID,
		Profile:     profile,
		IP:          in.IP,
		At:          now,
		MaxSessions: s.MaxSessions,
		Session: Session{
			AppID:      appid,
			TokenHash:  hash,
			SessionKey: key,
			CreatedAt:  utc,
			ExpiresAt:  s.expiry(utc),
			LastSeenAt: utc,
			IP:         in.IP,
			UserAgent:  in.UserAgent,
		},
	}.Normalize()
	user, sess, err := s.Store.Login(ctx, rec)
	if err != nil {
		if IsAccountState(err) {
			return LoginResult{}, err
		}
		return LoginResult{}, fmt.Errorf("store login: %w", err)
	}
	if err := user.Usable(); err != nil {
		// The store should have refused; never hand out a token anyway.
		return LoginResult{}, err
	}
	return LoginResult{Token: token, ExpiresAt: sess.ExpiresAt, User: user}, nil
}

func upstreamError(err error) error {
	var api *wechat.APIError
	if errors.As(err, &api) {
		return &UpstreamError{Answered: true, Errcode: api.Errcode, Errmsg: api.Errmsg}
	}
	return &UpstreamError{Err: err}
}

// validTokenShape reports whether token could be one of ours; anything else
// is refused without a database read.
func validTokenShape(token string) bool {
	if len(token) != TokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Authenticate resolves a token to its session and user with one indexed
// read. It keeps no cache, so a revoke is seen at the next request, and
// writes last_seen_at at most once a minute per session. That write also
// carries the renewal (SPEC §12), so renewing costs no write of its own:
// the returned session's ExpiresAt is the expiry after this request.
// Only a session about to die before its next touch (a TokenTTL under
// two minutes) is renewed off that beat.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, User, error) {
	if !validTokenShape(token) {
		return Session{}, User{}, ErrUnauthenticated
	}
	sess, user, err := s.Store.SessionByTokenHash(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return Session{}, User{}, ErrUnauthenticated
	}
	if err != nil {
		return Session{}, User{}, fmt.Errorf("find session: %w", err)
	}
	now := s.now()
	if sess.StateAt(now) != StateActive {
		return Session{}, User{}, ErrUnauthenticated
	}
	if err := user.Usable(); err != nil {
		return Session{}, User{}, err
	}
	renew := s.renewal(sess, now)
	if now.Sub(sess.LastSeenAt) >= TouchInterval || (!renew.IsZero() && sess.ExpiresAt.Sub(now) < TouchInterval) {
		// Last seen is bookkeeping: a failed write must not fail the
		// request (the session keeps its old expiry, which is still ahead).
		if err := s.Store.TouchSession(ctx, sess.ID, now.UTC(), renew); err != nil {
			s.logger().WarnContext(ctx, "touch session", "session", sess.ID, "err", err)
		} else {
			sess.LastSeenAt = now.UTC()
			if !renew.IsZero() {
				sess.ExpiresAt = renew
			}
		}
	}
	return sess, user, nil
}

// Logout revokes the session; its token answers 501 from then on.
func (s *Service) Logout(ctx context.Context, sess Session) error {
	err := s.Store.RevokeSession(ctx, sess.ID, s.now().UTC(), ReasonLogout)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// UpdateProfile validates and applies a profile change.
func (s *Service) UpdateProfile(ctx context.Context, u User, upd ProfileUpdate) (User, error) {
	upd, err := NormalizeProfileUpdate(upd)
	if err != nil {
		return User{}, err
	}
	out, err := s.Store.UpdateProfile(ctx, u.ID, upd, s.now().Truncate(time.Second))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return User{}, err
		}
		return User{}, fmt.Errorf("update profile: %w", err)
	}
	return out, nil
}

// BindPhoneByCode binds the number behind a getuserphonenumber code,
// asked of WeChat with the access token of the session's app (the code
// was issued to that app). The user's openid under that app travels with
// the code: a code is bound to the WeChat user whose mini-program obtained
// it, and without the openid another user's token could bind that number
// (WeChat, and mockwx, refuse the mismatch).
func (s *Service) BindPhoneByCode(ctx context.Context, sess Session, u User, code string) (string, error) {
	if err := ValidateCode("code", code); err != nil {
		return "", err
	}
	appid, userOpenID, err := s.sessionApp(ctx, sess)
	if err != nil {
		return "", err
	}
	appid, wc, err := s.app(appid)
	if err != nil {
		return "", err
	}
	openid, err := s.openIDUnder(ctx, u.ID, userOpenID, appid)
	if err != nil {
		return "", err
	}
	info, err := wc.PhoneNumber(ctx, code, openid)
	if err != nil {
		return "", upstreamError(err)
	}
	mobile, err := pickMobile(info.PhoneNumber, info.PurePhoneNumber)
	if err != nil {
		return "", &UpstreamError{Err: err}
	}
	return mobile, s.setMobile(ctx, u, mobile)
}

// openIDUnder is a user's openid under appid: its identity for that app,
// or, for the default app, wx_user.weixin_openid (userOpenID: a user who
// has not logged in since identities were recorded has no identity row
// yet).
func (s *Service) openIDUnder(ctx context.Context, userID int64, userOpenID, appid string) (string, error) {
	ids, err := s.Store.UserIdentities(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("identities of user %d: %w", userID, err)
	}
	for _, id := range ids {
		if id.AppID == appid {
			return id.OpenID, nil
		}
	}
	if appid == s.AppID && userOpenID != "" {
		return userOpenID, nil
	}
	return "", fmt.Errorf("user %d has no openid under app %s", userID, appid)
}

// maxMobile is wx_user.mobile's width.
const maxMobile = 20

func pickMobile(phone, pure string) (string, error) {
	m := phone
	if m == "" {
		m = pure
	}
	if m == "" || len(m) > maxMobile {
		return "", fmt.Errorf("unusable phone number (%d bytes)", len(m))
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == ' ') {
			return "", errors.New("phone number holds unexpected characters")
		}
	}
	return m, nil
}

// setMobile stores the number unless another live account has it
// (ErrPhoneTaken, nothing written).
func (s *Service) setMobile(ctx context.Context, u User, mobile string) error {
	err := s.Store.SetMobile(ctx, u.ID, mobile, s.now().Truncate(time.Second))
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrPhoneTaken) {
		return fmt.Errorf("set mobile: %w", err)
	}
	return err
}

// Cancel deletes an account as SPEC §11 has it: in one store transaction
// every session is revoked (reason "cancelled") and its session_key
// erased, the identities deleted, the row anonymised and set to status 2,
// and a row of oa_audit written (a.Actor: ActorUser for the user's own
// cancel); then the user's uploaded files are deleted. The row stays,
// since other tables may point at its id; a later login of the same
// WeChat account makes a new user. Files that cannot be deleted now are
// logged: no avatar points at them any more, so the upload collector
// removes them after --upload-retention.
func (s *Service) Cancel(ctx context.Context, userID int64, a Audit) (CancelResult, error) {
	if a.At.IsZero() {
		a.At = s.now().UTC().Truncate(time.Second)
	}
	res, err := s.Store.CancelUser(ctx, userID, a)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return CancelResult{}, err
		}
		return CancelResult{}, fmt.Errorf("cancel user %d: %w", userID, err)
	}
	if s.Files != nil {
		n, err := s.Files.DeleteOwner(ctx, userID)
		res.Files = n
		if err != nil {
			s.logger().WarnContext(ctx, "cancel: delete files (the upload collector retries)", "user", userID, "err", err)
		}
	}
	return res, nil
}

// BindPhoneEncrypted binds a number from the legacy encrypted payload of
// the session's app: decrypted with the user's newest session_key under
// that app (WeChat keeps one valid key per user and app), its watermark
// appid checked against that app.
func (s *Service) BindPhoneEncrypted(ctx context.Context, sess Session, u User, encryptedData, iv string) (string, error) {
	if encryptedData == "" {
		return "", &MissingArgumentError{Field: "encryptedData"}
	}
	if iv == "" {
		return "", &MissingArgumentError{Field: "iv"}
	}
	appid, _, err := s.sessionApp(ctx, sess)
	if err != nil {
		return "", err
	}
	key, err := s.newestSessionKey(ctx, u.ID, appid)
	if err != nil {
		return "", err
	}
	plain, err := wechat.Decrypt(key, encryptedData, iv)
	if err != nil {
		return "", &BadArgumentError{Field: "encryptedData", Reason: "does not decrypt with the newest session key"}
	}
	if err := wechat.CheckWatermark(plain, appid); err != nil {
		return "", &BadArgumentError{Field: "encryptedData", Reason: "watermark is not this app's"}
	}
	if err := wechat.CheckWatermarkTime(plain, s.now(), WatermarkWindow); err != nil {
		return "", &BadArgumentError{Field: "encryptedData", Reason: "watermark timestamp is not within 10 minutes of now"}
	}
	var phone struct {
		PhoneNumber     string `json:"phoneNumber"`
		PurePhoneNumber string `json:"purePhoneNumber"`
	}
	if err := json.Unmarshal(plain, &phone); err != nil {
		return "", &BadArgumentError{Field: "encryptedData", Reason: "not a phone-number payload"}
	}
	mobile, err := pickMobile(phone.PhoneNumber, phone.PurePhoneNumber)
	if err != nil {
		return "", &BadArgumentError{Field: "encryptedData", Reason: err.Error()}
	}
	return mobile, s.setMobile(ctx, u, mobile)
}

func (s *Service) newestSessionKey(ctx context.Context, userID int64, appid string) (string, error) {
	apps := []string{appid}
	if appid == s.AppID {
		apps = append(apps, "") // sessions from before apps were recorded
	}
	sess, err := s.Store.NewestSession(ctx, userID, apps)
	if err != nil {
		return "", fmt.Errorf("newest session: %w", err)
	}
	if s.Sealer == nil {
		return sess.SessionKey, nil
	}
	// The token hash is the sealing AD (see Sealer).
	key, err := s.Sealer.Open(sess.SessionKey, sess.TokenHash)
	if err != nil {
		return "", fmt.Errorf("open session key: %w", err)
	}
	return key, nil
}

// PurgeExpired deletes sessions that expired more than retention ago.
func (s *Service) PurgeExpired(ctx context.Context, retention time.Duration) (int64, error) {
	n, err := s.Store.PurgeExpiredSessions(ctx, s.now().UTC().Add(-retention))
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	return n, nil
}
