package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/logfmt"
)

// Exit statuses are part of the contract (SPEC §9): scripts rely on them.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitProblems = 3
	exitNoMatch  = 4
)

// exitError carries an exit status chosen by a command. Only run turns
// errors into exit statuses, so every command returns errors as usual.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withExit wraps err so that oactl exits with code. A nil err with a
// non-zero code exits silently with that code (the command already
// printed what the user needs).
func withExit(code int, err error) error { return &exitError{code: code, err: err} }

// usageError marks bad flags or arguments: exit status 2.
func usageError(format string, args ...any) error {
	return withExit(exitUsage, fmt.Errorf(format, args...))
}

// stdio is the process's streams, replaceable in tests.
type stdio struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	IsTerm func() bool // whether In and Out are a terminal
	// Getenv is the environment. Commands never call it for settings:
	// it is handed to the settings resolver (factory.resolve), and read
	// here only for NO_COLOR, a terminal convention rather than a setting.
	Getenv func(string) string
}

// noColor is the NO_COLOR convention (no-color.org): set and not empty.
func (s *stdio) noColor() bool { return s.Getenv("NO_COLOR") != "" }

func newStdio() *stdio {
	return &stdio{
		In:     os.Stdin,
		Out:    os.Stdout,
		Err:    os.Stderr,
		IsTerm: stdoutIsTerminal,
		Getenv: os.Getenv,
	}
}

func stdoutIsTerminal() bool {
	for _, f := range []*os.File{os.Stdin, os.Stdout} {
		fi, err := f.Stat()
		if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			return false
		}
	}
	return true
}

// factory holds what commands share. Expensive parts are built lazily so
// that, for example, `oactl mockwx` never opens a database.
type factory struct {
	io *stdio

	logOnce sync.Once
	logOpts logOptions // set by useLog before the first logger call
	sink    *logSink
	log     *slog.Logger
	restore func() // undoes the logger's becoming slog's default
}

// useLog sets the format and level of the logger, once the command's
// settings are resolved and valid (before anything logs).
func (f *factory) useLog(o logOptions) { f.logOpts = o }

// logger returns the process's logger: lines on stderr in the format and
// from the level of useLog (default text, info), batched by a logSink
// that run flushes on exit. It becomes slog's default too, so that what
// libraries print through the log package comes out in the same format.
// Secrets are kept out by the callers; nothing here can redact what it is
// given.
func (f *factory) logger() *slog.Logger {
	f.logOnce.Do(func() {
		f.sink = newLogSink(f.io.Err, logFlushEvery)
		opts := &slog.HandlerOptions{Level: f.logOpts.level}
		format := logfmt.Text
		if f.logOpts.Format == "json" {
			format = logfmt.JSON
		}
		f.log = slog.New(logfmt.New(f.sink, format, opts))
		prev, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
		slog.SetDefault(f.log)
		f.restore = func() {
			slog.SetDefault(prev)
			log.SetOutput(prevOut)
			log.SetFlags(prevFlags)
		}
	})
	return f.log
}

// resolve fills a command's settings from the environment and the YAML
// file (config.Set.Resolve); a bad value or file is a usage error.
func (f *factory) resolve(set *config.Set) error {
	if err := set.Resolve(f.io.Getenv); err != nil {
		return withExit(exitUsage, err)
	}
	return nil
}

// flushLog writes out the lines the log holds now. The inspector takes
// the terminal next: a warning flushed into its screen later would
// scroll it.
func (f *factory) flushLog() {
	if f.sink != nil {
		f.sink.flush()
	}
}

// close flushes the log and gives slog and the log package back their
// previous outputs (tests run many commands in one process).
func (f *factory) close() {
	if f.restore != nil {
		f.restore()
	}
	if f.sink != nil {
		_ = f.sink.Close()
	}
}

func newRootCmd(f *factory) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "oactl",
		Short: "WeChat mini-program login server, offline WeChat, schema and session tools",
		Long: `oactl runs the backend of a WeChat mini-program's personal centre:
WeChat login (wx.login -> code2Session -> token), the personal-centre API,
an offline fake of WeChat for testers, schema tooling for DBAs and a
terminal UI for support staff.`,
		Example: `  # everything at once, no setup: login server + fake WeChat + SQLite file
  oactl dev

  # an offline WeChat for testers
  oactl mockwx --addr 127.0.0.1:9090

  # the openid mockwx gives user alice, without a server
  oactl mockwx openid alice --appid wx0000000000000000`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				_, err := fmt.Fprint(f.io.Out, readBuildInfo())
				return err
			}
			return cmd.Help()
		},
	}
	// --version by hand rather than cobra's Version: a custom version
	// template links text/template, which makes the linker keep every
	// exported method (2.8 MB more binary, measured).
	root.Flags().BoolVar(&showVersion, "version", false, "print the version, as `oactl version` does")
	root.SetIn(f.io.In)
	root.SetOut(f.io.Out)
	root.SetErr(f.io.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return withExit(exitUsage, err)
	})
	for _, add := range commands {
		root.AddCommand(add(f))
	}
	return root
}

// commands lists the constructors of the top-level commands; each command
// file registers itself in an init function so that adding a command is a
// one-file change.
//
// Every command has one shape, after the GitHub CLI's: newXCmd(f, runF)
// parses its flags, resolves its settings (config.Settings) into an xOptions
// and checks them; then it calls runF with the options, or, when runF is
// nil (always, outside tests), the command's own runX. Tests capture the
// options through runF: that is the one seam for flags and settings.
var commands []func(*factory) *cobra.Command

func register(newCmd func(*factory) *cobra.Command) { commands = append(commands, newCmd) }

// run executes oactl with args and returns the process exit status.
func run(args []string, s *stdio) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := &factory{io: s}
	root := newRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	f.close()
	return exitCode(err, s.Err)
}

// exitCode maps an error to the exit status and prints it: the only place
// where errors become exit statuses.
func exitCode(err error, w io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(w, "oactl:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(w, "oactl:", err)
	if isCobraUsageError(err) {
		return exitUsage
	}
	return exitFailure
}
