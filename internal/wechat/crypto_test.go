package wechat

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// The example from WeChat's open-data documentation.
const (
	docAppID      = "wx4f4bc4dec97d474b"
	docSessionKey = "tiihtNczf5v6AKRyjwEUhQ=="
	docIV         = "r7BXXKkLb8qrSNn05n0qiA=="
	docEncrypted  = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+" +
		"3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6" +
		"/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs" +
		"8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns" +
		"/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG" +
		"20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
)

func TestDecryptDocumentedExample(t *testing.T) {
	pt, err := Decrypt(docSessionKey, docEncrypted, docIV)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	var v struct {
		OpenID    string    `json:"openId"`
		NickName  string    `json:"nickName"`
		UnionID   string    `json:"unionId"`
		Watermark Watermark `json:"watermark"`
	}
	if err := json.Unmarshal(pt, &v); err != nil {
		t.Fatalf("plaintext is not JSON: %v", err)
	}
	if v.OpenID != "oGZUI0egBJY1zhBYw2KhdUfwVJJE" || v.NickName != "Band" ||
		v.Watermark.AppID != docAppID || v.Watermark.Timestamp != 1477314187 {
		t.Errorf("decrypted %+v", v)
	}
	if err := CheckWatermark(pt, docAppID); err != nil {
		t.Errorf("CheckWatermark(own appid) = %v", err)
	}
	if err := CheckWatermark(pt, "wx0000000000000000"); !errors.Is(err, ErrWatermark) {
		t.Errorf("CheckWatermark(other appid) = %v, want ErrWatermark", err)
	}
	// Re-encrypting with the documented iv gives the documented ciphertext.
	iv, _ := base64.StdEncoding.DecodeString(docIV)
	enc, gotIV, err := Encrypt(docSessionKey, pt, bytes.NewReader(iv))
	if err != nil || enc != docEncrypted || gotIV != docIV {
		t.Errorf("Encrypt(documented plaintext) = %.20q.., %q, %v", enc, gotIV, err)
	}
}

// The signature example from WeChat's documentation.
func TestSignatureDocumentedExample(t *testing.T) {
	raw := `{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}`
	if got := Signature(raw, "HyVFkGl5F5OQWJZZaNzBBg=="); got != "75e81ceda165f4ffa64f4068af58c64b8f54b88c" {
		t.Errorf("Signature = %s", got)
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	for n := 0; n <= 48; n++ {
		pt := bytes.Repeat([]byte{'x'}, n)
		enc, iv, err := Encrypt(docSessionKey, pt, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := base64.StdEncoding.DecodeString(enc)
		if len(ct) != (n/16+1)*16 {
			t.Errorf("len %d: ciphertext %d bytes, want full PKCS#7 block", n, len(ct))
		}
		got, err := Decrypt(docSessionKey, enc, iv)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("len %d: round trip = %q, %v", n, got, err)
		}
	}
}

func TestDecryptRejects(t *testing.T) {
	goodCT, _ := base64.StdEncoding.DecodeString(docEncrypted)
	flipLast := append([]byte(nil), goodCT...)
	flipLast[len(flipLast)-1] ^= 0xff
	cases := []struct {
		name, key, data, iv string
		want                error
	}{
		{"key not base64", "!!!", docEncrypted, docIV, ErrBadKey},
		{"key 24 bytes", base64.StdEncoding.EncodeToString(make([]byte, 24)), docEncrypted, docIV, ErrBadKey},
		{"empty key", "", docEncrypted, docIV, ErrBadKey},
		{"iv short", docSessionKey, docEncrypted, "AAAA", ErrBadIV},
		{"iv not base64", docSessionKey, docEncrypted, "r7BXXKkLb8qrSNn05n0qiA", ErrBadIV},
		{"data empty", docSessionKey, "", docIV, ErrBadCiphertext},
		{"data not base64", docSessionKey, "%%%%", docIV, ErrBadCiphertext},
		{"data not whole blocks", docSessionKey, base64.StdEncoding.EncodeToString(goodCT[:20]), docIV, ErrBadCiphertext},
		{"padding broken", docSessionKey, base64.StdEncoding.EncodeToString(flipLast), docIV, ErrBadCiphertext},
		{"wrong key", "AAAAAAAAAAAAAAAAAAAAAA==", docEncrypted, docIV, ErrBadCiphertext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pt, err := Decrypt(c.key, c.data, c.iv)
			if !errors.Is(err, c.want) || pt != nil {
				t.Errorf("Decrypt = %q, %v; want %v", pt, err, c.want)
			}
		})
	}
}

func TestCheckWatermarkRejects(t *testing.T) {
	for _, pt := range []string{``, `not json`, `{}`, `{"watermark":null}`, `{"watermark":{"appid":""}}`, `{"watermark":{"appid":"wxB"}}`, `[1]`} {
		if err := CheckWatermark([]byte(pt), "wxA"); !errors.Is(err, ErrWatermark) {
			t.Errorf("CheckWatermark(%q) = %v", pt, err)
		}
	}
	if err := CheckWatermark([]byte(`{"watermark":{"appid":""}}`), ""); err == nil {
		t.Error("an empty appid must never match")
	}
}

func TestEncryptRandFailure(t *testing.T) {
	if _, _, err := Encrypt(docSessionKey, []byte("x"), bytes.NewReader(nil)); err == nil {
		t.Error("Encrypt with an empty rand: no error")
	}
}

func FuzzDecrypt(f *testing.F) {
	f.Add(docSessionKey, docEncrypted, docIV)
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, key, data, iv string) {
		pt, err := Decrypt(key, data, iv)
		if err == nil && pt == nil {
			t.Error("nil plaintext without error")
		}
	})
}

// TestCheckWatermarkTime: a legacy payload is accepted only within the
// window around now; a zero, missing or malformed timestamp never is.
func TestCheckWatermarkTime(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const w = 10 * time.Minute
	for _, tc := range []struct {
		plain string
		ok    bool
	}{
		{`{"watermark":{"appid":"a","timestamp":1700000000}}`, true},
		{`{"watermark":{"appid":"a","timestamp":1699999400}}`, true}, // exactly 10 minutes old
		{`{"watermark":{"appid":"a","timestamp":1700000600}}`, true}, // 10 minutes ahead
		{`{"watermark":{"appid":"a","timestamp":1699999399}}`, false},
		{`{"watermark":{"appid":"a","timestamp":1700000601}}`, false},
		{`{"watermark":{"appid":"a","timestamp":0}}`, false},
		{`{"watermark":{"appid":"a","timestamp":-5}}`, false},
		{`{"watermark":{"appid":"a"}}`, false},
		{`{"watermark":{"appid":"a","timestamp":"1700000000"}}`, false},
		{`{"watermark":{"appid":"a","timestamp":9223372036854775807}}`, false},
		{`{}`, false},
		{`not json`, false},
	} {
		err := CheckWatermarkTime([]byte(tc.plain), now, w)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrWatermarkTime) {
			t.Errorf("%s: %v, want ok=%v", tc.plain, err, tc.ok)
		}
	}
}
