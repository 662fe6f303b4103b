// Package authtest has in-memory fakes of auth.Store and auth.WeChat, and
// the service over them, for tests of the service, the handlers and the
// server. They follow the store contract of auth.Store; the real stores
// are tested in internal/db.
package authtest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/testutil"
	"github.com/oactl/oactl/internal/wechat"
)

// AppID is the app id of NewEnv's service and fake WeChat.
const AppID = "wxAPP"

// Env is an auth.Service over the fakes, on a clock the test moves.
type Env struct {
	Store   *Store
	WeChat  *WeChat
	Clock   *testutil.Clock
	Service *auth.Service
}

// NewEnv returns an Env whose clock reads start.
func NewEnv(start time.Time) *Env {
	e := &Env{Store: NewStore(), WeChat: &WeChat{AppID: AppID}, Clock: &testutil.Clock{T: start}}
	e.Service = &auth.Service{Store: e.Store, WeChat: e.WeChat, AppID: AppID, Now: e.Clock.Now}
	return e
}

// Store is an in-memory auth.Store. Fail, when set, makes every method
// return it (a database outage).
type Store struct {
	mu         sync.Mutex
	users      []auth.User
	sessions   []auth.Session
	identities []auth.Identity
	audit      []auth.AuditEntry
	Fail       error
	Schema     auth.SchemaState
	// Calls counts method calls by name, to assert what was (not) written.
	Calls map[string]int
}

// NewStore returns an empty store at schema version 1 of 1.
func NewStore() *Store {
	return &Store{Schema: auth.SchemaState{Current: 1, Required: 1}, Calls: map[string]int{}}
}

func (s *Store) call(name string) error {
	s.Calls[name]++
	return s.Fail
}

// AddUser inserts u (ID assigned) and returns it.
func (s *Store) AddUser(u auth.User) auth.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.ID = int64(len(s.users) + 1)
	s.users = append(s.users, u)
	return u
}

// User returns the user with id.
func (s *Store) User(id int64) auth.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[id-1]
}

// SetUser replaces a user (to change its status in a test).
func (s *Store) SetUser(u auth.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID-1] = u
}

// Sessions returns a copy of every session.
func (s *Store) Sessions() []auth.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]auth.Session(nil), s.sessions...)
}

// Login implements auth.Store with the resolution order of SPEC §10.
func (s *Store) Login(ctx context.Context, rec auth.LoginRecord) (auth.User, auth.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("Login"); err != nil {
		return auth.User{}, auth.Session{}, err
	}
	idx, ident, err := s.resolve(rec)
	if err != nil {
		return auth.User{}, auth.Session{}, err
	}
	if idx >= 0 {
		if err := s.users[idx].Usable(); err != nil {
			return s.users[idx], auth.Session{}, err
		}
	} else {
		s.users = append(s.users, auth.User{
			ID: int64(len(s.users) + 1), Username: rec.OpenID, OpenID: rec.OpenID,
			Nickname: rec.Profile.Nickname, Avatar: rec.Profile.Avatar, Gender: rec.Profile.Gender,
			CreatedAt: rec.At,
		})
		idx = len(s.users) - 1
	}
	u := s.users[idx]
	switch {
	case ident < 0:
		s.identities = append(s.identities, auth.Identity{UserID: u.ID, AppID: rec.AppID, OpenID: rec.OpenID,
			UnionID: rec.UnionID, CreatedAt: rec.At.UTC()})
	case s.identities[ident].UnionID == "":
		s.identities[ident].UnionID = rec.UnionID
	}
	if u.Nickname == "" {
		u.Nickname = rec.Profile.Nickname
	}
	if u.Avatar == "" {
		u.Avatar = rec.Profile.Avatar
	}
	u.LastLoginAt, u.LastLoginIP, u.UpdatedAt = rec.At, rec.IP, rec.At
	s.users[idx] = u
	sess := rec.Session
	sess.ID = int64(len(s.sessions) + 1)
	sess.UserID = u.ID
	s.sessions = append(s.sessions, sess)
	if rec.MaxSessions > 0 {
		// The newest first; the new session is the last one added.
		kept := 1
		for i := len(s.sessions) - 2; i >= 0; i-- {
			o := &s.sessions[i]
			if o.UserID != u.ID || o.Revoked() || !o.ExpiresAt.After(sess.CreatedAt) {
				continue
			}
			if kept < rec.MaxSessions {
				kept++
				continue
			}
			o.RevokedAt, o.RevokeReason = sess.CreatedAt, auth.ReasonSessionLimit
		}
	}
	return u, sess, nil
}

