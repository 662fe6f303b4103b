package api_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/api"
)

// testImage encodes a 2×2 image as kind (png, jpeg, gif); webp is a 2×2
// lossless WebP made by cwebp (Go has no WebP encoder).
func testImage(kind string) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	switch kind {
	case "png":
		_ = png.Encode(&b, img)
	case "jpeg":
		_ = jpeg.Encode(&b, img, nil)
	case "gif":
		_ = gif.Encode(&b, img, nil)
	case "webp":
		b.WriteString("RIFF\x1e\x00\x00\x00WEBPVP8L\x11\x00\x00\x00\x2f\x01\x40\x00\x10\x0f\x10\xf3\x1f\xf3\x1f\x8c\x09\x88\xe8\x7f\x04\x00")
	}
	return b.Bytes()
}

func (e *hEnv) upload(t testing.TB, token, host, field string, data []byte, mod func(*http.Request)) answer {
	t.Helper()
	ctype, body := multipartBody(field, data)
	r := httptest.NewRequest("POST", "/wx/storage/upload", bytes.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	r.Host = host
	if token != "" {
		r.Header.Set(api.TokenHeader, token)
	}
	if mod != nil {
		mod(r)
	}
	return e.send(r)
}

func trustTen(o *api.Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }

func TestUploadAndFetch(t *testing.T) {
	e := newHEnv(t, trustTen)
	tok := e.loginToken(t, "alice")
	for _, kind := range []string{"png", "jpeg", "gif", "webp"} {
		data := testImage(kind)
		r := e.upload(t, tok, "oa.example:8080", "file", data, nil)
		var d struct{ Key, URL string }
		if err := json.Unmarshal(r.Data, &d); err != nil || r.Errno != 0 {
			t.Fatalf("%s upload: %s", kind, r.Body)
		}
		if d.URL != "http://oa.example:8080/wx/storage/fetch/"+d.Key {
			t.Errorf("%s url %q", kind, d.URL)
		}
		f := e.send(httptest.NewRequest("GET", "/wx/storage/fetch/"+d.Key, nil))
		if f.Status != 200 || f.Header.Get("Content-Type") != "image/"+kind || f.Body != string(data) {
			t.Errorf("%s fetch: %d %q", kind, f.Status, f.Header.Get("Content-Type"))
		}
		if f.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(f.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s fetch headers: %v", kind, f.Header)
		}
	}

	// X-Forwarded-Proto counts only from a trusted proxy.
	r := e.upload(t, tok, "oa.example", "file", testImage("png"), func(r *http.Request) {
		r.RemoteAddr = "10.1.2.3:5"
		r.Header.Set("X-Forwarded-Proto", "https")
	})
	if !strings.Contains(r.Body, `"url":"https://oa.example/wx/storage/fetch/`) {
		t.Errorf("trusted proto: %s", r.Body)
	}
	r = e.upload(t, tok, "oa.example", "file", testImage("png"), func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") })
	if !strings.Contains(r.Body, `"url":"http://oa.example/`) {
		t.Errorf("untrusted proto: %s", r.Body)
	}
}

func TestUploadRejects(t *testing.T) {
	e := newHEnv(t)
	tok := e.loginToken(t, "alice")
	png := testImage("png")
	big := append(testImage("png"), make([]byte, 3<<20)...)
	cases := []struct {
		name  string
		r     answer
		errno int
	}{
		{"no token", e.upload(t, "", "h", "file", png, nil), 501},
		{"bad token", e.upload(t, strings.Repeat("x", 10_000), "h", "file", png, nil), 501},
		{"not an image", e.upload(t, tok, "h", "file", []byte("<html><script>alert(1)</script>"), nil), 402},
		{"svg", e.upload(t, tok, "h", "file", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), nil), 402},
		{"3 MiB", e.upload(t, tok, "h", "file", big, nil), 402},
		{"other field", e.upload(t, tok, "h", "avatar", png, nil), 401},
		{"empty file", e.upload(t, tok, "h", "file", nil, nil), 401},
		{"hostile host", e.upload(t, tok, "a/b@evil", "file", png, nil), 402},
	}
	for _, c := range cases {
		if c.r.Status != 200 || c.r.Errno != c.errno {
			t.Errorf("%s: %d %s", c.name, c.r.Status, c.r.Body)
		}
		// SPEC §3: a 401 or 402 about an upload names the form field.
		if (c.errno == 401 || c.errno == 402) && c.name != "hostile host" {
			expectField(t, c.name, c.r, "file")
		}
	}
	req := httptest.NewRequest("POST", "/wx/storage/upload", strings.NewReader("not multipart"))
	req.Header.Set(api.TokenHeader, tok)
	if r := e.send(req); r.Errno != 402 || string(r.Data) != `{"field":"file"}` {
		t.Errorf("not multipart: %s", r.Body)
	}
}

func TestFetchPathTricks(t *testing.T) {
	e := newHEnv(t)
	tok := e.loginToken(t, "alice")
	r := e.upload(t, tok, "h", "file", testImage("png"), nil)
	var d struct{ Key string }
	_ = json.Unmarshal(r.Data, &d)
	for _, p := range []string{
		"/wx/storage/fetch/ffffffffffffffffffffffffffffffff.png",
		"/wx/storage/fetch/..",
		"/wx/storage/fetch/..%2F..%2Fetc%2Fpasswd",
		"/wx/storage/fetch/%2e%2e",
		"/wx/storage/fetch/" + d.Key + "%00",
		"/wx/storage/fetch/" + d.Key + "%2F",
		"/wx/storage/fetch/" + strings.Repeat("a", 5000),
		"/wx/storage/fetch/" + strings.ToUpper(d.Key),
		"/wx/storage/fetch/.upload-123",
		"/wx/storage/fetch/",
	} {
		r := e.send(httptest.NewRequest("GET", p, nil))
		if r.Status != 404 || r.Errno != 404 {
			t.Errorf("%.60s: %d %s", p, r.Status, r.Body)
		}
	}
}

func TestStorageRoutesNeedFiles(t *testing.T) {
	e := newHEnv(t, func(o *api.Options) { o.Files = nil })
	if r := e.send(httptest.NewRequest("GET", "/wx/storage/fetch/ffffffffffffffffffffffffffffffff.png", nil)); r.Status != 404 || r.Errno != 404 {
		t.Errorf("fetch without a store: %d %s", r.Status, r.Body)
	}
}
