package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/migrate"
)

// seedLogin is one login fillSessions performs.
type seedLogin struct {
	OpenID   string
	Nickname string
	At       time.Time // the login time (zero: now)
	TTL      time.Duration
	IP       string
}

// seededSession is a session fillSessions created, with its token, so an
// end-to-end test can send that token to serve after revoking it.
type seededSession struct {
	Token    string
	ID       int64
	UserID   int64
	Nickname string
	OpenID   string
}

// fillSessions migrates the database at dsn and logs every seedLogin in
// through db.Login, so the rows are the ones serve writes. Tokens are made
// as serve makes them (32 random bytes, base64url), only their hash is
// stored.
func fillSessions(t testing.TB, dsn string, logins []seedLogin) []seededSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := db.Open(ctx, dsn, db.Options{TimeZone: time.UTC})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	defer d.Close()
	if _, err := migrate.New(d, migrate.Options{}).Up(ctx, 0); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	out := make([]seededSession, 0, len(logins))
	for i, l := range logins {
		at := l.At
		if at.IsZero() {
			at = time.Now()
		}
		ttl := l.TTL
		if ttl == 0 {
			ttl = 24 * time.Hour
		}
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		token := base64.RawURLEncoding.EncodeToString(b[:])
		h := sha256.Sum256([]byte(token))
		ip := l.IP
		if ip == "" {
			ip = fmt.Sprintf("198.51.100.%d", i%250+1)
		}
		u, s, err := d.Login(ctx, auth.LoginRecord{
			AppID: defaultDevAppID, OpenID: l.OpenID, DefaultApp: true, Profile: auth.Profile{Nickname: l.Nickname}, IP: ip, At: at,
			Session: auth.Session{AppID: defaultDevAppID,
				TokenHash: hex.EncodeToString(h[:]), SessionKey: "SEEDKEY" + token[:8],
				CreatedAt: at.UTC(), ExpiresAt: at.UTC().Add(ttl), LastSeenAt: at.UTC(),
				IP: ip, UserAgent: "Mozilla/5.0 (iPhone) MicroMessenger/8.0",
			},
		})
		if err != nil {
			t.Fatalf("login %s: %v", l.OpenID, err)
		}
		out = append(out, seededSession{Token: token, ID: s.ID, UserID: u.ID, Nickname: u.Nickname, OpenID: u.OpenID})
	}
	return out
}

// sessionRevoked reads a session's revoked_at straight from the table.
func sessionRevoked(t testing.TB, dsn string, id int64) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var revoked any
	var reason string
	if err := d.SQL().QueryRowContext(ctx, `SELECT revoked_at, revoke_reason FROM wx_session WHERE id = ?`, id).Scan(&revoked, &reason); err != nil {
		t.Fatalf("session %d: %v", id, err)
	}
	return revoked != nil, reason
}

// seedNicknames: what breaks column alignment, and what must be found by
// a literal search.
var seedNicknames = []string{"张三", "👨‍👩‍👧‍👦 family", "🇨🇳 李四", "alice", "50%_off", "😀 grin", "😎 cool"}

func defaultSeed(now time.Time) []seedLogin {
	var ls []seedLogin
	for i, n := range seedNicknames {
		openid := fmt.Sprintf("oSeed%02dAbCdEfGhIjKlMnOpQrStU", i)
		ls = append(ls,
			seedLogin{OpenID: openid, Nickname: n, At: now.Add(-time.Duration(i+1) * time.Hour)},
			seedLogin{OpenID: openid, Nickname: n, At: now.Add(-time.Duration(i+30) * time.Hour)}, // expired
		)
	}
	return ls
}
