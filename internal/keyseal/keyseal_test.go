package keyseal

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func mustNew(t *testing.T, secrets ...string) *Sealer {
	t.Helper()
	s, err := New(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	s := mustNew(t, "secret-one-of-at-least-32-bytes-long")
	const key = "tiihtNczf5v6AKRyjwEUhQ=="
	sealed, err := s.Seal(key, "hash-a")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^v2:[0-9a-f]{8}:[A-Za-z0-9_-]+$`).MatchString(sealed) {
		t.Fatalf("sealed form %q", sealed)
	}
	if strings.Contains(sealed, key) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := s.Open(sealed, "hash-a")
	if err != nil || got != key {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := s.Seal(key, "hash-a")
	if again == sealed {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
}

func TestKeyIDMatchesFormat(t *testing.T) {
	s := mustNew(t, "x-secret-of-at-least-thirty-two-bytes")
	sealed, _ := s.Seal("k", "ad")
	if !strings.HasPrefix(sealed, "v2:"+s.SealingKeyID()+":") {
		t.Fatalf("kid not in %q", sealed)
	}
}

func TestOpenRejects(t *testing.T) {
	s := mustNew(t, "secret-one-of-at-least-32-bytes-long")
	sealed, _ := s.Seal("session-key", "hash-a")
	parts := strings.SplitN(sealed, ":", 3)
	raw, _ := base64.RawURLEncoding.DecodeString(parts[2])
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return parts[0] + ":" + parts[1] + ":" + base64.RawURLEncoding.EncodeToString(b)
	}
	cases := map[string]string{
		"other ad":        "",
		"nonce flipped":   flip(0),
		"cipher flipped":  flip(len(raw) / 2),
		"tag flipped":     flip(len(raw) - 1),
		"truncated":       parts[0] + ":" + parts[1] + ":" + base64.RawURLEncoding.EncodeToString(raw[:10]),
		"bad base64":      parts[0] + ":" + parts[1] + ":!!!",
		"no body":         "v2:" + parts[1],
		"unknown kid":     "v2:00000000:" + parts[2],
		"v1 of a v2 body": "v1:" + parts[1] + ":" + parts[2],
		"unknown version": "v9:" + parts[1] + ":" + parts[2],
		"empty after v2":  "v2:",
	}
	for name, v := range cases {
		ad := "hash-a"
		if name == "other ad" {
			v, ad = sealed, "hash-b"
		}
		if got, err := s.Open(v, ad); err == nil || !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, got, err)
		}
	}
	other := mustNew(t, "secret-two-of-at-least-32-bytes-long")
	if _, err := other.Open(sealed, "hash-a"); err == nil {
		t.Error("a sealer with another secret opened the value")
	}
}

func TestRotation(t *testing.T) {
	old := mustNew(t, "old-secret-of-at-least-32-bytes-long")
	sealedOld, _ := old.Seal("k1", "ad")
	both := mustNew(t, "new-secret-of-at-least-32-bytes-long", "old-secret-of-at-least-32-bytes-long")
	if got, err := both.Open(sealedOld, "ad"); err != nil || got != "k1" {
		t.Fatalf("rotation sealer cannot open old value: %q, %v", got, err)
	}
	resealed, _ := both.Seal("k1", "ad")
	if strings.Contains(resealed, old.SealingKeyID()) {
		t.Fatal("rotation sealer seals with the old key")
	}
	onlyNew := mustNew(t, "new-secret-of-at-least-32-bytes-long")
	if got, err := onlyNew.Open(resealed, "ad"); err != nil || got != "k1" {
		t.Fatalf("re-encrypted value does not open with the new key: %q, %v", got, err)
	}
	if _, err := onlyNew.Open(sealedOld, "ad"); err == nil {
		t.Fatal("dropped key still opens")
	}
}

func TestLegacyPlaintext(t *testing.T) {
	s := mustNew(t, "x-secret-of-at-least-thirty-two-bytes")
	for _, v := range []string{"tiihtNczf5v6AKRyjwEUhQ==", "", "v:abc", "va:b", "v1"} {
		if got, err := s.Open(v, "ad"); err != nil || got != v {
			t.Errorf("Open(%q) = %q, %v", v, got, err)
		}
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(); err == nil {
		t.Error("New() without secrets succeeded")
	}
	if _, err := New(long, ""); err == nil {
		t.Error("New with an empty secret succeeded")
	}
}

func TestSealedKeyID(t *testing.T) {
	s, err := New("new-secret-of-at-least-32-bytes-long", "old-secret-of-at-least-32-bytes-long")
	if err != nil {
		t.Fatal(err)
	}
	old, _ := New("old-secret-of-at-least-32-bytes-long")
	fresh, _ := s.Seal("key", "ad")
	stale, _ := old.Seal("key", "ad")
	if got := SealedKeyID(fresh); got != s.SealingKeyID() {
		t.Errorf("SealedKeyID(new) = %q, want %q", got, s.SealingKeyID())
	}
	if got := SealedKeyID(stale); got != old.SealingKeyID() || got == s.SealingKeyID() {
		t.Errorf("SealedKeyID(old) = %q", got)
	}
	for _, v := range []string{"", "lOgxanoD9IvOWhWM3InQ1A==", "v:abc:def"} {
		if got := SealedKeyID(v); got != "" {
			t.Errorf("SealedKeyID(%q) = %q, want empty", v, got)
		}
	}
}

const long = "a-session-key-secret-of-32-bytes"

// TestShortSecretRefused: a secret under 32 bytes is refused for sealing,
// wherever it stands in the list, and the error names its position and
// length but never its text.
func TestShortSecretRefused(t *testing.T) {
	if len(long) != MinSecretLen {
		t.Fatalf("long is %d bytes", len(long))
	}
	short := long[:MinSecretLen-1]
	for name, list := range map[string][]string{
		"alone":  {short},
		"first":  {short, long},
		"second": {long, short},
	} {
		_, err := New(list...)
		var se *SecretError
		if !errors.Is(err, ErrShortSecret) || !errors.As(err, &se) {
			t.Fatalf("%s: New = %v, want ErrShortSecret", name, err)
		}
		if want := 1; name == "second" {
			want = 2
			if se.Index != want {
				t.Errorf("%s: index %d, want %d", name, se.Index, want)
			}
		} else if se.Index != want {
			t.Errorf("%s: index %d, want %d", name, se.Index, want)
		}
		if strings.Contains(err.Error(), short) || !strings.Contains(err.Error(), "31 bytes") {
			t.Errorf("%s: error %q", name, err)
		}
	}
	if _, err := New(long); err != nil {
		t.Fatalf("a 32-byte secret: %v", err)
	}
	if _, err := NewMigrating(short, long); !errors.Is(err, ErrShortSecret) {
		t.Fatalf("NewMigrating with a short sealing secret: %v", err)
	}
}

// Values sealed by the previous release (v1: key = SHA-256 of the secret),
// made with its code: they must keep opening after the upgrade.
const (
	legacyAD        = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	legacyPlain     = "tiihtNczf5v6AKRyjwEUhQ=="
	legacyLong      = "an-old-secret-that-is-long-enough-32b"
	legacyLongValue = "v1:8472af43:AAAAAAAAAAAAAAAAgH9L-6GhUXRqvRAyITr9wOrpBQegM_mEZkJ6aPMhSjeKHUk-521roA"
	// sealed with "old-short-secret", 16 bytes: only NewMigrating opens it
	legacyShortValue = "v1:ee31e4af:AAAAAAAAAAAAAAAAIyADWiAIweR6PUwi2XyuYpEfNlnDT0AcbSCtB6FQMSywSaC-M1jZ4w"
)

func TestLegacyV1Opens(t *testing.T) {
	s := mustNew(t, legacyLong)
	got, err := s.Open(legacyLongValue, legacyAD)
	if err != nil || got != legacyPlain {
		t.Fatalf("v1 value of a long secret: %q, %v", got, err)
	}
	if !IsLegacy(legacyLongValue) || s.IsCurrent(legacyLongValue) {
		t.Error("a v1 value counts as current")
	}
	// The same secret now seals v2 under another key id: a rekey rewrites
	// the v1 value instead of taking it for current.
	fresh, _ := s.Seal(legacyPlain, legacyAD)
	if !s.IsCurrent(fresh) || IsLegacy(fresh) || SealedKeyID(fresh) == SealedKeyID(legacyLongValue) {
		t.Errorf("fresh %q vs legacy %q", fresh, legacyLongValue)
	}
	if _, err := s.Open(legacyLongValue, "another-row"); !errors.Is(err, ErrOpen) {
		t.Errorf("v1 value opened under another ad: %v", err)
	}

	// A short old secret: refused for sealing, accepted to migrate.
	if _, err := New(long, "old-short-secret"); !errors.Is(err, ErrShortSecret) {
		t.Fatalf("New with a short old secret: %v", err)
	}
	m, err := NewMigrating(long, "old-short-secret")
	if err != nil {
		t.Fatal(err)
	}
	got, err = m.Open(legacyShortValue, legacyAD)
	if err != nil || got != legacyPlain {
		t.Fatalf("v1 value of a short secret through NewMigrating: %q, %v", got, err)
	}
	resealed, _ := m.Seal(got, legacyAD)
	if !mustNew(t, long).IsCurrent(resealed) {
		t.Errorf("resealed with %q, not the long secret's v2 key", resealed)
	}
	// A v2 value never opens with a short secret's key: there is none.
	if _, err := m.Open("v2:"+SealedKeyID(legacyShortValue)+":AAAA", legacyAD); !errors.Is(err, ErrOpen) {
		t.Errorf("v2 under the short secret's kid: %v", err)
	}
}

// TestHKDFDerivation pins the v2 key derivation against an independent
// computation of HKDF-SHA256 (RFC 5869, by hand with HMAC-SHA256 in
// Python): salt "oactl keyseal", info "oactl keyseal v2: wx_session.
// session_key AES-256-GCM", 32 bytes. A value sealed now must open with the
// same secret in every later release, so the derivation may never drift.
func TestHKDFDerivation(t *testing.T) {
	const (
		wantKey = "fe6bed34b51a08102746ed08b3ffcba7a34341378f9024a23e50cf629462477d"
		wantKid = "cc57700e"
	)
	k, err := deriveV2(long)
	if err != nil || hex.EncodeToString(k) != wantKey {
		t.Fatalf("derived %x, %v; want %s", k, err, wantKey)
	}
	s := mustNew(t, long)
	v, _ := s.Seal(legacyPlain, legacyAD)
	if s.SealingKeyID() != wantKid || !strings.HasPrefix(v, "v2:"+wantKid+":") {
		t.Fatalf("kid %s, sealed %q; want kid %s", s.SealingKeyID(), v, wantKid)
	}
}
