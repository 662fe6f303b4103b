package db

import (
	"context"
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
	s.revoked_at, s.revoke_reason, s.ip, s.user_agent`

type scanner interface{ Scan(dest ...any) error }

func (d *DB) userDest(u *auth.User, deleted *int) []any {
	return []any{&u.ID, &u.Username, &u.Nickname, &u.Avatar, &u.Gender, &u.Mobile, &u.OpenID, &u.Status,
		deleted, &u.UserLevel, &u.LastLoginIP,
		TimeIn{&u.LastLoginAt, d.loc}, TimeIn{&u.CreatedAt, d.loc}, TimeIn{&u.UpdatedAt, d.loc}}
}

func sessionDest(s *auth.Session) []any {
	return []any{&s.ID, &s.TokenHash, &s.UserID, &s.SessionKey,
		TimeIn{&s.CreatedAt, time.UTC}, TimeIn{&s.ExpiresAt, time.UTC}, TimeIn{&s.LastSeenAt, time.UTC},
		TimeIn{&s.RevokedAt, time.UTC}, &s.RevokeReason, &s.IP, &s.UserAgent}
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

// errUserRace: the login lost a race (the user row was inserted or changed
// by someone else meanwhile); the whole login starts again.
var errUserRace = errors.New("user row changed concurrently")

// maxLoginRaces bounds how often one login restarts after losing a race.
const maxLoginRaces = 5

// Login finds or creates the user of rec.OpenID, records the login and
// inserts the session, in one transaction (see auth.Store). It never uses
// INSERT ... ON DUPLICATE KEY UPDATE: that burns an AUTO_INCREMENT value
// on every returning login. A duplicate key on insert means a concurrent
// login created the user: the row is read again outside the failed
// transaction and the login proceeds as a returning one.
func (d *DB) Login(ctx context.Context, rec auth.LoginRecord) (auth.User, auth.Session, error) {
	if rec.OpenID == "" {
		return auth.User{}, auth.Session{}, errors.New("login: empty openid")
	}
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
			// Fresh autocommit read: inside the failed transaction the
			// snapshot may predate the other login's commit.
			u, ferr := d.findUser(ctx, d.w, rec.OpenID)
			if ferr != nil && !errors.Is(ferr, auth.ErrNotFound) {
				return auth.User{}, auth.Session{}, fmt.Errorf("login: %w", ferr)
			}
			if ferr == nil {
				if uerr := u.Usable(); uerr != nil {
					return u, auth.Session{}, uerr
				}
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

// loginTx takes rec as auth's service makes it (see auth.LoginRecord):
// the client address and User-Agent already cut, every time in whole
// seconds. It only moves
// the times into their columns' zones, so that what it returns equals
// what a later read gives back.
func (d *DB) loginTx(ctx context.Context, tx *sqlx.Tx, rec auth.LoginRecord) (auth.User, auth.Session, error) {
	at := rec.At.In(d.loc)
	ip := rec.IP
	u, err := d.findUser(ctx, tx, rec.OpenID)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		u, err = d.insertUser(ctx, tx, rec, at, ip)
		if err != nil {
			return auth.User{}, auth.Session{}, err
		}
	case err != nil:
		return auth.User{}, auth.Session{}, err
	default:
		if uerr := u.Usable(); uerr != nil {
			return u, auth.Session{}, uerr
		}
		// The status and deleted conditions make a stale read harmless:
		// a row disabled since our SELECT matches nothing here.
		res, err := tx.ExecContext(ctx, `UPDATE wx_user SET last_login_time = ?, last_login_ip = ?, update_time = ?,
			nickname = CASE WHEN nickname = '' THEN ? ELSE nickname END,
			avatar = CASE WHEN avatar = '' THEN ? ELSE avatar END
			WHERE id = ? AND status = 0 AND COALESCE(deleted, 0) = 0`,
			d.UserTime(at), ip, d.UserTime(at), rec.Profile.Nickname, rec.Profile.Avatar, u.ID)
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
	s := rec.Session
	s.UserID = u.ID
	s.CreatedAt, s.ExpiresAt, s.LastSeenAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC(), s.LastSeenAt.UTC()
	if len(s.SessionKey) > maxSessionKey {
		return auth.User{}, auth.Session{}, fmt.Errorf("insert session: stored session key is %d bytes, more than %d", len(s.SessionKey), maxSessionKey)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO wx_session (token_hash, user_id, session_key, created_at, expires_at,
		last_seen_at, revoked_at, revoke_reason, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.TokenHash, s.UserID, s.SessionKey, d.UTCTime(s.CreatedAt), d.UTCTime(s.ExpiresAt), d.UTCTime(s.LastSeenAt),
		d.UTCTime(s.RevokedAt), s.RevokeReason, s.IP, s.UserAgent)
	if err != nil {
		return auth.User{}, auth.Session{}, translate(err, "insert session", nil)
	}
	if s.ID, err = res.LastInsertId(); err != nil {
		return auth.User{}, auth.Session{}, fmt.Errorf("insert session: %w", err)
	}
	return u, s, nil
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

// SessionByTokenHash returns a session and its user in one indexed read.
// Expiry and revocation are the caller's to judge.
func (d *DB) SessionByTokenHash(ctx context.Context, tokenHash string) (auth.Session, auth.User, error) {
	var s auth.Session
	var u auth.User
	var deleted int
	dest := append(sessionDest(&s), d.userDest(&u, &deleted)...)
	err := d.r.QueryRowContext(ctx, `SELECT `+sessionColumns+`, `+userColumns+`
		FROM wx_session s JOIN wx_user u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash).Scan(dest...)
	if err != nil {
		return auth.Session{}, auth.User{}, translate(err, "session by token", auth.ErrNotFound)
	}
	u.Deleted = deleted != 0
	return s, u, nil
}

