package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Listen opens a TCP listener on addr. setting names where the address
// came from (a flag such as "--addr", or OA_ADDR, or a file's key), so
// that "address already in use" tells the user what to change.
func Listen(addr, setting string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s %s: address already in use (another process listens there): stop it or choose another address", setting, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", setting, addr, err)
	}
	return ln, nil
}

// Job is work that runs beside a server and stops with it, such as serve's
// purge of expired sessions: Run is called at once, then every Every,
// until the server stops. Run gets a context that ends when it does and
// logs its own outcome.
type Job struct {
	Every time.Duration
	Run   func(ctx context.Context)
}

// DefaultWriteTimeout bounds an answer unless Lifecycle says otherwise. A
// slow client must not hold a connection forever; uploads are at most
// 2 MiB, which a phone sends well within the server's bounds.
const DefaultWriteTimeout = 60 * time.Second

// Lifecycle serves one listener until its context ends, then stops
// gracefully: in-flight requests get ShutdownTimeout to finish, and the
// jobs are stopped and waited for before Serve returns.
type Lifecycle struct {
	Logger *slog.Logger // nil: slog.Default()
	// ShutdownTimeout bounds the graceful stop (serve's --shutdown-timeout);
	// 0 stops at once.
	ShutdownTimeout time.Duration
	// WriteTimeout bounds one answer; 0 means DefaultWriteTimeout. mockwx
	// takes longer, because a slow~ directive may hold an answer for 60s.
	WriteTimeout time.Duration
	// CutAtShutdown: requests still running when ShutdownTimeout is up are
	// cut off and Serve returns nil. Without it that is an error: a login
	// server's requests should finish, a fake's held answers need not.
	CutAtShutdown bool
	// Jobs run beside the server and stop with it.
	Jobs []Job
	// Extra are more listeners served beside the main one, with the same
	// timeouts, and shut down with it (serve's --metrics-addr). Serve
	// closes them too.
	Extra []Endpoint
}

// Endpoint is a listener and what it serves.
type Endpoint struct {
	Listener net.Listener
	Handler  http.Handler
}

func (l *Lifecycle) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

// Serve serves h on ln, and each Extra endpoint, until ctx ends or one of
// the servers fails, then shuts them all down. It closes every listener.
func (l *Lifecycle) Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	endpoints := append([]Endpoint{{Listener: ln, Handler: h}}, l.Extra...)
	for _, j := range l.Jobs {
		if j.Every <= 0 || j.Run == nil {
			for _, e := range endpoints {
				e.Listener.Close()
			}
			return fmt.Errorf("server: a job needs Run and a positive interval, got %v", j.Every)
		}
	}
	logger := l.logger()
	servers := make([]*http.Server, len(endpoints))
	for i, e := range endpoints {
		servers[i] = &http.Server{
			Handler:           e.Handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      cmp.Or(l.WriteTimeout, DefaultWriteTimeout),
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
	}
	jobCtx, stopJobs := context.WithCancel(ctx)
	var jobs sync.WaitGroup
	defer jobs.Wait()
	defer stopJobs()
	for _, j := range l.Jobs {
		jobs.Go(func() { runJob(jobCtx, j) })
	}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(endpoints[i].Listener) }()
	}
	var failed error
	select {
	case err := <-errc:
		failed = fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	timeout := l.ShutdownTimeout
	if failed == nil {
		logger.Info("shutting down", "addr", ln.Addr().String(), "timeout", timeout.String())
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// The servers stop together, so that one slow answer does not cost
	// the others' share of the timeout.
	var stopping sync.WaitGroup
	var unfinished atomic.Bool
	for _, srv := range servers {
		stopping.Go(func() {
			if err := srv.Shutdown(sctx); err != nil {
				_ = srv.Close()
				unfinished.Store(true)
			}
		})
	}
	stopping.Wait()
	if failed != nil {
		return failed
	}
	if unfinished.Load() && !l.CutAtShutdown {
		return fmt.Errorf("shutdown: in-flight requests did not finish within %v", timeout)
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
	}
	return nil
}

func runJob(ctx context.Context, j Job) {
	t := time.NewTicker(j.Every)
	defer t.Stop()
	for {
		j.Run(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
