package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color/palette"
	"image/gif"
	_ "image/jpeg" // image.DecodeConfig in FuzzCheckImage
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/oactl/oactl/internal/testutil"
)

// pngWithSize is a 1×1 PNG whose IHDR claims w×h (with a valid checksum).
func pngWithSize(t *testing.T, w, h uint32) []byte {
	t.Helper()
	b := append([]byte(nil), readTestdata(t, "avatar.png")...)
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// gifFrames is a GIF of n frames of w×h, the logical screen as large.
func gifFrames(t *testing.T, n, w, h int) []byte {
	t.Helper()
	g := &gif.GIF{}
	for range n {
		g.Image = append(g.Image, image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9))
		g.Delay = append(g.Delay, 1)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestPolyglotsRefused is the finding "GIF89a<html><script>... and
// PNG-header polyglots were stored": every file whose bytes are not one
// whole image, first byte to last, is ErrNotImage and leaves no file.
func TestPolyglotsRefused(t *testing.T) {
	html := []byte("<html><script>alert(document.cookie)</script></html>")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	pngFile, jpg, gifFile, webp := readTestdata(t, "avatar.png"), readTestdata(t, "avatar.jpg"), readTestdata(t, "avatar.gif"), readTestdata(t, "avatar.webp")
	lossy := readTestdata(t, "avatar-lossy.webp")
	webpGrown := cat(webp, []byte("<b>x</b>"))
	binary.LittleEndian.PutUint32(webpGrown[4:], uint32(len(webpGrown)-8)) // RIFF size covers the junk, no chunk does
	cases := map[string][]byte{
		"gif header then html":         cat([]byte("GIF89a"), html),
		"gif87a header then html":      cat([]byte("GIF87a"), html),
		"gif 1x1 screen then html":     cat([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), html),
		"png signature then html":      cat(pngFile[:8], html),
		"png header chunk then html":   cat(pngFile[:33], html),
		"jpeg SOI then html":           cat([]byte("\xff\xd8\xff\xe0"), html),
		"webp header then html":        cat([]byte("RIFF\x40\x00\x00\x00WEBPVP8L"), html),
		"png then html":                cat(pngFile, html),
		"jpeg then html":               cat(jpg, html),
		"jpeg then zip":                cat(jpg, []byte("PK\x03\x04rest of an archive")),
		"gif then html":                cat(gifFile, html),
		"webp then html":               cat(webp, html),
		"lossy webp then html":         cat(lossy, html),
		"webp with a junk chunk tail":  webpGrown,
		"png truncated":                pngFile[:len(pngFile)-5],
		"jpeg truncated":               jpg[:len(jpg)/2],
		"gif truncated":                gifFile[:len(gifFile)-1],
		"webp truncated":               webp[:len(webp)-4],
		"png 100000x100000":            pngWithSize(t, 100_000, 100_000),
		"png 4097 wide":                pngWithSize(t, MaxSide+1, 1),
		"png 4096x4096 over MaxPixels": pngWithSize(t, MaxSide, MaxSide),
		"gif frames over MaxPixels":    gifFrames(t, 2, 3000, 3000),
	}
	s := &Store{Dir: t.TempDir()}
	for name, data := range cases {
		if Sniff(data) == "" {
			t.Errorf("%s: not even sniffed as an image: the case tests nothing", name)
		}
		_, err := s.Save(context.Background(), 1, data)
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, ErrNotImage) {
			t.Errorf("%s: %v, want ErrNotImage", name, err)
		}
	}
	if entries, _ := os.ReadDir(s.Dir); len(entries) != 0 {
		t.Errorf("%d files left by refused uploads", len(entries))
	}
	// The images themselves, and a GIF of several frames within bounds, pass.
	for name, data := range map[string][]byte{"png": pngFile, "jpeg": jpg, "gif": gifFile, "webp": webp, "lossy webp": lossy, "animated gif": gifFrames(t, 5, 64, 64)} {
		if err := CheckImage(context.Background(), Sniff(data), data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestFetchNeverFollowsLinks is the finding "fetch follows a symbolic
// link inside the storage directory (a link to oactl.db served it)": a
// key that names a link, to a file outside the directory or inside it,
// is ErrUnknownKey.
func TestFetchNeverFollowsLinks(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "files")
	s := &Store{Dir: dir}
	key, err := s.Save(context.Background(), 1, readTestdata(t, "avatar.png"))
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(base, "oactl.db")
	if err := os.WriteFile(db, []byte("SQLite format 3\x00 session keys"), 0o600); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"0123456789abcdef0123456789abcdef.png": db,                                     // absolute, outside
		"1123456789abcdef0123456789abcdef.png": "../oactl.db",                          // relative, outside
		"2123456789abcdef0123456789abcdef.png": key,                                    // inside the directory
		"3123456789abcdef0123456789abcdef.png": filepath.Join(dir, key),                // inside, absolute
		"4123456789abcdef0123456789abcdef.png": "/proc/self/environ",                   // anywhere
		"5123456789abcdef0123456789abcdef.png": "5123456789abcdef0123456789abcdef.png", // a loop
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		if f, err := s.Open(name); !errors.Is(err, ErrUnknownKey) {
			if f != nil {
				f.Close()
			}
			t.Errorf("link %s -> %s: %v, want ErrUnknownKey", name, target, err)
		}
	}
	f, err := s.Open(key)
	if err != nil {
		t.Fatalf("the real file: %v", err)
	}
	f.Close()
}

// upload is one record of fakeRecords.
type upload struct {
	Key       string
	Owner     int64
	Size      int64
	CreatedAt time.Time
}

// fakeRecords is Records in memory, with the avatars that reference keys.
type fakeRecords struct {
	mu         sync.Mutex
	ups        []upload
	referenced map[string]bool
	failDelete bool
}

func (f *fakeRecords) AddUpload(_ context.Context, key string, owner, size int64, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ups = append(f.ups, upload{key, owner, size, at})
	return nil
}

func (f *fakeRecords) UnreferencedUploads(_ context.Context, before time.Time, limit int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for _, u := range f.ups {
		if u.CreatedAt.Before(before) && !f.referenced[u.Key] && len(keys) < limit {
			keys = append(keys, u.Key)
		}
	}
	return keys, nil
}

func (f *fakeRecords) UploadKeysOf(_ context.Context, owner int64) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for _, u := range f.ups {
		if u.Owner == owner {
			keys = append(keys, u.Key)
		}
	}
	return keys, nil
}

func (f *fakeRecords) DeleteUploads(_ context.Context, keys []string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failDelete {
		return 0, nil
	}
	n := len(f.ups)
	f.ups = slices.DeleteFunc(f.ups, func(u upload) bool { return slices.Contains(keys, u.Key) })
	return int64(n - len(f.ups)), nil
}

// TestCollectAndDeleteOwner: the record carries the owner and the clock's
// time; Collect deletes an unreferenced upload only after the retention,
// never a referenced one; DeleteOwner deletes one user's uploads, file
// and record; a record whose file is gone is dropped.
func TestCollectAndDeleteOwner(t *testing.T) {
	clock := testutil.NewClock()
	rec := &fakeRecords{referenced: map[string]bool{}}
	s := &Store{Dir: t.TempDir(), Records: rec, Retention: time.Hour, Now: clock.Now}
	ctx := context.Background()
	save := func(owner int64) string {
		k, err := s.Save(ctx, owner, readTestdata(t, "avatar.png"))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	kept, dropped, bobs := save(1), save(1), save(2)
	if u := rec.ups[0]; u.Key != kept || u.Owner != 1 || !u.CreatedAt.Equal(clock.Now()) || u.Size != int64(len(readTestdata(t, "avatar.png"))) {
		t.Fatalf("record %+v", u)
	}
	rec.referenced[kept] = true
	exists := func(k string) bool { _, err := os.Stat(filepath.Join(s.Dir, k)); return err == nil }
	clock.Add(59 * time.Minute)
	if n, err := s.Collect(ctx); n != 0 || err != nil {
		t.Fatalf("before the retention: %d, %v", n, err)
	}
	clock.Add(2 * time.Minute)
	if n, err := s.Collect(ctx); n != 2 || err != nil {
		t.Fatalf("after the retention: %d, %v", n, err)
	}
	if !exists(kept) || exists(dropped) || exists(bobs) {
		t.Fatalf("kept %v dropped %v bob's %v", exists(kept), exists(dropped), exists(bobs))
	}
	other := save(2)
	if err := os.Remove(filepath.Join(s.Dir, other)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteOwner(ctx, 1); n != 1 || err != nil || exists(kept) {
		t.Fatalf("DeleteOwner(1): %d, %v", n, err)
	}
	if n, err := s.DeleteOwner(ctx, 2); n != 1 || err != nil || len(rec.ups) != 0 {
		t.Fatalf("DeleteOwner(2) with its file gone: %d, %v, %v", n, err, rec.ups)
	}
	// Records that refuse to go do not make Collect loop.
	save(3)
	rec.failDelete = true
	clock.Add(2 * time.Hour)
	if n, err := s.Collect(ctx); n != 0 || err != nil {
		t.Fatalf("undeletable records: %d, %v", n, err)
	}
}

func TestCollectWithoutRecords(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if n, err := s.Collect(context.Background()); n != 0 || err != nil {
		t.Fatalf("%d, %v", n, err)
	}
	if n, err := s.DeleteOwner(context.Background(), 1); n != 0 || err != nil {
		t.Fatalf("%d, %v", n, err)
	}
}

// FuzzCheckImage: on any bytes CheckImage returns nil or ErrNotImage (no
// panic, no other error), and what it accepts is a sniffed image that the
// standard decoder reads whole, within the size bounds, with nothing
// after its end (a second walk over data with a byte appended refuses).
func FuzzCheckImage(f *testing.F) {
	for _, name := range []string{"avatar.png", "avatar.jpg", "avatar.gif", "avatar.webp", "avatar-lossy.webp"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(append(b, '<'))
	}
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	f.Add([]byte("\xff\xd8\xff\xd9"))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctype := Sniff(data)
		err := CheckImage(ctx, ctype, data)
		if err != nil {
			if !errors.Is(err, ErrNotImage) {
				t.Fatalf("CheckImage: %v, want nil or ErrNotImage", err)
			}
			return
		}
		if ctype == "" {
			t.Fatalf("accepted unsniffed data %q", data)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || "image/"+format != ctype || cfg.Width > MaxSide || cfg.Height > MaxSide {
			t.Fatalf("accepted %s that image.DecodeConfig reads as %q %+v, %v", ctype, format, cfg, err)
		}
		if err := CheckImage(ctx, ctype, append(data[:len(data):len(data)], 0)); err == nil {
			t.Fatalf("accepted %s with a byte appended", ctype)
		}
	})
}
