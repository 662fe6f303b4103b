package doctor

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/migrate"
	"github.com/oactl/oactl/internal/dbtest"
)

// BenchmarkCheckTableSize shows that `migrate check` does not read wx_user:
// it runs the check alternately on a database with an empty wx_user and on
// one with a million rows (OACTL_BENCH_CHECK_ROWS overrides), and reports
// both times and their ratio, which should stay near 1.
//
//	go test -run '^$' -bench CheckTableSize -benchtime 20x ./internal/db/doctor
func BenchmarkCheckTableSize(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("OACTL_BENCH_CHECK_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("OACTL_BENCH_CHECK_ROWS=%q: want a number >= 1000", s)
		}
		rows = n
	}
	ctx := context.Background()
	empty := benchDB(b, ctx, 0)
	start := time.Now()
	big := benchDB(b, ctx, rows)
	b.Logf("loaded %d rows in %s", rows, time.Since(start).Round(time.Millisecond))

	var tEmpty, tBig time.Duration
	b.ResetTimer()
	for b.Loop() {
		for _, c := range []struct {
			d   *db.DB
			sum *time.Duration
		}{{empty, &tEmpty}, {big, &tBig}} {
			t0 := time.Now()
			r, err := Check(ctx, c.d)
			*c.sum += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			if r.Failed() {
				b.Fatalf("check failed: %+v", r.Findings)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(tEmpty.Microseconds())/n/1000, "ms-empty/op")
	b.ReportMetric(float64(tBig.Microseconds())/n/1000, "ms-big/op")
	b.ReportMetric(float64(tBig)/float64(tEmpty), "big/empty")
	b.Logf("check: empty wx_user %s/op, %d-row wx_user %s/op, ratio %.2f",
		(tEmpty / time.Duration(b.N)).Round(time.Microsecond), rows, (tBig / time.Duration(b.N)).Round(time.Microsecond), float64(tBig)/float64(tEmpty))
}

// benchDB migrates a fresh database and fills wx_user with rows rows by
// doubling INSERT ... SELECT, a few seconds for a million rows.
func benchDB(b *testing.B, ctx context.Context, rows int) *db.DB {
	b.Helper()
	d := dbtest.Open(b, dbtest.MySQL(b), db.Options{})
	if _, err := migrate.New(d, migrate.Options{}).Up(ctx, 0); err != nil {
		b.Fatal(err)
	}
	if rows == 0 {
		return d
	}
	x := d.SQL()
	ins := "INSERT INTO wx_user (username, nickname, avatar, weixin_openid, last_login_ip, add_time, update_time) "
	if _, err := x.ExecContext(ctx, ins+"VALUES ('seed-0', '😀 奶茶', 'https://example.invalid/a.png', 'o-seed-0', '127.0.0.1', NOW(), NOW())"); err != nil {
		b.Fatal(err)
	}
	have := 1
	for round := 1; have < rows; round++ {
		limit := min(have, rows-have)
		q := fmt.Sprintf(ins+"SELECT CONCAT('r%d-', id), nickname, avatar, CONCAT('o-r%d-', id), last_login_ip, add_time, update_time FROM wx_user LIMIT %d", round, round, limit)
		if _, err := x.ExecContext(ctx, q); err != nil {
			b.Fatalf("round %d: %v", round, err)
		}
		have += limit
	}
	return d
}
