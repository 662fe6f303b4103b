package auth

import (
	"errors"
	"fmt"
)

// Errors of the login domain. internal/api maps them to errno values;
// nothing else does.
var (
	// ErrUnauthenticated: missing, unknown, expired or revoked token.
	ErrUnauthenticated = errors.New("not logged in")
	// ErrNotFound: the store matched no row.
	ErrNotFound = errors.New("not found")
	// ErrAccountDisabled, ErrAccountCancelled, ErrAccountDeleted: the
	// account exists but may not be used (wx_user.status 1, 2, deleted 1).
	ErrAccountDisabled  = errors.New("account disabled")
	ErrAccountCancelled = errors.New("account cancelled")
	ErrAccountDeleted   = errors.New("account deleted")
	// ErrRateLimited: too many logins from one client address.
	ErrRateLimited = errors.New("too many requests")
)

// IsAccountState reports whether err names an account state that forbids
// use (disabled, cancelled, deleted): the one place these three are
// grouped.
func IsAccountState(err error) bool {
	return errors.Is(err, ErrAccountDisabled) || errors.Is(err, ErrAccountCancelled) || errors.Is(err, ErrAccountDeleted)
}

// MissingArgumentError: a required argument is absent (errno 401). Field
// is the JSON field (or "file", the upload's form field) the client
// sees in data.field; empty when no one field is (an empty body).
type MissingArgumentError struct{ Field string }

func (e *MissingArgumentError) Error() string {
	if e.Field == "" {
		return "missing argument"
	}
	return "missing argument " + e.Field
}

// BadArgumentError: an argument is malformed or out of range (errno 402).
// Field is as MissingArgumentError's; empty when the body as a whole is
// malformed.
type BadArgumentError struct {
	Field  string
	Reason string
}

func (e *BadArgumentError) Error() string {
	if e.Field == "" {
		return "bad argument: " + e.Reason
	}
	return fmt.Sprintf("bad argument %s: %s", e.Field, e.Reason)
}

// UpstreamError: WeChat refused the request (Errcode != 0) or did not
// answer usefully (Errcode 0, Answered false). Errmsg is WeChat's text.
type UpstreamError struct {
	Answered bool
	Errcode  int
	Errmsg   string
	Err      error // the transport or decoding failure, when not answered
}

func (e *UpstreamError) Error() string {
	if e.Answered {
		return fmt.Sprintf("wechat: errcode %d: %s", e.Errcode, e.Errmsg)
	}
	return fmt.Sprintf("wechat: %v", e.Err)
}

func (e *UpstreamError) Unwrap() error { return e.Err }