// resolve finds the user of a login (index into users, -1 for none) and
// its identity (index into identities, -1 for none yet).
func (s *Store) resolve(rec auth.LoginRecord) (int, int, error) {
	for i, id := range s.identities {
		if id.AppID == rec.AppID && id.OpenID == rec.OpenID {
			return int(id.UserID - 1), i, nil
		}
	}
	if rec.UnionID != "" {
		for _, id := range s.identities {
			if id.UnionID == rec.UnionID {
				return int(id.UserID - 1), -1, nil
			}
		}
	}
	if !rec.DefaultApp {
		return -1, -1, nil
	}
	deletedOnly := false
	for i, u := range s.users {
		if u.OpenID != rec.OpenID {
			continue
		}
		if !u.Deleted {
			return i, -1, nil
		}
		deletedOnly = true
	}
	if deletedOnly {
		return -1, -1, auth.ErrAccountDeleted
	}
	return -1, -1, nil
}

// Identities returns a copy of every identity.
func (s *Store) Identities() []auth.Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]auth.Identity(nil), s.identities...)
}

// UserIdentities implements auth.Store.
func (s *Store) UserIdentities(ctx context.Context, userID int64) ([]auth.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("UserIdentities"); err != nil {
		return nil, err
	}
	var out []auth.Identity
	for _, id := range s.identities {
		if id.UserID == userID {
			out = append(out, id)
		}
	}
	return out, nil
}

// SessionByTokenHash implements auth.Store.
func (s *Store) SessionByTokenHash(ctx context.Context, hash string) (auth.Session, auth.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("SessionByTokenHash"); err != nil {
		return auth.Session{}, auth.User{}, err
	}
	for _, ss := range s.sessions {
		if ss.TokenHash == hash {
			// Only the fields auth.Store promises, as the real stores
			// read them: a service that relied on another would pass here
			// and fail on a database.
			u := s.users[ss.UserID-1]
			return auth.Session{ID: ss.ID, TokenHash: ss.TokenHash, UserID: ss.UserID, CreatedAt: ss.CreatedAt,
					ExpiresAt: ss.ExpiresAt, LastSeenAt: ss.LastSeenAt, RevokedAt: ss.RevokedAt},
				auth.User{ID: u.ID, Nickname: u.Nickname, Avatar: u.Avatar, Gender: u.Gender, Mobile: u.Mobile,
					Status: u.Status, Deleted: u.Deleted}, nil
		}
	}
	return auth.Session{}, auth.User{}, auth.ErrNotFound
}

// SessionApp implements auth.Store.
func (s *Store) SessionApp(ctx context.Context, sessionID int64) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("SessionApp"); err != nil {
		return "", "", err
	}
	for _, ss := range s.sessions {
		if ss.ID == sessionID {
			return ss.AppID, s.users[ss.UserID-1].OpenID, nil
		}
	}
	return "", "", auth.ErrNotFound
}

func (s *Store) session(id int64) (*auth.Session, error) {
	if id < 1 || int(id) > len(s.sessions) {
		return nil, auth.ErrNotFound
	}
	return &s.sessions[id-1], nil
}

// TouchSession implements auth.Store.
func (s *Store) TouchSession(ctx context.Context, id int64, at, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("TouchSession"); err != nil {
		return err
	}
	ss, err := s.session(id)
	if err != nil {
		return err
	}
	ss.LastSeenAt = at
	if expires.After(ss.ExpiresAt) {
		ss.ExpiresAt = expires
	}
	return nil
}

