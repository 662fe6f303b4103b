package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oactl/oactl/internal/auth"
)

var _ auth.Accounts = (*DB)(nil)

// maxAuditIDs is the width of oa_audit.session_ids.
const maxAuditIDs = 1024

// auditIDs lists ids comma-separated, as many as fit the column whole
// (session_count keeps the full count).
func auditIDs(ids []int64) string {
	var b strings.Builder
	for _, id := range ids {
		s := strconv.FormatInt(id, 10)
		if b.Len() > 0 {
			s = "," + s
		}
		if b.Len()+len(s) > maxAuditIDs {
			break
		}
		b.WriteString(s)
	}
	return b.String()
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// writeAudit inserts a row of oa_audit in tx and returns its id. The
// actor and reason are cut to their columns; a zero a.At is now.
func (d *DB) writeAudit(ctx context.Context, tx *sqlx.Tx, action string, userID int64, ids []int64, count int64, a auth.Audit) (int64, error) {
	at := a.At
	if at.IsZero() {
		at = time.Now()
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO oa_audit (created_at, actor, action, user_id, session_ids, session_count, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, d.UTCTime(at), auth.CutUTF8(a.Actor, auth.MaxActor), action, nullID(userID),
		auditIDs(ids), count, auth.CutUTF8(a.Reason, auth.MaxReason))
	if err != nil {
		return 0, translate(err, "write audit", nil)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("write audit: %w", err)
	}
	return id, nil
}

// auditRow is the one audit row of an action done in several
// transactions (purge, rekey): the first transaction that changes
// something inserts it, the later ones add their count. pending holds the
// id until the transaction that inserted it commits, so a retried or
// failed transaction never leaves the others counting on a row that does
// not exist.
type auditRow struct{ id, pending int64 }

func (r *auditRow) add(ctx context.Context, d *DB, tx *sqlx.Tx, action string, n int64, a auth.Audit) error {
	r.pending = 0
	switch {
	case n == 0:
		return nil
	case r.id == 0:
		id, err := d.writeAudit(ctx, tx, action, 0, nil, n, a)
		r.pending = id
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE oa_audit SET session_count = session_count + ? WHERE id = ?`, n, r.id)
	return translate(err, "write audit", nil)
}

// commit records that the transaction of the last add committed.
func (r *auditRow) commit() {
	if r.pending != 0 {
		r.id, r.pending = r.pending, 0
	}
}

// lockUser reads a user's status and deleted flag in tx, locking the row
// on MySQL (every account change of one user queues on it).
func (d *DB) lockUser(ctx context.Context, tx *sqlx.Tx, id int64) (status int, deleted bool, err error) {
	var del int
	err = tx.QueryRowContext(ctx, `SELECT status, COALESCE(deleted, 0) FROM wx_user WHERE id = ?`+d.forUpdate(), id).Scan(&status, &del)
	if err != nil {
		return 0, false, translate(err, "lock user", auth.ErrNotFound)
	}
	return status, del != 0, nil
}

// CancelUser cancels an account in one transaction (SPEC §11): every
// unrevoked session revoked (reason "cancelled"); every session's
// session_key erased, with the IP and User-Agent it kept (personal data
// the cancelled account no longer needs); the identities deleted; the row
// anonymised and set to status 2; the audit row written. The row keeps
// its id, add_time, last_login_time, user_level, share_user_id and
// deleted flag: other tables may point at it. Cancelling a cancelled
// account runs again (a row cancelled by other software is anonymised
// too) and writes its audit row.
func (d *DB) CancelUser(ctx context.Context, userID int64, a auth.Audit) (auth.CancelResult, error) {
	var res auth.CancelResult
	err := d.inTx(ctx, "cancel user", func(tx *sqlx.Tx) error {
		res = auth.CancelResult{}
		if _, _, err := d.lockUser(ctx, tx, userID); err != nil {
			return err
		}
		n, ids, err := d.revokeUser(ctx, tx, userID, a.At, auth.ReasonCancelled)
		if err != nil {
			return err
		}
		res.Sessions = ids
		if _, err := tx.ExecContext(ctx, `UPDATE wx_session SET session_key = '', ip = '', user_agent = '' WHERE user_id = ?`, userID); err != nil {
			return translate(err, "cancel user: erase session keys", nil)
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM wx_identity WHERE user_id = ?`, userID)
		if err != nil {
			return translate(err, "cancel user: delete identities", nil)
		}
		if res.Identities, err = r.RowsAffected(); err != nil {
			return fmt.Errorf("cancel user: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE wx_user SET username = ?, password = '', nickname = '', avatar = '', mobile = '',
			last_login_ip = '', gender = 0, birthday = NULL, weixin_openid = '', status = ?, update_time = ? WHERE id = ?`,
			CancelledUsername(userID), auth.StatusCancelled, d.UserTime(a.At), userID)
		if err != nil {
			return translate(err, "cancel user: anonymise", nil)
		}
		_, err = d.writeAudit(ctx, tx, auth.ActionCancel, userID, ids, n, a)
		return err
	})
	if err != nil {
		return auth.CancelResult{}, err
	}
	return res, nil
}

// CancelledUsername is the username of a cancelled account: unique (the
// seed's user_name key) and free of anything the person gave.
func CancelledUsername(id int64) string { return "cancelled-" + strconv.FormatInt(id, 10) }

// SetUserStatus implements auth.Accounts: disable (status 1, every
// unrevoked session revoked with reason "disabled") or enable (status 0),
// with the audit row, in one transaction.
func (d *DB) SetUserStatus(ctx context.Context, id int64, status int, a auth.Audit) (bool, []int64, error) {
	if status != auth.StatusActive && status != auth.StatusDisabled {
		return false, nil, fmt.Errorf("set user status: %d is neither active nor disabled", status)
	}
	var changed bool
	var revoked []int64
	err := d.inTx(ctx, "set user status", func(tx *sqlx.Tx) error {
		changed, revoked = false, nil
		cur, deleted, err := d.lockUser(ctx, tx, id)
		switch {
		case err != nil:
			return err
		case deleted:
			return auth.ErrAccountDeleted
		case cur == auth.StatusCancelled:
			return auth.ErrAccountCancelled
		case cur == status:
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE wx_user SET status = ?, update_time = ? WHERE id = ?`,
			status, d.UserTime(a.At), id); err != nil {
			return translate(err, "set user status", nil)
		}
		changed = true
		action := auth.ActionEnable
		var n int64
		if status == auth.StatusDisabled {
			action = auth.ActionDisable
			if n, revoked, err = d.revokeUser(ctx, tx, id, a.At, auth.ReasonDisabled); err != nil {
				return err
			}
		}
		_, err = d.writeAudit(ctx, tx, action, id, revoked, n, a)
		return err
	})
	if err != nil {
		return false, nil, err
	}
	return changed, revoked, nil
}

// UserByID implements auth.Accounts.
func (d *DB) UserByID(ctx context.Context, id int64) (auth.User, error) {
	u, err := d.scanUser(d.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM wx_user u WHERE u.id = ?`, id))
	return u, translate(err, "user by id", auth.ErrNotFound)
}

// UserByOpenID finds the user of an openid: an identity's (any app), else
// the lowest live wx_user with that weixin_openid (rows the Java backend
// made).
func (d *DB) UserByOpenID(ctx context.Context, openid string) (auth.User, error) {
	u, err := d.scanUser(d.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM wx_identity i JOIN wx_user u ON u.id = i.user_id
		WHERE i.openid = ? ORDER BY i.created_at, i.id LIMIT 1`, openid))
	if err == nil {
		return u, nil
	}
	if err := translate(err, "user by openid", auth.ErrNotFound); !errors.Is(err, auth.ErrNotFound) {
		return auth.User{}, err
	}
	return d.findUser(ctx, d.r, openid)
}

