package storage

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestSniffAgreesWithNetHTTP: for every testdata file and for prefixes
// chosen to sit on the signatures' edges, Sniff answers what
// http.DetectContentType answers when that is one of the four image types,
// and "" otherwise.
func TestSniffAgreesWithNetHTTP(t *testing.T) {
	inputs := map[string][]byte{}
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil || len(files) < 5 {
		t.Fatalf("testdata: %v %v", files, err)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.IsDir() { // testdata/fuzz
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = b
	}
	for name, s := range map[string]string{
		"empty":                 "",
		"jpeg magic only":       "\xff\xd8\xff",
		"jpeg two bytes":        "\xff\xd8",
		"utf-16le bom":          "\xff\xfe\x00\x00",
		"png magic only":        "\x89PNG\r\n\x1a\n",
		"png one byte short":    "\x89PNG\r\n\x1a",
		"png wrong case":        "\x89png\r\n\x1a\n",
		"gif87a":                "GIF87a",
		"gif89a":                "GIF89a",
		"gif88a":                "GIF88a",
		"gif lower":             "gif89a",
		"webp minimal":          "RIFF\x00\x00\x00\x00WEBPVP",
		"webp any length bytes": "RIFF\xff\xfe\x01\x80WEBPVP8 ",
		"webp 13 bytes":         "RIFF\x00\x00\x00\x00WEBPV",
		"webp lower":            "RIFF\x00\x00\x00\x00webpVP",
		"riff wave":             "RIFF\x00\x00\x00\x00WAVEfmt ",
		"leading space png":     " \x89PNG\r\n\x1a\n",
		"leading space gif":     "\tGIF89a",
		"html then png":         "<html>\x89PNG\r\n\x1a\n",
		"xml":                   `<?xml version="1.0"?><svg/>`,
		"bmp":                   "BM\x00\x00",
		"ico":                   "\x00\x00\x01\x00",
		"pdf":                   "%PDF-1.4",
		"utf-8 bom":             "\xef\xbb\xbfGIF89a",
		"zip":                   "PK\x03\x04",
	} {
		inputs[name] = []byte(s)
	}
	images := map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true, "image/gif": true}
	for name, b := range inputs {
		want := http.DetectContentType(b)
		if !images[want] {
			want = ""
		}
		if got := Sniff(b); got != want {
			t.Errorf("%s: Sniff = %q, DetectContentType says %q", name, got, http.DetectContentType(b))
		}
	}
}

// FuzzSniff: on any bytes, Sniff and http.DetectContentType agree about
// the four image types.
func FuzzSniff(f *testing.F) {
	for _, s := range []string{"", "\xff\xd8\xff", "\x89PNG\r\n\x1a\n", "GIF89a", "RIFF\x00\x00\x00\x00WEBPVP", "<html>"} {
		f.Add([]byte(s))
	}
	images := map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true, "image/gif": true}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := http.DetectContentType(b)
		if !images[want] {
			want = ""
		}
		if got := Sniff(b); got != want {
			t.Fatalf("%q: Sniff = %q, DetectContentType says %q", b, got, want)
		}
	})
}
