package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// TestUpgradeToIdentities: a database at schema 3 (the release before
// apps were recorded) with a Java-made user and live sessions is migrated
// up. wx_user's rows are untouched, every old session still opens and
// counts as the default app's (its session_key is that app's newest), and
// the Java row gains an identity only through the default app.
func TestUpgradeToIdentities(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		ctx := testCtx(t)
		d := dbtest.Open(t, dsn, db.Options{TimeZone: time.UTC})
		m := New(d, Options{})
		if _, err := m.Up(ctx, 3); err != nil {
			t.Fatal(err)
		}
		x := d.SQL()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := x.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		// As the Java backend and the previous oactl wrote them.
		exec(`INSERT INTO wx_user (username, password, weixin_openid, nickname, status, deleted, add_time)
			VALUES ('javauser', 'pw', 'oJavaOpenID0000000000000000', 'Java 用户😀', 0, 0, '2024-05-06 07:08:09')`)
		var userID int64
		if err := x.QueryRowContext(ctx, "SELECT id FROM wx_user WHERE username = 'javauser'").Scan(&userID); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		for i := range 3 {
			exec(`INSERT INTO wx_session (token_hash, user_id, session_key, created_at, expires_at, last_seen_at, ip, user_agent)
				VALUES (?, ?, ?, ?, ?, ?, '203.0.113.9', 'old')`, fmt.Sprintf("%064d", i), userID, fmt.Sprintf("old-key-%d", i),
				d.UTCTime(now.Add(time.Duration(i)*time.Second)), d.UTCTime(now.Add(24*time.Hour)), d.UTCTime(now))
		}
		before := dumpUsers(ctx, t, d)

		got, err := m.Up(ctx, 0)
		if err != nil || !slices.Equal(versions(got), []int{4, 5, 6}) {
			t.Fatalf("Up = %v, %v", versions(got), err)
		}
		if after := dumpUsers(ctx, t, d); after != before {
			t.Fatalf("wx_user changed by the upgrade:\n%s\n%s", before, after)
		}
		for i := range 3 {
			s, u, err := d.SessionByTokenHash(ctx, fmt.Sprintf("%064d", i))
			if err != nil || u.ID != userID || s.AppID != "" {
				t.Errorf("old session %d: %+v, user %d, %v", i, s, u.ID, err)
			}
			// The key is not part of a request's read: read it as stored.
			var key string
			if err := d.SQL().QueryRowContext(ctx, "SELECT session_key FROM wx_session WHERE id = ?", s.ID).Scan(&key); err != nil ||
				key != fmt.Sprintf("old-key-%d", i) {
				t.Errorf("old session %d: key %q, %v", i, key, err)
			}
		}
		const appA, appB = "wxupgradeappa00001", "wxupgradeappb00002"
		if s, err := d.NewestSession(ctx, userID, []string{appA, ""}); err != nil || s.SessionKey != "old-key-2" {
			t.Errorf("newest session of the default app: %+v, %v", s, err)
		}
		if _, err := d.NewestSession(ctx, userID, []string{appB}); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("an old session counted for another app: %v", err)
		}

		rec := func(app, unionid string) auth.LoginRecord {
			return auth.LoginRecord{AppID: app, OpenID: "oJavaOpenID0000000000000000", UnionID: unionid, DefaultApp: app == appA, At: now,
				Session: auth.Session{AppID: app, TokenHash: strings.Repeat(app[len(app)-1:], 64), CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}}
		}
		u, _, err := d.Login(ctx, rec(appB, ""))
		if err != nil || u.ID == userID {
			t.Fatalf("app B found the Java row: user %d, %v", u.ID, err)
		}
		u, _, err = d.Login(ctx, rec(appA, "uJava"))
		if err != nil || u.ID != userID {
			t.Fatalf("the default app: user %d, %v; want the Java row %d", u.ID, err, userID)
		}
		ids, err := d.UserIdentities(ctx, userID)
		if err != nil || len(ids) != 1 || ids[0].AppID != appA || ids[0].UnionID != "uJava" {
			t.Fatalf("identities of the Java row %+v, %v", ids, err)
		}
	})
}

// dumpUsers is every wx_user row as text.
func dumpUsers(ctx context.Context, t *testing.T, d *db.DB) string {
	t.Helper()
	rows, err := d.SQL().QueryxContext(ctx, "SELECT * FROM wx_user ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		v, err := rows.SliceScan()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range v {
			if bs, ok := c.([]byte); ok {
				c = string(bs)
			}
			fmt.Fprintf(&b, "%v|", c)
		}
		b.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
