// Package keyseal encrypts WeChat session keys at rest with AES-256-GCM.
//
// A sealed value reads "v2:<kid>:<base64url(nonce|ciphertext)>". The AES
// key is derived from a secret text with HKDF-SHA256; a secret must be at
// least MinSecretLen bytes, because a short one is guessable offline from
// any stolen row. kid names the key without revealing it, so that several
// secrets can be accepted during a rotation: the first secret seals, every
// secret opens. Rotation: put the new secret first, keep the old one after
// it, re-encrypt (oactl sessions rekey), then drop the old one.
//
// Values sealed by earlier versions read "v1:<kid>:..." and were keyed
// with a single SHA-256 of the secret. They still open with the secret
// that sealed them (the version prefix says which derivation to use), and
// a rekey seals them again as v2. NewMigrating accepts old secrets shorter
// than MinSecretLen for opening only, so that keys sealed with one can be
// migrated.
//
// The additional data (ad) binds a sealed value to its row: a value copied
// into another row does not open there.
package keyseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MinSecretLen is the shortest secret accepted for sealing, in bytes.
const MinSecretLen = 32

// Prefixes of sealed values: v2 is HKDF-SHA256, v1 the legacy SHA-256.
const (
	prefixV2 = "v2:"
	prefixV1 = "v1:"
)

// hkdfSalt and hkdfInfo fix the derivation: a secret reused elsewhere
// gives another key here.
const (
	hkdfSalt = "oactl keyseal"
	hkdfInfo = "oactl keyseal v2: wx_session.session_key AES-256-GCM"
)

// ErrOpen is returned when a sealed value does not open: wrong or unknown
// key, tampered value, or a different ad.
var ErrOpen = errors.New("keyseal: cannot open sealed value")

// ErrShortSecret: a secret that would seal is shorter than MinSecretLen.
// cmd turns it into a usage error (exit 2).
var ErrShortSecret = fmt.Errorf("keyseal: a session-key secret must be at least %d bytes", MinSecretLen)

// SecretError names which secret of a list is unusable (1-based, as an
// operator counts the comma-separated values) without quoting it.
type SecretError struct {
	Index int
	Len   int
	Err   error
}

func (e *SecretError) Error() string {
	if errors.Is(e.Err, ErrShortSecret) {
		return fmt.Sprintf("session-key secret %d is %d bytes; at least %d are required (make one with: openssl rand -base64 32)", e.Index, e.Len, MinSecretLen)
	}
	return fmt.Sprintf("session-key secret %d: %v", e.Index, e.Err)
}

func (e *SecretError) Unwrap() error { return e.Err }

type key struct {
	id   string
	aead cipher.AEAD
}

// Sealer seals with its first key and opens with any of its keys.
type Sealer struct {
	keys   []key // v2 keys, the first seals
	legacy []key // v1 keys of the same secrets (and of open-only ones), open only
	// Rand supplies nonces; nil means crypto/rand.
	Rand io.Reader
}

// New returns a Sealer for the given secrets. The first one seals; all of
// them open. At least one secret is required, and each must be at least
// MinSecretLen bytes (a *SecretError wrapping ErrShortSecret otherwise).
func New(secrets ...string) (*Sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("keyseal: no secret given")
	}
	for i, secret := range secrets {
		if err := CheckSecret(secret); err != nil {
			return nil, &SecretError{Index: i + 1, Len: len(secret), Err: err}
		}
	}
	return NewMigrating(secrets[0], secrets[1:]...)
}

