package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/inspect"
)

func init() {
	register(func(f *factory) *cobra.Command { return newSessionsCmd(f, nil) })
}

// sessionStore is what the sessions, users and audit commands need from
// the database (*db.DB).
type sessionStore interface {
	auth.SessionLister
	auth.Accounts
	auth.Store
	ListUsers(ctx context.Context, f auth.UserFilter) ([]auth.UserRow, error)
	UserByOpenID(ctx context.Context, openid string) (auth.User, error)
	ListAudit(ctx context.Context, f auth.AuditFilter) ([]auth.AuditEntry, error)
	uploadRecords
	Close() error
}

// sessionsOptions are the settings every sessions, users and audit
// command has. Open is called only when a command runs, so --help and
// flag errors never touch the database.
type sessionsOptions struct {
	DSN        string
	ConfigFile string
	Actor      string // --actor (audited commands); resolved by resolve
	TimeZone   string // --time-zone (commands that read or write wx_user's times)
	Open       func(ctx context.Context) (sessionStore, error)
	Now        func() time.Time

	set      *config.Set
	dbConfig db.Config      // parsed by resolve
	zone     *time.Location // parsed by resolve; time.Local without --time-zone
	actor    bool           // the command binds --actor
	timeZone bool           // the command binds --time-zone
}

// bindSessionsDB binds --db and --config, each command's own (so that
// each subcommand stands alone, with its own runF), and the lazy opener
// of the database they name.
func bindSessionsDB(set *config.Set) *sessionsOptions {
	o := &sessionsOptions{Now: time.Now, set: set, zone: time.Local}
	set.String("db", &o.DSN)
	set.String("config", &o.ConfigFile)
	o.Open = func(ctx context.Context) (sessionStore, error) {
		return openSessionStore(ctx, o.DSN, o.dbConfig, o.zone)
	}
	return o
}

// withActor binds --actor: the command writes audit rows.
func (o *sessionsOptions) withActor() *sessionsOptions {
	o.set.String("actor", &o.Actor)
	o.actor = true
	return o
}

// withTimeZone binds --time-zone: the command reads or writes wx_user's
// datetimes, which are in that zone.
func (o *sessionsOptions) withTimeZone() *sessionsOptions {
	o.set.String("time-zone", &o.TimeZone)
	o.timeZone = true
	return o
}

// resolve resolves the command's settings and checks --db (and --actor,
// --time-zone) before anything is opened.
func (o *sessionsOptions) resolve(f *factory) error {
	if err := f.resolve(o.set); err != nil {
		return err
	}
	var err error
	if o.dbConfig, err = checkDSN(o.set.Where("db"), o.DSN); err != nil {
		return withExit(exitUsage, err)
	}
	if o.timeZone {
		if o.zone, err = loadZone(o.set.Where("time-zone"), o.TimeZone); err != nil {
			return withExit(exitUsage, err)
		}
	}
	if o.actor {
		if o.Actor, err = resolveActor(o.set, o.Actor, f.io.Getenv); err != nil {
			return err
		}
	}
	warnPasswordFlag(f.logger(), o.set, o.dbConfig)
	return nil
}

// audit is the audit of a change this command makes now.
func (o *sessionsOptions) audit(reason string) auth.Audit {
	return auth.Audit{Actor: o.Actor, Reason: reason, At: o.Now().UTC().Truncate(time.Second)}
}

// dbLabel names the database for a screen: the SQLite file's absolute
// path, or user@host:port/db (never a password).
func dbLabel(cfg db.Config) string {
	if cfg.Dialect == db.SQLite {
		return absPath(cfg.Path)
	}
	if cfg.MySQL == nil {
		return cfg.Redacted()
	}
	return cfg.MySQL.User + "@" + cfg.MySQL.Addr + "/" + cfg.MySQL.DBName
}

// sessionsTUIOptions: bare `oactl sessions`.
type sessionsTUIOptions struct {
	*sessionsOptions
	ReadOnly bool
	Refresh  time.Duration
}

type sessionsListOptions struct {
	*sessionsOptions
	JSON   bool
	State  auth.SessionState
	UserID int64
	Search string
	Limit  int
}

type sessionsRevokeOptions struct {
	*sessionsOptions
	IDs    []int64
	UserID int64
	Reason string
	Yes    bool
}

type sessionsPurgeOptions struct {
	*sessionsOptions
	ExpiredBefore time.Duration
}

const (
	maxSearchLen  = 256
	maxReasonLen  = 255
	listPageSize  = 500
	defaultReason = "support"
)

