// Package logfmt is oactl's log handler: slog's own text and JSON
// handlers, with a shorter path for the common record.
//
// serve and mockwx write one line per request, and slog's handlers are
// generic (groups, ReplaceAttr, quoting of any string, a pooled state per
// record): on serve's cheapest request that line was 3% of the CPU. Most
// records are flat: a message and a few keys with plain ASCII strings,
// integers, booleans and durations. Handler writes those itself, byte for
// byte what slog's handler would have written (the tests compare the two
// on generated records), and hands every other record to slog's handler,
// so nothing about the output depends on which path a record took.
package logfmt

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Format is a handler's output format.
type Format int

const (
	// Text is slog.TextHandler's key=value format.
	Text Format = iota
	// JSON is slog.JSONHandler's one object per line.
	JSON
)

// Handler is a slog.Handler writing in Format to one writer. WithAttrs
// keeps the short path for plain attributes; WithGroup returns slog's
// handler.
type Handler struct {
	slow  slog.Handler
	w     *lockedWriter
	json  bool
	level slog.Leveler
	pre   []byte // the attributes of WithAttrs, formatted, each after its separator
}

// New returns a handler writing format to w. Options that change what
// slog writes (AddSource, ReplaceAttr) turn the short path off: the
// handler is then slog's own.
func New(w io.Writer, format Format, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	// Both paths write through one lock, so that a writer that is not
	// safe for concurrent use (a bytes.Buffer in tests) stays whole.
	lw := &lockedWriter{w: w}
	var slow slog.Handler
	if format == JSON {
		slow = slog.NewJSONHandler(lw, opts)
	} else {
		slow = slog.NewTextHandler(lw, opts)
	}
	if opts.AddSource || opts.ReplaceAttr != nil {
		return slow
	}
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	return &Handler{slow: slow, w: lw, json: format == JSON, level: level}
}

// Enabled reports whether level is at or above the handler's level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// WithAttrs returns a handler that writes attrs after the message of
// every record: one with the short path when attrs are plain, slog's
// otherwise.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	slow := h.slow.WithAttrs(attrs)
	// Clipped, the first append copies: handlers derived from one
	// handler never share what they append.
	pre := slices.Clip(h.pre)
	for _, a := range attrs {
		if !plainKey(a.Key) {
			return slow
		}
		pre = h.sep(pre)
		pre = h.appendKey(pre, a.Key)
		var ok bool
		if pre, ok = h.appendValue(pre, a.Value); !ok {
			return slow
		}
	}
	return &Handler{slow: slow, w: h.w, json: h.json, level: h.level, pre: pre}
}

// WithGroup returns slog's handler with the group: groups qualify keys,
// which the short path does not do.
func (h *Handler) WithGroup(name string) slog.Handler { return h.slow.WithGroup(name) }

// Handle writes r: itself when every part of the record is plain,
// through slog's handler otherwise.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	var buf [maxAttrs]slog.Attr
	attrs := buf[:0]
	if r.NumAttrs() <= maxAttrs {
		r.Attrs(func(a slog.Attr) bool {
			attrs = append(attrs, a)
			return true
		})
		if written, err := h.write(r.Time, r.Level, r.Message, attrs); written {
			return err
		}
	}
	return h.slow.Handle(ctx, r)
}

// Log writes what Handle writes for a record of at, level, msg and attrs,
// without making the record: serve's and mockwx's request lines have
// more attributes than a slog.Record holds without an allocation. A
// level below the handler's writes nothing.
func (h *Handler) Log(ctx context.Context, at time.Time, level slog.Level, msg string, attrs ...slog.Attr) error {
	if !h.Enabled(ctx, level) {
		return nil
	}
	if written, err := h.write(at, level, msg, attrs); written {
		return err
	}
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	return h.slow.Handle(ctx, r)
}

// maxAttrs bounds the attributes Handle copies to the stack; a record
// with more goes the slow way.
const maxAttrs = 16

// write writes the line when it is plain and reports whether it did.
func (h *Handler) write(at time.Time, level slog.Level, msg string, attrs []slog.Attr) (written bool, err error) {
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooled {
			bufPool.Put(bp)
		}
	}()
	line, ok := h.appendLine((*bp)[:0], at, level, msg, attrs)
	if !ok {
		return false, nil
	}
	*bp = line
	_, err = h.w.Write(line)
	return true, err
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooled keeps one huge record from pinning its buffer in the pool.
const maxPooled = 16 << 10

