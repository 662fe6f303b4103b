package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oactl/oactl/internal/auth"
)

var _ auth.Store = (*DB)(nil)

// Column limits of the schema, in bytes (cut on a rune boundary, so the
// character count is never above the column's). The User-Agent and the
// client address have none here: auth.LoginRecord.Normalize cuts them
// before the store sees them.
const (
	maxRevokeReason = 255
	maxSessionKey   = 255
)

// userColumns is the select list scanUser reads, for table alias u.
const userColumns = `u.id, u.username, u.nickname, u.avatar, u.gender, u.mobile, u.weixin_openid, u.status,
	COALESCE(u.deleted, 0), COALESCE(u.user_level, 0), u.last_login_ip, u.last_login_time, u.add_time, u.update_time`

// sessionColumns is the select list scanSession reads, for table alias s.
const sessionColumns = `s.id, s.token_hash, s.user_id, s.session_key, s.created_at, s.expires_at, s.last_seen_at,
	s.revoked_at, s.revoke_reason, s.ip, s.user_agent, s.appid`

type scanner interface{ Scan(dest ...any) error }

func (d *DB) userDest(u *auth.User, deleted *int) []any {
	return []any{&u.ID, &u.Username, &u.Nickname, &u.Avatar, &u.Gender, &u.Mobile, &u.OpenID, &u.Status,
		deleted, &u.UserLevel, &u.LastLoginIP,
		TimeIn{&u.LastLoginAt, d.loc}, TimeIn{&u.CreatedAt, d.loc}, TimeIn{&u.UpdatedAt, d.loc}}
}

func sessionDest(s *auth.Session) []any {
	return []any{&s.ID, &s.TokenHash, &s.UserID, &s.SessionKey,
		TimeIn{&s.CreatedAt, time.UTC}, TimeIn{&s.ExpiresAt, time.UTC}, TimeIn{&s.LastSeenAt, time.UTC},
		TimeIn{&s.RevokedAt, time.UTC}, &s.RevokeReason, &s.IP, &s.UserAgent, &s.AppID}
}

func (d *DB) scanUser(row scanner) (auth.User, error) {
	var u auth.User
	var deleted int
	if err := row.Scan(d.userDest(&u, &deleted)...); err != nil {
		return auth.User{}, err
	}
	u.Deleted = deleted != 0
	return u, nil
}

// findUserSQL picks the user of an openid: the lowest id with deleted = 0,
// or, when every row is deleted, one of those (which then refuses).
const findUserSQL = `SELECT ` + userColumns + ` FROM wx_user u WHERE u.weixin_openid = ?
	ORDER BY CASE WHEN COALESCE(u.deleted, 0) = 0 THEN 0 ELSE 1 END, u.id LIMIT 1`

func (d *DB) findUser(ctx context.Context, q Queryer, openid string) (auth.User, error) {
	u, err := d.scanUser(q.QueryRowContext(ctx, findUserSQL, openid))
	return u, translate(err, "find user by openid", auth.ErrNotFound)
}

// errUserRace: the login lost a race (a user or identity row was
// inserted or changed by someone else meanwhile); the whole login starts
// again.
var errUserRace = errors.New("user row changed concurrently")

// maxLoginRaces bounds how often one login restarts after losing a race.
const maxLoginRaces = 5

