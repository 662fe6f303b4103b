package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oactl/oactl/internal/auth"
)

// TestLoginRecordNormalize: the contract LoginRecord states, checked on a
// record that breaks every part of it.
func TestLoginRecordNormalize(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 1, 2, 11, 4, 5, 600_000_000, cst)
	longIP := strings.Repeat("中", 30) // 90 bytes
	rec := auth.LoginRecord{
		OpenID: "o", IP: longIP, At: at,
		Session: auth.Session{
			IP: longIP, UserAgent: "Mozilla/5.0 " + strings.Repeat("é", 200) + "\xff",
			CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour), LastSeenAt: at,
		},
	}
	n := rec.Normalize()
	for name, s := range map[string]string{"IP": n.IP, "Session.IP": n.Session.IP} {
		if len(s) > auth.MaxIP || !utf8.ValidString(s) || !strings.HasPrefix(longIP, s) {
			t.Errorf("%s: %d bytes %q", name, len(s), s)
		}
	}
	if ua := n.Session.UserAgent; len(ua) > auth.MaxUserAgent || !utf8.ValidString(ua) || !strings.HasPrefix(ua, "Mozilla/5.0 éé") {
		t.Errorf("user agent: %d bytes %q", len(ua), ua)
	}
	if !n.At.Equal(at.Truncate(time.Second)) || n.At.Location() != cst {
		t.Errorf("At %v: whole seconds, zone kept", n.At)
	}
	for name, tm := range map[string]time.Time{"CreatedAt": n.Session.CreatedAt, "ExpiresAt": n.Session.ExpiresAt, "LastSeenAt": n.Session.LastSeenAt} {
		if tm.Nanosecond() != 0 || tm.Location() != time.UTC {
			t.Errorf("%s %v: want whole seconds in UTC", name, tm)
		}
	}
	if again := n.Normalize(); again != n {
		t.Errorf("Normalize is not idempotent: %+v", again)
	}
	if rec.IP != longIP || rec.At != at {
		t.Error("Normalize changed the record it was called on")
	}
}

// TestLoginHandsTheStoreANormalizedRecord: the service is where the cuts
// happen, so the store can write what it gets.
func TestLoginHandsTheStoreANormalizedRecord(t *testing.T) {
	e := newEnv(t)
	ua := strings.Repeat("a", 300)
	ip := strings.Repeat("1", 100)
	if _, err := e.svc.Login(context.Background(), auth.LoginInput{Code: "alice.1", IP: ip, UserAgent: ua}); err != nil {
		t.Fatal(err)
	}
	ss := e.store.Sessions()[0]
	if len(ss.UserAgent) != auth.MaxUserAgent || len(ss.IP) != auth.MaxIP {
		t.Errorf("session IP %d bytes, user agent %d bytes", len(ss.IP), len(ss.UserAgent))
	}
	if u := e.store.User(1); len(u.LastLoginIP) != auth.MaxIP || u.LastLoginAt.Nanosecond() != 0 {
		t.Errorf("user: IP %d bytes, last login %v", len(u.LastLoginIP), u.LastLoginAt)
	}
	if ss.CreatedAt.Nanosecond() != 0 || ss.CreatedAt.Location() != time.UTC {
		t.Errorf("created %v", ss.CreatedAt)
	}
}
