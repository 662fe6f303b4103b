package server

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters hands out one token bucket per client address. A bucket idle
// for longer than it takes to refill is indistinguishable from a new one,
// so it is evicted: memory follows the number of recently active clients.
type limiters struct {
	mu        sync.Mutex
	rate      rate.Limit
	burst     int
	idle      time.Duration // refill time of a drained bucket
	max       int           // hard cap on tracked addresses
	m         map[netip.Addr]*limiterEntry
	lastSweep time.Time
	overflow  *rate.Limiter // shared by new addresses while the map is full
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(perSecond float64, max int) *limiters {
	burst := int(2 * perSecond)
	if burst < 1 {
		burst = 1
	}
	idle := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &limiters{
		rate:     rate.Limit(perSecond),
		burst:    burst,
		idle:     idle,
		max:      max,
		m:        map[netip.Addr]*limiterEntry{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// allow takes one token for addr at now; when none is left it returns
// false and how long until one is.
func (l *limiters) allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	e := l.m[addr]
	if e == nil {
		if len(l.m) >= l.max/2 && now.Sub(l.lastSweep) >= time.Second {
			l.sweep(now)
		}
		if len(l.m) >= l.max {
			lim := l.overflow
			l.mu.Unlock()
			return take(lim, now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(l.rate, l.burst)}
		l.m[addr] = e
	}
	e.seen = now
	lim := e.lim
	l.mu.Unlock()
	return take(lim, now)
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

func (l *limiters) sweep(now time.Time) {
	l.lastSweep = now
	for a, e := range l.m {
		if now.Sub(e.seen) > l.idle {
			delete(l.m, a)
		}
	}
}

func (l *limiters) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
