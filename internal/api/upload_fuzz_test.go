package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/auth/authtest"
	"github.com/oactl/oactl/internal/storage"
)

// fuzzServer is the /wx routes (storage included) behind a real token
// check, on a temporary directory.
func fuzzServer(f *testing.F) (h http.Handler, token, dir string) {
	dir = f.TempDir()
	svc := &auth.Service{Store: authtest.NewStore(), WeChat: &authtest.WeChat{AppID: "wxAPP"}, AppID: "wxAPP"}
	res, err := svc.Login(context.Background(), auth.LoginInput{Code: "uploader.1", IP: "192.0.2.1"})
	if err != nil {
		f.Fatal(err)
	}
	return api.NewHandler(svc, api.Options{Files: &storage.Store{Dir: dir}}), res.Token, dir
}

// multipartBody is a well-formed upload of data under field.
func multipartBody(field string, data []byte) (ctype string, body []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.SetBoundary("fuzzboundary")
	w, _ := mw.CreateFormFile(field, "a.png")
	_, _ = w.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// FuzzUpload: any body, Content-Type and Host to the upload route answers
// an envelope with errno 0 or 402/401, and only a sniffed image is stored
// under a key that the fetch route serves back byte for byte.
func FuzzUpload(f *testing.F) {
	h, token, dir := fuzzServer(f)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")
	ct, body := multipartBody("file", png)
	f.Add(ct, body, "example.com")
	f.Add(ct, body, "evil.com/x?y#")
	ct2, body2 := multipartBody("other", png)
	f.Add(ct2, body2, "h")
	ct3, body3 := multipartBody("file", []byte("<html>not an image"))
	f.Add(ct3, body3, "[::1]:8080")
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nbroken"), "h")
	f.Add("text/plain", []byte("hello"), "h")
	f.Add("", []byte{}, "")
	f.Fuzz(func(t *testing.T, ctype string, body []byte, host string) {
		req := httptest.NewRequest("POST", "/wx/storage/upload", bytes.NewReader(body))
		req.Header.Set(api.TokenHeader, token)
		req.Header["Content-Type"] = []string{ctype}
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var env struct {
			Errno *int `json:"errno"`
			Data  struct {
				Key string `json:"key"`
				URL string `json:"url"`
			} `json:"data"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &env) != nil || env.Errno == nil {
			t.Fatalf("HTTP %d, not an envelope: %q", rec.Code, rec.Body)
		}
		switch *env.Errno {
		case 401, 402:
			return
		case 0:
		default:
			t.Fatalf("errno %d: %q", *env.Errno, rec.Body)
		}
		// The URL goes back to the client and into wx_user.avatar: it must
		// parse to this host and this key, whatever the Host header said.
		if u, err := url.Parse(env.Data.URL); err != nil || u.Host != host || u.Path != api.FetchPrefix+env.Data.Key || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("url %q built from host %q: %v", env.Data.URL, host, err)
		}
		stored, err := os.ReadFile(filepath.Join(dir, env.Data.Key))
		if err != nil {
			t.Fatalf("key %q not on disk: %v", env.Data.Key, err)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", api.FetchPrefix+env.Data.Key, nil))
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), stored) {
			t.Fatalf("fetch of %q: HTTP %d", env.Data.Key, rec.Code)
		}
		_ = os.Remove(filepath.Join(dir, env.Data.Key))
	})
}

// FuzzFetchKey: whatever follows /wx/storage/fetch/, nothing outside the
// storage directory is served (a file planted beside it must never come
// back), and unknown keys answer 404 with the envelope.
func FuzzFetchKey(f *testing.F) {
	h, _, dir := fuzzServer(f)
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret.png"), []byte("SECRET-BYTES"), 0o644); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"../secret.png", "..%2fsecret.png", "%2e%2e/secret.png", "0123456789abcdef0123456789abcdef.png",
		"x", "", "/etc/passwd", "....//secret.png", "0123456789abcdef0123456789abcdef.png/..",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		req, err := http.NewRequest("GET", "http://h"+api.FetchPrefix+key, nil)
		if err != nil {
			return // not a request a client could send
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if bytes.Contains(rec.Body.Bytes(), []byte("SECRET-BYTES")) {
			t.Fatalf("key %q served a file outside the storage directory", key)
		}
		if rec.Code == 200 {
			t.Fatalf("key %q: HTTP 200 with nothing stored", key)
		}
	})
}