// userStateWhere selects a state of auth.User.State.
func userStateWhere(st auth.UserState) (string, []any, error) {
	switch st {
	case "", auth.UserAll:
		return "", nil, nil
	case auth.UserActive:
		return "COALESCE(u.deleted, 0) = 0 AND u.status = ?", []any{auth.StatusActive}, nil
	case auth.UserCancelled:
		return "COALESCE(u.deleted, 0) = 0 AND u.status = ?", []any{auth.StatusCancelled}, nil
	case auth.UserDisabled:
		return "COALESCE(u.deleted, 0) = 0 AND u.status NOT IN (?, ?)", []any{auth.StatusActive, auth.StatusCancelled}, nil
	case auth.UserDeleted:
		return "COALESCE(u.deleted, 0) <> 0", nil, nil
	}
	return "", nil, fmt.Errorf("unknown state %q", st)
}

// ListUsers returns one page of users by id, newest ids first, each with
// its count of identities and of active sessions (each an indexed count
// on the page's rows). A search matches the nickname or mobile literally,
// an id exactly, or an openid exactly (wx_user's or an identity's).
func (d *DB) ListUsers(ctx context.Context, f auth.UserFilter) ([]auth.UserRow, error) {
	limit := pageLimit(f.Limit)
	var where []string
	var args []any
	w, a, err := userStateWhere(f.State)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	if w != "" {
		where, args = append(where, w), append(args, a...)
	}
	if q := strings.TrimSpace(f.Search); q != "" {
		parts, pa := d.textMatch("u.nickname", q, true)
		mp, ma := d.textMatch("u.mobile", q, false)
		parts, pa = append(parts, mp...), append(pa, ma...)
		parts = append(parts, "u.weixin_openid = ?", "u.id IN (SELECT user_id FROM wx_identity WHERE openid = ?)")
		pa = append(pa, q, q)
		if id, err := strconv.ParseInt(q, 10, 64); err == nil && id > 0 {
			parts = append(parts, "u.id = ?")
			pa = append(pa, id)
		}
		where, args = append(where, "("+strings.Join(parts, " OR ")+")"), append(args, pa...)
	}
	if f.ID > 0 {
		where, args = append(where, "u.id = ?"), append(args, f.ID)
	}
	if f.AfterID > 0 {
		where, args = append(where, "u.id < ?"), append(args, f.AfterID)
	}
	q := `SELECT ` + userColumns + `,
		(SELECT COUNT(*) FROM wx_identity i WHERE i.user_id = u.id),
		(SELECT COUNT(*) FROM wx_session s WHERE s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > ?)
		FROM wx_user u`
	args = append([]any{d.UTCTime(orNow(f.Now))}, args...)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY u.id DESC LIMIT %d", limit)
	return queryAll(ctx, d.r, "list users", q, args, func(rows *sql.Rows) (auth.UserRow, error) {
		var r auth.UserRow
		var deleted int
		err := rows.Scan(append(d.userDest(&r.User, &deleted), &r.Identities, &r.Sessions)...)
		r.User.Deleted = deleted != 0
		return r, err
	})
}

// ListAudit returns one keyset page of oa_audit, newest first.
func (d *DB) ListAudit(ctx context.Context, f auth.AuditFilter) ([]auth.AuditEntry, error) {
	limit := pageLimit(f.Limit)
	var where []string
	var args []any
	if f.UserID != 0 {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, d.UTCTime(f.Since))
	}
	if b := f.Before; b != nil {
		k := d.UTCTime(b.At)
		where, args = append(where, "created_at <= ? AND (created_at < ? OR id < ?)"), append(args, k, k, b.ID)
	}
	q := `SELECT id, created_at, actor, action, COALESCE(user_id, 0), session_ids, session_count, reason FROM oa_audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT %d", limit)
	return queryAll(ctx, d.r, "list audit", q, args, func(rows *sql.Rows) (auth.AuditEntry, error) {
		var e auth.AuditEntry
		var ids string
		if err := rows.Scan(&e.ID, TimeIn{&e.At, time.UTC}, &e.Actor, &e.Action, &e.UserID, &ids, &e.Sessions, &e.Reason); err != nil {
			return e, err
		}
		for _, s := range strings.Split(ids, ",") {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil {
				e.SessionIDs = append(e.SessionIDs, id)
			}
		}
		return e, nil
	})
}
