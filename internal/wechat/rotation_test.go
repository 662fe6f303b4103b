package wechat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/testutil"
	"github.com/oactl/oactl/internal/wechat"
)

// mockCalls asks mockwx how often api was called (GET /__mock/calls).
func mockCalls(t *testing.T, base, query string) int {
	t.Helper()
	resp, err := http.Get(base + "/__mock/calls?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		Count    int  `json:"count"`
		Complete bool `json:"complete"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != 200 || !c.Complete {
		t.Fatalf("calls?%s: %d %+v %v", query, resp.StatusCode, c, err)
	}
	return c.Count
}

// TestAccessTokenRotationAgainstMockwx runs two serve replicas' clients
// through four hours of a real mockwx (one injected clock for all): the
// stable token rotates in its last 5 minutes while the old one keeps
// working, a third party's force_refresh invalidates the cached token at
// once, and no call fails.
func TestAccessTokenRotationAgainstMockwx(t *testing.T) {
	clk := testutil.NewClock()
	srv := newMock(t, mockwx.Config{AppID: appid, Secret: secret, Now: clk.Now})
	replicas := []*wechat.Client{
		{BaseURL: srv.URL, AppID: appid, Secret: secret, Now: clk.Now},
		{BaseURL: srv.URL, AppID: appid, Secret: secret, Now: clk.Now},
	}
	ctx := context.Background()
	const step = 50 * time.Second
	start := clk.Now()
	n := 0
	for i := 0; i < int(4*time.Hour/step); i++ {
		if i == int(150*time.Minute/step) {
			resp, err := http.Post(srv.URL+"/cgi-bin/stable_token", "application/json", strings.NewReader(
				`{"grant_type":"client_credential","appid":"`+appid+`","secret":"`+secret+`","force_refresh":true}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		for r, c := range replicas {
			// The second replica starts late: its refresh margin is then a
			// tenth of a shorter expires_in, so it keeps using the old token
			// after the first one got the new token, inside the overlap.
			if r == 1 && clk.Now().Before(start.Add(5000*time.Second)) {
				continue
			}
			n++
			if _, err := c.PhoneNumber(ctx, "erin.p"+strconv.Itoa(n), ""); err != nil {
				t.Fatalf("replica %d at %v: %v", r, clk.Now(), err)
			}
		}
		clk.Add(step)
	}
	// Each replica fetches at start, about every 6900 s, and once after the
	// forced refresh: a handful, not one per call.
	if got := mockCalls(t, srv.URL, "api=stable_token"); got < 4 || got > 12 {
		t.Errorf("stable_token called %d times for %d phone numbers", got, n)
	}
	if got := mockCalls(t, srv.URL, "api=getuserphonenumber&user=erin"); got < n {
		t.Errorf("getuserphonenumber called %d times for %d numbers", got, n)
	}
}

// TestCode2SessionCallsWeChatOnce: one jscode2session per login, as the
// calls count of mockwx shows.
func TestCode2SessionCallsWeChatOnce(t *testing.T) {
	srv := newMock(t, mockwx.Config{AppID: appid, Secret: secret, JournalSize: 50})
	c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret}
	for i := range 3 {
		if _, err := c.Code2Session(context.Background(), "fay."+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Code2Session(context.Background(), "err40226~gus.1"); err == nil {
		t.Fatal("a blocked login succeeded")
	}
	if got := mockCalls(t, srv.URL, "api=jscode2session&user=fay"); got != 3 {
		t.Errorf("jscode2session called %d times for 3 logins of fay", got)
	}
	if got := mockCalls(t, srv.URL, "api=jscode2session&user=gus"); got != 1 {
		t.Errorf("jscode2session called %d times for 1 failed login of gus (no retry)", got)
	}
}
