package mockwx

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// queryCases are raw queries where a hand-written reader could part from
// url.ParseQuery: escapes, repeats, semicolons, empty pairs, bad escapes.
var queryCases = []string{
	"",
	"appid=wx1&secret=s&js_code=alice.1&grant_type=authorization_code",
	"js_code=a%2Eb&appid=wx%31",
	"js%5Fcode=escaped-key",
	"appid=first&appid=second",
	"appid=%zz&appid=second",   // a bad first value is skipped, the second counts
	"app%zzid=x&appid=y",       // a bad key is skipped
	"appid=a;b&appid=c",        // a semicolon drops the pair
	"appid;x=1",                // in the key too
	"&&appid=x&&",              // empty pairs
	"=v&appid",                 // empty key; a key without "="
	"appid=a+b&secret=%20",     // "+" is a space
	"appid=&appid=x",           // an empty value is a value
	"js_code=alice.1&js_code=", // the first wins
	"APPID=x",                  // names are case-sensitive
	strings.Repeat("x=1&", maxQueryParams) + "appid=over-the-limit",
	strings.Repeat("x=1&", maxQueryParams-2) + "appid=at-the-limit",
}

var queryNames = []string{"appid", "secret", "js_code", "grant_type", "js code", "APPID", "", "x"}

// readsAsParseQuery reports the first name that Get, or gets of all the
// names in one scan (as jscode2session reads its four), reads otherwise
// than url.ParseQuery(raw).Get.
func readsAsParseQuery(raw string, names []string) error {
	want, _ := url.ParseQuery(raw)
	q := queryOf(raw)
	got := make([]string, len(names))
	q.gets(got, names...)
	for i, name := range names {
		if g := q.Get(name); g != want.Get(name) {
			return fmt.Errorf("query %.60q: Get(%q) = %q, url.ParseQuery says %q", raw, name, g, want.Get(name))
		}
		if got[i] != want.Get(name) {
			return fmt.Errorf("query %.60q: gets(%q) = %q, url.ParseQuery says %q", raw, name, got[i], want.Get(name))
		}
	}
	return nil
}

func TestQueryGetReadsAsParseQuery(t *testing.T) {
	for _, raw := range queryCases {
		if err := readsAsParseQuery(raw, queryNames); err != nil {
			t.Error(err)
		}
	}
}

func FuzzQueryGet(f *testing.F) {
	for _, raw := range queryCases[:len(queryCases)-2] {
		f.Add(raw, "appid")
	}
	f.Fuzz(func(t *testing.T, raw, name string) {
		if err := readsAsParseQuery(raw, append(queryNames, name)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRedactQuery(t *testing.T) {
	cases := map[string]string{
		"": "",
		"appid=wx1&secret=s3&js_code=alice.1&grant_type=authorization_code": "appid=wx1&secret=REDACTED&js_code=REDACTED&grant_type=authorization_code",
		"access_token=t&openid=o&signature=sig&sig_method=hmac_sha256":      "access_token=REDACTED&openid=o&signature=REDACTED&sig_method=hmac_sha256",
		"JS_CODE=x&Secret=y&session_key=k&code=c":                           "JS_CODE=REDACTED&Secret=REDACTED&session_key=REDACTED&code=REDACTED",
		"js%5Fcode=escaped&se%63ret=too":                                    "js%5Fcode=REDACTED&se%63ret=REDACTED",
		"secret&code":                                                       "secret&code",
		"%zz=1&code=x;y&&":                                                  "%zz=1&code=REDACTED&&",
		"a=1&a=2":                                                           "a=1&a=2",
	}
	for in, want := range cases {
		if got := redactQuery(in); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("a=1&", 200) + "code=secretvalue"
	if got := redactQuery(long); len(got) != maxLoggedQuery || strings.Contains(got, "secretvalue") {
		t.Errorf("a long query: %d bytes, %q", len(got), got[len(got)-20:])
	}
	// Growing past the stack buffer (every short value becomes REDACTED).
	grow := strings.Repeat("code=&", maxLoggedQuery/6)
	if got, want := redactQuery(grow), strings.Repeat("code=REDACTED&", maxLoggedQuery/6); !strings.HasPrefix(want, got[:len(got)-1]) || len(got) < 2*maxLoggedQuery {
		t.Errorf("a growing query: %d bytes", len(got))
	}
}

// FuzzRedactQuery checks that no value of a secret parameter survives,
// however the query is malformed: every pair whose (unescaped, any case)
// key is secret shows REDACTED as its value.
func FuzzRedactQuery(f *testing.F) {
	f.Add("appid=wx1&secret=s3&js_code=alice.1")
	f.Add("%zz=1&CODE=x;y&&")
	f.Fuzz(func(t *testing.T, q string) {
		got := redactQuery(q)
		in := strings.Split(q[:min(len(q), maxLoggedQuery)], "&")
		out := strings.Split(got, "&")
		if len(in) != len(out) {
			t.Fatalf("redactQuery(%q) = %q: %d pairs, want %d", q, got, len(out), len(in))
		}
		for i, pair := range in {
			k, _, hasV := strings.Cut(pair, "=")
			name := k
			if u, err := url.QueryUnescape(k); err == nil {
				name = u
			}
			secret := utf8.ValidString(name) && slices.Contains([]string{"secret", "js_code", "access_token", "session_key", "code", "signature"}, strings.ToLower(name))
			switch {
			case secret && hasV && out[i] != k+"=REDACTED":
				t.Fatalf("redactQuery(%q): pair %q became %q", q, pair, out[i])
			case !secret && out[i] != pair && out[i] != k+"=REDACTED" && out[i] != k:
				t.Fatalf("redactQuery(%q): pair %q became %q", q, pair, out[i])
			}
		}
	})
}
