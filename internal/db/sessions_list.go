package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oactl/oactl/internal/auth"
)

var _ auth.SessionLister = (*DB)(nil)

// Listing limits: a page is what one screen or one script call needs;
// MaxListLimit keeps a typo in --limit from reading the whole table.
const (
	DefaultListLimit = 100
	MaxListLimit     = 10000
	// revokeChunk bounds the IN list of one revoke statement.
	revokeChunk = 500
)

// listColumns never includes token_hash or session_key: a listing cannot
// leak what it does not read.
const listColumns = `s.id, s.user_id, s.created_at, s.expires_at, s.last_seen_at, s.revoked_at,
	s.revoke_reason, s.ip, s.user_agent, s.appid, COALESCE(u.nickname, ''), COALESCE(u.weixin_openid, '')`

// likeEscape is the LIKE escape character. '!' rather than '\': MySQL
// treats a backslash in a string literal as an escape itself (unless
// NO_BACKSLASH_ESCAPES), SQLite does not, and '!' means the same to both.
const likeEscape = "!"

// likePattern turns q into a LIKE pattern that matches q literally
// anywhere: %, _ and the escape character lose their meaning.
func likePattern(q string) string {
	r := strings.NewReplacer(likeEscape, likeEscape+likeEscape, "%", likeEscape+"%", "_", likeEscape+"_")
	return "%" + r.Replace(q) + "%"
}

