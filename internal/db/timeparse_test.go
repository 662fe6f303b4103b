package db

import (
	"testing"
	"time"
)

// FuzzParseTimeLayout: the fast reader of timeLayout agrees with
// time.ParseInLocation on every input it accepts. What it refuses goes to
// time.Parse (which also reads fractional seconds and space-padded
// fields), so refusing is always safe; TestParseTimeLayoutReadsWhatWeWrite
// shows it reads what oactl writes.
func FuzzParseTimeLayout(f *testing.F) {
	for _, s := range []string{"2026-11-30 07:37:30", "2026-02-29 00:00:00", "2024-02-29 23:59:59", "2026-04-31 12:00:00",
		"0000-01-01 00:00:00", "2026-13-01 00:00:00", "2026-11-30 24:00:00", "2026-11-30 07:60:00", "2026-11-30 07:00:60",
		"2026-11-30T07:37:30", "2026-11-30 07:37:3x", "+026-11-30 07:37:30", "2026-11-30 07:37:30.5", "", "2026-1-30 07:37:30"} {
		f.Add(s)
	}
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, loc := range []*time.Location{time.UTC, shanghai} {
			fast, ok := parseTimeLayout(s, loc)
			slow, err := time.ParseInLocation(timeLayout, s, loc)
			if ok && (err != nil || !fast.Equal(slow) || fast.Location() != slow.Location()) {
				t.Fatalf("%q in %v: fast %v, time.Parse %v, %v", s, loc, fast, slow, err)
			}
		}
	})
}

// TestParseTimeLayoutReadsWhatWeWrite: every time formatted as oactl
// writes it is read by the fast path, to the same instant.
func TestParseTimeLayoutReadsWhatWeWrite(t *testing.T) {
	at := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	for at.Year() < 2200 {
		text := at.Format(timeLayout)
		got, ok := parseTimeLayout(text, time.UTC)
		if !ok || !got.Equal(at) {
			t.Fatalf("%s: %v, %v", text, got, ok)
		}
		at = at.Add(7*time.Hour + 13*time.Minute + 17*time.Second)
	}
}