func newSessionsCmd(f *factory, runF func(*sessionsTUIOptions) error) *cobra.Command {
	tui := &sessionsTUIOptions{}
	var set *config.Set
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "Inspect and revoke login sessions (a terminal UI, or list/revoke/purge for scripts)",
		Long: `On a terminal, oactl sessions opens the session inspector: every login
session with its user, masked openid, state and times; / filters as you type
(nickname, openid or user id), s cycles the state, o the sort, enter shows a
user and all their sessions, x revokes one, X all of a user's, after a (y/N)
prompt. ? shows every key. Keys and columns: docs/SESSIONS.md.

Without a terminal (in a pipe or a script) it prints the list instead, like
oactl sessions list. It never shows a session_key or a token.`,
		Example: `  # the inspector, without the revoke keys
  oactl sessions --db 'mysql://support:pw@127.0.0.1:3306/oa' --read-only

  # a user's active sessions, for a script
  oactl sessions list --user 42 --state active --json

  # log a user out everywhere
  oactl sessions revoke --user 42 --reason "phone stolen" --yes`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := tui.resolve(f); err != nil {
				return err
			}
			if tui.Refresh < 0 {
				return usageError("%s %s: must not be negative", tui.set.Where("refresh"), tui.Refresh)
			}
			if runF != nil {
				return runF(tui)
			}
			if !f.io.IsTerm() {
				return runSessionsList(c.Context(), f.io, &sessionsListOptions{sessionsOptions: tui.sessionsOptions, State: auth.StateAll, Limit: 1000})
			}
			f.flushLog()
			return runSessionsTUI(c.Context(), f.io, tui)
		},
	}
	set = config.Settings.For("sessions", cmd.Flags())
	tui.sessionsOptions = bindSessionsDB(set).withActor().withTimeZone()
	set.Bool("read-only", &tui.ReadOnly)
	set.Duration("refresh", &tui.Refresh)

	cmd.AddCommand(newSessionsListCmd(f, nil), newSessionsRevokeCmd(f, nil),
		newSessionsPurgeCmd(f, nil), newSessionsRekeyCmd(f, nil))
	return cmd
}

func newSessionsListCmd(f *factory, runF func(*sessionsListOptions) error) *cobra.Command {
	lo := &sessionsListOptions{}
	var set *config.Set
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print sessions as a table or JSON",
		Long: `list prints sessions, newest first: a text table, or with --json an array of
{"id","userId","nickname","openid","state","createdAt","lastSeenAt","expiresAt",
"revokedAt","revokeReason","ip","userAgent","appid"} (openid masked, times RFC 3339
UTC, revokedAt null unless revoked, appid "" for sessions made before oactl
recorded apps: they are the default app's). Nothing matched is an empty list ([]
with --json) and exit status 0.`,
		Example: `  oactl sessions list --state active --limit 20
  oactl sessions list --search 张三 --json | jq '.[].id'
  oactl sessions list --user 42 --limit 0   # every session of user 42`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := lo.resolve(f); err != nil {
				return err
			}
			st, err := parseState(state)
			if err != nil {
				return err
			}
			lo.State = st
			switch {
			case lo.Limit < 0:
				return usageError("--limit must be 0 (no limit) or more, got %d", lo.Limit)
			case lo.UserID < 0:
				return usageError("--user must be a user id, got %d", lo.UserID)
			case len(lo.Search) > maxSearchLen:
				return usageError("--search is longer than %d bytes", maxSearchLen)
			}
			if runF != nil {
				return runF(lo)
			}
			return runSessionsList(c.Context(), f.io, lo)
		},
	}
	set = config.Settings.For("sessions list", cmd.Flags())
	lo.sessionsOptions = bindSessionsDB(set)
	cmd.Flags().BoolVar(&lo.JSON, "json", false, "print a JSON array")
	cmd.Flags().StringVar(&state, "state", "all", "active, expired, revoked or all")
	cmd.Flags().Int64Var(&lo.UserID, "user", 0, "only this user id's sessions")
	cmd.Flags().StringVar(&lo.Search, "search", "", "literal text in the nickname or openid, or a user id")
	cmd.Flags().IntVar(&lo.Limit, "limit", 1000, "at most this many sessions (0: all of them)")
	return cmd
}

