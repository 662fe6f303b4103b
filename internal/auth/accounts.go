package auth

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// Why a session was revoked (wx_session.revoke_reason), when oactl
// revokes it on its own; support staff write their own reason.
const (
	ReasonLogout       = "logout"
	ReasonCancelled    = "cancelled"
	ReasonDisabled     = "disabled"
	ReasonSessionLimit = "session limit"
)

// Audit actions (oa_audit.action, SPEC §11).
const (
	ActionRevoke  = "revoke"
	ActionPurge   = "purge"
	ActionRekey   = "rekey"
	ActionDisable = "disable"
	ActionEnable  = "enable"
	ActionCancel  = "cancel"
)

// ActorUser is the actor of a self-cancel: the user, through the API.
// Support actors may not take the name (ValidateActor), so the trail
// never confuses the two.
const ActorUser = "user"

// Limits of the audit columns, in bytes.
const (
	MaxActor  = 64
	MaxReason = 255
)

// ErrPhoneTaken: bindPhone's number belongs to another account that is
// neither cancelled nor deleted (errno 705). Nothing was written.
var ErrPhoneTaken = errors.New("phone number belongs to another account")

// ValidateActor checks a support actor's name (--actor, OA_ACTOR or the
// OS user): 1 to 64 bytes of printable text, not the reserved ActorUser.
func ValidateActor(actor string) error {
	switch {
	case actor == "":
		return errors.New("empty actor")
	case len(actor) > MaxActor:
		return errors.New("actor longer than 64 bytes")
	case !utf8.ValidString(actor):
		return errors.New("actor is not valid UTF-8")
	case strings.EqualFold(actor, ActorUser):
		return errors.New(`"user" is the actor of self-cancels; name the person`)
	}
	for _, r := range actor {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return errors.New("actor holds control characters")
		}
	}
	return nil
}

// Audit is who makes a change, when and why: the store writes it as a row
// of oa_audit in the change's own transaction.
type Audit struct {
	Actor  string
	Reason string    // free text of the actor; "" for none
	At     time.Time // the change's time (UTC, whole seconds in the row)
}

// AuditEntry is a row of oa_audit. SessionIDs lists the sessions an
// action revoked as far as the column holds them; Sessions is always the
// whole count (purge and rekey give only a count). UserID 0: no one user
// (purge, rekey). At is UTC.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      string
	Action     string
	UserID     int64
	SessionIDs []int64
	Sessions   int64
	Reason     string
}

// AuditFilter selects audit rows, newest first. Before is the last row of
// the previous page (keyset), nil for the first.
type AuditFilter struct {
	UserID int64     // 0: every user
	Since  time.Time // zero: from the beginning
	Limit  int
	Before *AuditEntry
}

// UserState is an account's state as support staff name it.
type UserState string

// The states of an account (SPEC §11); StateAllUsers selects every one.
const (
	UserActive    UserState = "active"
	UserDisabled  UserState = "disabled"
	UserCancelled UserState = "cancelled"
	UserDeleted   UserState = "deleted"
	UserAll       UserState = "all"
)

// State names u's state: deleted wins over the status, and an unknown
// status counts as disabled (as Usable treats it).
func (u User) State() UserState {
	switch {
	case u.Deleted:
		return UserDeleted
	case u.Status == StatusActive:
		return UserActive
	case u.Status == StatusCancelled:
		return UserCancelled
	}
	return UserDisabled
}

// UserRow is one line of a user listing.
type UserRow struct {
	User       User
	Identities int   // rows of wx_identity
	Sessions   int64 // unexpired, unrevoked sessions
}

// UserFilter selects users for a listing, by id descending (the primary
// key is the only index wx_user has that orders them; ids are a cursor
// here, not a clock). AfterID is the last id of the previous page.
type UserFilter struct {
	ID      int64     // 0: every user; else only this one
	State   UserState // "" or UserAll: every state
	Search  string    // literal text in the nickname or mobile, an id, or an openid
	Limit   int
	AfterID int64
	Now     time.Time // the instant "active session" is judged at
}

// CancelResult is what a cancellation did.
type CancelResult struct {
	Sessions   []int64 // the sessions it revoked (reason "cancelled")
	Identities int64   // identities deleted
	Files      int     // uploaded files deleted
}

// UserFiles deletes a user's uploaded files (internal/storage's records
// of owners implement it).
type UserFiles interface {
	DeleteOwner(ctx context.Context, owner int64) (int, error)
}

// Accounts is what support tooling needs beyond SessionLister to manage
// accounts: internal/db implements it.
type Accounts interface {
	// UserByID returns a user (auth.ErrNotFound when there is none).
	UserByID(ctx context.Context, id int64) (User, error)
	// SetUserStatus sets wx_user.status to StatusActive or
	// StatusDisabled. Disabling revokes every unrevoked session of the
	// user (reason "disabled") in the same transaction; enabling a
	// cancelled or deleted account is ErrAccountCancelled or
	// ErrAccountDeleted. changed is false when the user already was in
	// that state (nothing written, no audit row); revoked lists the
	// sessions it revoked.
	SetUserStatus(ctx context.Context, id int64, status int, a Audit) (changed bool, revoked []int64, err error)
}
