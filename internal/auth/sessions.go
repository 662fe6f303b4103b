package auth

import (
	"context"
	"time"
)

// SessionState is the state of a session as support staff see it.
type SessionState string

const (
	StateActive  SessionState = "active"
	StateExpired SessionState = "expired"
	StateRevoked SessionState = "revoked"
	StateAll     SessionState = "all"
)

// StateAt returns the state of s at now. A revoked session stays revoked
// after it expires.
func (s Session) StateAt(now time.Time) SessionState {
	switch {
	case s.Revoked():
		return StateRevoked
	case !now.Before(s.ExpiresAt):
		return StateExpired
	}
	return StateActive
}

// SessionRow is one line of a session listing: a session without its key,
// with the user's nickname and openid. OpenID is raw here; every display
// masks it (MaskOpenID).
type SessionRow struct {
	Session  Session // SessionKey is always empty in listings
	Nickname string
	OpenID   string
	State    SessionState
}

// SessionSort orders a listing.
type SessionSort string

const (
	SortCreatedDesc SessionSort = "created"   // newest first (default)
	SortLastSeen    SessionSort = "last_seen" // most recently seen first
	SortExpires     SessionSort = "expires"   // soonest expiry first
)

// SessionFilter selects sessions for a listing. Pages are keyset: After is
// the last row of the previous page (nil for the first page).
type SessionFilter struct {
	State  SessionState // "" or StateAll: every state
	UserID int64        // 0: every user
	Search string       // literal match on nickname, openid or user id
	Sort   SessionSort
	Limit  int
	After  *SessionRow
	Now    time.Time // the instant states are computed at
}

// SessionLister is what the session inspector and `oactl sessions` need
// from storage. internal/db implements it.
type SessionLister interface {
	ListSessions(ctx context.Context, f SessionFilter) ([]SessionRow, error)
	// CountSessions counts the sessions f selects (its Limit and After
	// are ignored).
	CountSessions(ctx context.Context, f SessionFilter) (int64, error)
	// RevokeSessions revokes the given sessions that are not yet revoked
	// (revoke_reason a.Reason) and returns how many it revoked, with one
	// audit row per user in the same transaction.
	RevokeSessions(ctx context.Context, ids []int64, a Audit) (int64, error)
	// RevokeUserSessions revokes every unrevoked session of a user, with
	// its audit row.
	RevokeUserSessions(ctx context.Context, userID int64, a Audit) (int64, error)
	// PurgeSessions deletes sessions that expired before expiredBefore, a
	// support action with its audit row (serve's own purge job writes
	// none).
	PurgeSessions(ctx context.Context, expiredBefore time.Time, a Audit) (int64, error)
	// UserIdentities returns a user's identities, oldest first (none for
	// a user that has not logged in since oactl recorded them).
	UserIdentities(ctx context.Context, userID int64) ([]Identity, error)
}

// MaskOpenID shows the first and last four characters of an openid (or a
// unionid; "" stays ""): enough for support to compare with what a user reads out, not enough to
// impersonate anyone in logs or screenshots.
func MaskOpenID(openid string) string {
	if openid == "" {
		return ""
	}
	if len(openid) <= 8 {
		return "…"
	}
	return openid[:4] + "…" + openid[len(openid)-4:]
}

// MaskMobile shows a phone number's first three and last four characters
// (138****1234), the rest as one * each; a number of seven characters or
// fewer keeps only its last two. Support confirms a number a user reads
// out without listings showing whole numbers.
func MaskMobile(m string) string {
	r := []rune(m)
	keepHead, keepTail := 3, 4
	if len(r) <= keepHead+keepTail {
		keepHead, keepTail = 0, min(2, len(r))
	}
	for i := keepHead; i < len(r)-keepTail; i++ {
		r[i] = '*'
	}
	return string(r)
}