func newSessionsRevokeCmd(f *factory, runF func(*sessionsRevokeOptions) error) *cobra.Command {
	ro := &sessionsRevokeOptions{}
	var set *config.Set
	cmd := &cobra.Command{
		Use:   "revoke ID... | --user ID",
		Short: "Revoke sessions by id, or every session of a user",
		Long: `revoke ends sessions: their tokens answer errno 501 at the next request, on
every serve process. It asks (y/N) on a terminal; scripts pass --yes (without
a terminal and without --yes it refuses, exit 2). Exit status 4 when no
unrevoked session matched.`,
		Example: `  oactl sessions revoke 1203 1204
  oactl sessions revoke --user 42 --reason "phone stolen" --yes`,
		RunE: func(c *cobra.Command, args []string) error {
			if err := ro.resolve(f); err != nil {
				return err
			}
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil || id <= 0 {
					return usageError("%q is not a session id", a)
				}
				ro.IDs = append(ro.IDs, id)
			}
			switch {
			case len(ro.IDs) == 0 && !c.Flags().Changed("user"):
				return usageError("revoke needs session ids or --user ID")
			case len(ro.IDs) > 0 && c.Flags().Changed("user"):
				return usageError("give session ids or --user, not both")
			case c.Flags().Changed("user") && ro.UserID <= 0:
				return usageError("--user must be a user id, got %d", ro.UserID)
			case len(ro.Reason) > maxReasonLen:
				return usageError("--reason is longer than %d bytes", maxReasonLen)
			}
			ro.Reason = strings.TrimSpace(ro.Reason)
			if ro.Reason == "" {
				ro.Reason = defaultReason
			}
			if runF != nil {
				return runF(ro)
			}
			return runSessionsRevoke(c.Context(), f.io, ro)
		},
	}
	set = config.Settings.For("sessions revoke", cmd.Flags())
	ro.sessionsOptions = bindSessionsDB(set).withActor()
	cmd.Flags().Int64Var(&ro.UserID, "user", 0, "revoke every unrevoked session of this user id")
	cmd.Flags().StringVar(&ro.Reason, "reason", defaultReason, "stored as revoke_reason")
	cmd.Flags().BoolVarP(&ro.Yes, "yes", "y", false, "do not ask")
	return cmd
}

func newSessionsPurgeCmd(f *factory, runF func(*sessionsPurgeOptions) error) *cobra.Command {
	po := &sessionsPurgeOptions{}
	var set *config.Set
	cmd := &cobra.Command{
		Use:   "purge --expired-before DURATION",
		Short: "Delete sessions that expired more than DURATION ago",
		Long: `purge deletes sessions whose expiry is more than DURATION in the past (serve
does the same on its own after --session-retention). Revoked sessions that have
not expired yet are kept. Exit status 4 when nothing was deleted.`,
		Example: `  oactl sessions purge --expired-before 720h`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := po.resolve(f); err != nil {
				return err
			}
			if !c.Flags().Changed("expired-before") {
				return usageError("purge needs --expired-before DURATION (e.g. 720h)")
			}
			if po.ExpiredBefore < 0 {
				return usageError("--expired-before must not be negative")
			}
			if runF != nil {
				return runF(po)
			}
			return runSessionsPurge(c.Context(), f.io, po)
		},
	}
	set = config.Settings.For("sessions purge", cmd.Flags())
	po.sessionsOptions = bindSessionsDB(set).withActor()
	cmd.Flags().DurationVar(&po.ExpiredBefore, "expired-before", 0, "delete sessions that expired more than this long ago")
	return cmd
}

func parseState(s string) (auth.SessionState, error) {
	switch st := auth.SessionState(strings.ToLower(s)); st {
	case auth.StateActive, auth.StateExpired, auth.StateRevoked, auth.StateAll:
		return st, nil
	}
	return "", usageError("--state must be active, expired, revoked or all, got %q", s)
}

// errNoSchema tells the user how to create the schema.
func errNoSchema(dsn, why string) error {
	return withExit(exitFailure, fmt.Errorf("%s: create the schema with `oactl migrate up --db %s` (or start `oactl dev` once)", why, dsn))
}

// openSessionStore opens the database and checks that its schema holds
// the session table. A missing SQLite file is an error here, not a new
// empty database.
func openSessionStore(ctx context.Context, dsn string, cfg db.Config, zone *time.Location) (sessionStore, error) {
	d, err := db.Open(ctx, dsn, db.Options{NoCreate: true, TimeZone: zone})
	if err != nil {
		return nil, openDBError(err, cfg)
	}
	st, err := d.Ping(ctx)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("database %s: %w", cfg.Redacted(), err)
	}
	if err := st.Check(); err != nil {
		d.Close()
		return nil, errNoSchema(cfg.Redacted(), err.Error())
	}
	return d, nil
}

func runSessionsTUI(ctx context.Context, s *stdio, o *sessionsTUIOptions) error {
	store, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	opts := inspect.Options{
		Lister:   store,
		Accounts: store,
		Database: dbLabel(o.dbConfig),
		Actor:    o.Actor,
		Now:      o.Now,
		Location: time.Local,
		ReadOnly: o.ReadOnly,
		Refresh:  o.Refresh,
		Debounce: 150 * time.Millisecond,
	}
	return inspect.Run(ctx, opts, s.In, s.Out, s.noColor())
}

