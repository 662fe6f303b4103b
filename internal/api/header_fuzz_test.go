package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/api"
	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/auth/authtest"
	"github.com/oactl/oactl/internal/wechat"
)

// fuzzEnvelope decodes an envelope answer or fails the fuzz case.
func fuzzEnvelope(t *testing.T, rec *httptest.ResponseRecorder) int {
	t.Helper()
	if rec.Code != 200 {
		t.Fatalf("HTTP %d: %q", rec.Code, rec.Body)
	}
	var env struct {
		Errno  *int             `json:"errno"`
		Errmsg string           `json:"errmsg"`
		Data   *json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Errno == nil || env.Errmsg == "" || env.Data == nil {
		t.Fatalf("not an envelope: %q", rec.Body)
	}
	return *env.Errno
}

// FuzzTokenHeader: whatever X-OA-Token holds, /wx/auth/info answers an
// envelope, and only the token a login issued gets errno 0. Header values
// are whatever a client sends, so this is the parser most exposed to the
// network after the login body.
func FuzzTokenHeader(f *testing.F) {
	e := newHEnv(f)
	good := e.loginToken(f, "fuzzer.1")
	for _, s := range []string{
		good, "", " ", good + " ", " " + good, good[:42], good + "A", strings.ToUpper(good),
		strings.Repeat("A", 43), strings.Repeat("%", 43), "Bearer " + good, "\x00" + good[1:],
		strings.Repeat("é", 22), strings.Repeat("A", 4096),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		req := httptest.NewRequest("GET", "/wx/auth/info", nil)
		// Header.Set would keep bytes net/http refuses on the wire; the
		// handler must cope with whatever reaches it either way.
		req.Header[http.CanonicalHeaderKey(api.TokenHeader)] = []string{token}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		errno := fuzzEnvelope(t, rec)
		switch {
		case token == good && errno != 0:
			t.Fatalf("the issued token answered errno %d", errno)
		case token != good && errno != 501:
			t.Fatalf("token %q answered errno %d, want 501", token, errno)
		}
		if token != "" && len(token) > 8 && strings.Contains(rec.Body.String(), token) {
			t.Fatalf("the token is echoed in the answer")
		}
	})
}

// realKeyWeChat is authtest's fake WeChat with a session key that is a
// real 16-byte AES key, so the encryptedData path reaches the decryption.
type realKeyWeChat struct {
	*authtest.WeChat
	key string
}

func (w realKeyWeChat) Code2Session(ctx context.Context, code string) (wechat.SessionInfo, error) {
	si, err := w.WeChat.Code2Session(ctx, code)
	si.SessionKey = w.key
	return si, err
}

