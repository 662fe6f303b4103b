package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/doctor"
	"github.com/oactl/oactl/internal/db/migrate"
)

func init() {
	register(func(f *factory) *cobra.Command { return newMigrateCmd(f, nil) })
}

// maxLockTimeout is GET_LOCK's useful upper bound (DESIGN: 1..3600 s).
const maxLockTimeout = time.Hour

// migrateOptions are the settings and arguments of `oactl migrate` and its
// subcommands (SPEC §6, §9).
type migrateOptions struct {
	Action      string // up, down, status, check
	DSN         string
	ConfigFile  string
	LockTimeout time.Duration
	JSON        bool
	DryRun      bool
	To          int
	ToSet       bool
	Yes         bool
	where       origin // names each setting's source in errors
	Log         logOptions

	// Open opens the database. It is called only once the flags are valid,
	// so that a usage error never touches a database.
	Open func(ctx context.Context) (*db.DB, error)
}

// newMigrateCmd builds migrate and its subcommands up, down, status and
// check, which share one options type: runF gets the options of whichever
// runs.
func newMigrateCmd(f *factory, runF func(*migrateOptions) error) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the schema, adopt an existing wx_user, check utf8mb4",
		Long: `migrate manages oactl's schema with embedded, versioned steps (one set for
MySQL/MariaDB, one for SQLite); the applied versions are kept in the table
oactl_schema_migrations. A database whose wx_user was made by the seed's
DDL (the Java backend) is adopted as it is: its rows are never touched.

check is a utf8mb4 doctor for DBAs: it proves that the database stores
emoji and prints each fix as SQL and as my.cnf / my.ini lines.

Exit status: 0 ok, 1 failure (including a lock wait that timed out and a
wx_user that differs from the seed's), 2 usage, 3 pending steps (status)
or failed findings (check). See docs/DBA.md.`,
		Example: `  # what would run, without running it
  oactl migrate up --dry-run --db 'mysql://oa:pw@127.0.0.1:3306/oa'

  # create or upgrade the schema (adopts a seed-made wx_user)
  oactl migrate up --db 'mysql://oa:pw@127.0.0.1:3306/oa'

  # pending steps? (exit 3 when there are)
  OA_DB='mysql://oa:pw@db:3306/oa' oactl migrate status --json

  # can this database store emoji? (exit 3 when not)
  oactl migrate check --db 'mysql://oa:pw@127.0.0.1:3306/oa'

  # back to version 2: drops wx_session, which logs everyone out
  oactl migrate down --to 2 --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("migrate needs a subcommand: up, down, status or check")
		},
	}
	// The settings are persistent flags: every subcommand takes them.
	set := config.Settings.For("migrate", cmd.PersistentFlags())
	set.String("db", &o.DSN)
	set.String("config", &o.ConfigFile)
	set.Duration("lock-timeout", &o.LockTimeout)
	bindLogSettings(set, &o.Log)
	cmd.PersistentFlags().BoolVar(&o.JSON, "json", false, "print JSON (shapes in docs/DBA.md)")

	sub := func(use, short, long, example string, flags func(*cobra.Command)) *cobra.Command {
		c := &cobra.Command{
			Use: use, Short: short, Long: long, Example: example,
			Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				o.Action = strings.Fields(use)[0]
				o.ToSet = c.Flags().Changed("to")
				if err := f.resolve(set); err != nil {
					return err
				}
				o.where = set.Where
				if err := o.validate(); err != nil {
					return err
				}
				f.useLog(o.Log)
				cfg, err := checkDSN(set.Where("db"), o.DSN)
				if err != nil {
					return withExit(exitUsage, err)
				}
				warnPasswordFlag(f.logger(), set, cfg)
				o.Open = func(ctx context.Context) (*db.DB, error) {
					d, err := db.Open(ctx, o.DSN, db.Options{Logger: f.logger(), NoCreate: !o.creates()})
					var ne *db.NotExistError
					if errors.As(err, &ne) && o.Action == "up" && o.DryRun {
						return openEmptyForPlan(ctx, f.io, ne.Path)
					}
					if err != nil {
						return nil, openDBError(err, cfg)
					}
					return d, nil
				}
				if runF != nil {
					return runF(o)
				}
				return runMigrate(c.Context(), f.io, o)
			},
		}
		if flags != nil {
			flags(c)
		}
		return c
	}
	toFlag := func(c *cobra.Command, usage string) { c.Flags().IntVar(&o.To, "to", 0, usage) }
	dryRun := func(c *cobra.Command) {
		c.Flags().BoolVar(&o.DryRun, "dry-run", false, "print the exact SQL and change nothing")
	}
	cmd.AddCommand(
		sub("up", "Apply pending steps (adopting a seed-made wx_user)",
			`up applies every pending step, or those up to --to. Runs wait for each
