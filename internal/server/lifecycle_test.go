package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/testutil"
)

var quiet = slog.New(slog.DiscardHandler)

// startLifecycle serves h on a free loopback port; the returned function
// stops it (cancels its context) and waits for Serve's result.
func startLifecycle(t *testing.T, l *Lifecycle, h http.Handler) (base string, stop func() error) {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", "--addr")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, ln, h) }()
	var once atomic.Bool
	var result error
	stop = func() error {
		if once.CompareAndSwap(false, true) {
			cancel()
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return after its context ended")
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return "http://" + ln.Addr().String(), stop
}

func TestLifecycleListenErrorNamesTheSetting(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", "--addr")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Listen(ln.Addr().String(), "--mockwx-addr")
	if err == nil || !strings.HasPrefix(err.Error(), "--mockwx-addr "+ln.Addr().String()) {
		t.Fatalf("err = %v, want it to name --mockwx-addr and the address", err)
	}
}

func TestLifecycleServesThenStopsGracefully(t *testing.T) {
	logs := &testutil.Buffer{}
	inFlight := make(chan struct{})
	l := &Lifecycle{Logger: slog.New(slog.NewTextHandler(logs, nil)), ShutdownTimeout: 5 * time.Second}
	base, stop := startLifecycle(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inFlight)
			time.Sleep(200 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	}))
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// A request running when the stop comes finishes: that is graceful.
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			answered <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- string(b)
	}()
	<-inFlight
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := <-answered; got != "ok" {
		t.Fatalf("the in-flight request got %q, want its answer", got)
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Fatal("still serving after Serve returned")
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Errorf("log: %s", logs)
	}
}

func TestLifecycleShutdownTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  bool
	}{{"error", false}, {"cut", true}} {
		cut := tc.cut
		t.Run(tc.name, func(t *testing.T) {
			held := make(chan struct{})
			release := make(chan struct{})
			defer close(release)
			l := &Lifecycle{Logger: quiet, ShutdownTimeout: 100 * time.Millisecond, CutAtShutdown: cut}
			base, stop := startLifecycle(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(held)
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			go func() {
				if resp, err := http.Get(base + "/"); err == nil {
					resp.Body.Close()
				}
			}()
			<-held
			start := time.Now()
			err := stop()
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("stop took %v with a 100ms shutdown timeout", took)
			}
			if cut && err != nil {
				t.Fatalf("CutAtShutdown: held requests are cut without an error, got %v", err)
			}
			if !cut && (err == nil || !strings.Contains(err.Error(), "did not finish within 100ms")) {
				t.Fatalf("err = %v, want the shutdown timeout named", err)
			}
		})
	}
}

func TestLifecycleJobsRunAndStopWithTheServer(t *testing.T) {
	var runs atomic.Int32
	var running atomic.Bool
	first := make(chan struct{}, 1)
	l := &Lifecycle{Logger: quiet, Jobs: []Job{{Every: 10 * time.Millisecond, Run: func(ctx context.Context) {
		running.Store(true)
		defer running.Store(false)
		runs.Add(1)
		select {
		case first <- struct{}{}:
		default:
		}
	}}}}
	_, stop := startLifecycle(t, l, http.NotFoundHandler())
	select {
	case <-first: // at once, not after the first interval
	case <-time.After(5 * time.Second):
		t.Fatal("the job did not run")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the job ran %d times, want it every interval", runs.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	n := runs.Load()
	if running.Load() {
		t.Fatal("a job was still running after Serve returned")
	}
	time.Sleep(50 * time.Millisecond)
	if runs.Load() != n {
		t.Fatal("the job ran again after Serve returned")
	}
}

func TestLifecycleRefusesAJobWithoutInterval(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", "--addr")
	if err != nil {
		t.Fatal(err)
	}
	l := &Lifecycle{Jobs: []Job{{Run: func(context.Context) {}}}}
	if err := l.Serve(context.Background(), ln, http.NotFoundHandler()); err == nil {
		t.Fatal("want an error for a job without an interval")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("the listener was left open")
	}
}

func TestLifecycleServerFailureEndsServe(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", "--addr")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Serve's Accept fails at once
	err = (&Lifecycle{Logger: quiet}).Serve(context.Background(), ln, http.NotFoundHandler())
	if err == nil || errors.Is(err, http.ErrServerClosed) || !strings.Contains(err.Error(), "http server") {
		t.Fatalf("err = %v, want the server's failure", err)
	}
}

func TestLifecycleServesExtraEndpointsAndStopsThemTogether(t *testing.T) {
	extra, err := Listen("127.0.0.1:0", "--metrics-addr")
	if err != nil {
		t.Fatal(err)
	}
	extraBase := "http://" + extra.Addr().String()
	l := &Lifecycle{Logger: quiet, ShutdownTimeout: time.Second, Extra: []Endpoint{{
		Listener: extra,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "extra")
		}),
	}}}
	base, stop := startLifecycle(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "main")
	}))
	for url, want := range map[string]string{base + "/": "main", extraBase + "/": "extra"} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("%s answered %q, want %q", url, b, want)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{base, extraBase} {
		if _, err := http.Get(url + "/"); err == nil {
			t.Errorf("%s still serving after Serve returned", url)
		}
	}
}

func TestLifecycleExtraFailureEndsServe(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", "--addr")
	if err != nil {
		t.Fatal(err)
	}
	extra, err := Listen("127.0.0.1:0", "--metrics-addr")
	if err != nil {
		t.Fatal(err)
	}
	extra.Close() // the extra server's Accept fails at once
	l := &Lifecycle{Logger: quiet, Extra: []Endpoint{{Listener: extra, Handler: http.NotFoundHandler()}}}
	done := make(chan error, 1)
	go func() { done <- l.Serve(context.Background(), ln, http.NotFoundHandler()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "http server") {
			t.Fatalf("err = %v, want the extra server's failure", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve went on after an extra server failed")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("the main listener was left open")
	}
}