// Login finds or creates the user of a login (see auth.Store for the
// order), records the login and inserts the session, in one transaction.
// It never uses INSERT ... ON DUPLICATE KEY UPDATE: that burns an
// AUTO_INCREMENT value on every returning login. A duplicate key on
// insert means a concurrent login got there first: the user is looked up
// again outside the failed transaction and the login starts again, and
// now finds what the other one made.
func (d *DB) Login(ctx context.Context, rec auth.LoginRecord) (auth.User, auth.Session, error) {
	if rec.OpenID == "" || rec.AppID == "" {
		return auth.User{}, auth.Session{}, errors.New("login: empty openid or appid")
	}
	d.warm(ctx, identityUserSQL, recordLoginSQL, insertSessionSQL)
	for range maxLoginRaces {
		var user auth.User
		var sess auth.Session
		err := d.inTx(ctx, "login", func(tx *sqlx.Tx) error {
			var err error
			user, sess, err = d.loginTx(ctx, tx, rec)
			return err
		})
		switch {
		case err == nil:
			return user, sess, nil
		case errors.Is(err, errUserRace):
			if u, rerr := d.afterRace(ctx, rec); rerr != nil {
				return u, auth.Session{}, rerr
			}
			continue
		case user.ID != 0 && auth.IsAccountState(err):
			return user, auth.Session{}, err
		default:
			return auth.User{}, auth.Session{}, fmt.Errorf("login: %w", err)
		}
	}
	return auth.User{}, auth.Session{}, fmt.Errorf("login: %w %d times", errUserRace, maxLoginRaces)
}

// afterRace looks the user of rec up again in a fresh autocommit read
// (inside the failed transaction the snapshot may predate the other
// login's commit): an unusable account ends the login with its state.
// Finding no user although an insert hit a duplicate key means an
// identity outlived its wx_user row (deleted by hand); it is removed so
// the next attempt can make the user anew.
func (d *DB) afterRace(ctx context.Context, rec auth.LoginRecord) (auth.User, error) {
	f, err := d.resolveUser(ctx, d.w, rec)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		_, err := d.execCount(ctx, "remove orphan identity", `DELETE FROM wx_identity WHERE appid = ? AND openid = ?
			AND NOT EXISTS (SELECT 1 FROM wx_user u WHERE u.id = wx_identity.user_id)`, rec.AppID, rec.OpenID)
		if err != nil {
			return auth.User{}, fmt.Errorf("login: %w", err)
		}
		return auth.User{}, nil
	case err != nil:
		return auth.User{}, fmt.Errorf("login: %w", err)
	}
	if uerr := f.user.Usable(); uerr != nil {
		return f.user, uerr
	}
	return auth.User{}, nil
}

// resolved is the user a login found, and the identity it came by.
type resolved struct {
	user auth.User
	// hasIdentity: the user came by the identity (AppID, OpenID) itself;
	// unionID is what that identity holds ("" for NULL).
	hasIdentity bool
	unionID     string
}

// identityUserSQL is step 1: the user of the identity (appid, openid).
const identityUserSQL = `SELECT ` + userColumns + `, COALESCE(i.unionid, '')
	FROM wx_identity i JOIN wx_user u ON u.id = i.user_id WHERE i.appid = ? AND i.openid = ?`

// unionUserSQL is step 2: the user of an identity with this unionid, the
// one that claimed it first (two can hold it when their users were made
// before WeChat gave it).
const unionUserSQL = `SELECT ` + userColumns + ` FROM wx_identity i JOIN wx_user u ON u.id = i.user_id
	WHERE i.unionid = ? ORDER BY CASE WHEN i.unionid_claim IS NULL THEN 1 ELSE 0 END, i.created_at, i.id LIMIT 1`

