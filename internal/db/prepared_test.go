package db

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestPreparedInsideTransactionOnOneWriter: on SQLite's one writer
// connection, a transaction that binds a statement must not wait for a
// request that is preparing the same statement for the pool (and waits
// for the transaction's connection): the lock of the set is not held
// while preparing.
func TestPreparedInsideTransactionOnOneWriter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "p.db"), Options{TimeZone: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const q = "SELECT 1"
	tx, err := d.w.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	warmed := make(chan struct{})
	go func() {
		defer close(warmed)
		d.warm(ctx, q) // waits for the writer, which tx holds
	}()
	time.Sleep(50 * time.Millisecond)
	st, err := d.txStmt(ctx, tx, q)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.QueryRowContext(ctx).Scan(&n); err != nil || n != 1 {
		t.Fatalf("in the transaction: %d, %v", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	<-warmed
	if _, ok := d.hot.lookup(q); !ok {
		t.Error("warm did not keep the statement")
	}
	if ctx.Err() != nil {
		t.Fatal("deadlocked until the test's timeout")
	}
}

// TestPreparedSetKeepsOneAndCloses: concurrent first uses keep one
// statement; after close, get refuses.
func TestPreparedSetKeepsOneAndCloses(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "p.db"), Options{TimeZone: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan any, 8)
	for range 8 {
		go func() {
			st, err := d.hot.get(ctx, d.r, "SELECT 2")
			if err != nil {
				got <- err
				return
			}
			got <- st
		}()
	}
	var all []any
	for range 8 {
		v := <-got
		if err, ok := v.(error); ok {
			t.Fatal(err)
		}
		all = append(all, v)
	}
	kept, ok := d.hot.lookup("SELECT 2")
	if !ok {
		t.Fatal("no statement kept")
	}
	for _, v := range all {
		if v != any(kept) {
			t.Error("a request got a statement other than the one kept")
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.hot.get(ctx, d.r, "SELECT 2"); !errors.Is(err, errPreparedClosed) {
		t.Errorf("get after Close: %v", err)
	}
	if _, _, err := d.SessionByTokenHash(ctx, "x"); err == nil {
		t.Error("SessionByTokenHash after Close succeeded")
	}
}
