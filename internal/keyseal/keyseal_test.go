package keyseal

import (
	"encoding/base64"
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
	s := mustNew(t, "secret-one")
	const key = "tiihtNczf5v6AKRyjwEUhQ=="
	sealed, err := s.Seal(key, "hash-a")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^v1:[0-9a-f]{8}:[A-Za-z0-9_-]+$`).MatchString(sealed) {
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
	s := mustNew(t, "x")
	sealed, _ := s.Seal("k", "ad")
	if !strings.HasPrefix(sealed, "v1:"+s.SealingKeyID()+":") {
		t.Fatalf("kid not in %q", sealed)
	}
}

func TestOpenRejects(t *testing.T) {
	s := mustNew(t, "secret-one")
	sealed, _ := s.Seal("session-key", "hash-a")
	parts := strings.SplitN(sealed, ":", 3)
	raw, _ := base64.RawURLEncoding.DecodeString(parts[2])
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return parts[0] + ":" + parts[1] + ":" + base64.RawURLEncoding.EncodeToString(b)
	}
	cases := map[string]string{
		"other ad":       "",
		"nonce flipped":  flip(0),
		"cipher flipped": flip(len(raw) / 2),
		"tag flipped":    flip(len(raw) - 1),
		"truncated":      parts[0] + ":" + parts[1] + ":" + base64.RawURLEncoding.EncodeToString(raw[:10]),
		"bad base64":     parts[0] + ":" + parts[1] + ":!!!",
		"no body":        "v1:" + parts[1],
		"unknown kid":    "v1:00000000:" + parts[2],
		"empty after v1": "v1:",
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
	other := mustNew(t, "secret-two")
	if _, err := other.Open(sealed, "hash-a"); err == nil {
		t.Error("a sealer with another secret opened the value")
	}
}

func TestRotation(t *testing.T) {
	old := mustNew(t, "old")
	sealedOld, _ := old.Seal("k1", "ad")
	both := mustNew(t, "new", "old")
	if got, err := both.Open(sealedOld, "ad"); err != nil || got != "k1" {
		t.Fatalf("rotation sealer cannot open old value: %q, %v", got, err)
	}
	resealed, _ := both.Seal("k1", "ad")
	if strings.Contains(resealed, old.SealingKeyID()) {
		t.Fatal("rotation sealer seals with the old key")
	}
	onlyNew := mustNew(t, "new")
	if got, err := onlyNew.Open(resealed, "ad"); err != nil || got != "k1" {
		t.Fatalf("re-encrypted value does not open with the new key: %q, %v", got, err)
	}
	if _, err := onlyNew.Open(sealedOld, "ad"); err == nil {
		t.Fatal("dropped key still opens")
	}
}

func TestLegacyPlaintext(t *testing.T) {
	s := mustNew(t, "x")
	for _, v := range []string{"tiihtNczf5v6AKRyjwEUhQ==", "", "v2:abc"} {
		if got, err := s.Open(v, "ad"); err != nil || got != v {
			t.Errorf("Open(%q) = %q, %v", v, got, err)
		}
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(); err == nil {
		t.Error("New() without secrets succeeded")
	}
	if _, err := New("a", ""); err == nil {
		t.Error("New with an empty secret succeeded")
	}
}

func TestSealedKeyID(t *testing.T) {
	s, err := New("new-secret", "old-secret")
	if err != nil {
		t.Fatal(err)
	}
	old, _ := New("old-secret")
	fresh, _ := s.Seal("key", "ad")
	stale, _ := old.Seal("key", "ad")
	if got := SealedKeyID(fresh); got != s.SealingKeyID() {
		t.Errorf("SealedKeyID(new) = %q, want %q", got, s.SealingKeyID())
	}
	if got := SealedKeyID(stale); got != old.SealingKeyID() || got == s.SealingKeyID() {
		t.Errorf("SealedKeyID(old) = %q", got)
	}
	for _, v := range []string{"", "lOgxanoD9IvOWhWM3InQ1A==", "v2:abc:def"} {
		if got := SealedKeyID(v); got != "" {
			t.Errorf("SealedKeyID(%q) = %q, want empty", v, got)
		}
	}
}
