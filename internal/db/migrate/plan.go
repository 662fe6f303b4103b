package migrate

import (
	"context"
	"fmt"

	"github.com/oactl/oactl/internal/db"
)

// Direction is which way a plan moves the schema.
type Direction string

// The two directions.
const (
	Up   Direction = "up"
	Down Direction = "down"
)

// Action is what one Change does to the database.
type Action string

// The actions of a change.
const (
	ActionUp    Action = "up"    // run the step's up SQL, then record the step
	ActionAdopt Action = "adopt" // record the step over a seed-made wx_user: no SQL touches it
	ActionDown  Action = "down"  // run the step's down SQL, then unrecord the step
)

// Change is one step of a Plan, or one that Apply made.
type Change struct {
	Step
	Action Action
	// SQL is what the change runs, statement by statement without the
	// final ';', ending with the write to the version table (whose
	// applied_at shows as <now UTC>): the text of a dry run.
	SQL []string
}

// Plan is what Up or Down would do to a database.
type Plan struct {
	Direction Direction
	To        int // the target version
	// Changes in the order they run: oldest first up, newest first down.
	Changes []Change
}

// DropsSessions reports whether the plan reverts a step whose down drops
// wx_session (everyone is logged out).
func (p Plan) DropsSessions() bool {
	for _, c := range p.Changes {
		if c.Action == ActionDown && c.DropsSessions {
			return true
		}
	}
	return false
}

// NoDownError: going down would revert a step that has no down (the step
// that creates wx_user: oactl never drops user data).
type NoDownError struct{ Step Step }

func (e *NoDownError) Error() string {
	return fmt.Sprintf("migrate down: step %d (%s) has no down", e.Step.Version, e.Step.Name)
}

// Plan says what Up or Down to version to would do now. It takes no lock
// and changes nothing, not even the version table. Up to 0 means the
// latest step. A wx_user that differs from the seed's is an
// *AdoptionError; reverting an applied step that has no down, a
// *NoDownError.
func (m *Migrator) Plan(ctx context.Context, dir Direction, to int) (Plan, error) {
	if m.err != nil {
		return Plan{}, m.err
	}
	return m.plan(ctx, m.d.SQL(), dir, to)
}

// target checks to against the embedded steps (up to 0 is the latest).
func (m *Migrator) target(dir Direction, to int) (int, error) {
	switch dir {
	case Up:
		if to == 0 {
			to = len(m.steps)
		}
	case Down:
	default:
		return 0, fmt.Errorf("migrate: unknown direction %q", dir)
	}
	if to < 0 || to > len(m.steps) {
		return 0, fmt.Errorf("migrate %s: no step %d (latest is %d)", dir, to, len(m.steps))
	}
	return to, nil
}

func (m *Migrator) plan(ctx context.Context, q db.Queryer, dir Direction, to int) (Plan, error) {
	to, err := m.target(dir, to)
	if err != nil {
		return Plan{}, err
	}
	applied, err := m.applied(ctx, q)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Direction: dir, To: to}
	if dir == Down {
		return m.planDown(p, applied)
	}
	for _, s := range m.steps[:to] {
		if _, ok := applied[s.Version]; ok {
			continue
		}
		action := ActionUp
		if s.adoptsSeed {
			adopt, err := m.adoption(ctx, q)
			if err != nil {
				return Plan{}, err
			}
			if adopt {
				action = ActionAdopt
			}
		}
		p.Changes = append(p.Changes, s.change(action))
	}
	return p, nil
}

func (m *Migrator) planDown(p Plan, applied map[int]appliedRow) (Plan, error) {
	var noDown *step
	for i := len(m.steps) - 1; i >= p.To; i-- {
		s := m.steps[i]
		if _, ok := applied[s.Version]; !ok {
			continue
		}
		if !s.HasDown {
			noDown = &m.steps[i] // the lowest such step is the lowest possible target
			continue
		}
		p.Changes = append(p.Changes, s.change(ActionDown))
	}
	if noDown != nil {
		return Plan{}, &NoDownError{Step: noDown.Step}
	}
	if p.To < 1 {
		return Plan{}, fmt.Errorf("migrate down: step 1 (%s) has no down: it would drop the users", m.steps[0].Name)
	}
	return p, nil
}

// change describes what action does with s, SQL included.
func (s step) change(action Action) Change {
	c := Change{Step: s.Step, Action: action}
	switch action {
	case ActionUp:
		c.SQL = append(statements(s.up), s.recordSQL())
	case ActionAdopt:
		c.SQL = []string{s.recordSQL()}
	case ActionDown:
		c.SQL = append(statements(s.down), s.unrecordSQL())
	}
	return c
}

// recordSQL is the version-table insert, spelled out for dry runs (the
// run itself passes applied_at as a parameter).
func (s step) recordSQL() string {
	return fmt.Sprintf("INSERT INTO %s (version, name, checksum, applied_at) VALUES (%d, '%s', '%s', <now UTC>)", db.VersionTable, s.Version, s.Name, s.Checksum)
}

func (s step) unrecordSQL() string {
	return fmt.Sprintf("DELETE FROM %s WHERE version = %d", db.VersionTable, s.Version)
}
