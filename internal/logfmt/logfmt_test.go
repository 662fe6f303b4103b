package logfmt

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// slogLine is what slog's own handler writes for r.
func slogLine(t testing.TB, format Format, r slog.Record) string {
	t.Helper()
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	if format == JSON {
		h = slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatalf("slog: %v", err)
	}
	return buf.String()
}

// ourLine is what New's handler writes for r, and whether it took the
// short path.
func ourLine(t testing.TB, format Format, r slog.Record) (string, bool) {
	t.Helper()
	var buf bytes.Buffer
	h := New(&buf, format, &slog.HandlerOptions{Level: slog.LevelDebug}).(*Handler)
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
	_, short := h.appendLine(nil, r.Time, r.Level, r.Message, attrs)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatalf("logfmt: %v", err)
	}
	handled := buf.String()
	buf.Reset()
	if err := h.Log(context.Background(), r.Time, r.Level, r.Message, attrs...); err != nil {
		t.Fatalf("logfmt Log: %v", err)
	}
	// Log, like a Logger, writes nothing below the handler's level;
	// Handle writes what it is given.
	if want := handled; r.Level < slog.LevelDebug && buf.Len() != 0 || r.Level >= slog.LevelDebug && buf.String() != want {
		t.Fatalf("Log at %v wrote %q, Handle %q", r.Level, buf.String(), handled)
	}
	return handled, short
}

