package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// BenchmarkStore measures the hot paths against a primary-key SELECT on the
// same database in the same run, and reports each as a ratio (x-pk) of it.
func BenchmarkStore(b *testing.B) {
	for _, be := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", dbtest.SQLite}, {"mariadb", dbtest.MySQL}} {
		b.Run(be.name, func(b *testing.B) {
			d := migrated(b, be.dsn(b), db.Options{})
			ctx := context.Background()
			u, s, err := d.Login(ctx, record("oBench", auth.Profile{Nickname: "b"}, at))
			if err != nil {
				b.Fatal(err)
			}
			pk := func() error {
				var name string
				return d.Reader().QueryRowContext(ctx, "SELECT username FROM wx_user WHERE id = ?", u.ID).Scan(&name)
			}
			ops := map[string]func() error{
				"session-by-token": func() error { _, _, err := d.SessionByTokenHash(ctx, s.TokenHash); return err },
				"login-returning": func() error {
					_, _, err := d.Login(ctx, record("oBench", auth.Profile{}, at))
					return err
				},
			}
			for name, op := range ops {
				b.Run(name, func(b *testing.B) {
					base := timeOps(b, b.N, pk)
					b.ResetTimer()
					for b.Loop() {
						if err := op(); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					if base > 0 {
						b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(base), "x-pk")
					}
				})
			}
		})
	}
}

// timeOps returns the mean duration of n runs of op.
func timeOps(b *testing.B, n int, op func() error) time.Duration {
	n = max(n, 100)
	start := time.Now()
	for range n {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / time.Duration(n)
}
