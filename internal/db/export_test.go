package db

import (
	"context"

	"github.com/oactl/oactl/internal/auth"
)

// What the external tests (package db_test, which may import migrate)
// need of the package's insides.
var IsDuplicate = isDuplicate

const TimeLayout = timeLayout

var WithSyncWait = withSyncWait

// StoredSession reads every column of a token's session and its user:
// SessionByTokenHash reads only what a request needs, and the tests that
// check what a write stored want the rest too.
func (d *DB) StoredSession(ctx context.Context, tokenHash string) (auth.Session, auth.User, error) {
	var s auth.Session
	var u auth.User
	var deleted int
	dest := append(sessionDest(&s), d.userDest(&u, &deleted)...)
	err := d.r.QueryRowContext(ctx, `SELECT `+sessionColumns+`, `+userColumns+`
		FROM wx_session s JOIN wx_user u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash).Scan(dest...)
	if err != nil {
		return auth.Session{}, auth.User{}, translate(err, "stored session", auth.ErrNotFound)
	}
	u.Deleted = deleted != 0
	return s, u, nil
}
