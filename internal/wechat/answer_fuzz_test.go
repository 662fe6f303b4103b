package wechat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// bodyTransport answers every request with one status and body, so the
// fuzzer drives the client's answer parsing without a socket.
type bodyTransport struct {
	status int
	body   []byte
}

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: b.status, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader(string(b.body))), Request: r,
	}, nil
}

// FuzzCode2SessionAnswer: whatever WeChat (or something pretending to be
// it) answers, Code2Session returns a result or an error, never panics,
// never succeeds without openid and session_key, and never puts the secret
// or the code in its error.
func FuzzCode2SessionAnswer(f *testing.F) {
	for _, s := range []string{
		`{"openid":"o1","session_key":"k"}`, `{"openid":"o1","session_key":"k","unionid":"u","errcode":0}`,
		`{"errcode":40029,"errmsg":"invalid code"}`, `{"errcode":"40029"}`, `{"openid":1}`, ``, `null`, `[]`,
		`{"openid":"o1"}`, `{"errcode":-1,"errmsg":"system busy"}`, `{"openid":"o","session_key":"k"} trailing`,
	} {
		f.Add(200, []byte(s))
	}
	f.Add(500, []byte(`{}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		const secret, code = "fuzz-app-secret-1234", "fuzz-login-code-5678"
		c := &Client{BaseURL: "http://127.0.0.1:1", AppID: "wxAPP", Secret: secret, HTTP: &http.Client{Transport: bodyTransport{status, body}}}
		si, err := c.Code2Session(context.Background(), code)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, code) {
				t.Fatalf("error leaks a secret: %q", msg)
			}
			return
		}
		if si.OpenID == "" || si.SessionKey == "" {
			t.Fatalf("success without openid or session_key: %+v", si)
		}
	})
}

// FuzzCheckWatermark: decrypted open data is attacker-shaped JSON (any
// ciphertext decrypts to something); CheckWatermark accepts it only when
// it names our appid, and CheckWatermarkTime only when a decoder reads a
// positive timestamp within the window.
func FuzzCheckWatermark(f *testing.F) {
	for _, s := range []string{
		`{"watermark":{"appid":"wxAPP","timestamp":1}}`, `{"watermark":{"appid":"wxOTHER"}}`, `{"watermark":null}`,
		`{"watermark":{"appid":1}}`, `{}`, `[]`, ``, "\x00\x01", `{"watermark":{"appid":"wxAPP"},"watermark":{"appid":"x"}}`,
		`{"watermark":{"appid":"wxAPP","timestamp":1700000000}}`, `{"watermark":{"timestamp":0}}`, `{"watermark":{"timestamp":1.7e9}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		if err := CheckWatermark(plain, "wxAPP"); err == nil && !strings.Contains(string(plain), "wxAPP") && !strings.Contains(string(plain), `\u`) {
			t.Fatalf("accepted %q without our appid", plain)
		}
		if err := CheckWatermark(plain, ""); err == nil {
			t.Fatalf("accepted %q for an empty appid", plain)
		}
		now := time.Unix(1_700_000_000, 0)
		if CheckWatermarkTime(plain, now, 10*time.Minute) == nil {
			var v struct{ Watermark Watermark }
			if err := json.Unmarshal(plain, &v); err != nil || v.Watermark.Timestamp <= 0 ||
				v.Watermark.Timestamp < now.Unix()-600 || v.Watermark.Timestamp > now.Unix()+600 {
				t.Fatalf("accepted the time of %q", plain)
			}
		}
	})
}
