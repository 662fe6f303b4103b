package main

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/inspect"
)

func init() {
	register(func(f *factory) *cobra.Command { return newAuditCmd(f) })
}

type auditListOptions struct {
	*sessionsOptions
	JSON   bool
	UserID int64
	Since  time.Duration
	Limit  int
}

func newAuditCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit trail of support actions and self-cancels (oa_audit)",
		Long: `audit reads oa_audit: one row per support action (sessions revoke, purge
and rekey; users disable, enable and cancel) and per cancel a user made
through POST /wx/auth/cancel (actor "user"), written in the same transaction
as the change. Nothing secret is ever written there.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAuditListCmd(f, nil))
	return cmd
}

func newAuditListCmd(f *factory, runF func(*auditListOptions) error) *cobra.Command {
	o := &auditListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print audit rows, newest first",
		Long: `list prints audit rows, newest first: a text table, or with --json an array
of {"id","at","actor","action","userId","sessionIds","sessions","reason"}
(at RFC 3339 UTC; userId null for purge and rekey; sessionIds the sessions
the action revoked as far as the row holds them, sessions the whole count).
Nothing matched: exit status 4 ([] with --json).`,
		Example: `  oactl audit list --since 24h
  oactl audit list --user 42 --json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.resolve(f); err != nil {
				return err
			}
			switch {
			case o.Limit < 0:
				return usageError("--limit must be 0 (no limit) or more, got %d", o.Limit)
			case c.Flags().Changed("user") && o.UserID <= 0:
				return usageError("--user must be a user id, got %d", o.UserID)
			case o.Since < 0:
				return usageError("--since must not be negative, got %v", o.Since)
			}
			if runF != nil {
				return runF(o)
			}
			return runAuditList(c.Context(), f.io, o)
		},
	}
	o.sessionsOptions = bindSessionsDB(config.Settings.For("audit list", cmd.Flags()))
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array")
	cmd.Flags().Int64Var(&o.UserID, "user", 0, "only this user id's rows")
	cmd.Flags().DurationVar(&o.Since, "since", 0, "only rows of the last DURATION (e.g. 24h; 0: all)")
	cmd.Flags().IntVar(&o.Limit, "limit", 1000, "at most this many rows (0: all of them)")
	return cmd
}

// auditJSON is one row of audit list (and of users show's trail).
type auditJSON struct {
	ID         int64   `json:"id"`
	At         string  `json:"at"`
	Actor      string  `json:"actor"`
	Action     string  `json:"action"`
	UserID     *int64  `json:"userId"`
	SessionIDs []int64 `json:"sessionIds"`
	Sessions   int64   `json:"sessions"`
	Reason     string  `json:"reason"`
}

func auditToJSON(e auth.AuditEntry) auditJSON {
	j := auditJSON{ID: e.ID, At: utcText(e.At), Actor: e.Actor, Action: e.Action, SessionIDs: e.SessionIDs,
		Sessions: e.Sessions, Reason: e.Reason}
	if e.UserID != 0 {
		id := e.UserID
		j.UserID = &id
	}
	if j.SessionIDs == nil {
		j.SessionIDs = []int64{}
	}
	return j
}

func newAuditTable(w io.Writer) *inspect.Columns {
	return inspect.NewColumns(w, inspect.Column{Title: "ID", Width: 7}, inspect.Column{Title: "AT", Width: 20},
		inspect.Column{Title: "ACTOR", Width: 16}, inspect.Column{Title: "ACTION", Width: 7}, inspect.Column{Title: "USER", Width: 8},
		inspect.Column{Title: "SESSIONS", Width: 24}, inspect.Column{Title: "REASON"})
}

func auditCells(e auth.AuditEntry) []string {
	user := "-"
	if e.UserID != 0 {
		user = strconv.FormatInt(e.UserID, 10)
	}
	sessions := strconv.FormatInt(e.Sessions, 10)
	if len(e.SessionIDs) > 0 {
		parts := make([]string, len(e.SessionIDs))
		for i, id := range e.SessionIDs {
			parts[i] = strconv.FormatInt(id, 10)
		}
		sessions += ": " + strings.Join(parts, ",")
	}
	return []string{strconv.FormatInt(e.ID, 10), utcText(e.At), e.Actor, e.Action, user, sessions, orDash(e.Reason)}
}

func runAuditList(ctx context.Context, s *stdio, o *auditListOptions) error {
	store, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	w := bufio.NewWriter(s.Out)
	arr := &jsonArray{w: w}
	table := newAuditTable(w)
	f := auth.AuditFilter{UserID: o.UserID}
	if o.Since > 0 {
		f.Since = o.Now().UTC().Add(-o.Since)
	}
	written, err := writePages(o.Limit, func(n int, after *auth.AuditEntry) ([]auth.AuditEntry, error) {
		f.Limit, f.Before = n, after
		return store.ListAudit(ctx, f)
	}, func(e auth.AuditEntry) error {
		if o.JSON {
			return arr.add(auditToJSON(e))
		}
		return table.Row(auditCells(e)...)
	})
	if err != nil {
		return err
	}
	return endList(w, arr, o.JSON, written, "audit row")
}