// RevokeSession implements auth.Store.
func (s *Store) RevokeSession(ctx context.Context, id int64, at time.Time, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("RevokeSession"); err != nil {
		return err
	}
	ss, err := s.session(id)
	if err != nil {
		return err
	}
	if ss.RevokedAt.IsZero() {
		ss.RevokedAt, ss.RevokeReason = at, reason
	}
	return nil
}

// UpdateProfile implements auth.Store.
func (s *Store) UpdateProfile(ctx context.Context, userID int64, upd auth.ProfileUpdate, at time.Time) (auth.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("UpdateProfile"); err != nil {
		return auth.User{}, err
	}
	if userID < 1 || int(userID) > len(s.users) {
		return auth.User{}, auth.ErrNotFound
	}
	u := &s.users[userID-1]
	if upd.Nickname != nil {
		u.Nickname = *upd.Nickname
	}
	if upd.Avatar != nil {
		u.Avatar = *upd.Avatar
	}
	if upd.Gender != nil {
		u.Gender = *upd.Gender
	}
	u.UpdatedAt = at
	return *u, nil
}

// SetMobile implements auth.Store.
func (s *Store) SetMobile(ctx context.Context, userID int64, mobile string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("SetMobile"); err != nil {
		return err
	}
	if userID < 1 || int(userID) > len(s.users) {
		return auth.ErrNotFound
	}
	for _, o := range s.users {
		if o.ID != userID && o.Mobile == mobile && o.Status != auth.StatusCancelled && !o.Deleted {
			return auth.ErrPhoneTaken
		}
	}
	s.users[userID-1].Mobile = mobile
	return nil
}

// Audit returns a copy of the audit rows written.
func (s *Store) Audit() []auth.AuditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]auth.AuditEntry(nil), s.audit...)
}

// CancelUser implements auth.Store as the real stores do.
func (s *Store) CancelUser(ctx context.Context, userID int64, a auth.Audit) (auth.CancelResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("CancelUser"); err != nil {
		return auth.CancelResult{}, err
	}
	if userID < 1 || int(userID) > len(s.users) {
		return auth.CancelResult{}, auth.ErrNotFound
	}
	var res auth.CancelResult
	for i := range s.sessions {
		ss := &s.sessions[i]
		if ss.UserID != userID {
			continue
		}
		if !ss.Revoked() {
			ss.RevokedAt, ss.RevokeReason = a.At, auth.ReasonCancelled
			res.Sessions = append(res.Sessions, ss.ID)
		}
		ss.SessionKey, ss.IP, ss.UserAgent = "", "", ""
	}
	kept := s.identities[:0]
	for _, id := range s.identities {
		if id.UserID == userID {
			res.Identities++
			continue
		}
		kept = append(kept, id)
	}
	s.identities = kept
	u := &s.users[userID-1]
	*u = auth.User{ID: u.ID, Username: "cancelled-" + strconv.FormatInt(u.ID, 10), Status: auth.StatusCancelled,
		Deleted: u.Deleted, UserLevel: u.UserLevel, LastLoginAt: u.LastLoginAt, CreatedAt: u.CreatedAt, UpdatedAt: a.At}
	s.audit = append(s.audit, auth.AuditEntry{ID: int64(len(s.audit) + 1), At: a.At, Actor: a.Actor, Action: auth.ActionCancel,
		UserID: userID, SessionIDs: res.Sessions, Sessions: int64(len(res.Sessions)), Reason: a.Reason})
	return res, nil
}

func (s *Store) newest(userID int64, appIDs []string) (auth.Session, error) {
	var best *auth.Session
	for i := range s.sessions {
		ss := &s.sessions[i]
		if ss.UserID == userID && slices.Contains(appIDs, ss.AppID) && (best == nil || !ss.CreatedAt.Before(best.CreatedAt)) {
			best = ss
		}
	}
	if best == nil {
		return auth.Session{}, auth.ErrNotFound
	}
	return *best, nil
}

