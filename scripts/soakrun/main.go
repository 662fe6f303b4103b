// Command soakrun drives oactl serve + mockwx + MariaDB with simulated users
// (login → info → profile → logout → info with the dead token), optionally
// injects one fault, prints a table of errno counts and latency
// percentiles per operation, and checks the database's consistency.
//
// It is built and run by scripts/soak (and scripts/fault-*), which start
// the MariaDB server; everything listens on 127.0.0.1, every loop is
// bounded by time and count, and every process it starts is stopped by
// PID.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	appID = "wxsoak0000000000"
	// clientTimeout is the mini-program's: it gives up after 6 s.
	clientTimeout = 6 * time.Second
)

type options struct {
	oactl, dsn, mariadbDir, work, fault, out string
	// dsns: one serve process per DSN (--db repeated, e.g. one per Galera
	// node); dsn is the first.
	dsns                         []string
	galeraScript                 string
	users, maxRounds             int
	duration, faultAt, wxTimeout time.Duration
	suspectTimeout               time.Duration
}

// dsnList is a repeatable --db.
type dsnList []string

func (l *dsnList) String() string     { return strings.Join(*l, ",") }
func (l *dsnList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var o options
	flag.StringVar(&o.oactl, "oactl", "", "path of the built oactl binary")
	flag.Var((*dsnList)(&o.dsns), "db", "MariaDB DSN (mysql://...) of a server started by scripts/mariadb; repeated: one serve process per DSN (one per Galera node)")
	flag.StringVar(&o.galeraScript, "galera-script", "", "scripts/galera, whose cluster the DSNs name (for --fault galera-node)")
	flag.StringVar(&o.mariadbDir, "mariadb-dir", "", "that server's scripts/mariadb directory (for --fault db-restart)")
	flag.StringVar(&o.work, "work", "", "directory for logs (default: a temporary one)")
	flag.StringVar(&o.fault, "fault", "none", "none | db-restart | wx-errors | wx-slow | sigterm | sigkill | galera-node")
	flag.StringVar(&o.out, "out", "", "also write the report (markdown) to this file")
	flag.IntVar(&o.users, "users", 64, "concurrent simulated users")
	flag.IntVar(&o.maxRounds, "max-rounds", 100000, "bound on each user's rounds")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "length of the run")
	flag.DurationVar(&o.faultAt, "fault-at", 0, "when the fault starts (default a third of --duration)")
	flag.DurationVar(&o.wxTimeout, "wx-timeout", 4*time.Second, "serve's --wx-timeout")
	flag.DurationVar(&o.suspectTimeout, "suspect-timeout", 5*time.Second, "the cluster's evs.suspect_timeout (--fault galera-node)")
	flag.Parse()
	if len(o.dsns) > 0 {
		o.dsn = o.dsns[0]
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), o, logger); err != nil {
		logger.Error("soak failed", "err", err)
		os.Exit(1)
	}
}

type harness struct {
	o          options
	log        *slog.Logger
	client     *http.Client
	mockURL    string
	serveAddrs []string // serve process i listens on serveAddrs[i], with --db dsns[i]
	mock       *proc
	serves     []*proc // guarded by serveMu: a fault may replace one
	serveMu    sync.Mutex
	began      time.Time
	events     []string // what the fault did and when
	eventsMu   sync.Mutex
	// Set by inject on the main goroutine, read by judge after the load.
	dbUpAt, sigAt, faultOn, faultOff time.Duration
	galera                           galeraTimes
	readyz                           []readySample // galera-node: /readyz of every serve over the run
	readyDone                        sync.WaitGroup
}

func (h *harness) since() time.Duration { return time.Since(h.began) }

func (h *harness) event(format string, args ...any) {
	h.eventsMu.Lock()
	defer h.eventsMu.Unlock()
	line := fmt.Sprintf("%6.2fs ", h.since().Seconds()) + fmt.Sprintf(format, args...)
	h.events = append(h.events, line)
	h.log.Info("event", "what", line)
}

func run(ctx context.Context, o options, logger *slog.Logger) error {
	if o.oactl == "" || o.dsn == "" {
		return errors.New("--oactl and --db are required")
	}
	if o.users < 1 || o.maxRounds < 1 || o.duration <= 0 {
		return errors.New("--users, --max-rounds and --duration must be positive")
	}
	if o.faultAt == 0 {
		o.faultAt = o.duration / 3
	}
	if o.work == "" {
		d, err := os.MkdirTemp("", "soak-")
		if err != nil {
			return fmt.Errorf("work dir: %w", err)
		}
		o.work = d
	}
	if out, err := exec.Command(o.oactl, "migrate", "up", "--db", o.dsn).CombinedOutput(); err != nil {
		return fmt.Errorf("migrate up: %v: %s", err, out)
	}
	mockAddr, err := freePort()
	if err != nil {
		return err
	}
	h := &harness{o: o, log: logger, mockURL: "http://" + mockAddr}
	for range o.dsns {
		addr, err := freePort()
		if err != nil {
			return err
		}
		h.serveAddrs = append(h.serveAddrs, addr)
	}
	h.serves = make([]*proc, len(o.dsns))
	h.client = &http.Client{Timeout: clientTimeout, Transport: &http.Transport{
		MaxIdleConns: 2 * o.users, MaxIdleConnsPerHost: 2 * o.users, IdleConnTimeout: 30 * time.Second,
	}}
	h.mock, err = startProc("mockwx", filepath.Join(o.work, "mockwx.log"), []string{"OA_WX_APP_SECRET=soak-secret"}, o.oactl, "mockwx",
		"--addr", mockAddr, "--appid", appID, "--journal-size", "100")
	if err != nil {
		return err
	}
	defer h.mock.stop(syscall.SIGTERM, 5*time.Second)
	if err := waitHTTP(h.mockURL+"/__mock/healthz", 10*time.Second); err != nil {
		return err
	}
	defer func() {
		h.serveMu.Lock()
		ps := slices.Clone(h.serves)
		h.serveMu.Unlock()
		for _, p := range ps {
			if p != nil {
				p.stop(syscall.SIGTERM, 15*time.Second)
			}
		}
	}()
	for i := range h.serveAddrs {
		if err := h.startServe(i); err != nil {
			return err
		}
	}

	h.began = time.Now()
	deadline := h.began.Add(o.duration)
	results := make([][]sample, o.users)
	tallies := make([]tally, o.users)
	var wg sync.WaitGroup
	for u := 0; u < o.users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[u], tallies[u] = h.user(ctx, u, deadline)
		}()
	}
	faultErr := h.inject(ctx, deadline)
	wg.Wait()
	h.event("load stopped")

	var all []sample
	var t tally
	t.identOK = map[string]bool{}
	t.identTried = map[string]bool{}
	for u := range results {
		all = append(all, results[u]...)
		t.add(tallies[u])
	}
	rep, problems, err := h.report(ctx, all, t, faultErr)
	if err != nil {
		return err
	}
	fmt.Print(rep)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems", len(problems))
	}
	return nil
}
