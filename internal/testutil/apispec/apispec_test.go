package apispec

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckAcceptsWhatTheDocumentSaysAndRefusesTheRest(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	json := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "X-Request-Id": {"a-1"}}
	png := http.Header{"Content-Type": {"image/png"}, "X-Content-Type-Options": {"nosniff"}}
	text := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	const token = "9sB2n0kq0pZQk3xV5mXoYb1cR7wLq2Tt8uEfHjKdA4s"
	for _, tc := range []struct {
		method, path string
		status       int
		header       http.Header
		body         string
		ok           bool
	}{
		{"POST", "/wx/auth/login_by_weixin", 200, json, `{"errno":0,"errmsg":"成功","data":{"token":"` + token + `","tokenExpire":"2026-03-02T09:30:00","userInfo":{"nickName":"A","avatarUrl":"","gender":0}}}`, true},
		{"POST", "/wx/auth/login_by_weixin", 200, json, `{"errno":0,"errmsg":"成功","data":{"token":"short","tokenExpire":"2026-03-02T09:30:00","userInfo":{"nickName":"A","avatarUrl":"","gender":0}}}`, false},
		{"POST", "/wx/auth/login_by_weixin", 200, json, `{"errno":0,"errmsg":"成功","data":{"token":"` + token + `","tokenExpire":"2026-03-02 09:30:00","userInfo":{"nickName":"A","avatarUrl":"","gender":0}}}`, false},
		{"POST", "/wx/auth/login_by_weixin", 200, json, `{"errno":-1,"errmsg":"错误","data":{"wxErrcode":40029,"wxErrmsg":"invalid code"}}`, true},
		{"POST", "/wx/auth/login_by_weixin", 200, json, `{"errno":401,"errmsg":"参数不对","data":{"field":"code"}}`, true},
		{"POST", "/wx/auth/login_by_weixin", 200, json, `{"errno":501,"errmsg":"请登录","data":{}}`, false},               // login never asks for a token
		{"POST", "/wx/auth/login_by_weixin", 200, json, `{"errno":402,"errmsg":"参数值不对","data":{"openid":"o"}}`, false}, // no such data
		{"POST", "/wx/auth/login_by_weixin", 500, json, `{"errno":502,"errmsg":"系统内部错误","data":{}}`, false},
		{"GET", "/wx/auth/info", 200, json, `{"errno":0,"errmsg":"成功","data":{"nickName":"A","avatar":"","gender":2,"mobile":""}}`, true},
		{"GET", "/wx/auth/info", 200, json, `{"errno":0,"errmsg":"成功","data":{"nickName":"A","avatar":"","gender":2}}`, false},
		{"GET", "/wx/auth/info", 200, json, `{"errno":0,"errmsg":"成功","data":{"nickName":"A","avatar":"","gender":3,"mobile":""}}`, false},
		{"GET", "/wx/auth/info", 200, json, `{"errno":0,"errmsg":"ok","data":{"nickName":"A","avatar":"","gender":2,"mobile":""}}`, false},
		{"POST", "/wx/auth/logout", 200, json, `{"errno":0,"errmsg":"成功","data":{}}`, true},
		{"POST", "/wx/auth/logout", 200, json, `{"errno":0,"errmsg":"成功","data":{"x":1}}`, false},
		{"POST", "/wx/auth/bindPhone", 200, json, `{"errno":705,"errmsg":"手机号已注册","data":{}}`, true},
		{"GET", "/wx/storage/fetch/0123456789abcdef0123456789abcdef.png", 200, png, "\x89PNG", true},
		{"GET", "/wx/storage/fetch/nope", 404, json, `{"errno":404,"errmsg":"接口不存在","data":{}}`, true},
		{"GET", "/wx/storage/fetch/nope", 404, json, `{"errno":0,"errmsg":"成功","data":{}}`, false},
		{"GET", "/healthz", 200, text, "ok\n", true},
		{"GET", "/readyz", 503, text, "database unavailable\n", true},
		{"GET", "/readyz", 500, text, "boom\n", false},
		{"GET", "/nope", 404, json, `{"errno":404,"errmsg":"接口不存在","data":{}}`, true},
		{"DELETE", "/wx/auth/info", 405, json, `{"errno":405,"errmsg":"请求方法不对","data":{}}`, true},
		{"DELETE", "/wx/auth/info", 405, json, `{"errno":404,"errmsg":"接口不存在","data":{}}`, false},
		{"GET", "/nope", 200, json, `{"errno":0,"errmsg":"成功","data":{}}`, false},
		{"GET", "/nope", 404, text, "404 page not found\n", false},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		err := s.Check(req, tc.status, tc.header, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s %s %d %.60s: err = %v, want ok = %v", tc.method, tc.path, tc.status, tc.body, err, tc.ok)
		}
	}
}

func TestHasAndOperations(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !s.Has("GET /wx/storage/fetch/{key}") || s.Has("DELETE /wx/auth/info") || s.Has("nonsense") {
		t.Error("Has")
	}
	if ops := strings.Join(s.Operations(), ","); !strings.Contains(ops, "POST /wx/auth/login_by_weixin") {
		t.Errorf("Operations: %s", ops)
	}
}