// sessionWhere is the WHERE of a listing or count of f at now, without
// the keyset part.
func (d *DB) sessionWhere(f auth.SessionFilter, now time.Time) ([]string, []any, error) {
	var where []string
	var args []any
	nowArg := d.UTCTime(now)
	switch f.State {
	case "", auth.StateAll:
	case auth.StateActive:
		where = append(where, "s.revoked_at IS NULL AND s.expires_at > ?")
		args = append(args, nowArg)
	case auth.StateExpired:
		where = append(where, "s.revoked_at IS NULL AND s.expires_at <= ?")
		args = append(args, nowArg)
	case auth.StateRevoked:
		where = append(where, "s.revoked_at IS NOT NULL")
	default:
		return nil, nil, fmt.Errorf("unknown state %q", f.State)
	}
	if f.UserID != 0 {
		where = append(where, "s.user_id = ?")
		args = append(args, f.UserID)
	}
	if q := strings.TrimSpace(f.Search); q != "" {
		w, a := d.searchClause(q)
		where = append(where, w)
		args = append(args, a...)
	}
	return where, args, nil
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// CountSessions counts the sessions f selects (Limit and After ignored):
// the inspector's header. It reads the user table only when f searches.
func (d *DB) CountSessions(ctx context.Context, f auth.SessionFilter) (int64, error) {
	where, args, err := d.sessionWhere(f, orNow(f.Now))
	if err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	q := `SELECT COUNT(*) FROM wx_session s`
	if strings.TrimSpace(f.Search) != "" {
		q += ` LEFT JOIN wx_user u ON u.id = s.user_id`
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	var n int64
	if err := d.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}

// ListSessions returns one keyset page of sessions with their user's
// nickname and openid, ordered by f.Sort with the session id as the
// tiebreak. f.After is the last row of the previous page. States are
// computed at f.Now (the current time when zero).
func (d *DB) ListSessions(ctx context.Context, f auth.SessionFilter) ([]auth.SessionRow, error) {
	now := orNow(f.Now)
	limit := pageLimit(f.Limit)
	where, args, err := d.sessionWhere(f, now)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}

	// Keyset: "after the previous page's last row" in the sort order. The
	// form col <= ? AND (col < ? OR id < ?) gives both engines a range on
	// the index's leading column.
	col, desc := "s.created_at", true
	switch f.Sort {
	case "", auth.SortCreatedDesc:
	case auth.SortLastSeen:
		col = "s.last_seen_at"
	case auth.SortExpires:
		col, desc = "s.expires_at", false
	default:
		return nil, fmt.Errorf("list sessions: unknown sort %q", f.Sort)
	}
	if a := f.After; a != nil {
		var key time.Time
		switch col {
		case "s.created_at":
			key = a.Session.CreatedAt
		case "s.last_seen_at":
			key = a.Session.LastSeenAt
		default:
			key = a.Session.ExpiresAt
		}
		k := d.UTCTime(key)
		if desc {
			where = append(where, col+" <= ? AND ("+col+" < ? OR s.id < ?)")
		} else {
			where = append(where, col+" >= ? AND ("+col+" > ? OR s.id > ?)")
		}
		args = append(args, k, k, a.Session.ID)
	}
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	q := `SELECT ` + listColumns + ` FROM wx_session s LEFT JOIN wx_user u ON u.id = s.user_id`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s %s, s.id %s LIMIT %d", col, dir, dir, limit)

	return queryAll(ctx, d.r, "list sessions", q, args, func(rows *sql.Rows) (auth.SessionRow, error) {
		var r auth.SessionRow
		s := &r.Session
		err := rows.Scan(&s.ID, &s.UserID, TimeIn{&s.CreatedAt, time.UTC}, TimeIn{&s.ExpiresAt, time.UTC},
			TimeIn{&s.LastSeenAt, time.UTC}, TimeIn{&s.RevokedAt, time.UTC}, &s.RevokeReason, &s.IP, &s.UserAgent,
			&s.AppID, &r.Nickname, &r.OpenID)
		r.State = s.StateAt(now)
		return r, err
	})
}

// UserIdentities returns a user's identities, oldest first.
func (d *DB) UserIdentities(ctx context.Context, userID int64) ([]auth.Identity, error) {
	return queryAll(ctx, d.r, "user identities", `SELECT user_id, appid, openid, COALESCE(unionid, ''), created_at
		FROM wx_identity WHERE user_id = ? ORDER BY created_at, id`, []any{userID}, func(rows *sql.Rows) (auth.Identity, error) {
		var i auth.Identity
		err := rows.Scan(&i.UserID, &i.AppID, &i.OpenID, &i.UnionID, TimeIn{&i.CreatedAt, time.UTC})
		return i, err
	})
}

// searchClause matches q literally in the nickname or the openid, or
// exactly as a user id.
func (d *DB) searchClause(q string) (string, []any) {
	parts, args := d.textMatch("u.nickname", q, true)
	if d.cfg.Dialect == MySQL {
		parts = append(parts, "u.weixin_openid COLLATE utf8mb4_bin LIKE ? ESCAPE '"+likeEscape+"'")
		args = append(args, likePattern(q))
	} else {
		// instr is exact, for the case-sensitive openid.
		parts = append(parts, "instr(u.weixin_openid, ?) > 0")
		args = append(args, q)
	}
	if id, err := strconv.ParseInt(q, 10, 64); err == nil && id > 0 {
		parts = append(parts, "s.user_id = ?")
		args = append(args, id)
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// textMatch matches q literally anywhere in col. On MySQL the comparison
// is binary: under utf8mb4_general_ci every 4-byte character (every
// emoji) equals every other, so searching for one emoji would find them
// all. With fold, both sides are lowered, so ASCII and Latin letters
// still match in any case, as SQLite's LIKE does for ASCII (which
// compares everything else by code point).
func (d *DB) textMatch(col, q string, fold bool) ([]string, []any) {
	if d.cfg.Dialect != MySQL {
		return []string{col + " LIKE ? ESCAPE '" + likeEscape + "'"}, []any{likePattern(q)}
	}
	if fold {
		return []string{"LOWER(" + col + ") COLLATE utf8mb4_bin LIKE ? ESCAPE '" + likeEscape + "'"}, []any{likePattern(strings.ToLower(q))}
	}
	return []string{col + " COLLATE utf8mb4_bin LIKE ? ESCAPE '" + likeEscape + "'"}, []any{likePattern(q)}
}

// RevokeSessions revokes the given sessions that are not revoked yet
// (revoke_reason a.Reason) and returns how many it revoked. One
// transaction: the revocations and one audit row per user whose sessions
// it revoked.
func (d *DB) RevokeSessions(ctx context.Context, ids []int64, a auth.Audit) (int64, error) {
	ids = uniqueIDs(ids)
	var total int64
	err := d.inTx(ctx, "revoke sessions", func(tx *sqlx.Tx) error {
		total = 0
		byUser := map[int64][]int64{}
		var users []int64
		for rest := ids; len(rest) > 0; {
			chunk := rest[:min(len(rest), revokeChunk)]
			rest = rest[len(chunk):]
			list, args := inList(chunk)
			rows, err := tx.QueryContext(ctx, `SELECT id, user_id FROM wx_session WHERE revoked_at IS NULL AND id IN (`+list+`)`+d.forUpdate(), args...)
			if err != nil {
				return fmt.Errorf("revoke sessions: %w", err)
			}
			for rows.Next() {
				var id, user int64
				if err := rows.Scan(&id, &user); err != nil {
					rows.Close()
					return fmt.Errorf("revoke sessions: %w", err)
				}
				if _, ok := byUser[user]; !ok {
					users = append(users, user)
				}
				byUser[user] = append(byUser[user], id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("revoke sessions: %w", err)
			}
		}
		for _, user := range users {
			n, err := d.revokeIDs(ctx, tx, byUser[user], a.At, a.Reason)
			if err != nil {
				return err
			}
			total += n
			if _, err := d.writeAudit(ctx, tx, auth.ActionRevoke, user, byUser[user], n, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// RevokeUserSessions revokes every unrevoked session of a user, with its
// audit row, in one transaction.
func (d *DB) RevokeUserSessions(ctx context.Context, userID int64, a auth.Audit) (int64, error) {
	var n int64
	err := d.inTx(ctx, "revoke user sessions", func(tx *sqlx.Tx) error {
		var ids []int64
		var err error
		n, ids, err = d.revokeUser(ctx, tx, userID, a.At, a.Reason)
		if err != nil || n == 0 {
			return err
		}
		_, err = d.writeAudit(ctx, tx, auth.ActionRevoke, userID, ids, n, a)
		return err
	})
	return n, err
}

// revokeUser revokes every unrevoked session of a user in tx and returns
// how many and which.
func (d *DB) revokeUser(ctx context.Context, tx *sqlx.Tx, userID int64, at time.Time, reason string) (int64, []int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM wx_session WHERE user_id = ? AND revoked_at IS NULL`+d.forUpdate(), userID)
	if err != nil {
		return 0, nil, fmt.Errorf("revoke user sessions: %w", err)
	}
	ids, err := scanIDs(rows)
	if err != nil {
		return 0, nil, fmt.Errorf("revoke user sessions: %w", err)
	}
	n, err := d.revokeIDs(ctx, tx, ids, at, reason)
	return n, ids, err
}

// revokeIDs revokes the unrevoked sessions among ids in tx.
func (d *DB) revokeIDs(ctx context.Context, tx *sqlx.Tx, ids []int64, at time.Time, reason string) (int64, error) {
	var total int64
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), revokeChunk)]
		ids = ids[len(chunk):]
		list, idArgs := inList(chunk)
		args := append([]any{d.UTCTime(at), auth.CutUTF8(reason, maxRevokeReason)}, idArgs...)
		res, err := tx.ExecContext(ctx, `UPDATE wx_session SET revoked_at = ?, revoke_reason = ? WHERE revoked_at IS NULL AND id IN (`+list+`)`, args...)
		if err != nil {
			return total, translate(err, "revoke sessions", nil)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("revoke sessions: %w", err)
		}
		total += n
	}
	return total, nil
}

// uniqueIDs drops repeated ids, keeping the first order.
func uniqueIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// execCount runs an autocommit statement with the retry rules and returns
// the rows it changed.
func (d *DB) execCount(ctx context.Context, what, query string, args ...any) (int64, error) {
	var n int64
	err := d.retry(ctx, what, func() error {
		res, err := d.w.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, translate(err, what, nil)
	}
	return n, nil
}
