package api

import (
	"testing"
	"time"
)

// FuzzFormatTime: the tokenExpire formatter writes what Format writes with
// the layout, in any zone, for any instant.
func FuzzFormatTime(f *testing.F) {
	f.Add(int64(1764495480), int64(0), 0)
	f.Add(int64(-62135596800), int64(999999999), 1) // year 1
	f.Add(int64(253402300799), int64(1), 2)         // 9999-12-31T23:59:59
	f.Add(int64(253402300800), int64(0), 3)         // year 10000
	f.Add(int64(-62167219201), int64(0), 4)         // year -1
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		f.Fatal(err)
	}
	zones := []*time.Location{time.UTC, shanghai, time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("X", 14*3600), nil}
	f.Fuzz(func(t *testing.T, sec, nsec int64, zone int) {
		loc := zones[uint(zone)%uint(len(zones))]
		at := time.Unix(sec, nsec)
		want := at.In(time.Local).Format(TokenExpireLayout)
		if loc != nil {
			want = at.In(loc).Format(TokenExpireLayout)
		}
		if got := formatTime(loc, at); got != want {
			t.Fatalf("formatTime(%v, %v) = %q, want %q", loc, at, got, want)
		}
	})
}
