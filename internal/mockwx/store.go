package mockwx

import (
	"encoding/binary"
	"hash/maphash"
	"time"
)

// codeKey identifies a remembered code by a 128-bit hash, so a remembered
// code costs the same memory whatever its length, and the store holds no
// code text. The hash is maphash under two seeds the store draws at start
// (a SHA-256 took about 270 ns a code here, the two maphashes about 20):
// with seeds no client can see, two codes share a key with a chance of
// about n²/2¹²⁹, none in practice.
type codeKey [16]byte

type codeState uint8

const (
	codeMinted codeState = iota + 1 // handed out by /__mock/login, not yet used
	codeUsed
)

// Times are Unix nanoseconds: entries without pointers keep the maps out
// of the garbage collector's scan.
type codeEntry struct {
	state codeState
	at    int64 // when minted or first used
}

// codeGens is how many generations the store keeps, each ttl wide: the
// current one, and two behind it that may still hold codes of the last
// 2×ttl.
const codeGens = 3

// codeStore remembers codes for 2×ttl after they were minted or used, then
// forgets them. Codes go into generations of ttl each; a lookup reads the
// newest generation first, and every answer comes from the entry's own
// time, so forgetting is exact at 2×ttl. Forgetting memory is dropping a
// whole generation's map once all of it is older than 2×ttl: no queue of
// entries, no per-entry delete on the request path, as the store had
// before (BenchmarkCodeStore: 600–1,150 ns a fresh code then, 360–500
// now; it measures from empty and once generations turn over). Memory is
// bounded by the codes of the last 3×ttl at most. It is not safe for
// concurrent use: Server locks around it.
type codeStore struct {
	ttl          int64
	seed1, seed2 maphash.Seed
	gens         [codeGens]codeGen // gens[cur] is the newest
	cur          int
}

type codeGen struct {
	start   int64 // the time of its first code
	last    int64 // the time of its newest code
	entries map[codeKey]codeEntry
}

func newCodeStore(ttl time.Duration) *codeStore {
	return &codeStore{ttl: int64(ttl), seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
}

// key is the key of code in namespace (jscode2session's and
// getuserphonenumber's codes are separate).
func (s *codeStore) key(namespace, code string) codeKey {
	var buf [maxCodeLen + 16]byte
	b := append(buf[:0], namespace...)
	b = append(b, 0)
	b = append(b, code...)
	var k codeKey
	binary.LittleEndian.PutUint64(k[:8], maphash.Bytes(s.seed1, b))
	binary.LittleEndian.PutUint64(k[8:], maphash.Bytes(s.seed2, b))
	return k
}

// use records a use of the code at now and returns the errcode of the
// answer: 0 for a fresh code, 40163 for a reuse within ttl, 40029 for a
// later reuse or a minted code that waited longer than ttl.
func (s *codeStore) use(k codeKey, t time.Time) int {
	now := t.UnixNano()
	s.rotate(now)
	e, ok := s.find(k, now)
	switch {
	case !ok:
		s.put(k, codeEntry{state: codeUsed, at: now})
		return 0
	case e.state == codeMinted:
		if now-e.at > s.ttl {
			return 40029
		}
		s.put(k, codeEntry{state: codeUsed, at: now})
		return 0
	case now-e.at <= s.ttl:
		return 40163
	default:
		return 40029
	}
}

// mint records a code handed out by /__mock/login.
func (s *codeStore) mint(k codeKey, t time.Time) {
	now := t.UnixNano()
	s.rotate(now)
	s.put(k, codeEntry{state: codeMinted, at: now})
}

// find returns the newest entry of k that is not older than 2×ttl. A code
// minted in one generation and used in a later one has an entry in both:
// the newer one is the truth.
func (s *codeStore) find(k codeKey, now int64) (codeEntry, bool) {
	for i := range codeGens {
		g := &s.gens[(s.cur+codeGens-i)%codeGens]
		if e, ok := g.entries[k]; ok {
			return e, now-e.at <= 2*s.ttl
		}
	}
	return codeEntry{}, false
}

func (s *codeStore) put(k codeKey, e codeEntry) {
	g := &s.gens[s.cur]
	if g.entries == nil {
		g.entries = make(map[codeKey]codeEntry)
		g.start = e.at
	}
	g.entries[k] = e
	g.last = max(g.last, e.at)
}

// rotate opens a new generation once the current one is ttl old, and
// drops every generation whose codes are all older than 2×ttl. The new
// map is sized like the one it follows, so a steady rate of logins does
// not grow maps on the request path.
func (s *codeStore) rotate(now int64) {
	if g := &s.gens[s.cur]; g.entries != nil && now-g.start >= s.ttl {
		size := len(g.entries)
		s.cur = (s.cur + 1) % codeGens
		s.gens[s.cur] = codeGen{start: now, last: now, entries: make(map[codeKey]codeEntry, size)}
	}
	for i := 1; i < codeGens; i++ {
		if g := &s.gens[(s.cur+i)%codeGens]; g.entries != nil && now-g.last > 2*s.ttl {
			*g = codeGen{} // its newest code is forgotten, and so are all the others
		}
	}
}

// len is how many codes the store holds, forgotten ones included until
// their generation is dropped.
func (s *codeStore) len() int {
	n := 0
	for _, g := range s.gens {
		n += len(g.entries)
	}
	return n
}
