package mockwx

import (
	"net/http"
	"net/url"
	"strings"
)

// query is a request's raw query string, read the way
// url.ParseQuery(raw).Get would read it: WeChat does not reject a query
// for one bad pair, it reports the parameter it then misses, so pairs
// that do not parse are skipped. It exists because every WeChat call
// reads three or four parameters, and url.ParseQuery builds a map with a
// slice per parameter to answer them (about a tenth of jscode2session's
// own CPU, measured with BenchmarkHandlerVsBare): Get scans the text
// instead, and returns a substring of it unless the value is escaped.
type query string

// maxQueryParams mirrors url.ParseQuery's limit (10,000 parameters, beyond
// which it parses nothing), so both read the same query the same way.
const maxQueryParams = 10_000

func parseQuery(r *http.Request) query { return queryOf(r.URL.RawQuery) }

func queryOf(raw string) query {
	if strings.Count(raw, "&") >= maxQueryParams {
		return ""
	}
	return query(raw)
}

// Get returns the first value of name, "" if there is none.
func (q query) Get(name string) string {
	var v [1]string
	q.gets(v[:], name)
	return v[0]
}

// gets sets dst[i] to what Get(names[i]) would return, in one scan of the
// text (at most 64 names).
func (q query) gets(dst []string, names ...string) {
	var found uint64
	all := uint64(1)<<len(names) - 1
	for rest := string(q); rest != "" && found != all; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, ok := queryUnescape(k)
		if !ok {
			continue
		}
		for i, name := range names { // a name given twice gets the same value
			if found&(1<<i) != 0 || k != name {
				continue
			}
			v, ok := queryUnescape(v)
			if !ok {
				break
			}
			dst[i] = v
			found |= 1 << i
		}
	}
}

// queryUnescape is url.QueryUnescape without its allocation for the usual
// text that has nothing to unescape.
func queryUnescape(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	u, err := url.QueryUnescape(s)
	return u, err == nil
}

// secretParam reports whether a query parameter's value never reaches a
// log line or the journal.
func secretParam(name string) bool {
	for _, p := range [...]string{"secret", "js_code", "access_token", "session_key", "code", "signature"} {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// maxLoggedQuery caps the query a log line shows: a log line is no place
// for a 100 kB query.
const maxLoggedQuery = 512

// redactQuery replaces the values of secret parameters, working on the raw
// text so that a malformed query string is redacted too. It builds the
// result in one buffer: it runs for every request's log line.
func redactQuery(q string) string {
	if q == "" {
		return ""
	}
	q = q[:min(len(q), maxLoggedQuery)]
	var buf [maxLoggedQuery + 64]byte
	b := buf[:0]
	for i, rest := 0, q; ; i++ {
		part, more, found := strings.Cut(rest, "&")
		if i > 0 {
			b = append(b, '&')
		}
		k, _, hasV := strings.Cut(part, "=")
		name, ok := queryUnescape(k)
		if !ok {
			name = k
		}
		if secretParam(name) {
			b = append(b, k...)
			if hasV {
				b = append(b, "=REDACTED"...)
			}
		} else {
			b = append(b, part...)
		}
		if !found {
			break
		}
		rest = more
	}
	return string(b)
}
