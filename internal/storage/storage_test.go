package storage

import "testing"

func TestValidHost(t *testing.T) {
	for h, want := range map[string]bool{
		"oa.example": true, "oa.example:8080": true, "[::1]:80": true, "127.0.0.1": true,
		"": false, "a/b": false, "a@b": false, "a b": false, "a\r\nb": false, "a?b": false,
		// found by FuzzUpload: allowed characters that make no URL
		"[": false, "]": false, "a]b": false, "[::1": false, ":80": false,
	} {
		if got := validHost(h); got != want {
			t.Errorf("validHost(%q) = %v", h, got)
		}
	}
}

func TestKeyShape(t *testing.T) {
	for k, want := range map[string]bool{
		"0123456789abcdef0123456789abcdef.png":     true,
		"0123456789abcdef0123456789abcdef.webp":    true,
		"0123456789ABCDEF0123456789abcdef.png":     false,
		"0123456789abcdef0123456789abcdef.svg":     false,
		"../0123456789abcdef0123456789abcde.png":   false,
		"0123456789abcdef0123456789abcdef.png\x00": false,
	} {
		if keyRE.MatchString(k) != want {
			t.Errorf("key %q: want %v", k, want)
		}
	}
	for ext, ct := range map[string]string{".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif", ".x": "application/octet-stream"} {
		if typeOf(ext) != ct {
			t.Errorf("typeOf(%s) = %s", ext, typeOf(ext))
		}
	}
}
