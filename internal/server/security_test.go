package server

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/api"
)

// loginFrom sends a login through the trusted proxy 10.0.0.1 with the
// given X-Forwarded-For.
func (e *tEnv) loginFrom(xff, code string) resp {
	r := httptest.NewRequest("POST", "/wx/auth/login_by_weixin", strings.NewReader(`{"code":"`+code+`"}`))
	r.RemoteAddr = "10.0.0.1:40000"
	r.Header.Set("X-Forwarded-For", xff)
	return e.serve(r)
}

// TestLimiterFloodDoesNotLockOutNewClient is the finding "a full limiter
// table puts every new address in one shared bucket": 10,000 distinct
// addresses, each draining its own bucket, pass through a table of 1,000;
// a real client's first login afterwards is let in, and the flooders that
// are still recent stay refused.
func TestLimiterFloodDoesNotLockOutNewClient(t *testing.T) {
	defer func(n int) { maxLimiters = n }(maxLimiters)
	maxLimiters = 1000
	e := newTEnv(t, func(c *Config) { c.LoginRate = 1 })
	for i := range 10_000 {
		xff := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}).String()
		for range 3 { // burst 2, then refused
			e.loginFrom(xff, "")
		}
	}
	if r := e.loginFrom("203.0.113.50", "real.1"); r.env.Errno != 0 {
		t.Fatalf("a fresh client's first login after 10,000 flooding addresses: %s", r.body)
	}
	if r := e.loginFrom(netip.AddrFrom4([4]byte{198, 18, 39, 15}).String(), ""); r.env.Errno != 429 {
		t.Errorf("the most recent flooder is no longer limited: %s", r.body)
	}
	e.svc.Logger.Info("done") // the logger must not have been given any code
	if strings.Contains(e.log.String(), "real.1") {
		t.Error("a login code reached the log")
	}
}

func TestLimiterLRU(t *testing.T) {
	l := newLimiters[netip.Addr](1, 2, 3)
	now := time.Unix(1_700_000_000, 0)
	a := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, i}) }
	for i := byte(1); i <= 3; i++ {
		l.allow(a(i), now)
		l.allow(a(i), now)
	}
	// 1 was used again: 2 is now the least recently used.
	if ok, _ := l.allow(a(1), now); ok {
		t.Fatal("a drained bucket let a request through")
	}
	if ok, _ := l.allow(a(4), now); !ok {
		t.Fatal("a new key refused while the table was full")
	}
	if l.size() != 3 {
		t.Fatalf("size %d, cap 3", l.size())
	}
	// 1 and 3 kept their drained buckets; 2 was evicted and starts afresh.
	if ok, _ := l.allow(a(3), now); ok {
		t.Error("3 was evicted instead of the least recently used")
	}
	// Idle entries go first, whatever the cap: after their refill time a
	// new key finds the table emptied of them.
	later := now.Add(time.Hour)
	l.allow(a(9), later)
	if l.size() != 1 {
		t.Errorf("size %d after an idle hour, want 1", l.size())
	}
}