// TouchSession sets last_seen_at.
func (d *DB) TouchSession(ctx context.Context, sessionID int64, at time.Time) error {
	return d.execOne(ctx, "touch session", `UPDATE wx_session SET last_seen_at = ? WHERE id = ?`, d.UTCTime(at), sessionID)
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

// SetMobile stores a bound phone number.
func (d *DB) SetMobile(ctx context.Context, userID int64, mobile string, at time.Time) error {
	return d.execOne(ctx, "set mobile", `UPDATE wx_user SET mobile = ?, update_time = ? WHERE id = ?`,
		mobile, d.UserTime(at), userID)
}

// newestSessionSQL orders by creation time; id only breaks ties between
// logins within the same second.
const newestSessionSQL = `SELECT ` + sessionColumns + ` FROM wx_session s WHERE s.user_id = ?
	ORDER BY s.created_at DESC, s.id DESC LIMIT 1`

// NewestSession returns the user's newest session (its key is WeChat's
// one valid session_key), revoked or not.
func (d *DB) NewestSession(ctx context.Context, userID int64) (auth.Session, error) {
	var s auth.Session
	err := d.r.QueryRowContext(ctx, newestSessionSQL, userID).Scan(sessionDest(&s)...)
	if err != nil {
		return auth.Session{}, translate(err, "newest session", auth.ErrNotFound)
	}
	return s, nil
}

// purgeBatch bounds one DELETE: a huge delete holds locks and bloats the
// undo log on MySQL.
const purgeBatch = 1000

// PurgeExpiredSessions deletes sessions that expired before expiredBefore,
// in batches, and returns how many it deleted.
func (d *DB) PurgeExpiredSessions(ctx context.Context, expiredBefore time.Time) (int64, error) {
	var total int64
	// The derived table lets MySQL delete from the table it selects from.
	q := fmt.Sprintf(`DELETE FROM wx_session WHERE id IN (SELECT id FROM (SELECT id FROM wx_session
		WHERE expires_at < ? LIMIT %d) AS batch)`, purgeBatch)
	for {
		var n int64
		err := d.retry(ctx, "purge sessions", func() error {
			res, err := d.w.ExecContext(ctx, q, d.UTCTime(expiredBefore))
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, translate(err, "purge sessions", nil)
		}
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
// rekey) is left for the next run.
func (d *DB) RekeySessionKeys(ctx context.Context, fn func(tokenHash, stored string) (newStored string, changed bool, err error)) (int64, error) {
	var total int64
	var after int64
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
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("rekey: %w", err)
		}
		total += n
	}
}
