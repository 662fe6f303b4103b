package main

import (
	"context"
	"fmt"
	"io"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	"github.com/oactl/oactl/internal/db"
)

// check queries the database for what a crash or a race could leave
// behind, and compares it with what the clients were told.
func check(ctx context.Context, w io.Writer, dsn string, t tally) ([]string, error) {
	cfg, err := db.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	dbx, err := sqlx.Open(cfg.DriverName, cfg.DriverDSN)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	defer dbx.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	counts := []struct{ name, query string }{
		{"openids with more than one wx_user", `SELECT COUNT(*) FROM (SELECT weixin_openid FROM wx_user GROUP BY weixin_openid HAVING COUNT(*) > 1) d`},
		{"sessions without a user", `SELECT COUNT(*) FROM wx_session s LEFT JOIN wx_user u ON u.id = s.user_id WHERE u.id IS NULL`},
		{"users without a session (half-written login)", `SELECT COUNT(*) FROM wx_user u WHERE NOT EXISTS (SELECT 1 FROM wx_session s WHERE s.user_id = u.id)`},
		{"users with a bad row (openid, username, password, times)", `SELECT COUNT(*) FROM wx_user WHERE weixin_openid = '' OR username <> weixin_openid OR password <> '' OR last_login_time IS NULL OR add_time IS NULL OR update_time IS NULL OR status <> 0 OR deleted <> 0`},
		{"sessions with a bad row (hash, key, times)", `SELECT COUNT(*) FROM wx_session WHERE LENGTH(token_hash) <> 64 OR session_key = '' OR expires_at <= created_at OR (revoked_at IS NOT NULL AND revoked_at < created_at)`},
		{"nicknames with '?' (lost emoji)", `SELECT COUNT(*) FROM wx_user WHERE LOCATE('?', nickname) > 0`},
	}
	var problems []string
	fmt.Fprintf(w, "\nconsistency of the database:\n")
	for _, c := range counts {
		var n int
		if err := dbx.GetContext(ctx, &n, c.query); err != nil {
			return nil, fmt.Errorf("check %q: %w", c.name, err)
		}
		fmt.Fprintf(w, "  %-58s %d\n", c.name, n)
		if n != 0 {
			problems = append(problems, fmt.Sprintf("%s: %d", c.name, n))
		}
	}
	var sessions, revoked, users int
	for _, q := range []struct {
		dst *int
		sql string
	}{{&sessions, `SELECT COUNT(*) FROM wx_session`}, {&revoked, `SELECT COUNT(*) FROM wx_session WHERE revoked_at IS NOT NULL`}, {&users, `SELECT COUNT(*) FROM wx_user`}} {
		if err := dbx.GetContext(ctx, q.dst, q.sql); err != nil {
			return nil, fmt.Errorf("check counts: %w", err)
		}
	}
	within := func(name string, got, lo, hi int) {
		verdict := "ok"
		if got < lo || got > hi {
			verdict = "WRONG"
			problems = append(problems, fmt.Sprintf("%s: %d, want %d..%d", name, got, lo, hi))
		}
		fmt.Fprintf(w, "  %-58s %d (clients: %d..%d) %s\n", name, got, lo, hi, verdict)
	}
	within("sessions = logins answered 0 (+ ambiguous failures)", sessions, t.loginOK, t.loginOK+t.loginMaybe)
	within("revoked sessions = logouts answered 0 (+ ambiguous)", revoked, t.logoutOK, t.logoutOK+t.logoutMaybe)
	within("users = identities with a successful login (+ tried)", users, len(t.identOK), len(t.identTried))
	return problems, nil
}