// sessionJSON is one element of `sessions list --json` (SPEC §7).
type sessionJSON struct {
	ID           int64   `json:"id"`
	UserID       int64   `json:"userId"`
	Nickname     string  `json:"nickname"`
	OpenID       string  `json:"openid"`
	State        string  `json:"state"`
	CreatedAt    string  `json:"createdAt"`
	LastSeenAt   *string `json:"lastSeenAt"`
	ExpiresAt    string  `json:"expiresAt"`
	RevokedAt    *string `json:"revokedAt"`
	RevokeReason string  `json:"revokeReason"`
	IP           string  `json:"ip"`
	UserAgent    string  `json:"userAgent"`
	AppID        string  `json:"appid"`
}

func utcText(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := utcText(t)
	return &s
}

func toJSON(r auth.SessionRow) sessionJSON {
	return sessionJSON{
		ID: r.Session.ID, UserID: r.Session.UserID, Nickname: r.Nickname, OpenID: auth.MaskOpenID(r.OpenID),
		State: string(r.State), CreatedAt: utcText(r.Session.CreatedAt), LastSeenAt: optionalTime(r.Session.LastSeenAt),
		ExpiresAt: utcText(r.Session.ExpiresAt), RevokedAt: optionalTime(r.Session.RevokedAt),
		RevokeReason: r.Session.RevokeReason, IP: r.Session.IP, UserAgent: r.Session.UserAgent, AppID: r.Session.AppID,
	}
}

// runSessionsList streams the listing page by page (keyset), so --limit 0
// on a large table never holds more than a page in memory.
func runSessionsList(ctx context.Context, s *stdio, o *sessionsListOptions) error {
	store, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	w := bufio.NewWriter(s.Out)
	table := inspect.NewTableWriter(w)
	arr := &jsonArray{w: w}
	f := auth.SessionFilter{State: o.State, UserID: o.UserID, Search: o.Search, Now: o.Now().UTC()}
	written, err := writePages(o.Limit, func(n int, after *auth.SessionRow) ([]auth.SessionRow, error) {
		f.Limit, f.After = n, after
		return store.ListSessions(ctx, f)
	}, func(r auth.SessionRow) error {
		if o.JSON {
			return arr.add(toJSON(r))
		}
		return table.Write([]auth.SessionRow{r})
	})
	if err != nil {
		return err
	}
	// Unlike users and audit, an empty session listing is not "nothing
	// matched" (SPEC §7): the header alone, or [], and exit 0.
	if o.JSON {
		arr.close()
	} else if written == 0 {
		if err := table.Write(nil); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func runSessionsRevoke(ctx context.Context, s *stdio, o *sessionsRevokeOptions) error {
	var what string
	if o.UserID != 0 {
		what = fmt.Sprintf("every session of user %d", o.UserID)
	} else {
		parts := make([]string, len(o.IDs))
		for i, id := range o.IDs {
			parts[i] = strconv.FormatInt(id, 10)
		}
		what = "session" + inspect.Plural(int64(len(o.IDs))) + " " + strings.Join(parts, ", ")
	}
	if !o.Yes {
		if !s.IsTerm() {
			return usageError("not on a terminal: add --yes to revoke %s", what)
		}
		ok, err := confirm(s, fmt.Sprintf("Revoke %s? (y/N) ", what))
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
	a := o.audit(o.Reason)
	var n int64
	if o.UserID != 0 {
		n, err = store.RevokeUserSessions(ctx, o.UserID, a)
	} else {
		n, err = store.RevokeSessions(ctx, o.IDs, a)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return withExit(exitNoMatch, fmt.Errorf("nothing matched: no unrevoked session in %s", what))
	}
	fmt.Fprintf(s.Out, "revoked %d session%s\n", n, inspect.Plural(n))
	return nil
}

// confirm asks a (y/N) question on the terminal; only y or yes agrees.
func confirm(s *stdio, prompt string) (bool, error) {
	fmt.Fprint(s.Err, prompt)
	line, err := bufio.NewReader(s.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func runSessionsPurge(ctx context.Context, s *stdio, o *sessionsPurgeOptions) error {
	store, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	before := o.Now().UTC().Add(-o.ExpiredBefore)
	n, err := store.PurgeSessions(ctx, before, o.audit("expired before "+utcText(before)))
	if err != nil {
		return err
	}
	if n == 0 {
		return withExit(exitNoMatch, fmt.Errorf("nothing matched: no session expired before %s", utcText(before)))
	}
	fmt.Fprintf(s.Out, "purged %d session%s that expired before %s\n", n, inspect.Plural(n), utcText(before))
	return nil
}