// TestLoginLimitKeysIPv6By64 is the finding "IPv6 clients rotate through
// their /64 freely": two addresses of one /64 share a bucket; another /64
// has its own.
func TestLoginLimitKeysIPv6By64(t *testing.T) {
	e := newTEnv(t, func(c *Config) { c.LoginRate = 1 })
	for i, xff := range []string{"2001:db8:1:2::1", "[2001:db8:1:2:ffff:ffff:ffff:fffe]:443"} {
		if r := e.loginFrom(xff, fmt.Sprintf("v6.%d", i)); r.env.Errno != 0 {
			t.Fatalf("login %d: %s", i, r.body)
		}
	}
	r := e.loginFrom("2001:db8:1:2:abcd::9", "v6.3")
	if r.env.Errno != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("a third address of the same /64: %s, want 429 with Retry-After", r.body)
	}
	if r := e.loginFrom("2001:db8:1:3::1", "v6.4"); r.env.Errno != 0 {
		t.Errorf("another /64 shares the bucket: %s", r.body)
	}
	for in, want := range map[string]string{
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::", "::ffff:192.0.2.1": "::ffff:192.0.2.1", "192.0.2.1": "192.0.2.1",
		"fe80::1%eth0": "fe80::",
	} {
		if got := clientKey(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("clientKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestForwardedForWithPorts is the finding "behind a proxy that writes
// X-Forwarded-For: 203.0.113.7:5000, every client falls back to the
// proxy's address and all users share one bucket": with ports, each
// client is itself: two ports of one client share its bucket, another
// client does not, and the log names the client without the port.
func TestForwardedForWithPorts(t *testing.T) {
	e := newTEnv(t, func(c *Config) { c.LoginRate = 1 })
	e.loginFrom("203.0.113.7:5000", "p.1")
	e.loginFrom("203.0.113.7:5001", "p.2")
	if r := e.loginFrom("203.0.113.7:5002", "p.3"); r.env.Errno != 429 {
		t.Fatalf("the same client on a third port: %s, want 429", r.body)
	}
	if r := e.loginFrom("203.0.113.8:5000", "q.1"); r.env.Errno != 0 {
		t.Fatalf("another client behind the proxy: %s", r.body)
	}
	if r := e.loginFrom("[2001:db8::1]:443", "r.1"); r.env.Errno != 0 {
		t.Fatalf("an IPv6 client with a port: %s", r.body)
	}
	log := e.log.String()
	if !strings.Contains(log, `"ip":"203.0.113.8"`) || !strings.Contains(log, `"ip":"2001:db8::1"`) || strings.Contains(log, `"ip":"10.0.0.1"`) {
		t.Errorf("log does not name the clients: %s", log)
	}
}

// TestPerUserUploadAndBindPhoneLimits: --upload-rate and --bind-phone-rate
// count per user and per minute (burst that many), answer 429 with
// Retry-After before the body is read, and leave other users alone. The
// refused upload stored nothing.
func TestPerUserUploadAndBindPhoneLimits(t *testing.T) {
	e := newTEnv(t, func(c *Config) { c.UploadRate = 3; c.BindPhoneRate = 2 })
	alice, bob := e.login(t, "alice.1"), e.login(t, "bob.1")
	upload := func(tok string) resp {
		body, ct := multipartBody(t, "file", testPNG())
		r := httptest.NewRequest("POST", "/wx/storage/upload", body)
		r.Header.Set("Content-Type", ct)
		r.Header.Set(api.TokenHeader, tok)
		return e.serve(r)
	}
	for i := range 3 {
		if r := upload(alice); r.env.Errno != 0 {
			t.Fatalf("upload %d: %s", i, r.body)
		}
	}
	files := func() int {
		ents, err := os.ReadDir(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := files()
	body := &readCounter{}
	r := httptest.NewRequest("POST", "/wx/storage/upload", body)
	r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	r.Header.Set(api.TokenHeader, alice)
	got := e.serve(r)
	if got.env.Errno != 429 || got.header.Get("Retry-After") != "20" || body.n != 0 {
		t.Fatalf("4th upload in a minute: %s, Retry-After %q, body read %d times", got.body, got.header.Get("Retry-After"), body.n)
	}
	if files() != before {
		t.Fatal("a refused upload left a file")
	}
	if r := upload(bob); r.env.Errno != 0 {
		t.Fatalf("bob limited by alice's uploads: %s", r.body)
	}
	e.clock.Add(20 * time.Second)
	if r := upload(alice); r.env.Errno != 0 {
		t.Fatalf("after Retry-After: %s", r.body)
	}

	// Each their own number: a number of another live account is 705.
	e.wx.Phones = map[string]string{"bob": "13900139000"}
	bind := func(tok, code string) resp { return e.do("POST", "/wx/auth/bindPhone", tok, `{"code":"`+code+`"}`) }
	for i := range 2 {
		if r := bind(alice, fmt.Sprintf("alice.p%d", i)); r.env.Errno != 0 {
			t.Fatalf("bindPhone %d: %s", i, r.body)
		}
	}
	calls := e.wx.Calls
	if r := bind(alice, "alice.p9"); r.env.Errno != 429 || r.header.Get("Retry-After") != "30" {
		t.Fatalf("3rd bindPhone in a minute: %s %v", r.body, r.header)
	}
	if e.wx.Calls != calls {
		t.Error("a rate-limited bindPhone called WeChat")
	}
	if r := bind(bob, "bob.p1"); r.env.Errno != 0 {
		t.Fatalf("bob limited by alice: %s", r.body)
	}
}
