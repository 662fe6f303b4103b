package db_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// BenchmarkSessionListScale shows that a listing page costs the same on a
// million sessions as on a thousand (keyset pages on an index, never the
// whole table). It fills two MariaDB databases with multi-row INSERTs
// (1,000 and 1,000,000 sessions; OACTL_BENCH_SESSIONS overrides the big
// one), then times, alternately on both, the first page and the next page
// for each sort, a page deep in the big table, and a state-filtered page,
// and reports each big/small ratio plus the bytes allocated per page and
// the process's peak RSS.
//
//	go test -run '^$' -bench SessionListScale -benchtime 50x ./internal/db
func BenchmarkSessionListScale(b *testing.B) {
	big := 1_000_000
	if s := os.Getenv("OACTL_BENCH_SESSIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10_000 {
			b.Fatalf("OACTL_BENCH_SESSIONS=%q: want a number >= 10000", s)
		}
		big = n
	}
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	small := fillBenchSessions(b, ctx, 1_000, now)
	t0 := time.Now()
	large := fillBenchSessions(b, ctx, big, now)
	b.Logf("loaded %d sessions in %s", big, time.Since(t0).Round(time.Millisecond))

	type query struct {
		name string
		f    func(d *db.DB) auth.SessionFilter
	}
	page := 100
	firstAfter := func(d *db.DB, f auth.SessionFilter) *auth.SessionRow {
		rows, err := d.ListSessions(ctx, f)
		if err != nil || len(rows) == 0 {
			b.Fatalf("first page: %v (%d rows)", err, len(rows))
		}
		return &rows[len(rows)-1]
	}
	// middle is a row halfway through the created order, for a deep page.
	middle := func(d *db.DB, n int) *auth.SessionRow {
		var r auth.SessionRow
		if err := d.Reader().QueryRowContext(ctx, `SELECT id, created_at FROM wx_session ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET `+strconv.Itoa(n/2)).
			Scan(&r.Session.ID, db.TimeIn{&r.Session.CreatedAt, time.UTC}); err != nil {
			b.Fatal(err)
		}
		return &r
	}
	afters := map[*db.DB]map[auth.SessionSort]*auth.SessionRow{}
	deep := map[*db.DB]*auth.SessionRow{small: middle(small, 1_000), large: middle(large, big)}
	for _, d := range []*db.DB{small, large} {
		afters[d] = map[auth.SessionSort]*auth.SessionRow{}
		for _, s := range []auth.SessionSort{auth.SortCreatedDesc, auth.SortExpires, auth.SortLastSeen} {
			afters[d][s] = firstAfter(d, auth.SessionFilter{Sort: s, Limit: page, Now: now})
		}
	}
	var queries []query
	for _, s := range []auth.SessionSort{auth.SortCreatedDesc, auth.SortExpires, auth.SortLastSeen} {
		queries = append(queries,
			query{"first/" + string(s), func(*db.DB) auth.SessionFilter { return auth.SessionFilter{Sort: s, Limit: page + 1, Now: now} }},
			query{"next/" + string(s), func(d *db.DB) auth.SessionFilter {
				return auth.SessionFilter{Sort: s, Limit: page + 1, Now: now, After: afters[d][s]}
			}})
	}
	queries = append(queries,
		query{"deep/created", func(d *db.DB) auth.SessionFilter {
			return auth.SessionFilter{Limit: page + 1, Now: now, After: deep[d]}
		}},
		query{"first/active", func(*db.DB) auth.SessionFilter {
			return auth.SessionFilter{State: auth.StateActive, Limit: page + 1, Now: now}
		}},
		query{"user", func(*db.DB) auth.SessionFilter { return auth.SessionFilter{UserID: 7, Limit: page + 1, Now: now} }},
		query{"search", func(*db.DB) auth.SessionFilter {
			return auth.SessionFilter{Search: "nick 7", Limit: page + 1, Now: now}
		}},
	)
	sums := make([][2]time.Duration, len(queries))
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for b.Loop() {
		for i, q := range queries {
			for k, d := range []*db.DB{small, large} {
				t := time.Now()
				rows, err := d.ListSessions(ctx, q.f(d))
				sums[i][k] += time.Since(t)
				if err != nil || len(rows) == 0 {
					b.Fatalf("%s: %v (%d rows)", q.name, err, len(rows))
				}
			}
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	n := time.Duration(b.N)
	var lines []string
	for i, q := range queries {
		s, l := sums[i][0]/n, sums[i][1]/n
		ratio := float64(l) / float64(s)
		lines = append(lines, fmt.Sprintf("%-18s 1k: %8s  %dk: %8s  ratio %6.2f", q.name, s.Round(time.Microsecond), big/1000, l.Round(time.Microsecond), ratio))
		if strings.HasPrefix(q.name, "first/created") || strings.HasPrefix(q.name, "next/created") || q.name == "deep/created" {
			b.ReportMetric(ratio, q.name[:strings.IndexByte(q.name+"/", '/')]+"-created-big/small")
		}
	}
	pages := float64(b.N * len(queries) * 2)
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/pages/1024, "KiB-alloc/page")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
	b.Logf("per page (%d rows), mean of %d:\n%s", page+1, b.N, strings.Join(lines, "\n"))
}