other through a lock (MySQL GET_LOCK), so two deploys at once apply each
step once. An existing wx_user made by the seed's DDL is adopted (compared
column by column, recorded as version 1, its rows untouched); one that
differs is reported column by column and left alone (exit 1).`,
			`  oactl migrate up
  oactl migrate up --to 2 --dry-run`,
			func(c *cobra.Command) { toFlag(c, "stop at this version (default: the latest)"); dryRun(c) }),
		sub("down --to N --yes", "Revert steps above version N",
			`down reverts applied steps above --to, newest first. Reverting the step
that creates wx_session drops every session: everyone is logged out. The
step that creates wx_user has no down: user data is never dropped by oactl.`,
			`  oactl migrate down --to 2 --dry-run
  oactl migrate down --to 2 --yes`,
			func(c *cobra.Command) {
				toFlag(c, "the version to go back to (required)")
				dryRun(c)
				c.Flags().BoolVar(&o.Yes, "yes", false, "really revert (required unless --dry-run)")
			}),
		sub("status", "Show applied and pending steps (exit 3 when steps are pending)", "", `  oactl migrate status
  oactl migrate status --json | jq .pending`, nil),
		sub("check", "Prove the database stores emoji; print fixes (exit 3 on failures)",
			`check inspects the connection, server and database defaults, each oactl
