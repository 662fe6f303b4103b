package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Source says where a setting's value came from.
type Source int

// The sources, in order of precedence (the highest first).
const (
	FromFlag Source = iota + 1
	FromEnv
	FromFile
	FromDefault
)

// Set is the settings one command binds: each is a flag on the command's
// flag set (or, without a flag, a value only the environment and the file
// reach) that writes straight into the command's options. Resolve then
// fills what the command line left alone.
type Set struct {
	table   Table
	command string
	flags   *pflag.FlagSet
	noFlags *pflag.FlagSet // the values of NoFlag settings; never parsed
	bound   []*binding
}

type binding struct {
	s    *Setting
	flag *pflag.Flag
	src  Source
}

// For starts the set of settings of command (a path such as "sessions
// rekey") whose flags go on fs.
func (t Table) For(command string, fs *pflag.FlagSet) *Set {
	return &Set{table: t, command: command, flags: fs, noFlags: pflag.NewFlagSet(command, pflag.ContinueOnError)}
}

// row finds the setting name of s's command. A setting the table does not
// give the command is a programming error, found by every test that builds
// the command, so it panics like pflag does on a flag defined twice.
func (s *Set) row(name string) *Setting {
	for i := range s.table {
		r := &s.table[i]
		if r.Name == name && slices.Contains(r.Commands, s.command) {
			return r
		}
	}
	panic(fmt.Sprintf("config: the settings table gives %q no setting %q", s.command, name))
}

func (s *Set) bind(name string, define func(fs *pflag.FlagSet, r *Setting)) {
	r := s.row(name)
	fs := s.flags
	if r.NoFlag {
		fs = s.noFlags
	}
	define(fs, r)
	f := fs.Lookup(name)
	if r.Hidden {
		f.Hidden = true
	}
	s.bound = append(s.bound, &binding{s: r, flag: f, src: FromDefault})
}

// help is the flag's usage with the setting's other two names, so that
// --help shows every way to set it.
func help(r *Setting) string {
	if r.YAML == "" {
		return fmt.Sprintf("%s [$%s]", r.Usage, r.Env)
	}
	return fmt.Sprintf("%s [$%s, %s]", r.Usage, r.Env, r.YAML)
}

// mustParse reads a table default; a bad one is a programming error.
func mustParse[T any](r *Setting, parse func(string) (T, error)) T {
	var zero T
	if r.Default == "" {
		return zero
	}
	v, err := parse(r.Default)
	if err != nil {
		panic(fmt.Sprintf("config: default of %q: %v", r.Name, err))
	}
	return v
}

// String binds the setting name to p.
func (s *Set) String(name string, p *string) {
	s.bind(name, func(fs *pflag.FlagSet, r *Setting) { fs.StringVar(p, name, r.Default, help(r)) })
}

// Strings binds a comma-separated (or repeated, or YAML list) setting.
func (s *Set) Strings(name string, p *[]string) {
	s.bind(name, func(fs *pflag.FlagSet, r *Setting) {
		fs.StringSliceVar(p, name, mustParse(r, func(v string) ([]string, error) { return strings.Split(v, ","), nil }), help(r))
	})
}

// Bool binds a true/false setting.
func (s *Set) Bool(name string, p *bool) {
	s.bind(name, func(fs *pflag.FlagSet, r *Setting) { fs.BoolVar(p, name, mustParse(r, strconv.ParseBool), help(r)) })
}

// Int binds an integer setting.
func (s *Set) Int(name string, p *int) {
	s.bind(name, func(fs *pflag.FlagSet, r *Setting) { fs.IntVar(p, name, mustParse(r, strconv.Atoi), help(r)) })
}

// Float binds a number setting.
func (s *Set) Float(name string, p *float64) {
	s.bind(name, func(fs *pflag.FlagSet, r *Setting) {
		fs.Float64Var(p, name, mustParse(r, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) }), help(r))
	})
}

// Duration binds a duration setting ("90s", "24h").
func (s *Set) Duration(name string, p *time.Duration) {
	s.bind(name, func(fs *pflag.FlagSet, r *Setting) {
		fs.DurationVar(p, name, mustParse(r, time.ParseDuration), help(r))
	})
}

// Resolve fills every bound setting the command line left alone: from the
// environment (getenv), else from the YAML file named by the "config"
// setting (its flag, else its variable), else the default stays. Call it
// once, after the flags are parsed. A malformed value is an error that
// names its source and, unless the setting is secret, the value.
func (s *Set) Resolve(getenv func(string) string) error {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var file *File
	if b := s.find("config"); b != nil {
		if err := s.resolveOne(b, getenv, nil); err != nil {
			return err
		}
		if path := b.flag.Value.String(); path != "" {
			var err error
			if file, err = Load(path); err != nil {
				return err
			}
		}
	}
	return s.resolveWith(getenv, file)
}

// resolveWith resolves every setting but the file's name from getenv and
// file (may be nil).
func (s *Set) resolveWith(getenv func(string) string, file *File) error {
	for _, b := range s.bound {
		if b.s.Name == "config" {
			continue
		}
		if err := s.resolveOne(b, getenv, file); err != nil {
			return err
		}
	}
	return nil
}

func (s *Set) resolveOne(b *binding, getenv func(string) string, file *File) error {
	if !b.s.NoFlag && b.flag.Changed {
		b.src = FromFlag
		return nil
	}
	var val, where string
	var src Source
	if v := envValue(b.s, getenv); v != "" {
		val, where, src = v, b.s.Env, FromEnv
	} else if v, ok, err := file.lookupSetting(b.s); err != nil {
		return fmt.Errorf("%s: %s: %w", file.Path, b.s.YAML, err)
	} else if ok {
		val, where, src = v, file.Path+": "+b.s.YAML, FromFile
	} else {
		return nil
	}
	if err := b.flag.Value.Set(val); err != nil {
		if b.s.Secret {
			return fmt.Errorf("%s: invalid value", where)
		}
		return fmt.Errorf("%s: invalid value %q: %w", where, val, err)
	}
	b.src = src
	return nil
}

// lookupSetting reads r's YAML key from f (nil: nothing).
func (f *File) lookupSetting(r *Setting) (string, bool, error) {
	switch {
	case r.YAML == "":
		return "", false, nil
	case r.Pair[0] != "":
		return f.LookupPairs(r.YAML, r.Pair)
	}
	v, ok := f.Lookup(r.YAML)
	return v, ok, nil
}

// envValue is the setting's variable; an empty one counts as unset, so that
// `OA_DB= oactl ...` falls through to the file and the default.
func envValue(r *Setting, getenv func(string) string) string {
	if r.Env == "" {
		return ""
	}
	return getenv(r.Env)
}

func (s *Set) find(name string) *binding {
	for _, b := range s.bound {
		if b.s.Name == name {
			return b
		}
	}
	return nil
}

// Source says where the bound setting name got its value in Resolve (0
// for a name not bound); `oactl dev` uses it to tell "not set" from "set
// to the default's value".
func (s *Set) Source(name string) Source {
	if b := s.find(name); b != nil {
		return b.src
	}
	return 0
}
