package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oactl/oactl/internal/db"
)

// The galera-node fault: three serve processes, serve i on node i+1 of a
// cluster run by scripts/galera. At --fault-at node 2 is SIGKILLed, and
// restarted 5 s later (it rejoins by IST); at two thirds of the run nodes
// 2 and 3 are SIGKILLed together, leaving node 1 a minority without
// quorum until the load ends; then node 1 is bootstrapped and the others
// rejoin, and the nodes' CHECKSUM TABLE are compared.

// inactiveCheck is Galera's evs.inactive_check_period (PT1S, its
// default): a silent node is noticed up to this long after
// evs.suspect_timeout (--suspect-timeout) has passed, so the survivors may
// stall for the sum before the cluster drops it and commits again.
const inactiveCheck = time.Second

// viewChange is the slack for the view change itself and the commits
// queued behind it (measured about 0.6 s on the loaded 2-core machine).
const viewChange = time.Second

// galeraTimes are the fault's moments, since the run began.
type galeraTimes struct {
	killAt, killedAt, backAt time.Duration // node 2: SIGKILL sent, gone, Synced again
	restartAt                time.Duration // node 2: restart begun
	quorumAt, nonPrimAt      time.Duration // nodes 2 and 3 killed; node 1 says non-Primary
	restoreAt, restoredAt    time.Duration // bootstrap of node 1 begun; all three Synced again
	transfer                 string        // how node 2 rejoined (IST or SST)
	killedServe              int
}

// readySample is one GET /readyz of one serve process.
type readySample struct {
	serve    int
	at, took time.Duration
	status   int // 0: no answer
}

