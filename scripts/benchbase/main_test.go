package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/migrate"
	"github.com/oactl/oactl/internal/dbtest"
	"github.com/oactl/oactl/internal/mockwx"
)

const (
	testApp    = "wxbench0000000000"
	testSecret = "bench-s3cret"
)

// loginWX starts a mockwx and benchbase's routes on a fresh, migrated
// database and returns a function posting a body to /login-wx, and the
// database.
func loginWX(t *testing.T, dsn string) (func(body string) (int, string), *db.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := migrated(t, dsn)
	wx := httptest.NewServer(mockwx.New(mockwx.Config{AppID: testApp, Secret: testSecret}))
	t.Cleanup(wx.Close)
	h, err := routes(ctx, d, testApp, wx.URL+"/", testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return func(body string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/login-wx", strings.NewReader(body)))
		return w.Code, w.Body.String()
	}, d
}

// migrated opens dsn for the test, every migration applied.
func migrated(t *testing.T, dsn string) *db.DB {
	t.Helper()
	d := dbtest.Open(t, dsn, db.Options{TimeZone: time.UTC})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := migrate.New(d, migrate.Options{}).Up(ctx, 0); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	return d
}

func count(t *testing.T, d *db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.SQL().QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLoginWXLogsInWeChatsOpenID: /login-wx logs in the openid mockwx
// gives the code's user (a new user, then the same user returning), and
// refuses every failed exchange and every unusable body without a row.
func TestLoginWXLogsInWeChatsOpenID(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		post, d := loginWX(t, dsn)
		for _, code := range []string{"base7.a", "base7.b"} {
			if status, body := post(`{"code":"` + code + `"}`); status != http.StatusOK || !strings.Contains(body, `"errno":0`) {
				t.Fatalf("code %s: %d %s", code, status, body)
			}
		}
		openid := mockwx.OpenID("oactl", testApp, "base7")
		if n := count(t, d, `SELECT COUNT(*) FROM wx_identity WHERE appid = ? AND openid = ?`, testApp, openid); n != 1 {
			t.Fatalf("%d identities of base7's openid, want 1 (new, then returning)", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM wx_session`); n != 2 {
			t.Fatalf("%d sessions, want 2", n)
		}

		for _, c := range []struct{ name, body string }{
			{"reused code", `{"code":"base7.a"}`},
			{"errcode", `{"code":"err40029~base8.a"}`},
			{"user errcode", `{"code":"err-1~base8.b"}`},
			{"malformed answer", `{"code":"garbage~base8.c"}`},
			{"HTTP error", `{"code":"http503~base8.d"}`},
			{"invalid code", `{"code":"` + strings.Repeat("x", 200) + `"}`},
		} {
			status, body := post(c.body)
			if status != http.StatusInternalServerError {
				t.Errorf("%s: %d %s, want 500", c.name, status, body)
			}
			if strings.Contains(body, testSecret) || strings.Contains(body, "base8") {
				t.Errorf("%s: the answer holds the secret or the code: %s", c.name, body)
			}
		}
		for _, c := range []struct{ name, body string }{
			{"empty", ``},
			{"not JSON", `code=base9.a`},
			{"no code", `{}`},
			{"empty code", `{"code":""}`},
			{"code not a string", `{"code":9}`},
			{"oversized", `{"code":"base9.` + strings.Repeat("a", 1<<17) + `"}`},
		} {
			if status, body := post(c.body); status != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400", c.name, status, body)
			}
		}
		if n := count(t, d, `SELECT COUNT(*) FROM wx_session`); n != 2 {
			t.Fatalf("%d sessions after the refused logins, want still 2", n)
		}
	})
}

// TestLoginWXConcurrentFirstLogins: the first logins of one user, all at
// once (as wrk's threads send them), all succeed with one user made: the
// losers of the insert race log in the winner's user, as serve's do.
func TestLoginWXConcurrentFirstLogins(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		post, d := loginWX(t, dsn)
		const n = 16
		fails := make(chan string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if status, body := post(fmt.Sprintf(`{"code":"race.%d"}`, i)); status != http.StatusOK {
					fails <- fmt.Sprintf("%d %s", status, body)
				}
			})
		}
		wg.Wait()
		close(fails)
		for f := range fails {
			t.Error(f)
		}
		if got := count(t, d, `SELECT COUNT(*) FROM wx_user`); got != 1 {
			t.Errorf("%d users, want 1", got)
		}
		if got := count(t, d, `SELECT COUNT(*) FROM wx_session`); got != n {
			t.Errorf("%d sessions, want %d", got, n)
		}
	})
}

// TestLoginWXCodeIsOneQueryValue: a code carrying query syntax is sent
// as one js_code value: mockwx sees the whole code (its user is the part
// before the first dot), not a shorter code and more parameters.
func TestLoginWXCodeIsOneQueryValue(t *testing.T) {
	post, d := loginWX(t, dbtest.SQLite(t))
	status, body := post(`{"code":"x&secret=nope&js_code=victim.1#"}`)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	whole := mockwx.OpenID("oactl", testApp, "x&secret=nope&js_code=victim")
	if n := count(t, d, `SELECT COUNT(*) FROM wx_identity WHERE openid = ?`, whole); n != 1 {
		t.Fatal("the code did not reach mockwx whole")
	}
}

// TestLoginWXNeedsTheSecretAndNoWXNoRoute: a wx base URL without a
// secret is refused at start, and without a wx base URL there is no
// /login-wx.
func TestLoginWXNeedsTheSecretAndNoWXNoRoute(t *testing.T) {
	ctx := context.Background()
	d := migrated(t, dbtest.SQLite(t))
	if _, err := routes(ctx, d, testApp, "http://127.0.0.1:1", ""); err == nil {
		t.Fatal("routes accepted a wx base URL without a secret")
	}
	h, err := routes(ctx, d, testApp, "", "")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/login-wx", strings.NewReader(`{"code":"a.1"}`)))
	if w.Code != http.StatusNotFound {
		t.Fatalf("/login-wx without --wx-base-url: %d, want 404", w.Code)
	}
}

// TestLoginWXRefusesHostileAnswers: answers mockwx never gives (an
// errcode beside an openid, a field missing, an answer past the read
// limit) and an unreachable WeChat are each a 500 without a row, naming
// neither the secret nor the code (the URL carries both).
func TestLoginWXRefusesHostileAnswers(t *testing.T) {
	ctx := context.Background()
	d := migrated(t, dbtest.SQLite(t))
	for _, c := range []struct{ name, answer string }{
		{"errcode with openid", `{"errcode":40029,"openid":"o1","session_key":"k"}`},
		{"no session_key", `{"openid":"o1"}`},
		{"no openid", `{"session_key":"k"}`},
		{"openid not a string", `{"openid":1,"session_key":"k"}`},
		{"oversized", `{"openid":"o1","session_key":"k","x":"` + strings.Repeat("a", 1<<17) + `"}`},
		{"unreachable", ""},
	} {
		wx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, c.answer)
		}))
		if c.answer == "" {
			wx.Close()
		}
		h, err := routes(ctx, d, testApp, wx.URL, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/login-wx", strings.NewReader(`{"code":"base5.z"}`)))
		wx.Close()
		if body := w.Body.String(); w.Code != http.StatusInternalServerError || strings.Contains(body, testSecret) || strings.Contains(body, "base5") {
			t.Errorf("%s: %d %s, want 500 without the secret or the code", c.name, w.Code, body)
		}
	}
	if n := count(t, d, `SELECT COUNT(*) FROM wx_identity`); n != 0 {
		t.Fatalf("%d identities after refused answers", n)
	}
}