// appendLine appends the line of a record to b, or reports false when a
// part of it is not plain and slog's handler must write it.
func (h *Handler) appendLine(b []byte, at time.Time, level slog.Level, msg string, attrs []slog.Attr) ([]byte, bool) {
	if h.json {
		b = append(b, '{')
	}
	if !at.IsZero() {
		// appendTime's layout has four-digit years (and slog's JSON
		// handler writes an error for others).
		if y := at.Year(); y < 0 || y > 9999 {
			return b, false
		}
		b = h.appendKey(b, slog.TimeKey)
		b = h.sep(appendTime(b, at, h.json))
	}
	var ok bool
	b = h.appendKey(b, slog.LevelKey)
	if b, ok = h.appendString(b, level.String()); !ok {
		return b, false
	}
	b = h.sep(b)
	b = h.appendKey(b, slog.MessageKey)
	if b, ok = h.appendString(b, msg); !ok {
		return b, false
	}
	b = append(b, h.pre...)
	for _, a := range attrs {
		if !plainKey(a.Key) {
			return b, false
		}
		b = h.sep(b)
		b = h.appendKey(b, a.Key)
		if b, ok = h.appendValue(b, a.Value); !ok {
			return b, false
		}
	}
	if h.json {
		b = append(b, '}')
	}
	return append(b, '\n'), true
}

func (h *Handler) sep(b []byte) []byte {
	if h.json {
		return append(b, ',')
	}
	return append(b, ' ')
}

// appendKey appends a key known to be plain and its separator.
func (h *Handler) appendKey(b []byte, key string) []byte {
	if h.json {
		b = append(b, '"')
		b = append(b, key...)
		return append(b, '"', ':')
	}
	b = append(b, key...)
	return append(b, '=')
}

// appendString appends s as slog writes a string: in text, as it is
// unless it needs quoting (then strconv's quoting, as slog's); in JSON,
// escaped, when s is ASCII (slog's escaping of the rest of Unicode is
// left to slog).
func (h *Handler) appendString(b []byte, s string) ([]byte, bool) {
	if !h.json {
		switch {
		case !needsQuoting(s):
			return append(b, s...), true
		case quotesAsIs(s):
			// What strconv.Quote makes of it, without its per-rune work.
			b = append(b, '"')
			b = append(b, s...)
			return append(b, '"'), true
		}
		return strconv.AppendQuote(b, s), true
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return b, false
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"'), true
}

const hexDigits = "0123456789abcdef"

// needsQuoting is slog's rule for a text string: empty, or holding a
// space, '=', a character JSON would escape other than '\\', or a rune
// that is invalid, a space or not printable.
func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// quotesAsIs reports whether strconv.Quote only adds the quotes around s:
// printable ASCII without '"' or '\\' (a route like "GET /wx/auth/info").
func quotesAsIs(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendValue appends v as slog writes it, for the kinds whose form does
// not depend on anything but the value.
func (h *Handler) appendValue(b []byte, v slog.Value) ([]byte, bool) {
	switch v.Kind() {
	case slog.KindString:
		return h.appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindDuration:
		if h.json {
			return strconv.AppendInt(b, int64(v.Duration()), 10), true
		}
		return append(b, v.Duration().String()...), true
	}
	return b, false
}

// plainKey reports whether key is written as it is in both formats:
// printable ASCII with nothing text would quote or JSON escape. Other
// keys (none of oactl's) go the slow way.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '=' {
			return false
		}
	}
	return true
}

// appendTime appends t as slog does: in text RFC 3339 with exactly three
// digits of milliseconds (truncated), in JSON RFC3339Nano in quotes. Lines come
// many to a second, so the part that changes once a second (date, clock
// and zone) is formatted once per second and reused.
func appendTime(b []byte, t time.Time, json bool) []byte {
	st := lastSecond.Load()
	if st == nil || st.unix != t.Unix() || st.loc != t.Location() {
		st = newSecondText(t)
		lastSecond.Store(st)
	}
	ns := t.Nanosecond()
	if json {
		b = append(b, '"')
		b = append(b, st.clock...)
		b = appendNanos(b, ns)
		b = append(b, st.zone...)
		return append(b, '"')
	}
	b = append(b, st.clock...)
	b = append(b, '.', byte('0'+ns/1e8), byte('0'+ns/1e7%10), byte('0'+ns/1e6%10))
	return append(b, st.zone...)
}

// secondText is one second's date and clock ("2006-01-02T15:04:05") and
// zone ("Z", "+08:00") in RFC 3339.
type secondText struct {
	unix  int64
	loc   *time.Location
	clock string
	zone  string
}

var lastSecond atomic.Pointer[secondText]

func newSecondText(t time.Time) *secondText {
	f := t.Truncate(time.Second).Format(time.RFC3339)
	const clockLen = len("2006-01-02T15:04:05")
	return &secondText{unix: t.Unix(), loc: t.Location(), clock: f[:clockLen], zone: f[clockLen:]}
}

// appendNanos appends RFC3339Nano's fraction: a dot and up to nine
// digits without trailing zeros, nothing for a whole second.
func appendNanos(b []byte, ns int) []byte {
	if ns == 0 {
		return b
	}
	var d [10]byte
	d[0] = '.'
	for i := 9; i >= 1; i-- {
		d[i] = byte('0' + ns%10)
		ns /= 10
	}
	n := 10
	for d[n-1] == '0' {
		n--
	}
	return append(b, d[:n]...)
}

// lockedWriter serialises writes to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