// NewestSession implements auth.Store.
func (s *Store) NewestSession(ctx context.Context, userID int64, appIDs []string) (auth.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("NewestSession"); err != nil {
		return auth.Session{}, err
	}
	return s.newest(userID, appIDs)
}

// PurgeExpiredSessions implements auth.Store.
func (s *Store) PurgeExpiredSessions(ctx context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("PurgeExpiredSessions"); err != nil {
		return 0, err
	}
	var n int64
	for i := range s.sessions {
		ss := &s.sessions[i]
		if ss.TokenHash != "" && ss.ExpiresAt.Before(before) {
			// Keep the slot so that ids stay indexes; blank the row.
			*ss = auth.Session{ID: ss.ID}
			n++
		}
	}
	return n, nil
}

// Ping implements auth.Store.
func (s *Store) Ping(ctx context.Context) (auth.SchemaState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("Ping"); err != nil {
		return auth.SchemaState{}, err
	}
	return s.Schema, nil
}

// WeChat is a fake auth.WeChat of one app: code "alice.1" belongs to user
// "alice" (openid "o-alice" under AppID, "o-wxB-alice" under another
// appid wxB; session key "key-alice.1"; unionid "u-alice" when UnionID);
// Errs maps a code to the error it fails with. A phone-number code of
// alice sent with another openid fails with errcode 40003, as WeChat
// refuses it.
type WeChat struct {
	mu    sync.Mutex
	Errs  map[string]error
	Calls int
	Phone string // what PhoneNumber answers; default 13800138000
	// Phones, by user (the code's "alice" of "alice.p1"), override Phone:
	// two users with one number meet bindPhone's 705.
	Phones  map[string]string
	AppID   string // the app; the watermark appid PhoneNumber stamps
	UnionID bool   // answer a unionid
}

// Code2Session implements auth.WeChat.
func (w *WeChat) Code2Session(ctx context.Context, code string) (wechat.SessionInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.Calls++
	if err := w.Errs[code]; err != nil {
		return wechat.SessionInfo{}, err
	}
	info := wechat.SessionInfo{OpenID: w.openID(codeUser(code)), SessionKey: "key-" + code}
	if w.UnionID {
		info.UnionID = "u-" + codeUser(code)
	}
	return info, nil
}

// openID is user's openid under w's app.
func (w *WeChat) openID(user string) string {
	if w.AppID != AppID {
		return "o-" + w.AppID + "-" + user
	}
	return "o-" + user
}

// codeUser is the user of a code: up to its first '.'.
func codeUser(code string) string {
	user, _, _ := strings.Cut(code, ".")
	return user
}

// PhoneNumber implements auth.WeChat.
func (w *WeChat) PhoneNumber(ctx context.Context, code, openid string) (wechat.PhoneInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.Calls++
	if err := w.Errs[code]; err != nil {
		return wechat.PhoneInfo{}, err
	}
	if openid != "" && openid != w.openID(codeUser(code)) {
		return wechat.PhoneInfo{}, APIError(40003, "invalid openid")
	}
	p := w.Phone
	if u, ok := w.Phones[codeUser(code)]; ok {
		p = u
	}
	if p == "" {
		p = "13800138000"
	}
	return wechat.PhoneInfo{PhoneNumber: p, PurePhoneNumber: p, CountryCode: "86", Watermark: wechat.Watermark{AppID: w.AppID}}, nil
}

// APIError returns WeChat's refusal with errcode.
func APIError(errcode int, errmsg string) error {
	return &wechat.APIError{Errcode: errcode, Errmsg: errmsg}
}

// ErrTransport is a WeChat call that did not get an answer; its text holds
// a secret and a code the way net/http errors do, to test redaction.
var ErrTransport = errors.New(`get "https://wx.invalid/sns/jscode2session?appid=wxAPP&secret=TOPSECRET&js_code=CODE123&grant_type=authorization_code": context deadline exceeded`)
