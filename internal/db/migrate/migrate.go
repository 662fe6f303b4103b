// Package migrate applies oactl's embedded schema steps to a database
// opened by package db. It is a library first: Plan says what Up or Down
// would do, step by step with the exact SQL (a dry run prints it), and
// Apply, Up and Down return the changes they made. Printing belongs to
// `oactl migrate`.
//
// Each step carries what it means to the data (Step.DropsSessions: its
// down logs everyone out). A wx_user made by the seed's DDL is adopted:
// the step that creates wx_user is recorded without running (ActionAdopt),
// its rows untouched; one that differs is refused with an AdoptionError.
//
// Runs take a lock (MySQL GET_LOCK on one pinned connection; on a Galera
// cluster, where GET_LOCK is per node, a lease row in LockTable; on SQLite
// the one writer connection) and re-read the version table under it, so
// concurrent runs apply each step once.
package migrate

import (
	"context"
	"errors"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
)

// DefaultLockTimeout is how long a run waits for another run's lock.
const DefaultLockTimeout = 60 * time.Second

// Options tune New. The zero value is usable.
type Options struct {
	// LockTimeout bounds the wait for the migration lock, in whole seconds
	// between 1 and 3600 (GET_LOCK's range). Default DefaultLockTimeout.
	LockTimeout time.Duration
	// Now stamps applied steps. Default time.Now.
	Now func() time.Time
	// LeaseTTL is how long the Galera lease may go without a heartbeat
	// before a waiting run takes it over. Default DefaultLeaseTTL.
	LeaseTTL time.Duration
}

// Migrator plans and applies the embedded steps of one database.
type Migrator struct {
	d     *db.DB
	steps []step
	err   error // from loading the embedded steps; returned by every method
	now   func() time.Time

	lockTimeout time.Duration
	// useLease: take the lease (LockTable) instead of GET_LOCK, on a
	// Galera cluster.
	useLease bool
	leaseTTL time.Duration
}

// New returns the migrator of d's dialect.
func New(d *db.DB, opts Options) *Migrator {
	steps, err := loadSteps(d.Dialect())
	m := &Migrator{d: d, steps: steps, err: err, lockTimeout: opts.LockTimeout, now: opts.Now,
		useLease: d.Server().Galera, leaseTTL: opts.LeaseTTL}
	if m.lockTimeout <= 0 {
		m.lockTimeout = DefaultLockTimeout
	}
	if m.leaseTTL <= 0 {
		m.leaseTTL = DefaultLeaseTTL
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// StepStatus is one step of a Status.
type StepStatus struct {
	Step
	Applied   bool
	AppliedAt time.Time // UTC; zero while pending
	// ChecksumMismatch: the step was applied from other SQL than this
	// binary embeds.
	ChecksumMismatch bool
}

// Status is a database's schema state: the one auth.SchemaState (Current,
// and Required, this binary's latest step) and each step's state.
type Status struct {
	auth.SchemaState
	Steps []StepStatus
	// Adoptable: wx_user exists without version control and matches the
	// seed's columns, so Up will adopt it without touching its rows.
	Adoptable bool
}

// Pending returns the steps this binary knows that are not applied.
func (s Status) Pending() []StepStatus {
	var out []StepStatus
	for _, st := range s.Steps {
		if !st.Applied {
			out = append(out, st)
		}
	}
	return out
}

// Status reports which steps are applied. It takes no lock.
func (m *Migrator) Status(ctx context.Context) (Status, error) {
	if m.err != nil {
		return Status{}, m.err
	}
	q := m.d.SQL()
	applied, err := m.applied(ctx, q)
	if err != nil {
		return Status{}, err
	}
	st := Status{SchemaState: auth.SchemaState{Current: current(applied), Required: len(m.steps)}}
	for _, s := range m.steps {
		a, ok := applied[s.Version]
		st.Steps = append(st.Steps, StepStatus{
			Step: s.Step, Applied: ok, AppliedAt: a.at, ChecksumMismatch: ok && a.checksum != s.Checksum,
		})
	}
	for _, s := range m.steps {
		if _, ok := applied[s.Version]; ok || !s.adoptsSeed {
			continue
		}
		adopt, err := m.adoption(ctx, q)
		var ae *AdoptionError
		if err != nil && !errors.As(err, &ae) {
			return Status{}, err
		}
		st.Adoptable = adopt
	}
	return st, nil
}
