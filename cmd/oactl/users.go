package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/inspect"
)

func init() {
	register(func(f *factory) *cobra.Command { return newUsersCmd(f) })
}

type usersListOptions struct {
	*sessionsOptions
	JSON   bool
	State  auth.UserState
	Search string
	Limit  int
}

type usersShowOptions struct {
	*sessionsOptions
	JSON bool
	// ID or OpenID names the user (an all-digit argument is an id).
	ID     int64
	OpenID string
}

// usersChangeOptions are disable, enable and cancel's.
type usersChangeOptions struct {
	*sessionsOptions
	Action     string // auth.ActionDisable, ActionEnable or ActionCancel
	IDs        []int64
	Reason     string
	Yes        bool
	StorageDir string // cancel: where the user's uploads are
}

func newUsersCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "List, show, disable, enable and cancel accounts (wx_user)",
		Long: `users manages the accounts of wx_user for support staff. Every change
(disable, enable, cancel) writes a row of oa_audit naming --actor (or
OA_ACTOR, or your OS user name) in the same transaction; oactl audit list
shows them.

States: active (status 0), disabled (status 1: every session revoked, the
next login answers 700 已禁用), cancelled (status 2: the account was deleted
and anonymised, by the user through POST /wx/auth/cancel or by users cancel;
a later login of the same WeChat account makes a new account), deleted
(deleted = 1, logical deletion by other software). See docs/ACCOUNTS.md.

Exit status: 0 done, 1 failure (or a refused change), 2 usage, 4 nothing
matched. Without a terminal a changing command needs --yes.`,
		Example: `  oactl users list --state disabled --json
  oactl users show 42
  oactl users disable 42 --reason "abuse report #881" --yes
  oactl users enable 42 --yes
  oactl users cancel 42 --yes --actor zhang.san`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newUsersListCmd(f, nil), newUsersShowCmd(f, nil),
		newUsersChangeCmd(f, auth.ActionDisable, nil), newUsersChangeCmd(f, auth.ActionEnable, nil),
		newUsersChangeCmd(f, auth.ActionCancel, nil))
	return cmd
}

func parseUserState(s string) (auth.UserState, error) {
	switch st := auth.UserState(strings.ToLower(s)); st {
	case auth.UserActive, auth.UserDisabled, auth.UserCancelled, auth.UserDeleted, auth.UserAll:
		return st, nil
	}
	return "", usageError("--state must be active, disabled, cancelled, deleted or all, got %q", s)
}

func newUsersListCmd(f *factory, runF func(*usersListOptions) error) *cobra.Command {
	o := &usersListOptions{}
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print accounts as a table or JSON, newest ids first",
		Long: `list prints accounts by id, newest first: a text table, or with --json an
array of {"id","nickname","mobile","state","identities","sessions",
"lastLoginAt","createdAt"} (mobile masked as 138****1234, sessions the count
of active sessions, times RFC 3339 UTC or null). --search matches the
nickname or mobile literally, a user id, or an openid exactly. Nothing
matched: exit status 4 ([] with --json).`,
		Example: `  oactl users list --search 张三
  oactl users list --state cancelled --limit 0 --json | jq length`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.resolve(f); err != nil {
				return err
			}
			st, err := parseUserState(state)
			if err != nil {
				return err
			}
			o.State = st
			switch {
			case o.Limit < 0:
				return usageError("--limit must be 0 (no limit) or more, got %d", o.Limit)
			case len(o.Search) > maxSearchLen:
				return usageError("--search is longer than %d bytes", maxSearchLen)
			}
			if runF != nil {
				return runF(o)
			}
			return runUsersList(c.Context(), f.io, o)
		},
	}
	o.sessionsOptions = bindSessionsDB(config.Settings.For("users list", cmd.Flags())).withTimeZone()
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array")
	cmd.Flags().StringVar(&state, "state", "all", "active, disabled, cancelled, deleted or all")
	cmd.Flags().StringVar(&o.Search, "search", "", "literal text in the nickname or mobile, a user id, or an openid")
	cmd.Flags().IntVar(&o.Limit, "limit", 1000, "at most this many accounts (0: all of them)")
	return cmd
}