// resolveUser finds the user of a login by the first three steps of
// auth.Store.Login (auth.ErrNotFound: step 4 makes one), reading through
// q: the login's transaction, or the pool for a fresh read.
func (d *DB) resolveUser(ctx context.Context, q Queryer, rec auth.LoginRecord) (resolved, error) {
	var f resolved
	var deleted int
	// Every login runs this first: prepared once when it runs in the
	// login's transaction.
	var row *sql.Row
	if tx, ok := q.(*sqlx.Tx); ok {
		st, err := d.txStmt(ctx, tx, identityUserSQL)
		if err != nil {
			return resolved{}, translate(err, "find user by identity", nil)
		}
		row = st.QueryRowContext(ctx, rec.AppID, rec.OpenID)
	} else {
		row = q.QueryRowContext(ctx, identityUserSQL, rec.AppID, rec.OpenID)
	}
	err := row.Scan(append(d.userDest(&f.user, &deleted), &f.unionID)...)
	if err == nil {
		f.user.Deleted, f.hasIdentity = deleted != 0, true
		return f, nil
	}
	if err := translate(err, "find user by identity", auth.ErrNotFound); !errors.Is(err, auth.ErrNotFound) {
		return resolved{}, err
	}
	if rec.UnionID != "" {
		u, err := d.scanUser(q.QueryRowContext(ctx, unionUserSQL, rec.UnionID))
		if err == nil {
			return resolved{user: u}, nil
		}
		if err := translate(err, "find user by unionid", auth.ErrNotFound); !errors.Is(err, auth.ErrNotFound) {
			return resolved{}, err
		}
	}
	if !rec.DefaultApp {
		return resolved{}, auth.ErrNotFound
	}
	// Rows the Java backend made know only the default app's openid.
	u, err := d.findUser(ctx, q, rec.OpenID)
	if err != nil {
		return resolved{}, err
	}
	return resolved{user: u}, nil
}

// recordLoginSQL records a returning user's login. The status and deleted
// conditions make a stale read harmless: a row disabled since the login's
// SELECT matches nothing.
const recordLoginSQL = `UPDATE wx_user SET last_login_time = ?, last_login_ip = ?, update_time = ?,
	nickname = CASE WHEN nickname = '' THEN ? ELSE nickname END,
	avatar = CASE WHEN avatar = '' THEN ? ELSE avatar END
	WHERE id = ? AND status = 0 AND COALESCE(deleted, 0) = 0`