// FuzzBindPhoneBody: any body to /wx/auth/bindPhone, from a logged-in user
// whose session key is real, answers an envelope with a documented errno;
// the seeds include a well-formed encryptedData/iv pair so the fuzzer
// mutates ciphertext that decrypts.
func FuzzBindPhoneBody(f *testing.F) {
	const appid = "wxAPP"
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	store := authtest.NewStore()
	wx := realKeyWeChat{WeChat: &authtest.WeChat{AppID: appid}, key: key}
	svc := &auth.Service{Store: store, WeChat: wx, AppID: appid, Now: func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }}
	h := api.NewHandler(svc, api.Options{TimeZone: time.UTC})
	res, err := svc.Login(context.Background(), auth.LoginInput{Code: "phone.1", IP: "192.0.2.1"})
	if err != nil {
		f.Fatal(err)
	}
	plain := `{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":"86","watermark":{"appid":"wxAPP","timestamp":1735787045}}`
	data, iv, err := wechat.Encrypt(key, []byte(plain), bytes.NewReader(bytes.Repeat([]byte{1}, 16)))
	if err != nil {
		f.Fatal(err)
	}
	otherData, otherIV, err := wechat.Encrypt(key, []byte(`{"phoneNumber":"1","watermark":{"appid":"wxOTHER"}}`), bytes.NewReader(bytes.Repeat([]byte{2}, 16)))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"encryptedData":"` + data + `","iv":"` + iv + `"}`,
		`{"encryptedData":"` + otherData + `","iv":"` + otherIV + `"}`,
		`{"encryptedData":"` + data + `"}`, `{"iv":"` + iv + `"}`,
		`{"code":"phone.2"}`, `{"code":""}`, `{"code":7}`, `{}`, ``, `null`, `[]`,
		`{"encryptedData":"!!!","iv":"AAAAAAAAAAAAAAAAAAAAAA=="}`, `{"encryptedData":"","iv":""}`,
		"{\"code\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/wx/auth/bindPhone", bytes.NewReader(body))
		req.Header.Set(api.TokenHeader, res.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch errno := fuzzEnvelope(t, rec); errno {
		case 0, -1, 401, 402, 502, 505:
		default:
			t.Fatalf("errno %d for %q", errno, body)
		}
		if strings.Contains(rec.Body.String(), key) {
			t.Fatal("the session key is in the answer")
		}
	})
}

// FuzzClientAddr: whatever X-Forwarded-For and the peer hold, ClientAddr
// never panics, and its answer is the peer or an address the header named
// (with or without a port), never a zoned or IPv4-mapped form.
func FuzzClientAddr(f *testing.F) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, s := range [][2]string{
		{"10.0.0.1:1234", "203.0.113.7"}, {"10.0.0.1:1", "203.0.113.7, 10.0.0.2"}, {"[::1]:80", "::ffff:1.2.3.4"},
		{"192.0.2.1:5", "1.1.1.1"}, {"garbage", "x"}, {"10.0.0.1:1", ",,,"}, {"10.0.0.1:1", "fe80::1%eth0"},
		{"10.0.0.1:1", "203.0.113.7:5000"}, {"10.0.0.1:1", "[2001:db8::1]:443"}, {"[::1]:80", "[2001:db8::1], 10.0.0.3:1"},
		{"10.0.0.1:1", "[::ffff:1.2.3.4]:80"}, {"10.0.0.1:1", "1.2.3.4:65536"}, {"10.0.0.1:1", "[1.2.3.4]:80"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header["X-Forwarded-For"] = []string{xff}
		a := api.ClientAddr(r, trusted)
		p := api.PeerAddr(r)
		if a == p {
			return
		}
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("ClientAddr %v from X-Forwarded-For %q", a, xff)
		}
		// Unmapping, zone and port removal and re-formatting change the
		// text: compare as parsed entries, each read independently.
		found := false
		for _, part := range strings.Split(xff, ",") {
			s := strings.TrimSpace(part)
			if b, err := netip.ParseAddr(s); err == nil && b.WithZone("").Unmap() == a {
				found = true
			}
			if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().WithZone("").Unmap() == a {
				found = true
			}
			if b, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil && b.Is6() && b.WithZone("").Unmap() == a {
				found = true
			}
		}
		if !found {
			t.Fatalf("ClientAddr %v is neither the peer %v nor in X-Forwarded-For %q", a, p, xff)
		}
	})
}

// FuzzForwardedAddr: one X-Forwarded-For entry parses to a zone-free,
// unmapped address exactly when it is an address, an address with a port
// or a bracketed IPv6 address (spaces around allowed); the answer is that
// entry's address.
func FuzzForwardedAddr(f *testing.F) {
	for _, s := range []string{
		"203.0.113.7", "203.0.113.7:5000", "[2001:db8::1]:443", "[2001:db8::1]", "2001:db8::1", " 1.2.3.4 ",
		"::ffff:1.2.3.4", "[::ffff:1.2.3.4]:1", "fe80::1%eth0", "[fe80::1%eth0]:80", "1.2.3.4:", "1.2.3.4:65536",
		"[1.2.3.4]", "[1.2.3.4]:80", "[]", "[", "unknown", "", "01.2.3.4", "1.2.3.4:080",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := api.ParseForwardedAddr(s)
		trimmed := strings.TrimSpace(s)
		var want netip.Addr
		if b, err := netip.ParseAddr(trimmed); err == nil {
			want = b
		} else if ap, err := netip.ParseAddrPort(trimmed); err == nil {
			want = ap.Addr()
		} else if len(trimmed) > 2 && trimmed[0] == '[' && trimmed[len(trimmed)-1] == ']' {
			if b, err := netip.ParseAddr(trimmed[1 : len(trimmed)-1]); err == nil && b.Is6() {
				want = b
			}
		}
		want = want.WithZone("").Unmap()
		if ok != want.IsValid() || ok && a != want {
			t.Fatalf("ParseForwardedAddr(%q) = %v, %v; want %v", s, a, ok, want)
		}
		if ok && (a.Zone() != "" || a.Is4In6()) {
			t.Fatalf("ParseForwardedAddr(%q) = %v: zoned or mapped", s, a)
		}
	})
}
