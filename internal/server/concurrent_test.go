package server

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentRequests drives logins, info requests and metrics from
// many goroutines; run with -race it checks the shared state (limiters,
// metrics, request ids).
func TestConcurrentRequests(t *testing.T) {
	e := newTEnv(t, func(c *Config) { c.LoginRate = 1000 })
	tok := e.login(t, "alice")
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				r := httptest.NewRequest("POST", "/wx/auth/login_by_weixin", strings.NewReader(fmt.Sprintf(`{"code":"u%d.%d"}`, g, i)))
				r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1", g)
				if out := e.serve(r); out.env.Errno != 0 && out.env.Errno != 429 {
					errs <- out.body
				}
				if out := e.do("GET", "/wx/auth/info", tok, ""); out.env.Errno != 0 {
					errs <- out.body
				}
				e.do("GET", "/metrics", "", "")
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Error(s)
	}
}
