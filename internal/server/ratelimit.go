package server

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters hands out one token bucket per key (a client address, a user
// id). The table is bounded: when it is full, a new key evicts the least
// recently used one, so an attacker with many addresses pushes out
// buckets nobody is using, never a real client's new bucket (an earlier
// version put every new key into one shared bucket once full: 10,000
// addresses locked everyone out). A bucket idle for longer than it takes
// to refill is as good as a new one, so idle entries are dropped first
// and memory follows the number of recently active keys.
type limiters[K comparable] struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	idle  time.Duration // refill time of a drained bucket
	max   int           // hard cap on tracked keys
	m     map[K]*limiterEntry[K]
	// head is the most recently used entry, tail the least; the list is
	// circular through a sentinel.
	list limiterEntry[K]
}

type limiterEntry[K comparable] struct {
	key        K
	lim        *rate.Limiter
	seen       time.Time
	prev, next *limiterEntry[K]
}

// newLimiters returns a table of buckets of rate per second and the given
// burst (at least 1), tracking at most max keys.
func newLimiters[K comparable](perSecond float64, burst, max int) *limiters[K] {
	burst = max1(burst)
	l := &limiters[K]{
		rate:  rate.Limit(perSecond),
		burst: burst,
		idle:  time.Duration(float64(burst) / perSecond * float64(time.Second)),
		max:   max1(max),
		m:     map[K]*limiterEntry[K]{},
	}
	l.list.prev, l.list.next = &l.list, &l.list
	return l
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// allow takes one token for key at now; when none is left it returns
// false and how long until one is.
func (l *limiters[K]) allow(key K, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	e := l.m[key]
	if e == nil {
		for old := l.list.prev; old != &l.list && (len(l.m) >= l.max || now.Sub(old.seen) > l.idle); old = l.list.prev {
			l.unlink(old)
			delete(l.m, old.key)
		}
		e = &limiterEntry[K]{key: key, lim: rate.NewLimiter(l.rate, l.burst)}
		l.m[key] = e
	} else {
		l.unlink(e)
	}
	// Most recently used goes first.
	e.prev, e.next = &l.list, l.list.next
	l.list.next.prev = e
	l.list.next = e
	e.seen = now
	lim := e.lim
	l.mu.Unlock()
	return take(lim, now)
}

func (l *limiters[K]) unlink(e *limiterEntry[K]) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func take(lim *rate.Limiter, now time.Time) (bool, time.Duration) {
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *limiters[K]) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// clientKey is the rate-limit key of a client address: an IPv6 client
// by its /64 (one subscriber line or host gets a whole /64 and may use
// any address in it), an IPv4 client by its address.
func clientKey(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		p, err := a.WithZone("").Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}
