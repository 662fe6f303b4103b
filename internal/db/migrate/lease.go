package migrate

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/oactl/oactl/internal/db"
)

// LockTable holds the migration lease: one row per lock name, who holds
// it and a counter the holder bumps while it runs.
const LockTable = db.LockTable

// DefaultLeaseTTL is how long a lease may go without a heartbeat before a
// waiting run takes it over (its holder is taken for dead).
const DefaultLeaseTTL = 30 * time.Second

// ErrLeaseLost: another run took the lease over while this one held it
// (it stopped heartbeating for longer than the lease's TTL, or someone
// deleted the row). The run stops before recording anything more.
var ErrLeaseLost = errors.New("lost the migration lock to another run")

// LockHeldError: the lease stayed with another run for the whole lock
// timeout. It is an ErrLockTimeout that knows who held the lease.
type LockHeldError struct {
	Holder string // host:pid:random of the run that holds it
	Waited time.Duration
}

func (e *LockHeldError) Error() string {
	return fmt.Sprintf("migrate: %v (waited %v; held by %s)", ErrLockTimeout, e.Waited, e.Holder)
}

// Unwrap makes errors.Is(err, ErrLockTimeout) true.
func (e *LockHeldError) Unwrap() error { return ErrLockTimeout }

// leasePoll is how often a waiting run looks at the lease.
const leasePoll = 100 * time.Millisecond

// lease is a held migration lease: a row of LockTable that names us,
// renewed by a heartbeat until release.
type lease struct {
	conn   *sql.Conn // the run's pinned connection
	pool   db.Queryer
	holder string
	ttl    time.Duration
	lost   atomic.Bool
	stop   chan struct{}
	done   sync.WaitGroup
}

func (m *Migrator) createLockTable(ctx context.Context, q db.Queryer) error {
	_, err := q.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS `"+LockTable+"` ("+
		"`name` varchar(64) NOT NULL, `holder` varchar(255) NOT NULL, `beat` bigint NOT NULL, "+
		"`renewed_at` datetime NOT NULL, PRIMARY KEY (`name`)"+
		") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci")
	if err != nil {
		return fmt.Errorf("migrate: create %s: %w", LockTable, err)
	}
	return nil
}

// holderName says who holds a lease, for the error a waiting run prints:
// host, PID and a random part (two runs in one process differ).
func holderName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = crand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// takeLease waits up to wait for the lease on c. The row is inserted when
// there is none (a concurrent insert on another node loses certification
// or hits the key: either way someone else holds it). A holder is taken
// for dead when its (holder, beat) stays unchanged for ttl by this run's
// own clock: no two machines' clocks are ever compared. The takeover is
// an UPDATE conditioned on the (holder, beat) seen, so of several waiters
// exactly one wins.
func (m *Migrator) takeLease(ctx context.Context, c *sql.Conn, wait time.Duration) (*lease, error) {
	if err := m.createLockTable(ctx, c); err != nil {
		return nil, err
	}
	me := holderName()
	deadline := time.Now().Add(wait)
	var seenHolder string
	var seenBeat int64
	var seenAt time.Time
	for {
		_, err := c.ExecContext(ctx, "INSERT INTO `"+LockTable+"` (name, holder, beat, renewed_at) VALUES (?, ?, 0, UTC_TIMESTAMP())", lockName, me)
		if err == nil {
			return m.startLease(c, me), nil
		}
		if !lostRace(err) {
			return nil, fmt.Errorf("migrate: take lock: %w", err)
		}
		var holder string
		var beat int64
		err = c.QueryRowContext(ctx, "SELECT holder, beat FROM `"+LockTable+"` WHERE name = ?", lockName).Scan(&holder, &beat)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue // released meanwhile
		case err != nil && !lostRace(err):
			return nil, fmt.Errorf("migrate: read lock: %w", err)
		}
		now := time.Now()
		if err == nil {
			if holder != seenHolder || beat != seenBeat || seenAt.IsZero() {
				seenHolder, seenBeat, seenAt = holder, beat, now
			} else if now.Sub(seenAt) >= m.leaseTTL {
				res, err := c.ExecContext(ctx, "UPDATE `"+LockTable+"` SET holder = ?, beat = beat + 1, renewed_at = UTC_TIMESTAMP() "+
					"WHERE name = ? AND holder = ? AND beat = ?", me, lockName, holder, beat)
				if err != nil && !lostRace(err) {
					return nil, fmt.Errorf("migrate: take over lock: %w", err)
				}
				if err == nil {
					if n, _ := res.RowsAffected(); n == 1 {
						m.d.Logger().Warn("migrate: took over the migration lock from a run that stopped renewing it",
							"holder", holder, "silent_for", now.Sub(seenAt).Round(time.Second).String())
						return m.startLease(c, me), nil
					}
				}
			}
		}
		if now.After(deadline) {
			return nil, &LockHeldError{Holder: seenHolder, Waited: wait}
		}
		pause := leasePoll + time.Duration(rand.Int64N(int64(leasePoll)))
		if err := db.Sleep(ctx, min(pause, time.Until(deadline)+time.Millisecond)); err != nil {
			return nil, fmt.Errorf("migrate: waiting for the lock: %w", err)
		}
	}
}