func record(at time.Time, level slog.Level, msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

var (
	utc         = time.Date(2026, 11, 30, 9, 38, 0, 144_999_999, time.UTC)
	cst         = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CST", 8*3600))
	accessAttrs = []slog.Attr{
		slog.String("id", "k3x9-1042"), slog.String("method", "GET"),
		slog.String("route", "GET /wx/auth/info"), slog.Int("status", 200),
		slog.Duration("duration", 1234567*time.Nanosecond), slog.String("ip", "127.0.0.1"),
		slog.Int("errno", 0), slog.Int64("user", 42),
	}
)

// shortIn is where a record takes the short path: text quotes every
// string itself, JSON leaves non-ASCII strings to slog.
type shortIn int

const (
	neither shortIn = iota
	textOnly
	both
)

// TestSameAsSlog: every record, short path or not, comes out exactly as
// slog's handler writes it; the plain ones take the short path.
func TestSameAsSlog(t *testing.T) {
	cases := []struct {
		name  string
		r     slog.Record
		short shortIn
	}{
		{"access line", record(utc, slog.LevelInfo, "request", accessAttrs...), both},
		{"no attrs", record(utc, slog.LevelWarn, "shutting"), both},
		{"zone offset", record(cst, slog.LevelError, "x", slog.Bool("ok", false)), both},
		{"zero time", record(time.Time{}, slog.LevelInfo, "x", slog.Uint64("n", math.MaxUint64)), both},
		{"odd level", record(utc, slog.LevelInfo+2, "x"), both},
		{"whole millisecond", record(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelDebug, "x"), both},
		{"negatives", record(utc, slog.LevelInfo, "x", slog.Int("a", -1), slog.Duration("d", -time.Second)), both},
		{"backslash", record(utc, slog.LevelInfo, `a\b`, slog.String("p", `C:\x`)), both},
		{"space in message", record(utc, slog.LevelInfo, "serve listening", slog.String("addr", "127.0.0.1:1")), both},
		{"empty string", record(utc, slog.LevelInfo, "x", slog.String("e", "")), both},
		{"quote", record(utc, slog.LevelInfo, "x", slog.String("q", `say "hi"`)), both},
		{"equals", record(utc, slog.LevelInfo, "x", slog.String("dsn", "a=b")), both},
		{"space and backslash", record(utc, slog.LevelInfo, "x", slog.String("p", `a b\c`)), both},
		{"space and delete", record(utc, slog.LevelInfo, "x", slog.String("p", "a b\x7f")), both},
		{"delete", record(utc, slog.LevelInfo, "x", slog.String("del", "a\x7fb")), both},
		{"control", record(utc, slog.LevelInfo, "x", slog.String("c", "a\nb\x00\r\t\x1f")), both},
		{"non-ASCII", record(utc, slog.LevelInfo, "登录", slog.String("nick", "小明😀\u00a0\u2028")), textOnly},
		{"invalid UTF-8", record(utc, slog.LevelInfo, "x", slog.String("c", "\xff\xfe")), textOnly},
		{"odd key", record(utc, slog.LevelInfo, "x", slog.Int("a b", 1)), neither},
		{"empty key", record(utc, slog.LevelInfo, "x", slog.Int("", 1)), neither},
		{"group", record(utc, slog.LevelInfo, "x", slog.Group("g", slog.Int("a", 1))), neither},
		{"error value", record(utc, slog.LevelInfo, "x", slog.Any("err", context.Canceled)), neither},
		{"float", record(utc, slog.LevelInfo, "x", slog.Float64("f", 1.5)), neither},
		{"time value", record(utc, slog.LevelInfo, "x", slog.Time("at", utc)), neither},
		{"many attrs", record(utc, slog.LevelInfo, "x", manyAttrs(maxAttrs+1)...), both},
		{"year 10000", record(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "x"), neither},
	}
	for _, c := range cases {
		for _, f := range []Format{Text, JSON} {
			want := slogLine(t, f, c.r)
			got, short := ourLine(t, f, c.r)
			if got != want {
				t.Errorf("%s (format %d):\n got %q\nwant %q", c.name, f, got, want)
			}
			wantShort := c.short == both || c.short == textOnly && f == Text
			if short != wantShort {
				t.Errorf("%s (format %d): short path %v, want %v", c.name, f, short, wantShort)
			}
		}
	}
}

func manyAttrs(n int) []slog.Attr {
	attrs := make([]slog.Attr, n)
	for i := range attrs {
		attrs[i] = slog.Int("k"+strconv.Itoa(i), i)
	}
	return attrs
}

// TestWithAttrs: a handler with plain attributes keeps the short path
// and writes what slog's does, in both formats, also when derived twice
// or used by goroutines at once; other attributes make it slog's.
func TestWithAttrs(t *testing.T) {
	for _, f := range []Format{Text, JSON} {
		var got, want bytes.Buffer
		opts := &slog.HandlerOptions{Level: slog.LevelDebug}
		var theirs slog.Handler = slog.NewTextHandler(&want, opts)
		if f == JSON {
			theirs = slog.NewJSONHandler(&want, opts)
		}
		ours := New(&got, f, opts)
		base := ours.WithAttrs([]slog.Attr{slog.String("path", "/sns/jscode2session"), slog.Int("status", 200)})
		ours2 := base.WithAttrs([]slog.Attr{slog.Duration("d", time.Second)})
		ours3 := base.WithAttrs([]slog.Attr{slog.Int("errcode", 0)})
		theirs2 := theirs.WithAttrs([]slog.Attr{slog.String("path", "/sns/jscode2session"), slog.Int("status", 200)}).
			WithAttrs([]slog.Attr{slog.Duration("d", time.Second)})
		theirs3 := theirs.WithAttrs([]slog.Attr{slog.String("path", "/sns/jscode2session"), slog.Int("status", 200)}).
			WithAttrs([]slog.Attr{slog.Int("errcode", 0)})
		for _, h := range []slog.Handler{base, ours2, ours3} {
			if _, ok := h.(*Handler); !ok {
				t.Fatalf("format %d: plain WithAttrs lost the short path: %T", f, h)
			}
		}
		r := record(utc, slog.LevelInfo, "request", slog.String("user", "alice"), slog.Int64("ms", 3))
		_ = ours2.Handle(context.Background(), r)
		_ = theirs2.Handle(context.Background(), r)
		_ = ours3.Handle(context.Background(), r)
		_ = theirs3.Handle(context.Background(), r)
		if got.String() != want.String() {
			t.Errorf("format %d:\n got %q\nwant %q", f, got.String(), want.String())
		}
		if _, ok := ours.WithAttrs([]slog.Attr{slog.Any("err", context.Canceled)}).(*Handler); ok {
			t.Errorf("format %d: an error value kept the short path", f)
		}
	}
}

// TestWithGroup: derived handlers are slog's, writing to the same
// writer.
func TestWithGroup(t *testing.T) {
	var got, want bytes.Buffer
	opts := &slog.HandlerOptions{}
	ours := slog.New(New(&got, Text, opts)).With("job", "gc").WithGroup("g")
	theirs := slog.New(slog.NewTextHandler(&want, opts)).With("job", "gc").WithGroup("g")
	ours.Info("done", "n", 3)
	theirs.Info("done", "n", 3)
	strip := func(s string) string { return s[strings.Index(s, " level="):] }
	if strip(got.String()) != strip(want.String()) {
		t.Errorf("got %q, want %q", got.String(), want.String())
	}
}

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(New(&buf, Text, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l.Info("hidden")
	l.Warn("shown")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "msg=shown") {
		t.Errorf("level warn wrote %q", s)
	}
	buf.Reset()
	h := New(&buf, Text, &slog.HandlerOptions{Level: slog.LevelWarn}).(*Handler)
	if err := h.Log(context.Background(), utc, slog.LevelInfo, "hidden"); err != nil || buf.Len() != 0 {
		t.Errorf("Log below the level wrote %q, %v", buf.String(), err)
	}
	if _, ok := New(&buf, Text, nil).(*Handler); !ok {
		t.Error("nil options: not the short-path handler")
	}
	if _, ok := New(&buf, JSON, &slog.HandlerOptions{AddSource: true}).(*Handler); ok {
		t.Error("AddSource: the short path would drop the source")
	}
}

// TestConcurrentLinesWhole: lines from both paths, written at once to a
// writer that is not safe for concurrent use, stay whole.
func TestConcurrentLinesWhole(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(New(&buf, Text, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if g%2 == 0 {
					l.Info("plain", "g", g, "i", i)
				} else {
					l.Info("not plain", "g", g, "i", i)
				}
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " i=") {
			t.Fatalf("broken line %q", line)
		}
	}
}

// FuzzSameAsSlog: any message, key and values come out as slog writes
// them, in both formats.
func FuzzSameAsSlog(f *testing.F) {
	f.Add("request", "route", "GET /x", int64(200), int64(1234567), true, int64(1764495480144999999), 0)
	f.Add("a\\b", "k", "", int64(-1), int64(-1), false, int64(0), 4)
	f.Add("登录", "k=v", "\xff", int64(0), int64(0), false, int64(-1), -4)
	f.Fuzz(func(t *testing.T, msg, key, s string, n, d int64, b bool, nanos int64, level int) {
		r := record(time.Unix(0, nanos).UTC(), slog.Level(level), msg,
			slog.String(key, s), slog.Int64("n", n), slog.Duration("d", time.Duration(d)), slog.Bool("b", b))
		for _, format := range []Format{Text, JSON} {
			want := slogLine(t, format, r)
			if got, _ := ourLine(t, format, r); got != want {
				t.Fatalf("format %d:\n got %q\nwant %q", format, got, want)
			}
		}
	})
}

// BenchmarkAccessLine: serve's access line through slog's handler and
// through ours, to an io.Discard.
func BenchmarkAccessLine(b *testing.B) {
	r := record(utc, slog.LevelInfo, "request", accessAttrs...)
	for _, c := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog-text", slog.NewTextHandler(discard{}, nil)},
		{"logfmt-text", New(discard{}, Text, nil)},
		{"slog-json", slog.NewJSONHandler(discard{}, nil)},
		{"logfmt-json", New(discard{}, JSON, nil)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				// Lines come thousands to a second, not all in one.
				r.Time = r.Time.Add(337 * time.Microsecond)
				_ = c.h.Handle(ctx, r)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
