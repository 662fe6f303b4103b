package api_test

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/oactl/oactl/internal/auth/authtest"
)

// FuzzLoginBody: whatever the body, the login handler answers HTTP 200
// with an envelope and never panics.
func FuzzLoginBody(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `{"code":"alice.1"}`, `{"code":"a","userInfo":{"nickName":"😀","gender":2}}`,
		`{"code":123}`, `{"code":"a","userInfo":{"gender":7}}`, "{\"code\":\"\xff\"}", `[`, `{"code":"err40029~x"}`,
	} {
		f.Add([]byte(s))
	}
	e := newHEnv(f)
	e.WeChat.Errs = map[string]error{"err40029~x": authtest.APIError(40029, "invalid code")}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest("POST", "/wx/auth/login_by_weixin", bytes.NewReader(body)))
		switch errno := fuzzEnvelope(t, rec); errno {
		case 0, -1, 401, 402, 502, 700:
		default:
			t.Fatalf("errno %d", errno)
		}
	})
}
