package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"

	"golang.org/x/image/webp"
)

// Bounds of what Save decodes. An avatar needs far less; the bounds keep
// a small file that declares a huge image (a decompression bomb) from
// costing more memory than a phone photo does.
const (
	MaxSide   = 4096                // pixels, either side
	MaxPixels = 12 << 20            // width × height, summed over a GIF's frames
	maxFrames = 1000                // frames of an animated GIF
	riffHead  = len("RIFFsizeWEBP") // bytes before a WebP's first chunk
)

// decodeSlots bounds the decodes running at once: decoding is CPU work,
// and each holds up to one image's pixels.
var decodeSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// notImage is ErrNotImage with the reason, for the server log and tests
// (the client sees errno 402 only).
func notImage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotImage, fmt.Sprintf(format, args...))
}

// CheckImage reports whether data is, from its first byte to its last,
// one image of type ctype (as Sniff named it) that decodes completely:
// a valid header followed by anything else (HTML, a script, a ZIP
// archive: a polyglot), bytes after the image's end, a truncated image or
// one over MaxSide / MaxPixels is ErrNotImage.
func CheckImage(ctx context.Context, ctype string, data []byte) error {
	var (
		cfg image.Config
		err error
	)
	switch ctype {
	case "image/png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case "image/gif":
		cfg, err = gif.DecodeConfig(bytes.NewReader(data))
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case "image/webp":
		cfg, err = webp.DecodeConfig(bytes.NewReader(data))
	default:
		return notImage("type %q", ctype)
	}
	if err != nil {
		return notImage("%s header: %v", ctype, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxSide || cfg.Height > MaxSide || cfg.Width*cfg.Height > MaxPixels {
		return notImage("%dx%d pixels: at most %d a side and %d in all", cfg.Width, cfg.Height, MaxSide, MaxPixels)
	}
	// The structure is walked before the pixels are decoded: it is cheap,
	// and it finds trailing bytes, which the decoders stop short of.
	switch ctype {
	case "image/gif":
		err = checkGIFBlocks(data)
	case "image/jpeg":
		err = checkJPEGSegments(data)
	case "image/webp":
		err = checkRIFF(data)
	}
	if err != nil {
		return err
	}
	select {
	case decodeSlots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("storage: waiting to decode: %w", ctx.Err())
	}
	defer func() { <-decodeSlots }()
	r := bytes.NewReader(data)
	switch ctype {
	case "image/png":
		_, err = png.Decode(r)
		// png reads chunk by chunk and stops right after IEND's checksum.
		if err == nil && r.Len() != 0 {
			err = fmt.Errorf("%d bytes after IEND", r.Len())
		}
	case "image/gif":
		_, err = gif.DecodeAll(r)
	case "image/jpeg":
		_, err = jpeg.Decode(r)
	case "image/webp":
		_, err = webp.Decode(r)
	}
	if err != nil {
		return notImage("%s does not decode: %v", ctype, err)
	}
	return nil
}

var errTruncated = errors.New("truncated")

// checkGIFBlocks walks a GIF's blocks to its trailer: the trailer must be
// the last byte, and the frames' pixels are summed against MaxPixels
// before gif.DecodeAll, which keeps every frame in memory, allocates them.
func checkGIFBlocks(data []byte) error {
	const header = 6 + 7 // signature, logical screen descriptor
	if len(data) < header {
		return notImage("gif: %v", errTruncated)
	}
	pos := header
	if flags := data[10]; flags&0x80 != 0 {
		pos += 3 << ((flags & 7) + 1)
	}
	var pixels, frames int
	for {
		if pos >= len(data) {
			return notImage("gif: no trailer")
		}
		switch data[pos] {
		case 0x3b: // trailer
			if pos+1 != len(data) {
				return notImage("gif: %d bytes after the trailer", len(data)-pos-1)
			}
			return nil
		case 0x21: // extension: introducer, label, sub-blocks
			var err error
			if pos, err = skipSubBlocks(data, pos+2); err != nil {
				return err
			}
		case 0x2c: // image descriptor: 9 bytes, local colour table, LZW code size, sub-blocks
			if pos+10 > len(data) {
				return notImage("gif: %v", errTruncated)
			}
			w := int(binary.LittleEndian.Uint16(data[pos+5:]))
			h := int(binary.LittleEndian.Uint16(data[pos+7:]))
			flags := data[pos+9]
			pixels += w * h
			frames++
			if pixels > MaxPixels || frames > maxFrames {
				return notImage("gif: more than %d pixels or %d frames", MaxPixels, maxFrames)
			}
			pos += 10
			if flags&0x80 != 0 {
				pos += 3 << ((flags & 7) + 1)
			}
			var err error
			if pos, err = skipSubBlocks(data, pos+1); err != nil {
				return err
			}
		default:
			return notImage("gif: unknown block 0x%02x at %d", data[pos], pos)
		}
	}
}

// skipSubBlocks returns the position after the data sub-blocks at pos
// and their zero-length terminator.
func skipSubBlocks(data []byte, pos int) (int, error) {
	for {
		if pos >= len(data) {
			return 0, notImage("gif: %v", errTruncated)
		}
		n := int(data[pos])
		pos++
		if n == 0 {
			return pos, nil
		}
		pos += n
	}
}

// checkJPEGSegments walks a JPEG's marker segments and entropy-coded data
// to its EOI marker, which must end the data.
func checkJPEGSegments(data []byte) error {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return notImage("jpeg: no SOI")
	}
	pos := 2
	for {
		if pos >= len(data) || data[pos] != 0xff {
			return notImage("jpeg: no marker at %d", pos)
		}
		for pos < len(data) && data[pos] == 0xff { // fill bytes
			pos++
		}
		if pos >= len(data) {
			return notImage("jpeg: %v", errTruncated)
		}
		m := data[pos]
		pos++
		switch {
		case m == 0xd9: // EOI
			if pos != len(data) {
				return notImage("jpeg: %d bytes after EOI", len(data)-pos)
			}
			return nil
		case m == 0x01 || m >= 0xd0 && m <= 0xd7: // TEM, RSTn: no length
			continue
		case m == 0x00 || m == 0xd8:
			return notImage("jpeg: marker 0x%02x at %d", m, pos-1)
		}
		if pos+2 > len(data) {
			return notImage("jpeg: %v", errTruncated)
		}
		n := int(binary.BigEndian.Uint16(data[pos:]))
		if n < 2 {
			return notImage("jpeg: segment length %d", n)
		}
		pos += n
		if m != 0xda { // only a scan is followed by entropy-coded data
			continue
		}
		// Entropy-coded data runs to the next marker that is neither a
		// stuffed 0xff00 nor a restart marker.
		for {
			if pos+1 >= len(data) {
				return notImage("jpeg: scan %v", errTruncated)
			}
			if data[pos] != 0xff {
				pos++
				continue
			}
			if next := data[pos+1]; next == 0x00 || next >= 0xd0 && next <= 0xd7 {
				pos += 2
				continue
			} else if next == 0xff {
				pos++
				continue
			}
			break
		}
	}
}

// checkRIFF checks that a WebP's RIFF size covers exactly the data, that
// its first chunk is an image or the extended header, and that its chunks
// fill it.
func checkRIFF(data []byte) error {
	if len(data) < riffHead+8 {
		return notImage("webp: %v", errTruncated)
	}
	if size := binary.LittleEndian.Uint32(data[4:8]); uint64(size)+8 != uint64(len(data)) {
		return notImage("webp: RIFF size %d for %d bytes", size, len(data))
	}
	// The WebP container format: the first chunk is the image (VP8,
	// VP8L) or the extended header (VP8X); x/image/webp would skip others.
	switch string(data[riffHead : riffHead+4]) {
	case "VP8 ", "VP8L", "VP8X":
	default:
		return notImage("webp: first chunk %q", data[riffHead:riffHead+4])
	}
	pos := riffHead
	for pos < len(data) {
		if pos+8 > len(data) {
			return notImage("webp: chunk header %v", errTruncated)
		}
		n := uint64(binary.LittleEndian.Uint32(data[pos+4:]))
		next := uint64(pos) + 8 + n + n&1
		if next > uint64(len(data)) {
			return notImage("webp: chunk %q runs past the end", data[pos:pos+4])
		}
		pos = int(next)
	}
	return nil
}
