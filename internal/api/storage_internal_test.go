package api

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
