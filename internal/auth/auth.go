// Package auth is the login domain of oactl: users, sessions, account
// states, the errors a login or an authenticated request can end in, the
// service and the storage interfaces it needs. It knows no HTTP: the /wx
// handlers live in internal/api, the only place errors become errno values.
package auth

import (
	"context"
	"time"
)

// Account states stored in wx_user.status.
const (
	StatusActive    = 0
	StatusDisabled  = 1
	StatusCancelled = 2
)

// User is a row of wx_user. Its times are wall-clock times in the
// configured zone (the Java backend wrote local time); zero means NULL.
type User struct {
	ID          int64
	Username    string
	Nickname    string
	Avatar      string
	Gender      int
	Mobile      string
	OpenID      string
	Status      int
	Deleted     bool
	UserLevel   int
	LastLoginIP string
	LastLoginAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Usable reports whether the account may log in or use a token: nil, or
// the error that names its state.
func (u User) Usable() error {
	switch {
	case u.Deleted:
		return ErrAccountDeleted
	case u.Status == StatusDisabled:
		return ErrAccountDisabled
	case u.Status == StatusCancelled:
		return ErrAccountCancelled
	case u.Status != StatusActive:
		// An unknown status is not a licence to log in.
		return ErrAccountDisabled
	}
	return nil
}

// Profile is the validated profile a login carries (from userInfo). Empty
// strings mean "not given"; Gender 0 means unknown.
type Profile struct {
	Nickname string
	Avatar   string
	Gender   int
}

// ProfileUpdate is a validated /wx/auth/profile request: nil fields are
// left as they are.
type ProfileUpdate struct {
	Nickname *string
	Avatar   *string
	Gender   *int
}

// Session is a row of wx_session: one login on one device. Times are UTC;
// zero RevokedAt means not revoked.
type Session struct {
	ID           int64
	TokenHash    string // hex SHA-256 of the token; the token itself is never stored
	UserID       int64
	SessionKey   string // as stored: sealed when a key secret is configured
	CreatedAt    time.Time
	ExpiresAt    time.Time
	LastSeenAt   time.Time
	RevokedAt    time.Time
	RevokeReason string
	IP           string
	UserAgent    string
	// AppID is the mini-program the session was made through. Sessions
	// made before oactl recorded apps are stored with "" and count as the
	// default app's. The request read (Store.SessionByTokenHash) leaves
	// it out: Store.SessionApp reads it where it is needed.
	AppID string
}

// Identity is a row of wx_identity: a user's openid under one app, and
// the unionid WeChat gave with it ("" when none, stored as NULL).
// CreatedAt is UTC.
type Identity struct {
	UserID    int64
	AppID     string
	OpenID    string
	UnionID   string
	CreatedAt time.Time
}

// Revoked reports whether the session was revoked (logout or support).
func (s Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// LoginRecord is what the store writes for one successful code2Session.
// It arrives normalised (see Normalize; the service does it), so the store
// writes it as it is and cuts or rounds nothing again:
//   - IP and Session.IP are cut with CutUTF8 to MaxIP bytes and
//     Session.UserAgent to MaxUserAgent bytes, the columns' widths;
//   - every time is whole seconds: MySQL would round a fraction, and
//     tokenExpire shows none;
//   - the session's times are UTC; At is in the zone the clock gave, and
//     the store converts it to the configured zone of wx_user.
type LoginRecord struct {
	AppID   string // the app the code was issued for (never "")
	OpenID  string // WeChat's openid of the user under AppID
	UnionID string // WeChat's unionid, "" when it gave none
	// DefaultApp: AppID is the default app, whose openids may also be
	// found in wx_user.weixin_openid (rows the Java backend made).
	DefaultApp bool
	Profile    Profile   // filled into a new user; into a known one only where empty
	IP         string    // the client address, for wx_user.last_login_ip
	At         time.Time // the login time
	// MaxSessions > 0: after the insert the user keeps at most this many
	// unexpired, unrevoked sessions; the oldest others are revoked
	// (reason "session limit") in the login's transaction.
	MaxSessions int
	// Session is the new session; the store sets ID and UserID.
	Session Session
}

// Normalize returns rec with the cuts and roundings LoginRecord's contract
// promises: the one place they are made on the login path.
func (rec LoginRecord) Normalize() LoginRecord {
	rec.IP = CutUTF8(rec.IP, MaxIP)
	rec.At = rec.At.Truncate(time.Second)
	s := &rec.Session
	s.IP = CutUTF8(s.IP, MaxIP)
	s.UserAgent = CutUTF8(s.UserAgent, MaxUserAgent)
	s.CreatedAt = s.CreatedAt.UTC().Truncate(time.Second)
	s.ExpiresAt = s.ExpiresAt.UTC().Truncate(time.Second)
	s.LastSeenAt = s.LastSeenAt.UTC().Truncate(time.Second)
	return rec
}

// Store is the storage the login domain needs. internal/db implements it
// on SQLite and MySQL. Methods return ErrNotFound when nothing matched.
type Store interface {
	// Login finds the user of a login or creates it, records the login
	// and inserts the session, in one transaction. The user is, in this
	// order (SPEC §10): the one of the identity (rec.AppID, rec.OpenID);
	// the one of an identity with rec.UnionID (a new identity links this
	// app); for the default app, the wx_user with weixin_openid =
	// rec.OpenID (several rows: the lowest id with deleted = 0; only
	// deleted rows: ErrAccountDeleted), which gains an identity; else a
	// new wx_user and its identity. A unionid WeChat starts giving later
	// is filled into the identity. Concurrent first logins of one person,
	// through one app or several, make one user. An unusable account
	// returns the user and its Usable error and writes nothing.
	Login(ctx context.Context, rec LoginRecord) (User, Session, error)
	// SessionByTokenHash returns a session and its user in one indexed
	// read, with the fields every authenticated request needs and no
	// others: of the session ID, TokenHash, UserID, CreatedAt, ExpiresAt,
	// LastSeenAt and RevokedAt; of the user ID, Nickname, Avatar, Gender,
	// Mobile, Status and Deleted. The rest (the session's app and key, the
	// revoke reason, the client's address and User-Agent, the user's
	// openid and login bookkeeping) stays zero: every authenticated
	// request pays for this read (a column is a measurable share of it on
	// SQLite), and what needs more reads it where it is needed.
	SessionByTokenHash(ctx context.Context, tokenHash string) (Session, User, error)
	// SessionApp returns the appid a session was made for ("" for one
	// made before apps were recorded) and its user's weixin_openid (""
	// when none): what binding a phone needs beyond the request read.
	SessionApp(ctx context.Context, sessionID int64) (appid, userOpenID string, err error)
	// TouchSession sets last_seen_at, and when expires is not zero moves
	// expires_at to it (never backwards), in one statement.
	TouchSession(ctx context.Context, sessionID int64, at, expires time.Time) error
	// RevokeSession revokes one session if it is not revoked yet.
	RevokeSession(ctx context.Context, sessionID int64, at time.Time, reason string) error
	// UpdateProfile applies upd and returns the stored user.
	UpdateProfile(ctx context.Context, userID int64, upd ProfileUpdate, at time.Time) (User, error)
	// SetMobile stores a bound phone number, unless another user who is
	// neither cancelled nor deleted has it: ErrPhoneTaken, nothing
	// written. Concurrent binds of one number by two users cannot both
	// succeed.
	SetMobile(ctx context.Context, userID int64, mobile string, at time.Time) error
	// CancelUser is the database part of Service.Cancel, in one
	// transaction with its audit row.
	CancelUser(ctx context.Context, userID int64, a Audit) (CancelResult, error)
	// NewestSession returns the user's newest session made through one of
	// appIDs ("" stands for sessions made before apps were recorded),
	// revoked or not: its session_key is WeChat's one valid key for the
	// user under that app (the newest login's), and its token hash opens
	// the key when it is sealed.
	NewestSession(ctx context.Context, userID int64, appIDs []string) (Session, error)
	// UserIdentities returns a user's identities, oldest first.
	UserIdentities(ctx context.Context, userID int64) ([]Identity, error)
	// PurgeExpiredSessions deletes sessions that expired before t.
	PurgeExpiredSessions(ctx context.Context, expiredBefore time.Time) (int64, error)
	// Ping checks the database and reports the schema version it holds
	// against the one this binary needs.
	Ping(ctx context.Context) (SchemaState, error)
}
