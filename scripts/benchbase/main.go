// Command benchbase is the yardstick of scripts/bench-serve: the cheapest
// handlers that do the same database work as oactl serve's routes, over the
// same connection settings, so that serve's throughput can be reported as
// a ratio against them in one run.
//
//	GET  /pk?id=N   one primary-key SELECT of wx_user, answered as JSON
//	POST /login     one transaction: an upsert of wx_user plus an insert of wx_session
//	GET  /bare      a JSON answer with no database at all
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oactl/oactl/internal/db"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dsn := flag.String("db", "", "database DSN (as oactl's --db)")
	flag.Parse()
	if err := run(*addr, *dsn); err != nil {
		fmt.Fprintln(os.Stderr, "benchbase:", err)
		os.Exit(1)
	}
}

func run(addr, dsn string) error {
	ctx := context.Background()
	d, err := db.Open(ctx, dsn, db.Options{TimeZone: time.UTC})
	if err != nil {
		return err
	}
	defer d.Close()
	x := d.SQL()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"errno": 0, "errmsg": "成功", "data": map[string]any{"nickName": "x"}})
	})
	mux.HandleFunc("GET /pk", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
		var u struct {
			Nickname string `db:"nickname"`
			Avatar   string `db:"avatar"`
			Gender   int    `db:"gender"`
			Mobile   string `db:"mobile"`
		}
		if err := x.GetContext(r.Context(), &u, "SELECT nickname, avatar, gender, mobile FROM wx_user WHERE id = ?", id); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"errno": 0, "errmsg": "成功", "data": map[string]any{"nickName": u.Nickname, "avatar": u.Avatar, "gender": u.Gender, "mobile": u.Mobile}})
	})
	var n atomic.Int64
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := "bench-" + strconv.FormatInt(n.Add(1)%1000, 10)
		if err := upsertLogin(r.Context(), x, d.Dialect(), user); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"errno": 0, "errmsg": "成功", "data": map[string]any{"token": "x"}})
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("benchbase listening on %s", addr)
	return srv.ListenAndServe()
}

func upsertLogin(ctx context.Context, x *sqlx.DB, dialect db.Dialect, openid string) error {
	now := time.Now().UTC().Format("2006-01-02 15:04:05")
	var b [32]byte
	_, _ = rand.Read(b[:])
	sum := sha256.Sum256(b[:])
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	upsert := "INSERT INTO wx_user (username, password, weixin_openid, add_time, update_time, last_login_time, last_login_ip) VALUES (?, '', ?, ?, ?, ?, '127.0.0.1') " +
		"ON DUPLICATE KEY UPDATE last_login_time = VALUES(last_login_time), update_time = VALUES(update_time)"
	if dialect == "sqlite" {
		upsert = "INSERT INTO wx_user (username, password, weixin_openid, add_time, update_time, last_login_time, last_login_ip) VALUES (?, '', ?, ?, ?, ?, '127.0.0.1') " +
			"ON CONFLICT (username) DO UPDATE SET last_login_time = excluded.last_login_time, update_time = excluded.update_time"
	}
	if _, err := tx.ExecContext(ctx, upsert, openid, openid, now, now, now); err != nil {
		return err
	}
	var id int64
	if err := tx.GetContext(ctx, &id, "SELECT id FROM wx_user WHERE username = ?", openid); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO wx_session (token_hash, user_id, session_key, created_at, expires_at, last_seen_at, ip, user_agent) VALUES (?, ?, 'k', ?, ?, ?, '127.0.0.1', 'bench')",
		hex.EncodeToString(sum[:]), id, now, now, now); err != nil {
		return err
	}
	return tx.Commit()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