func (h *harness) galeraScript(args ...string) (string, error) {
	out, err := exec.Command(h.o.galeraScript, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("scripts/galera %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (h *harness) galeraNode(ctx context.Context, deadline time.Time) error {
	if h.o.galeraScript == "" || len(h.serveAddrs) != 3 {
		return errors.New("--fault galera-node needs --galera-script and three --db, one per node")
	}
	g := &h.galera
	g.killedServe = 1

	g.killAt = h.since()
	h.event("SIGKILL to node 2 (serve 2's database)")
	if _, err := h.galeraScript("kill", "2"); err != nil {
		return err
	}
	g.killedAt = h.since()
	h.event("node 2 is gone")
	time.Sleep(5 * time.Second)
	g.restartAt = h.since()
	h.event("restarting node 2 (--wsrep-recover, then --wsrep-start-position)")
	out, err := h.galeraScript("restart", "2")
	if err != nil {
		return err
	}
	g.backAt = h.since()
	g.transfer = strings.TrimSpace(out[strings.LastIndex(out, "transfer: ")+len("transfer: "):])
	g.transfer = strings.TrimSuffix(g.transfer, ")")
	h.event("node 2 Synced again (state transfer: %s)", g.transfer)

	// The quorum loss comes 10 s after node 2 is back at the earliest, and
	// lasts 12 s at least before the load ends.
	quorumAt := h.began.Add(2 * h.o.duration / 3)
	if soon := time.Now().Add(10 * time.Second); soon.After(quorumAt) {
		quorumAt = soon
	}
	if deadline.Sub(quorumAt) < 12*time.Second {
		return fmt.Errorf("node 2 took until %.0fs to rejoin: the run is too short for the quorum loss (make --duration longer)", g.backAt.Seconds())
	}
	time.Sleep(time.Until(quorumAt))
	g.quorumAt = h.since()
	h.event("SIGKILL to nodes 2 and 3: node 1 is a minority")
	var kills sync.WaitGroup
	errs := make([]error, 2)
	for i, n := range []string{"2", "3"} {
		kills.Go(func() { _, errs[i] = h.galeraScript("kill", n) })
	}
	kills.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := h.waitClusterStatus(ctx, h.o.dsns[0], "non-Primary", 60*time.Second); err != nil {
		return err
	}
	g.nonPrimAt = h.since()
	h.event("node 1 reports a non-Primary component")

	time.Sleep(time.Until(deadline))
	g.restoreAt = h.since()
	h.event("load over: bootstrapping node 1 (pc.bootstrap), restarting nodes 2 and 3")
	if _, err := h.galeraScript("bootstrap", "1"); err != nil {
		return err
	}
	for _, n := range []string{"2", "3"} {
		if _, err := h.galeraScript("restart", n); err != nil {
			return err
		}
	}
	g.restoredAt = h.since()
	h.event("all three nodes Synced in a Primary component")
	return nil
}

// waitClusterStatus polls a node's wsrep_cluster_status on a plain
// connection (SHOW STATUS answers without quorum).
func (h *harness) waitClusterStatus(ctx context.Context, dsn, want string, limit time.Duration) error {
	cfg, err := db.ParseDSN(dsn)
	if err != nil {
		return err
	}
	c, err := sql.Open(cfg.DriverName, cfg.DriverDSN)
	if err != nil {
		return err
	}
	defer c.Close()
	end := time.Now().Add(limit)
	var got string
	for time.Now().Before(end) {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var name string
		err := c.QueryRowContext(qctx, "SHOW STATUS LIKE 'wsrep_cluster_status'").Scan(&name, &got)
		cancel()
		if err == nil && got == want {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("node not %s within %v (last %q)", want, limit, got)
}

// pollReady asks every serve's /readyz every 250 ms until deadline.
func (h *harness) pollReady(deadline time.Time) {
	c := &http.Client{Timeout: clientTimeout}
	var mu sync.Mutex
	for time.Now().Before(deadline) {
		var wg sync.WaitGroup
		for i, addr := range h.serveAddrs {
			wg.Go(func() {
				s := readySample{serve: i, at: h.since()}
				resp, err := c.Get("http://" + addr + "/readyz")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					s.status = resp.StatusCode
				}
				s.took = h.since() - s.at
				mu.Lock()
				h.readyz = append(h.readyz, s)
				mu.Unlock()
			})
		}
		wg.Wait()
		time.Sleep(250 * time.Millisecond)
	}
}

// expected is the outcome a healthy system gives op.
func expected(op uint8) int32 {
	if op == opInfoAfterLogout {
		return 501
	}
	return 0
}

type latencies []time.Duration

func (l latencies) summary() string {
	if len(l) == 0 {
		return "no requests"
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return fmt.Sprintf("%d requests, p50 %s ms, p99 %s ms, max %s ms", len(l), pct(l, 0.5), pct(l, 0.99), pct(l, 1))
}

// judgeGalera checks the galera-node fault's promises.
func (h *harness) judgeGalera(w io.Writer, all []sample) []string {
	g := h.galera
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
		fmt.Fprintf(w, "  PROBLEM: "+format+"\n", args...)
	}
	if g.backAt == 0 || g.restoredAt == 0 {
		return []string{"the fault did not run to its end"}
	}

	// One node lost: the other two serve processes keep answering.
	fmt.Fprintf(w, "\nnode 2 killed at %.2fs, gone at %.2fs, Synced again at %.2fs (%s):\n",
		g.killAt.Seconds(), g.killedAt.Seconds(), g.backAt.Seconds(), g.transfer)
	var surv latencies
	survFail := map[string]int{}
	for _, s := range all {
		if int(s.serve) == g.killedServe || s.start < g.killAt || s.end >= g.quorumAt {
			continue
		}
		surv = append(surv, s.end-s.start)
		if s.outcome != expected(s.op) {
			survFail[opNames[s.op]+" "+outcomeName(int(s.outcome))]++
		}
	}
	stall := time.Duration(0)
	if len(surv) > 0 {
		stall = surv.max()
	}
	fmt.Fprintf(w, "  serve 1 and 3 (nodes 1, 3) from the kill to the quorum loss: %s, failures %v\n", surv.summary(), survFail)
	bound := h.o.suspectTimeout + inactiveCheck + viewChange
	fmt.Fprintf(w, "  their longest stall: %.2fs (bound %v: evs.suspect_timeout %v + evs.inactive_check_period %v + %v for the view change)\n",
		stall.Seconds(), bound, h.o.suspectTimeout, inactiveCheck, viewChange)
	if len(survFail) > 0 {
		bad("requests through the surviving nodes failed: %v", survFail)
	}
	if stall > bound {
		bad("a request through a surviving node took %.2fs, more than %v", stall.Seconds(), bound)
	}

	// The killed node's serve: 502 while its node is down, then back
	// without a restart of its own.
	down := map[string]int{}
	for _, s := range all {
		if int(s.serve) == g.killedServe && s.start >= g.killedAt && s.end <= g.restartAt {
			down[outcomeName(int(s.outcome))]++
		}
	}
	fmt.Fprintf(w, "  serve 2 while node 2 was down: %v\n", down)
	if down["errno 502"] == 0 || len(down) != 1 {
		bad("serve 2 did not answer 502, and only 502, while its node was down: %v", down)
	}
	r := findRecovery(all, g.backAt, g.quorumAt, func(s sample) bool { return int(s.serve) == g.killedServe })
	fmt.Fprintf(w, "  serve 2 after node 2 was Synced: first success %.2fs after, last failure %s (serve 2 never restarted)\n",
		(r.firstOK - g.backAt).Seconds(), r.lastText(g.backAt, "none"))
	if !r.within(g.backAt, 5*time.Second) {
		bad("serve 2 did not recover within 5 s of its node's return")
	}
	h.judgeReady(w, bad)

	// Quorum lost: every serve answers 502 at once, none hangs.
	fmt.Fprintf(w, "\nnodes 2 and 3 killed at %.2fs; node 1 non-Primary at %.2fs (%.2fs later); load over at %.2fs:\n",
		g.quorumAt.Seconds(), g.nonPrimAt.Seconds(), (g.nonPrimAt - g.quorumAt).Seconds(), g.restoreAt.Seconds())
	var inflight latencies
	hung := 0
	for _, s := range all {
		if s.start >= g.quorumAt && s.start < g.nonPrimAt {
			inflight = append(inflight, s.end-s.start)
			if s.outcome == outTimeout {
				hung++
			}
		}
	}
	if hung > 0 {
		bad("%d requests sent while quorum was being lost got no answer within the client's %v", hung, clientTimeout)
	}
	fmt.Fprintf(w, "  sent between the kill and non-Primary: %s\n", inflight.summary())
	for i := range h.serveAddrs {
		var lat latencies
		out := map[string]int{}
		for _, s := range all {
			if int(s.serve) != i || s.start < g.nonPrimAt+500*time.Millisecond || s.end > g.restoreAt {
				continue
			}
			lat = append(lat, s.end-s.start)
			out[outcomeName(int(s.outcome))]++
		}
		fmt.Fprintf(w, "  serve %d without quorum: %s, outcomes %v\n", i+1, lat.summary(), out)
		if len(lat) == 0 || len(out) != 1 || out["errno 502"] == 0 {
			bad("serve %d did not answer every request with 502 without quorum: %v", i+1, out)
		}
		if len(lat) > 0 && lat.max() > time.Second {
			bad("serve %d took %v to answer without quorum (want under 1 s)", i+1, lat.max())
		}
	}
	problems = append(problems, h.compareChecksums(w)...)
	return problems
}

func (l latencies) max() time.Duration {
	var m time.Duration
	for _, d := range l {
		m = max(m, d)
	}
	return m
}

// judgeReady checks /readyz: 200 while all is well, 503 from the killed
// node's serve while it is down, 503 everywhere without quorum, and never
// slower than readyz's own 2 s bound (plus scheduling slack).
func (h *harness) judgeReady(w io.Writer, bad func(string, ...any)) {
	g := h.galera
	type tally struct{ ok, unavailable, other int }
	var before, downKilled, backKilled, noQuorum tally
	var slowest time.Duration
	for _, s := range h.readyz {
		slowest = max(slowest, s.took)
		var t *tally
		switch {
		case s.at+s.took < g.killAt:
			t = &before
		case s.serve == g.killedServe && s.at >= g.killedAt && s.at+s.took < g.restartAt:
			t = &downKilled
		case s.serve == g.killedServe && s.at >= g.backAt+time.Second && s.at+s.took < g.quorumAt:
			t = &backKilled
		case s.at >= g.nonPrimAt && s.at+s.took < g.restoreAt:
			t = &noQuorum
		default:
			continue
		}
		switch s.status {
		case 200:
			t.ok++
		case 503:
			t.unavailable++
		default:
			t.other++
		}
	}
	fmt.Fprintf(w, "  /readyz (every 250 ms, each serve): before the kill %d×200 %d×503 %d other; serve 2 while node 2 was down %d×200 %d×503; "+
		"serve 2 after it was Synced %d×200 %d×503; slowest answer %.2fs\n",
		before.ok, before.unavailable, before.other, downKilled.ok, downKilled.unavailable, backKilled.ok, backKilled.unavailable, slowest.Seconds())
	fmt.Fprintf(w, "  /readyz without quorum (all serves): %d×200 %d×503 %d other\n", noQuorum.ok, noQuorum.unavailable, noQuorum.other)
	if before.unavailable+before.other > 0 {
		bad("/readyz was not 200 everywhere before the fault")
	}
	if downKilled.unavailable == 0 || downKilled.ok > 0 {
		bad("serve 2's /readyz was not 503 while node 2 was down")
	}
	if backKilled.ok == 0 || backKilled.unavailable+backKilled.other > 0 {
		bad("serve 2's /readyz was not 200 again after node 2 was Synced")
	}
	if noQuorum.unavailable == 0 || noQuorum.ok+noQuorum.other > 0 {
		bad("/readyz was not 503 on every serve without quorum")
	}
	if slowest > 3*time.Second {
		bad("a /readyz took %.2fs (its database check is bounded by 2 s)", slowest.Seconds())
	}
}

// compareChecksums runs CHECKSUM TABLE (every table) on every node, each on a
// connection that first waited for the cluster's commits (db.Open sets
// wsrep_sync_wait), and wants them equal.
func (h *harness) compareChecksums(w io.Writer) []string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fmt.Fprintf(w, "\nCHECKSUM TABLE on each node:\n")
	var sums []string
	for i, dsn := range h.o.dsns {
		sum, err := checksum(ctx, dsn)
		if err != nil {
			return []string{fmt.Sprintf("checksum on node %d: %v", i+1, err)}
		}
		fmt.Fprintf(w, "  node %d: %s\n", i+1, sum)
		sums = append(sums, sum)
	}
	for i := 1; i < len(sums); i++ {
		if sums[i] != sums[0] {
			return []string{fmt.Sprintf("node %d's tables differ from node 1's", i+1)}
		}
	}
	fmt.Fprintf(w, "  equal on all %d nodes\n", len(sums))
	return nil
}

func checksum(ctx context.Context, dsn string) (string, error) {
	d, err := db.Open(ctx, dsn, db.Options{})
	if err != nil {
		return "", err
	}
	defer d.Close()
	c, err := d.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	var n int
	if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM wx_session").Scan(&n); err != nil {
		return "", err
	}
	// Every table of the schema (identities, uploads and whatever later
	// steps add), but the migration lease's.
	var tables []string
	trows, err := c.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> ? ORDER BY table_name", db.LockTable)
	if err != nil {
		return "", err
	}
	for trows.Next() {
		var t string
		if err := trows.Scan(&t); err != nil {
			trows.Close()
			return "", err
		}
		tables = append(tables, "`"+t+"`")
	}
	if err := trows.Close(); err != nil {
		return "", err
	}
	rows, err := c.QueryContext(ctx, "CHECKSUM TABLE "+strings.Join(tables, ", "))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var table string
		var sum sql.NullInt64
		if err := rows.Scan(&table, &sum); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%s=%d", table[strings.LastIndex(table, ".")+1:], sum.Int64))
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return strings.Join(parts, " ") + fmt.Sprintf(" (%d sessions)", n), nil
}

// servesTable prints per serve process: requests, answers as a healthy
// system gives them, others, latency percentiles.
func servesTable(w io.Writer, all []sample, n int) {
	if n < 2 {
		return
	}
	fmt.Fprintf(w, "\n| serve | requests | as expected | other | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for i := range n {
		var lat latencies
		okN := 0
		for _, s := range all {
			if int(s.serve) == i {
				lat = append(lat, s.end-s.start)
				if s.outcome == expected(s.op) {
					okN++
				}
			}
		}
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		fmt.Fprintf(w, "| %d | %d | %d | %d | %s | %s | %s |\n", i+1, len(lat), okN, len(lat)-okN, pct(lat, 0.5), pct(lat, 0.99), pct(lat, 1))
	}
}