// lostRace reports whether err means another writer got there first: a
// duplicate key, a certification failure or deadlock (1213), or a lock
// wait timeout (1205).
func lostRace(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1062, 1213, 1205:
			return true
		}
	}
	return false
}

func (m *Migrator) startLease(c *sql.Conn, me string) *lease {
	l := &lease{conn: c, pool: m.d.SQL(), holder: me, ttl: m.leaseTTL, stop: make(chan struct{})}
	l.done.Add(1)
	go l.heartbeat(m)
	return l
}

// heartbeat bumps the beat every fifth of the TTL on a pooled connection
// (the pinned one is busy with DDL), so waiters see the holder is alive.
// A beat that matches no row means the lease was taken over.
func (l *lease) heartbeat(m *Migrator) {
	defer l.done.Done()
	t := time.NewTicker(max(l.ttl/5, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.ttl/2)
		n, err := l.beat(ctx, l.pool)
		cancel()
		switch {
		case err != nil:
			m.d.Logger().Warn("migrate: renewing the migration lock", "err", err)
		case n == 0:
			l.lost.Store(true)
			m.d.Logger().Error("migrate: the migration lock was taken over by another run")
			return
		}
	}
}

func (l *lease) beat(ctx context.Context, q db.Queryer) (int64, error) {
	res, err := q.ExecContext(ctx, "UPDATE `"+LockTable+"` SET beat = beat + 1, renewed_at = UTC_TIMESTAMP() WHERE name = ? AND holder = ?", lockName, l.holder)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// check fails once the heartbeat found the lease taken over.
func (l *lease) check() error {
	if l != nil && l.lost.Load() {
		return fmt.Errorf("migrate: %w", ErrLeaseLost)
	}
	return nil
}

// execHeld runs one write to the version table in a transaction that
// first renews the lease: if another run took it over, the write does not
// happen. On Galera the two commits cannot both win: certification lets
// one through and fails the other with 1213, after which the renewal
// matches no row.
func (l *lease) execHeld(ctx context.Context, query string, args ...any) error {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			if serr := db.Sleep(ctx, time.Duration(attempt)*20*time.Millisecond); serr != nil {
				return serr
			}
		}
		if err = l.tryExecHeld(ctx, query, args...); err == nil || !lostRace(err) {
			return err
		}
	}
	return err
}

func (l *lease) tryExecHeld(ctx context.Context, query string, args ...any) (err error) {
	tx, err := l.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	n, err := l.beat(ctx, tx)
	if err != nil {
		return err
	}
	if n != 1 {
		l.lost.Store(true)
		return ErrLeaseLost
	}
	if _, err = tx.ExecContext(ctx, query, args...); err != nil {
		return err
	}
	return tx.Commit()
}

// release stops the heartbeat and deletes the row if it is still ours.
func (l *lease) release(ctx context.Context) {
	close(l.stop)
	l.done.Wait()
	_, _ = l.conn.ExecContext(ctx, "DELETE FROM `"+LockTable+"` WHERE name = ? AND holder = ?", lockName, l.holder)
}