// NewMigrating returns a Sealer that seals with sealing (which must be at
// least MinSecretLen bytes) and opens with it and with every secret of
// openOnly. Those may be shorter: they are old secrets kept only so that
// `oactl sessions rekey` can open what they sealed and seal it again.
// Their position in errors counts sealing as 1.
func NewMigrating(sealing string, openOnly ...string) (*Sealer, error) {
	s := &Sealer{}
	seenV2, seenV1 := map[string]bool{}, map[string]bool{}
	for i, secret := range append([]string{sealing}, openOnly...) {
		if secret == "" {
			return nil, &SecretError{Index: i + 1, Err: errors.New("empty")}
		}
		if i == 0 || len(secret) >= MinSecretLen {
			if err := CheckSecret(secret); err != nil {
				return nil, &SecretError{Index: i + 1, Len: len(secret), Err: err}
			}
			dk, err := deriveV2(secret)
			if err != nil {
				return nil, err
			}
			k, err := newKey(dk)
			if err != nil {
				return nil, err
			}
			if !seenV2[k.id] {
				seenV2[k.id] = true
				s.keys = append(s.keys, k)
			}
		}
		legacy := sha256.Sum256([]byte(secret))
		k, err := newKey(legacy[:])
		if err != nil {
			return nil, err
		}
		if !seenV1[k.id] {
			seenV1[k.id] = true
			s.legacy = append(s.legacy, k)
		}
	}
	return s, nil
}

// CheckSecret reports whether secret may seal: ErrShortSecret when it is
// shorter than MinSecretLen bytes.
func CheckSecret(secret string) error {
	if len(secret) < MinSecretLen {
		return ErrShortSecret
	}
	return nil
}

func deriveV2(secret string) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, []byte(secret), []byte(hkdfSalt), hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("keyseal: hkdf: %w", err)
	}
	return k, nil
}

func newKey(k []byte) (key, error) {
	block, err := aes.NewCipher(k)
	if err != nil {
		return key{}, fmt.Errorf("keyseal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, fmt.Errorf("keyseal: %w", err)
	}
	return key{id: KeyID(k), aead: aead}, nil
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

// Seal encrypts plain, bound to ad, as a v2 value.
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
	return prefixV2 + k.id + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal (or by the v1 format) with the same
// ad. A value that is not sealed is returned as it is: it was stored
// before a secret was configured (legacy plaintext).
func (s *Sealer) Open(stored, ad string) (string, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	var keys []key
	var rest string
	switch {
	case strings.HasPrefix(stored, prefixV2):
		keys, rest = s.keys, stored[len(prefixV2):]
	case strings.HasPrefix(stored, prefixV1):
		keys, rest = s.legacy, stored[len(prefixV1):]
	default:
		return "", fmt.Errorf("%w: unknown seal version", ErrOpen)
	}
	kid, body, ok := strings.Cut(rest, ":")
	if !ok {
		return "", fmt.Errorf("%w: malformed", ErrOpen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", fmt.Errorf("%w: malformed", ErrOpen)
	}
	for _, k := range keys {
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

// IsCurrent reports whether stored is sealed in the current format with
// the sealing key: a re-encryption leaves such values alone without
// opening them.
func (s *Sealer) IsCurrent(stored string) bool {
	return strings.HasPrefix(stored, prefixV2+s.keys[0].id+":")
}

// IsSealed reports whether stored looks like a sealed value ("v<N>:...").
// A WeChat session_key is base64 and never holds a ':', so nothing stored
// in the clear is mistaken for one.
func IsSealed(stored string) bool {
	digits := 0
	for digits+1 < len(stored) && stored[digits+1] >= '0' && stored[digits+1] <= '9' {
		digits++
	}
	return len(stored) > digits+1 && stored[0] == 'v' && digits > 0 && stored[digits+1] == ':'
}

// IsLegacy reports whether stored was sealed with the v1 (single SHA-256)
// derivation: `oactl sessions rekey` seals it again as v2.
func IsLegacy(stored string) bool { return strings.HasPrefix(stored, prefixV1) }

// SealedKeyID returns the key id a sealed value names ("" for a value
// that is not sealed).
func SealedKeyID(stored string) string {
	if !IsSealed(stored) {
		return ""
	}
	_, rest, _ := strings.Cut(stored, ":")
	kid, _, _ := strings.Cut(rest, ":")
	return kid
}
