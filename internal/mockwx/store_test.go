package mockwx

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestCodeStoreIsBoundedByTheWindow(t *testing.T) {
	ttl := time.Minute
	s := newCodeStore(ttl)
	now := time.Unix(0, 0)
	step := 2 * ttl / 1000 // 1000 codes per 2×ttl window, 500 per generation
	maxLen := 0
	for i := range 200_000 {
		now = now.Add(step)
		if e := s.use(s.key("code", "u."+strconv.Itoa(i)), now); e != 0 {
			t.Fatalf("fresh code %d: errcode %d", i, e)
		}
		maxLen = max(maxLen, s.len())
	}
	// At most three generations of 500: the current one and the two
	// behind it, the oldest dropped once all of it is past 2×ttl.
	if maxLen > 1501 {
		t.Errorf("store held %d codes, the window is 1000 and a generation 500", maxLen)
	}
	if maxLen < 1000 {
		t.Errorf("store held at most %d codes: it forgot some within 2×ttl", maxLen)
	}
}

// TestCodeStoreBoundaries checks every boundary to the nanosecond with an
// injected clock, while other codes make the store open new generations
// in between: the answer comes from the code's own time, not from the
// generation it sits in.
func TestCodeStoreBoundaries(t *testing.T) {
	ttl := time.Minute
	t0 := time.Unix(1_700_000_000, 0)
	for _, churn := range []bool{false, true} {
		s := newCodeStore(ttl)
		n := 0
		at := func(d time.Duration) time.Time {
			if churn {
				// Another login at the same instant: it may rotate.
				n++
				if e := s.use(s.key("code", "other."+strconv.Itoa(n)), t0.Add(d)); e != 0 {
					t.Fatalf("churn code %d: %d", n, e)
				}
			}
			return t0.Add(d)
		}
		k := s.key("code", "alice.1")
		steps := []struct {
			d    time.Duration
			want int
		}{
			{0, 0},
			{ttl / 2, 40163},
			{ttl, 40163},                   // within --code-ttl, inclusive
			{ttl + 1, 40029},               // just after
			{2 * ttl, 40029},               // still remembered at 2×ttl
			{2*ttl + 1, 0},                 // forgotten: a new code
			{2*ttl + 2, 40163},             // used again at once
			{3*ttl + 1, 40163},             // ttl after its new use
			{3*ttl + 2, 40029},             // past it
			{4*ttl + 1, 40029},             // 2×ttl after the new use
			{4*ttl + 2, 0},                 // forgotten again
			{100 * ttl, 0},                 // long after: the store dropped it
			{100*ttl + time.Second, 40163}, // and remembers the new use
		}
		for i, st := range steps {
			if got := s.use(k, at(st.d)); got != st.want {
				t.Errorf("churn %v, step %d (t0+%v): errcode %d, want %d", churn, i, st.d, got, st.want)
			}
		}
	}
}

func TestCodeStoreMintedCodes(t *testing.T) {
	ttl := time.Minute
	t0 := time.Unix(1_700_000_000, 0)
	s := newCodeStore(ttl)
	late, early := s.key("code", "m.late"), s.key("code", "m.early")
	s.mint(late, t0)
	s.mint(early, t0.Add(30*time.Second))
	// A code at t0+ttl opens a new generation: "early" was minted in the
	// old one and is used in the new one.
	if e := s.use(s.key("code", "x.1"), t0.Add(ttl)); e != 0 {
		t.Fatal(e)
	}
	if e := s.use(early, t0.Add(ttl+time.Second)); e != 0 {
		t.Errorf("minted code used within ttl: %d", e)
	}
	if e := s.use(early, t0.Add(ttl+2*time.Second)); e != 40163 {
		t.Errorf("minted code used twice: %d, want 40163 (the new generation's use wins over the old mint)", e)
	}
	if e := s.use(late, t0.Add(ttl+1)); e != 40029 {
		t.Errorf("minted code used after ttl: %d, want 40029", e)
	}
	if e := s.use(late, t0.Add(2*ttl)); e != 40029 {
		t.Errorf("expired minted code, again at 2×ttl: %d, want 40029", e)
	}
	if e := s.use(late, t0.Add(2*ttl+1)); e != 0 {
		t.Errorf("expired minted code once forgotten: %d, want 0 (a new code)", e)
	}
	// A minted code is exactly a used code's namespace: the phone
	// namespace is separate.
	if s.key("code", "m.late") == s.key("phone", "m.late") {
		t.Error("the namespaces share a key")
	}
}

// TestCodeStoreMatchesAModel drives the store and a plain map that never
// forgets anything with the same random uses, mints and clock steps
// (forward, sometimes by many ttls, sometimes back a little), and checks
// every answer.
func TestCodeStoreMatchesAModel(t *testing.T) {
	type entry struct {
		minted bool
		at     int64
	}
	ttl := 10 * time.Second
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 20 {
		s := newCodeStore(ttl)
		model := map[int]entry{}
		now := time.Unix(1_700_000_000, 0)
		for i := range 5000 {
			switch r := rng.IntN(100); {
			case r < 2:
				now = now.Add(time.Duration(rng.IntN(5)) * ttl)
			case r < 3:
				now = now.Add(-time.Duration(rng.IntN(int(time.Second))))
			default:
				now = now.Add(time.Duration(rng.IntN(int(ttl / 4))))
			}
			c := rng.IntN(200)
			k := s.key("code", "u."+strconv.Itoa(c))
			t1 := now.UnixNano()
			m, seen := model[c]
			if seen && t1-m.at > 2*int64(ttl) {
				seen = false // forgotten
			}
			if rng.IntN(10) == 0 {
				s.mint(k, now)
				model[c] = entry{minted: true, at: t1}
				continue
			}
			want := 0
			switch {
			case !seen:
				model[c] = entry{at: t1}
			case m.minted && t1-m.at <= int64(ttl):
				model[c] = entry{at: t1}
			case m.minted || t1-m.at > int64(ttl):
				want = 40029
			default:
				want = 40163
			}
			if got := s.use(k, now); got != want {
				t.Fatalf("run %d, op %d: code %d at %v: errcode %d, want %d (model %+v, seen %v)", run, i, c, now, got, want, m, seen)
			}
		}
	}
}

// BenchmarkCodeStore is the store's cost per fresh code: "first" from an
// empty store, as in a short benchmark run, and "steady" once the clock
// has run long enough that generations open and are dropped (at most 3×
// 100,000 codes held).
func BenchmarkCodeStore(b *testing.B) {
	ttl := time.Minute
	for _, steady := range []bool{false, true} {
		name := map[bool]string{false: "first", true: "steady"}[steady]
		b.Run(name, func(b *testing.B) {
			s := newCodeStore(ttl)
			now := time.Unix(1_700_000_000, 0)
			step := 2 * ttl / 100_000
			if steady {
				for i := range 400_000 {
					now = now.Add(step)
					s.use(s.key("code", "w."+strconv.Itoa(i)), now)
				}
			}
			codes := make([]string, 1<<18)
			for i := range codes {
				codes[i] = "u" + strconv.Itoa(i%1000) + ".b" + strconv.Itoa(i)
			}
			b.ResetTimer()
			for i := range b.N {
				now = now.Add(step)
				// Fresh codes: the same texts in a new round never repeat
				// within the window (262,144 × step > 2×ttl).
				code := codes[i%len(codes)]
				if s.use(s.key("code", code), now) != 0 && !steady {
					b.Fatal("a fresh code was refused")
				}
			}
		})
	}
}
