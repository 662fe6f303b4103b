package wechat

import (
	"strings"
	"testing"
)

// TestRedact: the cases of both redactors this one replaced (the client's
// and the auth layer's): every secret parameter, any case, several in one
// text, values ended by &, quotes or any white space.
func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`get "https://wx.invalid/sns/jscode2session?appid=wxAPP&secret=TOPSECRET&js_code=CODE123&grant_type=authorization_code": context deadline exceeded`: `get "https://wx.invalid/sns/jscode2session?appid=wxAPP&secret=REDACTED&js_code=REDACTED&grant_type=authorization_code": context deadline exceeded`,
		"post https://h/wxa/x?access_token=AT-1 failed":        "post https://h/wxa/x?access_token=REDACTED failed",
		"session_key=SK'quoted":                                "session_key=REDACTED'quoted",
		"SECRET=abc\ncode=def\tx":                              "SECRET=REDACTED\ncode=REDACTED\tx",
		"Js_Code=X&Code=Y":                                     "Js_Code=REDACTED&Code=REDACTED",
		"dial tcp 127.0.0.1:3306: connect: connection refused": "dial tcp 127.0.0.1:3306: connect: connection refused",
		"":                        "",
		"secret=":                 "secret=REDACTED",
		`{"secret=a b","code=c"}`: `{"secret=REDACTED b","code=REDACTED"}`,
		"dial tcp: password=hunter2 refused; secret=x\r\nnext line code=": "dial tcp: password=hunter2 refused; secret=REDACTED\r\nnext line code=REDACTED",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q)\n = %q\nwant %q", in, got, want)
		}
	}
	for _, secret := range []string{"TOPSECRET", "CODE123"} {
		if strings.Contains(Redact(`?secret=TOPSECRET&js_code=CODE123`), secret) {
			t.Errorf("%s survives", secret)
		}
	}
}
