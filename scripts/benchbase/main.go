// Command benchbase is the yardstick of scripts/bench-serve: the cheapest
// handlers that do the same database work as oactl serve's routes, over the
// same connection settings, so that serve's throughput can be reported as
// a ratio against them in one run. Every statement is prepared once, as
// serve prepares the statements of its request path: a baseline that made
// the database parse its SQL on every request would flatter serve.
//
//	GET  /bare   a JSON answer with no database at all
//	GET  /pk?id=N   one primary-key SELECT of wx_user, answered as JSON
//	GET  /read   the read GET /wx/auth/info needs: the session of the
//	             X-OA-Token header (by its SHA-256) joined with its user,
//	             only the columns info answers or judges the token by;
//	             a revoked or expired session or an unusable account is
//	             refused, as serve refuses it
//	POST /login  one transaction doing a returning user's login's database
//	             work: the identity joined with its user, the user's login
//	             time updated (or the user and its identity inserted the
//	             first time), the session inserted
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/oactl/oactl/internal/db"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dsn := flag.String("db", "", "database DSN (as oactl's --db)")
	appid := flag.String("appid", "wxbench0000000000", "the appid of the identities /login makes")
	flag.Parse()
	if err := run(*addr, *dsn, *appid); err != nil {
		fmt.Fprintln(os.Stderr, "benchbase:", err)
		os.Exit(1)
	}
}

const (
	pkSQL   = `SELECT nickname, avatar, gender, mobile FROM wx_user WHERE id = ?`
	readSQL = `SELECT s.expires_at, s.revoked_at, u.nickname, u.avatar, u.gender, u.mobile, u.status, COALESCE(u.deleted, 0)
		FROM wx_session s JOIN wx_user u ON u.id = s.user_id WHERE s.token_hash = ?`
	identitySQL  = `SELECT u.id FROM wx_identity i JOIN wx_user u ON u.id = i.user_id WHERE i.appid = ? AND i.openid = ?`
	touchUserSQL = `UPDATE wx_user SET last_login_time = ?, last_login_ip = '127.0.0.1', update_time = ? WHERE id = ?`
	newUserSQL   = `INSERT INTO wx_user (username, password, weixin_openid, add_time, update_time, last_login_time, last_login_ip)
		VALUES (?, '', ?, ?, ?, ?, '127.0.0.1')`
	newIdentitySQL = `INSERT INTO wx_identity (user_id, appid, openid, created_at) VALUES (?, ?, ?, ?)`
	newSessionSQL  = `INSERT INTO wx_session (token_hash, user_id, session_key, created_at, expires_at, last_seen_at, ip, user_agent, appid)
		VALUES (?, ?, 'k', ?, ?, ?, '127.0.0.1', 'bench', ?)`
)

// stmts are the prepared statements, by their SQL.
type stmts map[string]*sql.Stmt

func prepare(ctx context.Context, x *sql.DB, queries ...string) (stmts, error) {
	s := stmts{}
	for _, q := range queries {
		st, err := x.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		s[q] = st
	}
	return s, nil
}

func run(addr, dsn, appid string) error {
	ctx := context.Background()
	d, err := db.Open(ctx, dsn, db.Options{TimeZone: time.UTC})
	if err != nil {
		return err
	}
	defer d.Close()
	// Reads go to the read pool and writes to the write pool, as serve's
	// do (on SQLite: four read-only connections and the one writer).
	x, rd := d.SQL().DB, d.Reader().DB
	reads, err := prepare(ctx, rd, pkSQL, readSQL)
	if err != nil {
		return err
	}
	st, err := prepare(ctx, x, identitySQL, touchUserSQL, newUserSQL, newIdentitySQL, newSessionSQL)
	if err != nil {
		return err
	}
	for q, s := range reads {
		st[q] = s
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"errno": 0, "errmsg": "成功", "data": map[string]any{"nickName": "x"}})
	})
	mux.HandleFunc("GET /pk", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
		var nickname, avatar, mobile string
		var gender int
		if err := st[pkSQL].QueryRowContext(r.Context(), id).Scan(&nickname, &avatar, &gender, &mobile); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"errno": 0, "errmsg": "成功", "data": map[string]any{"nickName": nickname, "avatar": avatar, "gender": gender, "mobile": mobile}})
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		sum := sha256.Sum256([]byte(r.Header.Get("X-OA-Token")))
		var expires time.Time
		var revoked sql.NullTime
		var nickname, avatar, mobile string
		var gender, status, deleted int
		err := st[readSQL].QueryRowContext(r.Context(), hex.EncodeToString(sum[:])).
			Scan(&expires, &revoked, &nickname, &avatar, &gender, &mobile, &status, &deleted)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			writeJSON(w, map[string]any{"errno": 501, "errmsg": "请登录", "data": map[string]any{}})
			return
		case err != nil:
			http.Error(w, err.Error(), 500)
			return
		}
		if revoked.Valid || !time.Now().Before(expires) || status != 0 || deleted != 0 {
			writeJSON(w, map[string]any{"errno": 501, "errmsg": "请登录", "data": map[string]any{}})
			return
		}
		writeJSON(w, map[string]any{"errno": 0, "errmsg": "成功", "data": map[string]any{"nickName": nickname, "avatar": avatar, "gender": gender, "mobile": mobile}})
	})
	var n atomic.Int64
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		openid := "bench-" + strconv.FormatInt(n.Add(1)%1000, 10)
		if err := login(r.Context(), x, st, appid, openid); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"errno": 0, "errmsg": "成功", "data": map[string]any{"token": "x"}})
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("benchbase listening on %s", addr)
	return srv.ListenAndServe()
}

func login(ctx context.Context, x *sql.DB, st stmts, appid, openid string) error {
	now := time.Now().UTC().Format("2006-01-02 15:04:05")
	var b [32]byte
	_, _ = rand.Read(b[:])
	sum := sha256.Sum256(b[:])
	tx, err := x.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var id int64
	err = tx.StmtContext(ctx, st[identitySQL]).QueryRowContext(ctx, appid, openid).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := tx.StmtContext(ctx, st[newUserSQL]).ExecContext(ctx, openid, openid, now, now, now)
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, st[newIdentitySQL]).ExecContext(ctx, id, appid, openid, now); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if _, err := tx.StmtContext(ctx, st[touchUserSQL]).ExecContext(ctx, now, now, id); err != nil {
			return err
		}
	}
	if _, err := tx.StmtContext(ctx, st[newSessionSQL]).ExecContext(ctx, hex.EncodeToString(sum[:]), id, now, now, now, appid); err != nil {
		return err
	}
	return tx.Commit()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
