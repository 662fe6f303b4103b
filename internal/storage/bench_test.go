package storage

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// avatar640 is a 640×640 avatar with some texture, encoded as kind: what
// WeChat's chooseAvatar hands a mini-program is of this size.
func avatar640(b *testing.B, kind string) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 640, 640))
	for y := range 640 {
		for x := range 640 {
			img.Set(x, y, color.RGBA{uint8(x * y), uint8(x + y), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if kind == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	}
	if err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkCheckImage: what the whole-image rule costs an upload. "sniff"
// is the check uploads had before (the first bytes only), "check" the
// full walk and decode, on the same 640×640 avatar in the same run.
func BenchmarkCheckImage(b *testing.B) {
	for _, kind := range []string{"jpeg", "png"} {
		data := avatar640(b, kind)
		b.Run(kind+"/sniff", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if Sniff(data) == "" {
					b.Fatal("not sniffed")
				}
			}
		})
		b.Run(kind+"/check", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := CheckImage(context.Background(), "image/"+kind, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
