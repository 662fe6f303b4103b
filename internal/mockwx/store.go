package mockwx

import (
	"crypto/sha256"
	"time"
)

// codeKey identifies a remembered code by a hash, so a remembered code
// costs the same memory whatever its length, and the store holds no code
// text.
type codeKey [16]byte

func keyOf(namespace, appid, code string) codeKey {
	var buf [256]byte
	b := append(buf[:0], namespace...)
	b = append(b, 0)
	b = append(b, appid...)
	b = append(b, 0)
	b = append(b, code...)
	sum := sha256.Sum256(b)
	var k codeKey
	copy(k[:], sum[:])
	return k
}

type codeState uint8

const (
	codeMinted codeState = iota + 1 // handed out by /__mock/login, not yet used
	codeUsed
)

// Times are Unix nanoseconds: entries without pointers keep the map and
// the queue out of the garbage collector's scan.
type codeEntry struct {
	state codeState
	at    int64 // when minted or first used
}

type queued struct {
	key codeKey
	at  int64
}

// codeStore remembers codes for 2×ttl after they were minted or used, then
// forgets them. Entries are queued in time order, so forgetting is a pop
// from the front and memory is bounded by the number of codes seen in the
// last 2×ttl. It is not safe for concurrent use: Server locks around it.
type codeStore struct {
	ttl     time.Duration
	entries map[codeKey]codeEntry
	queue   []queued
	head    int
}

func newCodeStore(ttl time.Duration) *codeStore {
	return &codeStore{ttl: ttl, entries: make(map[codeKey]codeEntry)}
}

// use records a use of the code at now and returns the errcode of the
// answer: 0 for a fresh code, 40163 for a reuse within ttl, 40029 for a
// later reuse or a minted code that waited longer than ttl.
func (s *codeStore) use(k codeKey, t time.Time) int {
	now := t.UnixNano()
	s.expire(now)
	e, ok := s.entries[k]
	switch {
	case !ok:
		s.put(k, codeEntry{state: codeUsed, at: now})
		return 0
	case e.state == codeMinted:
		if now-e.at > int64(s.ttl) {
			return 40029
		}
		s.put(k, codeEntry{state: codeUsed, at: now})
		return 0
	case now-e.at <= int64(s.ttl):
		return 40163
	default:
		return 40029
	}
}

// mint records a code handed out by /__mock/login.
func (s *codeStore) mint(k codeKey, t time.Time) {
	now := t.UnixNano()
	s.expire(now)
	s.put(k, codeEntry{state: codeMinted, at: now})
}

func (s *codeStore) put(k codeKey, e codeEntry) {
	s.entries[k] = e
	s.queue = append(s.queue, queued{key: k, at: e.at})
}

// expire forgets codes older than 2×ttl. A queue item whose entry was
// re-stamped later (a minted code that got used) is skipped: the newer
// queue item owns the entry.
func (s *codeStore) expire(now int64) {
	limit := now - 2*int64(s.ttl)
	for s.head < len(s.queue) {
		q := s.queue[s.head]
		if q.at >= limit {
			break
		}
		if e, ok := s.entries[q.key]; ok && e.at == q.at {
			delete(s.entries, q.key)
		}
		s.queue[s.head] = queued{}
		s.head++
	}
	// Compact once the dead prefix dominates, so the slice does not grow
	// forever; amortised O(1) per code.
	if s.head > 1024 && s.head*2 > len(s.queue) {
		n := copy(s.queue, s.queue[s.head:])
		clear(s.queue[n:])
		s.queue = s.queue[:n]
		s.head = 0
		if cap(s.queue) > 4*n+1024 {
			s.queue = append(make([]queued, 0, 2*n+1024), s.queue...)
		}
	}
	if len(s.entries) == 0 && len(s.queue) > s.head {
		// Nothing live: drop stale queue items at once.
		s.queue, s.head = s.queue[:0], 0
	}
}

func (s *codeStore) len() int { return len(s.entries) }
