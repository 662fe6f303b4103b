package auth

import "fmt"

// SchemaState is the one description of a database's schema version
// against this binary's: /readyz, serve's start-up gate, the sessions
// commands and the doctor all read it.
type SchemaState struct {
	Current  int // highest step applied in the database; 0 for none
	Required int // the version this binary needs
}

// Check returns nil when the schema is recent enough, else a
// *SchemaError. A newer schema is fine: a rolling deploy runs old
// binaries on a migrated database.
func (s SchemaState) Check() error {
	if s.Current < s.Required {
		return &SchemaError{State: s}
	}
	return nil
}

// SchemaError: the database's schema is older than this binary needs.
// cmd maps it to an exit status and /readyz to 503, each in one place.
type SchemaError struct{ State SchemaState }

func (e *SchemaError) Error() string {
	if e.State.Current == 0 {
		return "the database has no oactl schema"
	}
	return fmt.Sprintf("the database's schema is version %d, this oactl needs %d", e.State.Current, e.State.Required)
}
