package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Errors of the open-data crypto. They never carry the key or the data.
var (
	// ErrBadKey: the session_key is not the base64 of 16 bytes.
	ErrBadKey = errors.New("wechat: session_key is not 16 bytes of base64")
	// ErrBadIV: the iv is not the base64 of 16 bytes.
	ErrBadIV = errors.New("wechat: iv is not 16 bytes of base64")
	// ErrBadCiphertext: encryptedData is not base64, not whole blocks, or
	// its padding is wrong (the usual sign of a stale session_key).
	ErrBadCiphertext = errors.New("wechat: encryptedData does not decrypt")
	// ErrWatermark: the decrypted data is not for this appid, or has no
	// watermark.
	ErrWatermark = errors.New("wechat: watermark does not match the appid")
	// ErrWatermarkTime: the watermark's timestamp is missing, zero or not
	// within the window around now.
	ErrWatermarkTime = errors.New("wechat: watermark timestamp is outside the accepted window")
)

func decodeKey(sessionKey string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != aes.BlockSize {
		return nil, ErrBadKey
	}
	return key, nil
}

// Decrypt opens WeChat's encrypted open data (getUserInfo, the legacy
// getPhoneNumber): AES-128-CBC keyed with the session_key, PKCS#7 padding.
// The padding is checked strictly, so a wrong key fails here instead of
// yielding garbage that might still parse.
func Decrypt(sessionKey, encryptedData, iv string) ([]byte, error) {
	key, err := decodeKey(sessionKey)
	if err != nil {
		return nil, err
	}
	ivb, err := base64.StdEncoding.DecodeString(iv)
	if err != nil || len(ivb) != aes.BlockSize {
		return nil, ErrBadIV
	}
	ct, err := base64.StdEncoding.DecodeString(encryptedData)
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, ErrBadCiphertext
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrBadKey
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, ErrBadCiphertext
	}
	for _, b := range pt[len(pt)-n:] {
		if int(b) != n {
			return nil, ErrBadCiphertext
		}
	}
	return pt[:len(pt)-n], nil
}

// Encrypt is Decrypt's inverse, for the fake WeChat and for tests: a fresh
// iv from rand, PKCS#7 padding, AES-128-CBC, both results in standard
// base64.
func Encrypt(sessionKey string, plaintext []byte, rand io.Reader) (encryptedData, iv string, err error) {
	key, err := decodeKey(sessionKey)
	if err != nil {
		return "", "", err
	}
	ivb := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rand, ivb); err != nil {
		return "", "", fmt.Errorf("wechat: reading a random iv: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", "", ErrBadKey
	}
	n := aes.BlockSize - len(plaintext)%aes.BlockSize
	buf := make([]byte, len(plaintext)+n)
	copy(buf, plaintext)
	copy(buf[len(plaintext):], bytes.Repeat([]byte{byte(n)}, n))
	cipher.NewCBCEncrypter(block, ivb).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), base64.StdEncoding.EncodeToString(ivb), nil
}

// Signature is WeChat's open-data signature: hex(sha1(rawData +
// sessionKey)). Compare it with hmac.Equal or subtle.ConstantTimeCompare.
func Signature(rawData, sessionKey string) string {
	sum := sha1.Sum([]byte(rawData + sessionKey))
	return hex.EncodeToString(sum[:])
}

// CheckWatermark verifies that decrypted open data was issued for appid:
// without this check, data encrypted for another mini-program with the
// same user's key would be accepted.
func CheckWatermark(plaintext []byte, appid string) error {
	var v struct {
		Watermark *Watermark `json:"watermark"`
	}
	if err := json.Unmarshal(plaintext, &v); err != nil {
		return fmt.Errorf("%w: decrypted data is not JSON", ErrWatermark)
	}
	if v.Watermark == nil || appid == "" || v.Watermark.AppID != appid {
		return ErrWatermark
	}
	return nil
}

// CheckWatermarkTime verifies that decrypted open data was issued within
// window of now (either side: clocks differ). WeChat stamps the moment the
// user agreed; without the check, a payload captured once could be
// replayed for as long as the session_key lives. A missing or zero
// timestamp is refused.
func CheckWatermarkTime(plaintext []byte, now time.Time, window time.Duration) error {
	var v struct {
		Watermark *Watermark `json:"watermark"`
	}
	if err := json.Unmarshal(plaintext, &v); err != nil || v.Watermark == nil || v.Watermark.Timestamp <= 0 {
		return ErrWatermarkTime
	}
	d := now.Sub(time.Unix(v.Watermark.Timestamp, 0))
	if d > window || d < -window {
		return ErrWatermarkTime
	}
	return nil
}
