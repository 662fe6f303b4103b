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
//	             first time), the session inserted; run again after a
//	             lost insert race or a deadlock, as serve's is
//	POST /login-wx  (with --wx-base-url) /login preceded by the cheapest
//	             honest code2session exchange, as serve's login makes it: the
//	             code of the body {"code":"..."} sent in one GET of
//	             {wx}/sns/jscode2session (the secret from $OA_WX_APP_SECRET,
//	             as serve's), the answer decoded, an errcode other than 0 or
//	             an answer without openid or session_key answered 500, the openid
//	             WeChat returned logged in. Its keep-alive pool is as large
//	             as serve's WeChat client's (wechat.MaxIdlePerHost), so both
//	             reuse connections to mockwx alike.
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
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/wechat"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dsn := flag.String("db", "", "database DSN (as oactl's --db)")
	appid := flag.String("appid", "wxbench0000000000", "the appid of the identities /login makes")
	wx := flag.String("wx-base-url", "", "WeChat API base URL (mockwx) of /login-wx; empty: no /login-wx")
	flag.Parse()
	if err := run(*addr, *dsn, *appid, *wx); err != nil {
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

func run(addr, dsn, appid, wx string) error {
	ctx := context.Background()
	d, err := db.Open(ctx, dsn, db.Options{TimeZone: time.UTC})
	if err != nil {
		return err
	}
	defer d.Close()
	h, err := routes(ctx, d, appid, wx, os.Getenv("OA_WX_APP_SECRET"))
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("benchbase listening on %s", addr)
	return srv.ListenAndServe()
}

// routes are benchbase's handlers on d; /login-wx only with a wx base URL.
func routes(ctx context.Context, d *db.DB, appid, wx, secret string) (http.Handler, error) {
	// Reads go to the read pool and writes to the write pool, as serve's
	// do (on SQLite: four read-only connections and the one writer).
	x, rd := d.SQL().DB, d.Reader().DB
	reads, err := prepare(ctx, rd, pkSQL, readSQL)
	if err != nil {
		return nil, err
	}
	st, err := prepare(ctx, x, identitySQL, touchUserSQL, newUserSQL, newIdentitySQL, newSessionSQL)
	if err != nil {
		return nil, err
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
	if wx != "" {
		if secret == "" {
			return nil, errors.New("--wx-base-url needs $OA_WX_APP_SECRET, as serve's")
		}
		c := code2session{
			http: &http.Client{Timeout: wechat.DefaultTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: wechat.MaxIdlePerHost}},
			url: strings.TrimRight(wx, "/") + "/sns/jscode2session?appid=" + url.QueryEscape(appid) +
				"&secret=" + url.QueryEscape(secret) + "&grant_type=authorization_code&js_code=",
		}
		mux.HandleFunc("POST /login-wx", func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Code string `json:"code"`
			}
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil || body.Code == "" {
				http.Error(w, "a body {\"code\":\"...\"} is needed", http.StatusBadRequest)
				return
			}
			openid, err := c.openid(r.Context(), body.Code)
			if err == nil {
				err = login(r.Context(), x, st, appid, openid)
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			writeJSON(w, map[string]any{"errno": 0, "errmsg": "成功", "data": map[string]any{"token": "x"}})
		})
	}
	return mux, nil
}

// maxRaces bounds the attempts of a login that lost races, as serve's.
const maxRaces = 5

// login runs loginTx again after a lost race: a concurrent first login of
// the same user inserted it first (duplicate key), or a deadlock. serve
// retries both, so a baseline answering them 500 would skip work serve
// does (and fail bench-serve's check).
func login(ctx context.Context, x *sql.DB, st stmts, appid, openid string) error {
	for attempt := 1; ; attempt++ {
		err := loginTx(ctx, x, st, appid, openid)
		var me *mysql.MySQLError
		if err == nil || attempt == maxRaces || !errors.As(err, &me) || (me.Number != 1062 && me.Number != 1213) {
			return err
		}
	}
}

func loginTx(ctx context.Context, x *sql.DB, st stmts, appid, openid string) error {
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

// code2session is /login-wx's WeChat exchange: url is the jscode2session
// URL up to the code.
type code2session struct {
	http *http.Client
	url  string
}

// openid exchanges code for its user's openid. Its errors name neither
// the code nor the secret, which the URL carries.
func (c code2session) openid(ctx context.Context, code string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+url.QueryEscape(code), nil)
	if err != nil {
		return "", errors.New("jscode2session: bad --wx-base-url")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", errors.New("jscode2session: the call failed")
	}
	defer resp.Body.Close()
	// Read to the end, as serve's client does: a body closed before its
	// end costs the connection.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", errors.New("jscode2session: reading the answer failed")
	}
	var ans struct {
		OpenID     string `json:"openid"`
		SessionKey string `json:"session_key"`
		ErrCode    int    `json:"errcode"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("jscode2session: HTTP status %d", resp.StatusCode)
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return "", errors.New("jscode2session: malformed answer")
	}
	if ans.ErrCode != 0 || ans.OpenID == "" || ans.SessionKey == "" {
		return "", fmt.Errorf("jscode2session: errcode %d, or no openid or session_key", ans.ErrCode)
	}
	return ans.OpenID, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
