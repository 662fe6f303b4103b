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
}

func (l *Lifecycle) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

// Serve serves h on ln until ctx ends or the server fails, then shuts
// down. It closes ln.
func (l *Lifecycle) Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	for _, j := range l.Jobs {
		if j.Every <= 0 || j.Run == nil {
			ln.Close()
			return fmt.Errorf("server: a job needs Run and a positive interval, got %v", j.Every)
		}
	}
	logger := l.logger()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      cmp.Or(l.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	jobCtx, stopJobs := context.WithCancel(ctx)
	var jobs sync.WaitGroup
	defer jobs.Wait()
	defer stopJobs()
	for _, j := range l.Jobs {
		jobs.Go(func() { runJob(jobCtx, j) })
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	timeout := l.ShutdownTimeout
	logger.Info("shutting down", "addr", ln.Addr().String(), "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		if !l.CutAtShutdown {
			return fmt.Errorf("shutdown: in-flight requests did not finish within %v", timeout)
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
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