// fillBenchSessions makes a migrated MariaDB database with n sessions of
// n/100 users (at least 10), written with multi-row INSERTs: a million
// logins through Login would take the benchmark's whole budget.
func fillBenchSessions(b *testing.B, ctx context.Context, n int, now time.Time) *db.DB {
	b.Helper()
	d := migrated(b, dbtest.MySQL(b), db.Options{TimeZone: time.UTC})
	users := max(n/100, 10)
	const batch = 2000
	var sb strings.Builder
	flush := func() {
		if sb.Len() == 0 {
			return
		}
		if _, err := d.SQL().ExecContext(ctx, sb.String()); err != nil {
			b.Fatalf("bulk insert: %v", err)
		}
		sb.Reset()
	}
	at := now.Format(db.TimeLayout)
	for i := 1; i <= users; i++ {
		if sb.Len() == 0 {
			sb.WriteString("INSERT INTO wx_user (id, username, password, nickname, weixin_openid, status, add_time, update_time, deleted) VALUES ")
		} else {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "(%d,'oBench%022d','','nick %d 😀','oBench%022d',0,'%s','%s',0)", i, i, i, i, at, at)
		if i%batch == 0 {
			flush()
		}
	}
	flush()
	span := 90 * 24 * time.Hour
	for i := 1; i <= n; i++ {
		if sb.Len() == 0 {
			sb.WriteString("INSERT INTO wx_session (token_hash, user_id, session_key, created_at, expires_at, last_seen_at, revoked_at, revoke_reason, ip, user_agent) VALUES ")
		} else {
			sb.WriteString(",")
		}
		// Spread over 90 days, several sessions per second at 1M, so
		// timestamps tie and the id tiebreak is exercised.
		created := now.Add(-time.Duration(int64(span) / int64(n) * int64(i)))
		created = created.Truncate(time.Second)
		seen := created.Add(time.Duration(i*7919%86400) * time.Second)
		revoked, reason := "NULL", ""
		if i%10 == 0 {
			revoked, reason = "'"+created.Add(time.Hour).Format(db.TimeLayout)+"'", "logout"
		}
		fmt.Fprintf(&sb, "('%064x',%d,'k','%s','%s','%s',%s,'%s','203.0.113.%d','bench')",
			i, i%users+1, created.Format(db.TimeLayout), created.Add(24*time.Hour).Format(db.TimeLayout), seen.Format(db.TimeLayout), revoked, reason, i%250)
		if i%batch == 0 {
			flush()
		}
	}
	flush()
	if _, err := d.SQL().ExecContext(ctx, "ANALYZE TABLE wx_session, wx_user"); err != nil {
		b.Fatalf("analyze: %v", err)
	}
	return d
}
