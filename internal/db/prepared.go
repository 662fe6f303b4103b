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
func (p *preparedSet) get(ctx context.Context, pool *sqlx.DB, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPreparedClosed
	}
	if st, ok := p.stmts[query]; ok {
		return st, nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if p.stmts == nil {
		p.stmts = make(map[string]*sql.Stmt)
	}
	p.stmts[query] = st
	return st, nil
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
