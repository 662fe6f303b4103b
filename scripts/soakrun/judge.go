package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// judge checks the fault's own promises against the samples.
func (h *harness) judge(w io.Writer, all []sample) []string {
	var problems []string
	switch h.o.fault {
	case "db-restart":
		if h.dbUpAt == 0 {
			return []string{"MariaDB never came back"}
		}
		r := findRecovery(all, h.dbUpAt, 0, func(s sample) bool { return s.op != opInfoAfterLogout })
		fmt.Fprintf(w, "\nrecovery: first success %.2fs after MariaDB accepted connections again; last failure: %s\n",
			(r.firstOK - h.dbUpAt).Seconds(), r.lastText(h.dbUpAt, "none started after it"))
		if !r.within(h.dbUpAt, 5*time.Second) {
			problems = append(problems, "no recovery within 5 s of MariaDB's return")
		}
	case "wx-errors", "wx-slow":
		var logins, wxFailed, other int
		var slowest time.Duration
		for _, s := range all {
			if s.op != opLogin || s.start < h.faultOn || s.end > h.faultOff {
				continue
			}
			logins++
			switch s.outcome {
			case -1:
				wxFailed++
				slowest = max(slowest, s.end-s.start)
			case 0:
			default:
				other++
			}
		}
		fmt.Fprintf(w, "\nlogins while the faults were on: %d, errno -1: %d (%.0f%%), other failures: %d, slowest -1 answer: %.0f ms\n",
			logins, wxFailed, 100*float64(wxFailed)/float64(max(logins, 1)), other, float64(slowest.Milliseconds()))
		if wxFailed == 0 || other != 0 {
			problems = append(problems, "faults of mockwx did not give -1 envelopes only")
		}
		if slowest >= clientTimeout {
			problems = append(problems, "a -1 answer came after the client's 6 s")
		}
	case "galera-node":
		problems = append(problems, h.judgeGalera(w, all)...)
	case "sigterm":
		inflight, answered := 0, 0
		for _, s := range all {
			if s.start < h.sigAt-50*time.Millisecond && s.end > h.sigAt {
				inflight++
				if s.outcome < outRefused {
					answered++
				}
			}
		}
		fmt.Fprintf(w, "\nin flight at SIGTERM (sent > 50 ms before it, done after it): %d, answered with an envelope: %d\n", inflight, answered)
		if inflight != answered {
			problems = append(problems, fmt.Sprintf("%d in-flight requests lost at SIGTERM", inflight-answered))
		}
		if inflight == 0 {
			problems = append(problems, "no request was in flight at SIGTERM: the run proves nothing")
		}
	}
	return problems
}

// recovery is how answers went after a component came back: the end of
// the first answer as a healthy system gives it, and of the last other
// one (-1: none).
type recovery struct{ firstOK, lastBad time.Duration }

// findRecovery looks at the samples started at back or later (and over
// before until, the next fault, unless 0) that keep accepts.
func findRecovery(all []sample, back, until time.Duration, keep func(sample) bool) recovery {
	r := recovery{-1, -1}
	for _, s := range all {
		if s.start < back || (until > 0 && s.end >= until) || !keep(s) {
			continue
		}
		if s.outcome == expected(s.op) {
			if r.firstOK < 0 || s.end < r.firstOK {
				r.firstOK = s.end
			}
		} else if s.end > r.lastBad {
			r.lastBad = s.end
		}
	}
	return r
}

// within: the first success and the last failure both came within d of back.
func (r recovery) within(back, d time.Duration) bool {
	return r.firstOK >= 0 && r.firstOK-back <= d && r.lastBad-back <= d
}

func (r recovery) lastText(back time.Duration, none string) string {
	if r.lastBad < 0 {
		return none
	}
	return fmt.Sprintf("%.2fs after", (r.lastBad - back).Seconds())
}

// table prints per operation: count, each outcome's count, latency
// percentiles (ms) and the rate.
func table(w io.Writer, all []sample, elapsed time.Duration) {
	outcomes := map[int32]bool{}
	for _, s := range all {
		outcomes[s.outcome] = true
	}
	var keys []int
	for k := range outcomes {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	fmt.Fprintf(w, "| op | requests | req/s |")
	for _, k := range keys {
		fmt.Fprintf(w, " %s |", outcomeName(k))
	}
	fmt.Fprintf(w, " p50 ms | p90 ms | p99 ms | max ms |\n|---|---:|---:|")
	for range keys {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintf(w, "---:|---:|---:|---:|\n")
	total := 0
	for op := 0; op < numOps; op++ {
		var lat []time.Duration
		counts := map[int]int{}
		for _, s := range all {
			if int(s.op) == op {
				lat = append(lat, s.end-s.start)
				counts[int(s.outcome)]++
			}
		}
		total += len(lat)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Fprintf(w, "| %s | %d | %.0f |", opNames[op], len(lat), float64(len(lat))/elapsed.Seconds())
		for _, k := range keys {
			fmt.Fprintf(w, " %d |", counts[k])
		}
		fmt.Fprintf(w, " %s | %s | %s | %s |\n", pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), pct(lat, 1))
	}
	fmt.Fprintf(w, "\n%d requests in %.1fs (%.0f req/s).\n", total, elapsed.Seconds(), float64(total)/elapsed.Seconds())
}

func pct(sorted []time.Duration, p float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := int(float64(len(sorted)-1) * p)
	return fmt.Sprintf("%.1f", float64(sorted[i].Microseconds())/1000)
}

func grepPanics(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(bytes.ToLower(b), []byte("panic"))
}