table and text column, index lengths against the row format's limit for a
conversion to utf8mb4, sql_mode, and writes 😀, 👨‍👩‍👧‍👦 and 𠜎 through a temporary
copy of wx_user, reading them back by key and comparing bytes. It reads
information_schema and a handful of rows by primary key only, so it takes as
long on a 10-million-row wx_user as on an empty one. Each finding is ok,
warn or fail and carries its fix as SQL and as my.cnf / my.ini lines.`,
			`  oactl migrate check --db 'mysql://oa:pw@127.0.0.1:3306/oa'
  oactl migrate check --json | jq '.findings[] | select(.status != "ok")'`, nil),
	)
	return cmd
}

// creates: only a real `up` may create a SQLite file; status, check,
// down and a dry run change nothing, so a missing file is an error (a dry
// run plans against an empty database instead: openEmptyForPlan).
func (o *migrateOptions) creates() bool { return o.Action == "up" && !o.DryRun }

// openEmptyForPlan opens an empty SQLite database in a temporary directory,
// removed when the database is closed, so that `up --dry-run` on a file
// that does not exist yet prints the SQL that would create it without
// creating it.
func openEmptyForPlan(ctx context.Context, s *stdio, missing string) (*db.DB, error) {
	dir, err := os.MkdirTemp("", "oactl-plan-")
	if err != nil {
		return nil, withExit(exitFailure, fmt.Errorf("dry run: %w", err))
	}
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(dir, "plan.db"), db.Options{OnClose: func() { os.RemoveAll(dir) }})
	if err != nil {
		os.RemoveAll(dir)
		return nil, withExit(exitFailure, fmt.Errorf("dry run: %w", err))
	}
	fmt.Fprintf(s.Err, "%s does not exist yet: planning against an empty database (nothing is created)\n", missing)
	return d, nil
}

func (o *migrateOptions) validate() error {
	if o.LockTimeout < time.Second || o.LockTimeout > maxLockTimeout {
		return usageError("%s %s: want 1s to 1h", o.where.of("lock-timeout"), o.LockTimeout)
	}
	if o.ToSet && (o.To < 0 || o.To > db.SchemaVersion) {
		return usageError("--to must be between 0 and %d, got %d", db.SchemaVersion, o.To)
	}
	if err := o.Log.validate(); err != nil {
		return withExit(exitUsage, err)
	}
	if o.Action == "down" {
		if !o.ToSet {
			return usageError("down needs --to N: the version to go back to")
		}
		if !o.Yes && !o.DryRun {
			return usageError("down drops tables: add --yes to do it, or --dry-run to see the SQL")
		}
	}
	return nil
}

func runMigrate(ctx context.Context, s *stdio, o *migrateOptions) error {
	d, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	m := migrate.New(d, migrate.Options{LockTimeout: o.LockTimeout})
	switch o.Action {
	case "up":
		return migrateUp(ctx, s, o, m)
	case "down":
		return migrateDown(ctx, s, o, m)
	case "status":
		return migrateStatus(ctx, s, o, d.Dialect(), m)
	case "check":
		return migrateCheck(ctx, s, o, d)
	}
	return usageError("unknown migrate action %q", o.Action)
}

// stepsResult is the JSON of `migrate up --json` and `migrate down --json`.
type stepsResult struct {
	Action  string `json:"action"`
	DryRun  bool   `json:"dryRun"`
	Applied []int  `json:"applied"`
}

func migrateError(err error, o *migrateOptions) error {
	if errors.Is(err, migrate.ErrLockTimeout) {
		held := ""
		if he := (*migrate.LockHeldError)(nil); errors.As(err, &he) {
			held = " (held by " + he.Holder + ")"
		}
		return withExit(exitFailure, fmt.Errorf("another oactl migrate holds the migration lock%s; gave up after --lock-timeout %s", held, o.LockTimeout))
	}
	return withExit(exitFailure, err)
}

func migrateUp(ctx context.Context, s *stdio, o *migrateOptions, m *migrate.Migrator) error {
	to := db.SchemaVersion
	if o.ToSet {
		to = o.To
	}
	p, err := m.Plan(ctx, migrate.Up, to)
	if err != nil {
		return migrateError(err, o)
	}
	return runPlan(ctx, s, o, m, p)
}

func migrateDown(ctx context.Context, s *stdio, o *migrateOptions, m *migrate.Migrator) error {
	p, err := m.Plan(ctx, migrate.Down, o.To)
	var nd *migrate.NoDownError
	if errors.As(err, &nd) {
		return usageError("step %d (%s) has no down: oactl never drops user data; the lowest --to is %d", nd.Step.Version, nd.Step.Name, nd.Step.Version)
	}
	if err != nil {
		return migrateError(err, o)
	}
	for _, c := range p.Changes {
		if c.DropsSessions {
			fmt.Fprintf(s.Err, "warning: reverting step %d (%s) drops wx_session: every user is logged out and must log in again\n", c.Version, c.Name)
		}
	}
	return runPlan(ctx, s, o, m, p)
}

// runPlan prints the plan's SQL (--dry-run) or applies it and prints
// each change made. With --json those lines go to stderr, so that stdout
// stays one JSON document.
func runPlan(ctx context.Context, s *stdio, o *migrateOptions, m *migrate.Migrator, p migrate.Plan) error {
	w := s.Out
	if o.JSON {
		w = s.Err
	}
	if o.DryRun {
		printPlanSQL(w, p.Changes)
		return printSteps(s, o, p.Changes)
	}
	done, err := m.Apply(ctx, p)
	printMade(w, done, err)
	if err != nil {
		return migrateError(err, o)
	}
	return printSteps(s, o, done)
}

// sessionDownWarning heads the down step that drops wx_session.
const sessionDownWarning = "-- WARNING: dropping wx_session logs everyone out: every token stops working"

// printPlanSQL writes a dry run: each change's SQL under a comment that
// names the step.
func printPlanSQL(w io.Writer, changes []migrate.Change) {
	for _, c := range changes {
		switch c.Action {
		case migrate.ActionAdopt:
			fmt.Fprintf(w, "-- %03d_%s: wx_user exists and matches the seed: adopt it (rows untouched)\n", c.Version, c.Name)
		default:
			printChangeHeader(w, c)
		}
		for _, stmt := range c.SQL {
			fmt.Fprintf(w, "%s;\n", stmt)
		}
		fmt.Fprintln(w)
	}
}

// printMade writes one line for each change a run made and, when err is
// a *migrate.StepError, for the change that failed.
func printMade(w io.Writer, done []migrate.Change, err error) {
	var se *migrate.StepError
	if errors.As(err, &se) {
		done = append(done, se.Change)
	}
	for _, c := range done {
		if c.Action == migrate.ActionAdopt {
			fmt.Fprintf(w, "-- %03d_%s: adopted the existing wx_user (rows untouched)\n", c.Version, c.Name)
			continue
		}
		printChangeHeader(w, c)
	}
}

func printChangeHeader(w io.Writer, c migrate.Change) {
	if c.Action == migrate.ActionDown && c.DropsSessions {
		fmt.Fprintln(w, sessionDownWarning)
	}
	fmt.Fprintf(w, "-- %03d_%s (%s)\n", c.Version, c.Name, c.Action)
}

func printSteps(s *stdio, o *migrateOptions, changes []migrate.Change) error {
	steps := []int{}
	for _, c := range changes {
		steps = append(steps, c.Version)
	}
	if o.JSON {
		return writeMigrateJSON(s.Out, stepsResult{Action: o.Action, DryRun: o.DryRun, Applied: steps})
	}
	verb := map[string]string{"up": "applied", "down": "reverted"}[o.Action]
	if o.DryRun {
		verb = "would be " + verb
	}
	if len(steps) == 0 {
		_, err := fmt.Fprintln(s.Out, "nothing to do: the schema is already at the requested version")
		return err
	}
	_, err := fmt.Fprintf(s.Out, "%s: %s\n", verb, joinVersions(steps))
	return err
}
func joinVersions(v []int) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}

// statusJSON is the JSON of `migrate status --json`.
type statusJSON struct {
	Dialect   string           `json:"dialect"`
	Current   int              `json:"current"`
	Latest    int              `json:"latest"`
	Pending   []int            `json:"pending"`
	Adoptable bool             `json:"adoptable"`
	Steps     []statusStepJSON `json:"steps"`
}

type statusStepJSON struct {
	Version   int        `json:"version"`
	Name      string     `json:"name"`
	Applied   bool       `json:"applied"`
	AppliedAt *time.Time `json:"appliedAt"` // null while pending
	HasDown   bool       `json:"hasDown"`
}

func migrateStatus(ctx context.Context, s *stdio, o *migrateOptions, dialect db.Dialect, m *migrate.Migrator) error {
	st, err := m.Status(ctx)
	if err != nil {
		return migrateError(err, o)
	}
	out := statusJSON{Dialect: string(dialect), Current: st.Current, Latest: st.Required, Adoptable: st.Adoptable,
		Pending: []int{}, Steps: []statusStepJSON{}}
	for _, step := range st.Steps {
		j := statusStepJSON{Version: step.Version, Name: step.Name, Applied: step.Applied, HasDown: step.HasDown}
		if step.Applied {
			at := step.AppliedAt.UTC()
			j.AppliedAt = &at
		} else {
			out.Pending = append(out.Pending, step.Version)
		}
		out.Steps = append(out.Steps, j)
	}
	if o.JSON {
		if err := writeMigrateJSON(s.Out, out); err != nil {
			return err
		}
	} else if err := printStatus(s.Out, out); err != nil {
		return err
	}
	if len(out.Pending) > 0 {
		return withExit(exitProblems, nil)
	}
	return nil
}

func printStatus(w io.Writer, st statusJSON) error {
	fmt.Fprintf(w, "schema version %d of %d (%s), %d pending\n", st.Current, st.Latest, st.Dialect, len(st.Pending))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, step := range st.Steps {
		state := "pending"
		if step.Applied {
			state = "applied " + step.AppliedAt.Format(time.RFC3339)
		}
		down := ""
		if !step.HasDown {
			down = "(no down)"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", step.Version, step.Name, state, down)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if st.Adoptable {
		fmt.Fprintln(w, "an existing wx_user matches the seed's DDL: `oactl migrate up` adopts it without touching its rows")
	}
	if len(st.Pending) > 0 {
		_, err := fmt.Fprintln(w, "run `oactl migrate up` to apply the pending steps")
		return err
	}
	return nil
}

// checkJSON is the JSON of `migrate check --json`.
type checkJSON struct {
	Dialect  string           `json:"dialect"`
	Server   string           `json:"server"`
	Database string           `json:"database"`
	OK       bool             `json:"ok"` // no finding failed
	Counts   checkCountsJSON  `json:"counts"`
	Findings []doctor.Finding `json:"findings"`
}

type checkCountsJSON struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

func migrateCheck(ctx context.Context, s *stdio, o *migrateOptions, d *db.DB) error {
	r, err := doctor.Check(ctx, d)
	if err != nil {
		return migrateError(err, o)
	}
	return printCheck(s, o, r)
}

func printCheck(s *stdio, o *migrateOptions, r *doctor.Report) error {
	c := r.Counts()
	out := checkJSON{Dialect: r.Dialect, Server: r.Server, Database: r.Database, OK: !r.Failed(),
		Counts:   checkCountsJSON{OK: c[doctor.SeverityOK], Warn: c[doctor.SeverityWarn], Fail: c[doctor.SeverityFail]},
		Findings: r.Findings}
	if out.Findings == nil {
		out.Findings = []doctor.Finding{}
	}
	var err error
	if o.JSON {
		err = writeMigrateJSON(s.Out, out)
	} else {
		err = printFindings(s.Out, out)
	}
	if err != nil {
		return err
	}
	if r.Failed() {
		return withExit(exitProblems, nil)
	}
	return nil
}

func printFindings(w io.Writer, r checkJSON) error {
	fmt.Fprintf(w, "%s %s, database %s\n\n", r.Dialect, r.Server, r.Database)
	for _, f := range r.Findings {
		fmt.Fprintf(w, "%-4s  %s: %s\n", strings.ToUpper(string(f.Status)), f.ID, f.Summary)
		if f.Status == doctor.SeverityOK {
			continue
		}
		indentLines(w, "      ", f.Detail)
		if f.FixSQL != "" {
			fmt.Fprintln(w, "      fix, SQL:")
			indentLines(w, "        ", f.FixSQL)
		}
		if f.FixConfig != "" {
			fmt.Fprintln(w, "      fix, my.cnf (Linux) / my.ini (Windows) or oactl settings:")
			indentLines(w, "        ", f.FixConfig)
		}
	}
	_, err := fmt.Fprintf(w, "\n%d ok, %d warn, %d fail\n", r.Counts.OK, r.Counts.Warn, r.Counts.Fail)
	return err
}

func indentLines(w io.Writer, prefix, text string) {
	if text == "" {
		return
	}
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintln(w, prefix+line)
	}
}

func writeMigrateJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