const insertSessionSQL = `INSERT INTO wx_session (token_hash, user_id, session_key, created_at, expires_at,
	last_seen_at, revoked_at, revoke_reason, ip, user_agent, appid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// loginTx takes rec as auth's service makes it (see auth.LoginRecord):
// the client address and User-Agent already cut, every time in whole
// seconds. It only moves the times into their columns' zones, so that
// what it returns equals what a later read gives back.
func (d *DB) loginTx(ctx context.Context, tx *sqlx.Tx, rec auth.LoginRecord) (auth.User, auth.Session, error) {
	at := rec.At.In(d.loc)
	ip := rec.IP
	f, err := d.resolveUser(ctx, tx, rec)
	u := f.user
	switch {
	case errors.Is(err, auth.ErrNotFound):
		if u, err = d.insertUser(ctx, tx, rec, at, ip); err != nil {
			return auth.User{}, auth.Session{}, err
		}
	case err != nil:
		return auth.User{}, auth.Session{}, err
	default:
		if uerr := u.Usable(); uerr != nil {
			return u, auth.Session{}, uerr
		}
		st, err := d.txStmt(ctx, tx, recordLoginSQL)
		if err != nil {
			return auth.User{}, auth.Session{}, translate(err, "record login", nil)
		}
		res, err := st.ExecContext(ctx, d.UserTime(at), ip, d.UserTime(at), rec.Profile.Nickname, rec.Profile.Avatar, u.ID)
		if err != nil {
			return auth.User{}, auth.Session{}, translate(err, "record login", nil)
		}
		if n, err := res.RowsAffected(); err != nil {
			return auth.User{}, auth.Session{}, fmt.Errorf("record login: %w", err)
		} else if n == 0 {
			return auth.User{}, auth.Session{}, errUserRace
		}
		u.LastLoginAt, u.LastLoginIP, u.UpdatedAt = at, ip, at
		if u.Nickname == "" {
			u.Nickname = rec.Profile.Nickname
		}
		if u.Avatar == "" {
			u.Avatar = rec.Profile.Avatar
		}
	}
	switch {
	case !f.hasIdentity:
		err = d.insertIdentity(ctx, tx, rec, u.ID)
	case rec.UnionID != "" && f.unionID == "":
		err = d.fillUnionID(ctx, tx, rec)
	}
	if err != nil {
		return auth.User{}, auth.Session{}, err
	}
	s := rec.Session
	s.UserID = u.ID
	s.CreatedAt, s.ExpiresAt, s.LastSeenAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC(), s.LastSeenAt.UTC()
	if len(s.SessionKey) > maxSessionKey {
		return auth.User{}, auth.Session{}, fmt.Errorf("insert session: stored session key is %d bytes, more than %d", len(s.SessionKey), maxSessionKey)
	}
	st, err := d.txStmt(ctx, tx, insertSessionSQL)
	if err != nil {
		return auth.User{}, auth.Session{}, translate(err, "insert session", nil)
	}
	res, err := st.ExecContext(ctx, s.TokenHash, s.UserID, s.SessionKey, d.UTCTime(s.CreatedAt), d.UTCTime(s.ExpiresAt),
		d.UTCTime(s.LastSeenAt), d.UTCTime(s.RevokedAt), s.RevokeReason, s.IP, s.UserAgent, s.AppID)
	if err != nil {
		return auth.User{}, auth.Session{}, translate(err, "insert session", nil)
	}
	if s.ID, err = res.LastInsertId(); err != nil {
		return auth.User{}, auth.Session{}, fmt.Errorf("insert session: %w", err)
	}
	if rec.MaxSessions > 0 {
		if err := d.limitSessions(ctx, tx, s, rec.MaxSessions); err != nil {
			return auth.User{}, auth.Session{}, err
		}
	}
	return u, s, nil
}

// limitSessions revokes the user's oldest unexpired, unrevoked sessions
// beyond max, keeping the new session s (reason "session limit").
// Concurrent logins of one user cannot both keep theirs: each holds the
// user's row lock (its UPDATE of wx_user, or the insert that made it)
// until commit, and the locking read sees the sessions committed by the
// login before it, not this transaction's older snapshot. On SQLite the
// one writer serialises them anyway.
func (d *DB) limitSessions(ctx context.Context, tx *sqlx.Tx, s auth.Session, max int) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM wx_session WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		AND id <> ? ORDER BY created_at DESC, id DESC`+d.forUpdate(), s.UserID, d.UTCTime(s.CreatedAt), s.ID)
	if err != nil {
		return fmt.Errorf("session limit: %w", err)
	}
	ids, err := scanIDs(rows)
	if err != nil {
		return fmt.Errorf("session limit: %w", err)
	}
	if len(ids) <= max-1 {
		return nil
	}
	_, err = d.revokeIDs(ctx, tx, ids[max-1:], s.CreatedAt, auth.ReasonSessionLimit)
	return err
}

