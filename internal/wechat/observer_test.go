package wechat_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

// callLog is an Observer that keeps what it is told.
type callLog struct {
	mu    sync.Mutex
	calls []string // "api errcode"
}

func (l *callLog) ObserveWeChatCall(api, errcode string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d < 0 {
		errcode += " negative-duration"
	}
	l.calls = append(l.calls, api+" "+errcode)
}

func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

// TestObserverSeesEveryCallByAPIAndErrcode: each call WeChat answers is
// reported with its errcode, each one it does not answer with why, and
// the label never holds the code, the secret or the session_key.
func TestObserverSeesEveryCallByAPIAndErrcode(t *testing.T) {
	srv := newMock(t, mockwx.Config{AppID: appid, Secret: secret})
	obs := &callLog{}
	// No reused connections: Go's transport silently retries a GET that a
	// reused connection dropped, and the retry would spend the code again.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret, HTTP: hc, Timeout: 300 * time.Millisecond, Observer: obs}
	ctx := context.Background()
	for _, tc := range []struct{ code, want string }{
		{"olga.1", "jscode2session 0"},
		{"olga.1", "jscode2session 40163"},
		{"err-1~olga.2", "jscode2session -1"},
		{"http502~olga.3", "jscode2session http_502"},
		{"garbage~olga.4", "jscode2session malformed"},
		{"drop~olga.5", "jscode2session unreachable"},
		{"slow2000~olga.6", "jscode2session timeout"},
	} {
		_, _ = c.Code2Session(ctx, tc.code)
		if got := obs.take(); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s: observed %q, want %q", tc.code, got, tc.want)
		}
	}
	if _, err := c.PhoneNumber(ctx, "olga.p1", ""); err != nil {
		t.Fatal(err)
	}
	if got, want := obs.take(), []string{"stable_token 0", "getuserphonenumber 0"}; !slices.Equal(got, want) {
		t.Errorf("phone number: observed %q, want %q", got, want)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = c.Code2Session(cctx, "olga.7")
	if got := obs.take(); !slices.Equal(got, []string{"jscode2session canceled"}) {
		t.Errorf("canceled: observed %q", got)
	}
	closed := &wechat.Client{BaseURL: "http://127.0.0.1:1", AppID: appid, Secret: secret, Observer: obs}
	_, _ = closed.Code2Session(ctx, "olga.8")
	if got := obs.take(); !slices.Equal(got, []string{"jscode2session unreachable"}) {
		t.Errorf("closed port: observed %q", got)
	}
}

// TestObserverIsOptional: a Client without one works as before.
func TestObserverIsOptional(t *testing.T) {
	srv := newMock(t, mockwx.Config{AppID: appid, Secret: secret})
	c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret}
	if _, err := c.Code2Session(context.Background(), "pia.1"); err != nil && !strings.Contains(err.Error(), "errcode") {
		t.Fatal(err)
	}
}