func newUsersShowCmd(f *factory, runF func(*usersShowOptions) error) *cobra.Command {
	o := &usersShowOptions{}
	cmd := &cobra.Command{
		Use:   "show ID|OPENID",
		Short: "Show an account: its state, identities, sessions and audit trail",
		Long: `show prints one account (by user id, or by an openid of any app): the
account as users list shows it, its identities (appid, masked openid and
unionid), its sessions and its audit trail, newest first. --json prints
{"user","identities","sessions","audit"} with the shapes of users list,
sessions list and audit list. No such account: exit status 4.`,
		Example: `  oactl users show 42
  oactl users show oAbCdEfGhIjKlMnOpQrStUvWxYz0 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.resolve(f); err != nil {
				return err
			}
			arg := strings.TrimSpace(args[0])
			if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
				if id <= 0 {
					return usageError("%q is not a user id", arg)
				}
				o.ID = id
			} else {
				if arg == "" || len(arg) > 64 || strings.ContainsAny(arg, " \t\r\n") {
					return usageError("%q is neither a user id nor an openid", arg)
				}
				o.OpenID = arg
			}
			if runF != nil {
				return runF(o)
			}
			return runUsersShow(c.Context(), f.io, o)
		},
	}
	o.sessionsOptions = bindSessionsDB(config.Settings.For("users show", cmd.Flags())).withTimeZone()
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

// changeText is what each change command says about itself.
var changeText = map[string]struct{ short, long, example, prompt string }{
	auth.ActionDisable: {
		short: "Disable accounts: status 1, every session revoked",
		long: `disable sets wx_user.status to 1 and revokes every session of the user
(reason "disabled") in one transaction with its audit row: the next request
with any of the user's tokens answers errno 501, on every serve process,
and the next login 700 已禁用. A cancelled or deleted account is refused
(exit 1); an account already disabled is left alone.`,
		example: `  oactl users disable 42 --reason "abuse report #881" --yes`,
		prompt:  "Disable %s and revoke all their sessions? (y/N) ",
	},
	auth.ActionEnable: {
		short: "Enable disabled accounts: status 0",
		long: `enable sets wx_user.status back to 0 (with its audit row): the user can log
in again. Their old sessions stay revoked. A cancelled or deleted account
is refused (exit 1): cancelling erased it, and enabling cannot bring it
back.`,
		example: `  oactl users enable 42 --yes`,
		prompt:  "Enable %s? (y/N) ",
	},
	auth.ActionCancel: {
		short: "Cancel (delete) accounts, as POST /wx/auth/cancel does",
		long: `cancel deletes accounts as the user's own POST /wx/auth/cancel does, in one
transaction with its audit row: every session revoked (reason "cancelled")
and its session_key erased, the identities deleted, the row anonymised
(nickname, avatar, mobile, openid, IP, birthday emptied, username
cancelled-ID) and set to status 2; then the user's uploaded files under
--storage-dir are deleted. The row itself stays (other tables may point at
its id). A later login of the same WeChat account makes a new account.
It cannot be undone, so it always needs --yes.`,
		example: `  oactl users cancel 42 --yes --reason "user request by email, ticket 1203"`,
	},
}

func newUsersChangeCmd(f *factory, action string, runF func(*usersChangeOptions) error) *cobra.Command {
	o := &usersChangeOptions{Action: action}
	text := changeText[action]
	cmd := &cobra.Command{
		Use:     action + " ID...",
		Short:   text.short,
		Long:    text.long,
		Example: text.example,
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.resolve(f); err != nil {
				return err
			}
			if len(args) == 0 {
				return usageError("%s needs user ids", action)
			}
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil || id <= 0 {
					return usageError("%q is not a user id", a)
				}
				o.IDs = append(o.IDs, id)
			}
			o.IDs = uniqueInt64(o.IDs)
			if len(o.Reason) > maxReasonLen {
				return usageError("--reason is longer than %d bytes", maxReasonLen)
			}
			o.Reason = strings.TrimSpace(o.Reason)
			if action == auth.ActionCancel && !o.Yes {
				return usageError("cancel erases the account%s for good: add --yes", plural(len(o.IDs)))
			}
			if runF != nil {
				return runF(o)
			}
			return runUsersChange(c.Context(), f.io, o)
		},
	}
	set := config.Settings.For("users "+action, cmd.Flags())
	o.sessionsOptions = bindSessionsDB(set).withActor().withTimeZone()
	if action == auth.ActionCancel {
		set.String("storage-dir", &o.StorageDir)
	}
	cmd.Flags().StringVar(&o.Reason, "reason", "", "why, for the audit row")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask")
	return cmd
}

func uniqueInt64(ids []int64) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// userJSON is one account in users list and show (SPEC §11).
type userJSON struct {
	ID          int64   `json:"id"`
	Nickname    string  `json:"nickname"`
	Mobile      string  `json:"mobile"`
	State       string  `json:"state"`
	Identities  int     `json:"identities"`
	Sessions    int64   `json:"sessions"`
	LastLoginAt *string `json:"lastLoginAt"`
	CreatedAt   *string `json:"createdAt"`
}

func userToJSON(r auth.UserRow) userJSON {
	u := r.User
	return userJSON{
		ID: u.ID, Nickname: u.Nickname, Mobile: auth.MaskMobile(u.Mobile), State: string(u.State()),
		Identities: r.Identities, Sessions: r.Sessions,
		LastLoginAt: optionalTime(u.LastLoginAt), CreatedAt: optionalTime(u.CreatedAt),
	}
}

var userCols = []inspect.Column{
	{Title: "ID", Width: 8}, {Title: "NICKNAME", Width: 20}, {Title: "MOBILE", Width: 11}, {Title: "STATE", Width: 9},
	{Title: "IDS", Width: 3}, {Title: "SESS", Width: 4}, {Title: "LAST LOGIN", Width: 20}, {Title: "CREATED"},
}

func userCells(r auth.UserRow) []string {
	j := userToJSON(r)
	return []string{strconv.FormatInt(j.ID, 10), j.Nickname, j.Mobile, j.State, strconv.Itoa(j.Identities),
		strconv.FormatInt(j.Sessions, 10), inspect.RFC3339(r.User.LastLoginAt), inspect.RFC3339(r.User.CreatedAt)}
}

func runUsersList(ctx context.Context, s *stdio, o *usersListOptions) error {
	store, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	w := bufio.NewWriter(s.Out)
	arr := &jsonArray{w: w}
	table := inspect.NewColumns(w, userCols...)
	f := auth.UserFilter{State: o.State, Search: o.Search, Now: o.Now().UTC()}
	written, err := writePages(o.Limit, func(n int, after *auth.UserRow) ([]auth.UserRow, error) {
		f.Limit = n
		if after != nil {
			f.AfterID = after.User.ID
		}
		return store.ListUsers(ctx, f)
	}, func(r auth.UserRow) error {
		if o.JSON {
			return arr.add(userToJSON(r))
		}
		return table.Row(userCells(r)...)
	})
	if err != nil {
		return err
	}
	return endList(w, arr, o.JSON, written, "account")
}

// identityJSON is one identity in users show: openid and unionid masked.
type identityJSON struct {
	AppID     string `json:"appid"`
	OpenID    string `json:"openid"`
	UnionID   string `json:"unionid"`
	CreatedAt string `json:"createdAt"`
}

type userShowJSON struct {
	User       userJSON       `json:"user"`
	Identities []identityJSON `json:"identities"`
	Sessions   []sessionJSON  `json:"sessions"`
	Audit      []auditJSON    `json:"audit"`
}

// showLimit bounds the sessions and audit rows users show prints.
const showLimit = 1000

func runUsersShow(ctx context.Context, s *stdio, o *usersShowOptions) error {
	store, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	var u auth.User
	if o.OpenID != "" {
		u, err = store.UserByOpenID(ctx, o.OpenID)
	} else {
		u, err = store.UserByID(ctx, o.ID)
	}
	if errors.Is(err, auth.ErrNotFound) {
		return withExit(exitNoMatch, errors.New("nothing matched: no such account"))
	}
	if err != nil {
		return err
	}
	now := o.Now().UTC()
	rows, err := store.ListUsers(ctx, auth.UserFilter{ID: u.ID, Limit: 1, Now: now})
	if err != nil {
		return err
	}
	row := auth.UserRow{User: u}
	if len(rows) == 1 {
		row = rows[0]
	}
	idents, err := store.UserIdentities(ctx, u.ID)
	if err != nil {
		return err
	}
	sessions, err := store.ListSessions(ctx, auth.SessionFilter{UserID: u.ID, Limit: showLimit, Now: now})
	if err != nil {
		return err
	}
	trail, err := store.ListAudit(ctx, auth.AuditFilter{UserID: u.ID, Limit: showLimit})
	if err != nil {
		return err
	}
	out := userShowJSON{User: userToJSON(row), Identities: []identityJSON{}, Sessions: []sessionJSON{}, Audit: []auditJSON{}}
	for _, i := range idents {
		out.Identities = append(out.Identities, identityJSON{AppID: i.AppID, OpenID: auth.MaskOpenID(i.OpenID),
			UnionID: auth.MaskOpenID(i.UnionID), CreatedAt: utcText(i.CreatedAt)})
	}
	for _, r := range sessions {
		out.Sessions = append(out.Sessions, toJSON(r))
	}
	for _, e := range trail {
		out.Audit = append(out.Audit, auditToJSON(e))
	}
	w := bufio.NewWriter(s.Out)
	if o.JSON {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		w.Write(append(b, '\n'))
	} else if err := writeUserShow(w, row, out, sessions, trail); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeUserShow prints users show's text form: the account, then its
// identities, sessions and audit trail as tables.
func writeUserShow(w io.Writer, row auth.UserRow, out userShowJSON, sessions []auth.SessionRow, trail []auth.AuditEntry) error {
	if err := inspect.NewColumns(w, userCols...).Row(userCells(row)...); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nidentities (%d)\n", len(out.Identities))
	if len(out.Identities) > 0 {
		t := inspect.NewColumns(w, inspect.Column{Title: "APPID", Width: 20}, inspect.Column{Title: "OPENID", Width: 9},
			inspect.Column{Title: "UNIONID", Width: 9}, inspect.Column{Title: "CREATED"})
		for _, i := range out.Identities {
			if err := t.Row(i.AppID, i.OpenID, orDash(i.UnionID), i.CreatedAt); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(w, "\nsessions (%d)\n", len(sessions))
	if len(sessions) > 0 {
		if err := inspect.NewTableWriter(w).Write(sessions); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\naudit (%d)\n", len(trail))
	if len(trail) > 0 {
		t := newAuditTable(w)
		for _, e := range trail {
			if err := t.Row(auditCells(e)...); err != nil {
				return err
			}
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// changeOutcome is what one change did to one account.
type changeOutcome int

const (
	changed changeOutcome = iota
	unchanged
	notFound
	refused
)

func runUsersChange(ctx context.Context, s *stdio, o *usersChangeOptions) error {
	who := "user" + plural(len(o.IDs)) + " " + joinIDs(o.IDs)
	if !o.Yes {
		if !s.IsTerm() {
			return usageError("not on a terminal: add --yes to %s %s", o.Action, who)
		}
		ok, err := confirm(s, fmt.Sprintf(changeText[o.Action].prompt, who))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(s.Err, "cancelled")
			return withExit(exitFailure, nil)
		}
	}
	store, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	var svc *auth.Service
	if o.Action == auth.ActionCancel {
		files, closeFiles, err := userFiles(s.Err, o.StorageDir, store)
		if err != nil {
			return err
		}
		defer closeFiles()
		svc = &auth.Service{Store: store, Now: o.Now, Files: files}
	}
	counts := map[changeOutcome]int{}
	for _, id := range o.IDs {
		out, err := changeUser(ctx, s, o, store, svc, id)
		if err != nil {
			return err
		}
		counts[out]++
	}
	switch {
	case counts[refused] > 0:
		return withExit(exitFailure, nil)
	case counts[notFound] == len(o.IDs):
		return withExit(exitNoMatch, errors.New("nothing matched: no such account"))
	case counts[notFound] > 0:
		return withExit(exitNoMatch, nil)
	}
	return nil
}

// changeUser applies o's change to one account and says what happened.
// Only a failure of the database is an error; the account's own state
// (not found, cancelled, deleted) is an outcome.
func changeUser(ctx context.Context, s *stdio, o *usersChangeOptions, store sessionStore, svc *auth.Service, id int64) (changeOutcome, error) {
	a := o.audit(o.Reason)
	var msg string
	var err error
	switch o.Action {
	case auth.ActionCancel:
		var res auth.CancelResult
		res, err = svc.Cancel(ctx, id, a)
		msg = fmt.Sprintf("cancelled user %d: revoked %d session%s, deleted %d identit%s and %d file%s", id,
			len(res.Sessions), plural(len(res.Sessions)), res.Identities, ies(res.Identities), res.Files, plural(res.Files))
	default:
		status := auth.StatusDisabled
		if o.Action == auth.ActionEnable {
			status = auth.StatusActive
		}
		var did bool
		var revoked []int64
		did, revoked, err = store.SetUserStatus(ctx, id, status, a)
		switch {
		case err == nil && !did:
			fmt.Fprintf(s.Out, "user %d was already %sd\n", id, o.Action)
			return unchanged, nil
		case o.Action == auth.ActionDisable:
			msg = fmt.Sprintf("disabled user %d: revoked %d session%s", id, len(revoked), plural(len(revoked)))
		default:
			msg = fmt.Sprintf("enabled user %d", id)
		}
	}
	switch {
	case errors.Is(err, auth.ErrNotFound):
		fmt.Fprintf(s.Err, "oactl: user %d: no such account\n", id)
		return notFound, nil
	case errors.Is(err, auth.ErrAccountCancelled), errors.Is(err, auth.ErrAccountDeleted):
		fmt.Fprintf(s.Err, "oactl: user %d: refused: the account is %s\n", id, strings.TrimPrefix(err.Error(), "account "))
		return refused, nil
	case err != nil:
		return refused, err
	}
	fmt.Fprintln(s.Out, msg)
	return changed, nil
}

func plural(n int) string { return inspect.Plural(int64(n)) }

func ies(n int64) string {
	if n == 1 {
		return "y"
	}
	return "ies"
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}