// unionClaim is the unionid_claim for an identity written with rec's
// unionid: the unionid when no identity claims it yet, else NULL. A claim
// made meanwhile by another login turns the write into a duplicate key,
// which restarts this login.
func unionClaim(ctx context.Context, tx *sqlx.Tx, unionID string) (any, error) {
	if unionID == "" {
		return nil, nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM wx_identity WHERE unionid_claim = ?`, unionID).Scan(&n); err != nil {
		return nil, fmt.Errorf("look up unionid claim: %w", err)
	}
	if n > 0 {
		return nil, nil
	}
	return unionID, nil
}

// insertIdentity links rec's (appid, openid) to the user.
func (d *DB) insertIdentity(ctx context.Context, tx *sqlx.Tx, rec auth.LoginRecord, userID int64) error {
	claim, err := unionClaim(ctx, tx, rec.UnionID)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO wx_identity (user_id, appid, openid, unionid, unionid_claim, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, userID, rec.AppID, rec.OpenID, nullIfEmpty(rec.UnionID), claim, d.UTCTime(rec.Session.CreatedAt))
	if isDuplicate(err) {
		return errUserRace
	}
	return translate(err, "insert identity", nil)
}

// fillUnionID stores the unionid WeChat now gives for an identity that
// was made without one.
func (d *DB) fillUnionID(ctx context.Context, tx *sqlx.Tx, rec auth.LoginRecord) error {
	claim, err := unionClaim(ctx, tx, rec.UnionID)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE wx_identity SET unionid = ?, unionid_claim = ?
		WHERE appid = ? AND openid = ? AND unionid IS NULL`, rec.UnionID, claim, rec.AppID, rec.OpenID)
	if isDuplicate(err) {
		return errUserRace
	}
	return translate(err, "fill in unionid", nil)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (d *DB) insertUser(ctx context.Context, tx *sqlx.Tx, rec auth.LoginRecord, at time.Time, ip string) (auth.User, error) {
	p := rec.Profile
	res, err := tx.ExecContext(ctx, `INSERT INTO wx_user (username, password, weixin_openid, nickname, avatar, gender,
		status, user_level, deleted, last_login_time, last_login_ip, add_time, update_time)
		VALUES (?, '', ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, ?)`,
		rec.OpenID, rec.OpenID, p.Nickname, p.Avatar, p.Gender, d.UserTime(at), ip, d.UserTime(at), d.UserTime(at))
	if isDuplicate(err) {
		return auth.User{}, errUserRace
	}
	if err != nil {
		return auth.User{}, translate(err, "insert user", nil)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return auth.User{}, fmt.Errorf("insert user: %w", err)
	}
	return auth.User{
		ID: id, Username: rec.OpenID, Nickname: p.Nickname, Avatar: p.Avatar, Gender: p.Gender, OpenID: rec.OpenID,
		Status: auth.StatusActive, LastLoginIP: ip, LastLoginAt: at, CreatedAt: at, UpdatedAt: at,
	}, nil
}

// requestSessionSQL reads what a request needs of a token's session and
// user (see auth.Store.SessionByTokenHash), and nothing more: every
// authenticated request runs it, and a column not read is one the server
// neither fetches nor the driver converts. On SQLite the datetimes are
// read as text: modernc's driver parses a DATETIME column by trying its
// layouts in turn (two parses and an error value per column here), while
// TimeIn reads our one layout directly.
var requestSessionSQL = map[Dialect]string{MySQL: requestSession(false), SQLite: requestSession(true)}

func requestSession(timesAsText bool) string {
	t := func(col string) string {
		if timesAsText {
			return "CAST(" + col + " AS TEXT)"
		}
		return col
	}
	return `SELECT s.id, ` + t("s.created_at") + `, ` + t("s.expires_at") + `, ` + t("s.last_seen_at") + `, ` +
		t("s.revoked_at") + `,
	u.id, u.nickname, u.avatar, u.gender, u.mobile, u.status, COALESCE(u.deleted, 0)
	FROM wx_session s JOIN wx_user u ON u.id = s.user_id WHERE s.token_hash = ?`
}

// SessionByTokenHash returns a session and its user in one indexed read,
// with the fields auth.Store names. Expiry and revocation are the
// caller's to judge.
func (d *DB) SessionByTokenHash(ctx context.Context, tokenHash string) (auth.Session, auth.User, error) {
	s := auth.Session{TokenHash: tokenHash}
	var u auth.User
	var deleted int
	stmt, err := d.hot.get(ctx, d.r, requestSessionSQL[d.cfg.Dialect])
	if err == nil {
		err = stmt.QueryRowContext(ctx, tokenHash).Scan(&s.ID,
			TimeIn{&s.CreatedAt, time.UTC}, TimeIn{&s.ExpiresAt, time.UTC}, TimeIn{&s.LastSeenAt, time.UTC},
			TimeIn{&s.RevokedAt, time.UTC},
			&u.ID, &u.Nickname, &u.Avatar, &u.Gender, &u.Mobile, &u.Status, &deleted)
	}
	if err != nil {
		return auth.Session{}, auth.User{}, translate(err, "session by token", auth.ErrNotFound)
	}
	s.UserID, u.Deleted = u.ID, deleted != 0
	return s, u, nil
}

// SessionApp returns the appid a session was made for and its user's
// weixin_openid, the two facts binding a phone needs that the request
// read leaves out.
func (d *DB) SessionApp(ctx context.Context, sessionID int64) (appid, userOpenID string, err error) {
	err = d.r.QueryRowContext(ctx, `SELECT s.appid, u.weixin_openid FROM wx_session s
		JOIN wx_user u ON u.id = s.user_id WHERE s.id = ?`, sessionID).Scan(&appid, &userOpenID)
	if err != nil {
		return "", "", translate(err, "session app", auth.ErrNotFound)
	}
	return appid, userOpenID, nil
}

// TouchSession sets last_seen_at and, when expires is not zero, moves
// expires_at to it, never backwards (another serve process may have
// renewed it further meanwhile): one statement either way.
func (d *DB) TouchSession(ctx context.Context, sessionID int64, at, expires time.Time) error {
	if expires.IsZero() {
		return d.execOne(ctx, "touch session", `UPDATE wx_session SET last_seen_at = ? WHERE id = ?`, d.UTCTime(at), sessionID)
	}
	exp := d.UTCTime(expires)
	return d.execOne(ctx, "touch session", `UPDATE wx_session SET last_seen_at = ?,
		expires_at = CASE WHEN expires_at < ? THEN ? ELSE expires_at END WHERE id = ?`, d.UTCTime(at), exp, exp, sessionID)
}

// RevokeSession revokes one session if it is not revoked yet; revoking a
// revoked session is not an error, an unknown one is auth.ErrNotFound.
func (d *DB) RevokeSession(ctx context.Context, sessionID int64, at time.Time, reason string) error {
	err := d.execOne(ctx, "revoke session", `UPDATE wx_session SET revoked_at = ?, revoke_reason = ?
		WHERE id = ? AND revoked_at IS NULL`, d.UTCTime(at), auth.CutUTF8(reason, maxRevokeReason), sessionID)
	if !errors.Is(err, auth.ErrNotFound) {
		return err
	}
	var n int
	if err := d.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM wx_session WHERE id = ?`, sessionID).Scan(&n); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if n == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// execOne runs an autocommit statement (with the retry rules) and returns
// auth.ErrNotFound when it matched no row.
func (d *DB) execOne(ctx context.Context, what, query string, args ...any) error {
	n, err := d.execCount(ctx, what, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// UpdateProfile applies upd and returns the stored user.
func (d *DB) UpdateProfile(ctx context.Context, userID int64, upd auth.ProfileUpdate, at time.Time) (auth.User, error) {
	sets := []string{"update_time = ?"}
	args := []any{d.UserTime(at)}
	if upd.Nickname != nil {
		sets = append(sets, "nickname = ?")
		args = append(args, *upd.Nickname)
	}
	if upd.Avatar != nil {
		sets = append(sets, "avatar = ?")
		args = append(args, *upd.Avatar)
	}
	if upd.Gender != nil {
		sets = append(sets, "gender = ?")
		args = append(args, *upd.Gender)
	}
	args = append(args, userID)
	var u auth.User
	err := d.inTx(ctx, "update profile", func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE wx_user SET "+strings.Join(sets, ", ")+" WHERE id = ?", args...)
		if err != nil {
			return translate(err, "update profile", nil)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("update profile: %w", err)
		} else if n == 0 {
			return auth.ErrNotFound
		}
		u, err = d.scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM wx_user u WHERE u.id = ?`, userID))
		return translate(err, "update profile: read back", auth.ErrNotFound)
	})
	if err != nil {
		return auth.User{}, err
	}
	return u, nil
}

