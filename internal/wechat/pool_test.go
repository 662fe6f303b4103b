package wechat_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

// TestDefaultClientReusesConnections: concurrent logins reuse the
// connections of the ones before instead of dialling each time (with
// net/http's default of 2 idle connections per host, every round after
// the first would dial about 30 new ones).
func TestDefaultClientReusesConnections(t *testing.T) {
	const callers, rounds = 32, 5
	var dialled atomic.Int64
	mock := mockwx.New(mockwx.Config{AppID: appid, Secret: secret})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Long enough that the callers of a round overlap.
		time.Sleep(5 * time.Millisecond)
		mock.ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := &wechat.Client{BaseURL: srv.URL, AppID: appid, Secret: secret}
	for r := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Code2Session(context.Background(), fmt.Sprintf("pool%d.%d", i, r))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := dialled.Load(); n > callers+callers/4 {
		t.Errorf("%d connections dialled for %d rounds of %d concurrent calls: the idle ones were not kept", n, rounds, callers)
	}
}
