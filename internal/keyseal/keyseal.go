// Package keyseal encrypts WeChat session keys at rest with AES-256-GCM.
//
// A sealed value reads "v1:<kid>:<base64url(nonce|ciphertext)>". The key is
// the SHA-256 of a secret text; kid names the key without revealing it, so
// that several secrets can be accepted during a rotation: the first secret
// seals, every secret opens. Rotation: put the new secret first, keep the
// old one after it, re-encrypt, then drop the old one.
//
// The additional data (ad) binds a sealed value to its row: a value copied
// into another row does not open there.
package keyseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

const prefix = "v1:"

// ErrOpen is returned when a sealed value does not open: wrong or unknown
// key, tampered value, or a different ad.
var ErrOpen = errors.New("keyseal: cannot open sealed value")

type key struct {
	id   string
	aead cipher.AEAD
}

// Sealer seals with its first key and opens with any of its keys.
type Sealer struct {
	keys []key
	// Rand supplies nonces; nil means crypto/rand.
	Rand io.Reader
}

// New returns a Sealer for the given secrets. The first one seals; all of
// them open. At least one non-empty secret is required.
func New(secrets ...string) (*Sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("keyseal: no secret given")
	}
	s := &Sealer{}
	seen := map[string]bool{}
	for i, secret := range secrets {
		if secret == "" {
			return nil, fmt.Errorf("keyseal: secret %d is empty", i+1)
		}
		k := sha256.Sum256([]byte(secret))
		block, err := aes.NewCipher(k[:])
		if err != nil {
			return nil, fmt.Errorf("keyseal: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyseal: %w", err)
		}
		id := KeyID(k[:])
		if seen[id] {
			continue
		}
		seen[id] = true
		s.keys = append(s.keys, key{id: id, aead: aead})
	}
	return s, nil
}

// KeyID is the public name of an AES key: the first 8 hex characters of
// SHA-256("oactl keyseal kid\n" + key). It lets Open pick the key and lets
// operators see which secret sealed a value.
func KeyID(k []byte) string {
	h := sha256.New()
	h.Write([]byte("oactl keyseal kid\n"))
	h.Write(k)
	return hex.EncodeToString(h.Sum(nil))[:8]
}

// SealingKeyID is the kid of the key that seals.
func (s *Sealer) SealingKeyID() string { return s.keys[0].id }

// Seal encrypts plain, bound to ad.
func (s *Sealer) Seal(plain, ad string) (string, error) {
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, nonce); err != nil {
		return "", fmt.Errorf("keyseal: nonce: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, []byte(plain), []byte(ad))
	return prefix + k.id + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same ad. A value without the
// "v1:" prefix is returned as it is: it was stored before a secret was
// configured (legacy plaintext).
func (s *Sealer) Open(stored, ad string) (string, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	rest := stored[len(prefix):]
	kid, body, ok := strings.Cut(rest, ":")
	if !ok {
		return "", fmt.Errorf("%w: malformed", ErrOpen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", fmt.Errorf("%w: malformed", ErrOpen)
	}
	for _, k := range s.keys {
		if k.id != kid {
			continue
		}
		if len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
			return "", fmt.Errorf("%w: too short", ErrOpen)
		}
		n := k.aead.NonceSize()
		plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(ad))
		if err != nil {
			return "", ErrOpen
		}
		return string(plain), nil
	}
	return "", fmt.Errorf("%w: unknown key id %s", ErrOpen, kid)
}

// IsSealed reports whether stored looks like a value made by Seal.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, prefix) }

// SealedKeyID returns the key id a sealed value names ("" for a value
// that is not sealed), so a re-encryption can skip what the sealing key
// already sealed without opening it.
func SealedKeyID(stored string) string {
	if !IsSealed(stored) {
		return ""
	}
	kid, _, _ := strings.Cut(stored[len(prefix):], ":")
	return kid
}