// SetMobile stores a bound phone number unless another user who is
// neither cancelled nor deleted has it (auth.ErrPhoneTaken, nothing
// written). Two users binding one number at once cannot both get it: the
// transaction first writes the number's row of oa_mobile_claim, then
// checks wx_user. On one server the second bind waits on that row and its
// check, made after the wait, sees the first one's number; on Galera or
// TiDB the two writes of one key fail certification for one of them,
// which is retried and then sees it; SQLite's one writer runs them one
// after the other. A claim row is only that meeting point (wx_user.mobile
// stays the truth), so the rejected bind's rollback leaves nothing behind.
// wx_user has no index on mobile (oactl leaves the seed's table as it
// is): the check reads the table, which bindPhone's per-user rate keeps
// rare.
func (d *DB) SetMobile(ctx context.Context, userID int64, mobile string, at time.Time) error {
	return d.inTx(ctx, "set mobile", func(tx *sqlx.Tx) error {
		if err := d.claimMobile(ctx, tx, mobile, userID, at); err != nil {
			return err
		}
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM wx_user WHERE mobile = ? AND id <> ?
			AND status <> ? AND COALESCE(deleted, 0) = 0`, mobile, userID, auth.StatusCancelled).Scan(&n)
		if err != nil {
			return fmt.Errorf("set mobile: look up number: %w", err)
		}
		if n > 0 {
			return auth.ErrPhoneTaken
		}
		res, err := tx.ExecContext(ctx, `UPDATE wx_user SET mobile = ?, update_time = ? WHERE id = ?`, mobile, d.UserTime(at), userID)
		if err != nil {
			return translate(err, "set mobile", nil)
		}
		if k, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("set mobile: %w", err)
		} else if k == 0 {
			return auth.ErrNotFound
		}
		return nil
	})
}

// errClaimRace: another bind inserted the number's claim row first; the
// transaction is retried, and then updates that row (waiting for it).
var errClaimRace = &retryableError{errors.New("phone number claimed concurrently")}

// claimMobile writes the number's claim row: an update of the row, or,
// when there is none yet, its insert. Not INSERT ... ON DUPLICATE KEY
// UPDATE: its gap locks deadlock under concurrency (DESIGN), and the two
// statements keep one SQL for both dialects.
func (d *DB) claimMobile(ctx context.Context, tx *sqlx.Tx, mobile string, userID int64, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE oa_mobile_claim SET user_id = ?, claimed_at = ? WHERE mobile = ?`, userID, d.UTCTime(at), mobile)
	if err != nil {
		return translate(err, "claim phone number", nil)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("claim phone number: %w", err)
	} else if n > 0 {
		return nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO oa_mobile_claim (mobile, user_id, claimed_at) VALUES (?, ?, ?)`, mobile, userID, d.UTCTime(at))
	if isDuplicate(err) {
		return errClaimRace
	}
	return translate(err, "claim phone number", nil)
}

// newestSessionSQL orders by creation time; id only breaks ties between
// logins within the same second. A user has few sessions: the appid is
// filtered on the (user_id, created_at) index's rows, not indexed.
const newestSessionSQL = `SELECT ` + sessionColumns + ` FROM wx_session s WHERE s.user_id = ? AND s.appid IN (%s)
	ORDER BY s.created_at DESC, s.id DESC LIMIT 1`

// NewestSession returns the user's newest session made through one of
// appIDs (its key is WeChat's one valid session_key for that app),
// revoked or not.
func (d *DB) NewestSession(ctx context.Context, userID int64, appIDs []string) (auth.Session, error) {
	if len(appIDs) == 0 {
		return auth.Session{}, auth.ErrNotFound
	}
	args := []any{userID}
	for _, a := range appIDs {
		args = append(args, a)
	}
	q := fmt.Sprintf(newestSessionSQL, "?"+strings.Repeat(", ?", len(appIDs)-1))
	var s auth.Session
	err := d.r.QueryRowContext(ctx, q, args...).Scan(sessionDest(&s)...)
	if err != nil {
		return auth.Session{}, translate(err, "newest session", auth.ErrNotFound)
	}
	return s, nil
}

// purgeBatch bounds one DELETE: a huge delete holds locks and bloats the
// undo log on MySQL.
const purgeBatch = 1000

// PurgeExpiredSessions deletes sessions that expired before expiredBefore,
// in batches, and returns how many it deleted (serve's own job: no audit
// row).
func (d *DB) PurgeExpiredSessions(ctx context.Context, expiredBefore time.Time) (int64, error) {
	return d.purge(ctx, expiredBefore, nil)
}

// PurgeSessions is PurgeExpiredSessions as a support action: each batch's
// transaction also writes the audit row (the first) or adds its count to
// it (the others), so the row never counts a deletion that did not
// commit.
func (d *DB) PurgeSessions(ctx context.Context, expiredBefore time.Time, a auth.Audit) (int64, error) {
	return d.purge(ctx, expiredBefore, &a)
}

func (d *DB) purge(ctx context.Context, expiredBefore time.Time, a *auth.Audit) (int64, error) {
	var total int64
	// The derived table lets MySQL delete from the table it selects from.
	q := fmt.Sprintf(`DELETE FROM wx_session WHERE id IN (SELECT id FROM (SELECT id FROM wx_session
		WHERE expires_at < ? LIMIT %d) AS batch)`, purgeBatch)
	var audit auditRow
	for {
		var n int64
		err := d.inTx(ctx, "purge sessions", func(tx *sqlx.Tx) error {
			res, err := tx.ExecContext(ctx, q, d.UTCTime(expiredBefore))
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil || a == nil {
				return err
			}
			return audit.add(ctx, d, tx, auth.ActionPurge, n, *a)
		})
		if err != nil {
			return total, translate(err, "purge sessions", nil)
		}
		audit.commit()
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// rekeyBatch is how many sessions one rekey transaction rewrites.
const rekeyBatch = 500

// RekeySessionKeys walks every session and stores what fn returns for its
// stored session_key when fn reports a change (key rotation). It returns
// how many rows it rewrote. A row whose key changed meanwhile (a racing
// rekey) is left for the next run. Each batch's transaction writes the
// audit row of the run (the first batch) or adds its count to it.
func (d *DB) RekeySessionKeys(ctx context.Context, a auth.Audit, fn func(tokenHash, stored string) (newStored string, changed bool, err error)) (int64, error) {
	var total int64
	var after int64
	var audit auditRow
	for {
		type row struct {
			id         int64
			hash, key  string
			newKey     string
			hasChanged bool
		}
		var batch []row
		// The primary key is only a cursor here: every row is visited once
		// whatever order ids were handed out in.
		rows, err := d.r.QueryContext(ctx, `SELECT id, token_hash, session_key FROM wx_session WHERE id > ? ORDER BY id LIMIT ?`, after, rekeyBatch)
		if err != nil {
			return total, fmt.Errorf("rekey: read sessions: %w", err)
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.hash, &r.key); err != nil {
				rows.Close()
				return total, fmt.Errorf("rekey: read sessions: %w", err)
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("rekey: read sessions: %w", err)
		}
		if len(batch) == 0 {
			return total, nil
		}
		after = batch[len(batch)-1].id
		var todo []row
		for _, r := range batch {
			nk, changed, err := fn(r.hash, r.key)
			if err != nil {
				return total, fmt.Errorf("rekey: session %d: %w", r.id, err)
			}
			if changed {
				if len(nk) > maxSessionKey {
					return total, fmt.Errorf("rekey: session %d: new key is %d bytes, more than %d", r.id, len(nk), maxSessionKey)
				}
				r.newKey, r.hasChanged = nk, true
				todo = append(todo, r)
			}
		}
		if len(todo) == 0 {
			continue
		}
		var n int64
		err = d.inTx(ctx, "rekey", func(tx *sqlx.Tx) error {
			n = 0
			for _, r := range todo {
				res, err := tx.ExecContext(ctx, `UPDATE wx_session SET session_key = ? WHERE id = ? AND session_key = ?`, r.newKey, r.id, r.key)
				if err != nil {
					return err
				}
				k, err := res.RowsAffected()
				if err != nil {
					return err
				}
				n += k
			}
			return audit.add(ctx, d, tx, auth.ActionRekey, n, a)
		})
		if err != nil {
			return total, fmt.Errorf("rekey: %w", err)
		}
		audit.commit()
		total += n
	}
}
