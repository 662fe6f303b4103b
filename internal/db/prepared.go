package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// preparedSet holds the statements every request runs, each prepared once
// for the pool (database/sql then prepares it on each connection the
// first time that connection runs it). Parsing the SQL was a third of an
// authenticated request's CPU on SQLite, where modernc's parser runs in
// this process; on MySQL the server skips its parse too.
//
// A failed prepare is not remembered: the next request tries again (the
// table may not exist yet, or the server may have been away).
type preparedSet struct {
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

var errPreparedClosed = errors.New("database is closed")

// get returns the statement for query on pool, preparing it on first use.
// The lock is not held while preparing: that waits for a connection of
// the pool, which (on SQLite's one writer) a transaction may hold while it
// looks a statement up.
func (p *preparedSet) get(ctx context.Context, pool *sqlx.DB, query string) (*sql.Stmt, error) {
	if st, ok, err := p.cached(query); ok || err != nil {
		return st, err
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		st.Close()
		return nil, errPreparedClosed
	}
	if other, ok := p.stmts[query]; ok {
		// Prepared meanwhile by another request: keep one.
		st.Close()
		return other, nil
	}
	if p.stmts == nil {
		p.stmts = make(map[string]*sql.Stmt)
	}
	p.stmts[query] = st
	return st, nil
}

// cached is lookup that also reports a closed set.
func (p *preparedSet) cached(query string) (*sql.Stmt, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false, errPreparedClosed
	}
	st, ok := p.stmts[query]
	return st, ok, nil
}

// close closes every statement; get fails from then on.
func (p *preparedSet) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var err error
	for _, st := range p.stmts {
		err = errors.Join(err, st.Close())
	}
	p.stmts = nil
	return err
}

// lookup returns the statement for query if it is prepared already.
func (p *preparedSet) lookup(query string) (*sql.Stmt, bool) {
	st, ok, _ := p.cached(query)
	return st, ok
}

// warm prepares queries on pool ahead of a transaction that runs them:
// preparing needs a connection of the pool, and inside the transaction
// (on SQLite, which has one writer connection) that connection is the
// transaction's. A failure is left for the transaction to report, and
// ends the warming: a database that cannot be reached should cost a login
// one wait, not one per statement.
func (d *DB) warm(ctx context.Context, queries ...string) {
	for _, q := range queries {
		if _, ok := d.hot.lookup(q); !ok {
			if _, err := d.hot.get(ctx, d.w, q); err != nil {
				return
			}
		}
	}
}

// txStmt is query bound to tx: the statement prepared once for the write
// pool when warm has prepared it (on a connection that has not run it
// yet, database/sql prepares it there), else prepared for tx alone.
func (d *DB) txStmt(ctx context.Context, tx *sqlx.Tx, query string) (*sql.Stmt, error) {
	if st, ok := d.hot.lookup(query); ok {
		return tx.StmtContext(ctx, st), nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return st, nil
}
