package storage

import "bytes"

// Signatures of the accepted image types, as the WHATWG MIME Sniffing
// Standard (§6.1) and net/http's DetectContentType give them. None of the
// patterns DetectContentType tries earlier (HTML, XML, PDF, PostScript,
// byte-order marks) can match data that starts with one of these, so for
// the four types the two always agree; sniff_test.go checks it.
var (
	sigGIF87 = []byte("GIF87a")
	sigGIF89 = []byte("GIF89a")
	sigPNG   = []byte("\x89PNG\r\n\x1a\n")
	sigJPEG  = []byte("\xff\xd8\xff")
	// WebP is "RIFF", four bytes of length (any), then "WEBPVP".
	sigRIFF = []byte("RIFF")
	sigWebP = []byte("WEBPVP")
)

// Sniff returns the content type of data when it is a JPEG, PNG, WebP or
// GIF image ("image/jpeg", "image/png", "image/webp", "image/gif"), and ""
// for anything else.
func Sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, sigGIF87), bytes.HasPrefix(data, sigGIF89):
		return "image/gif"
	case len(data) >= 14 && bytes.HasPrefix(data, sigRIFF) && bytes.Equal(data[8:14], sigWebP):
		return "image/webp"
	case bytes.HasPrefix(data, sigPNG):
		return "image/png"
	case bytes.HasPrefix(data, sigJPEG):
		return "image/jpeg"
	}
	return ""
}
