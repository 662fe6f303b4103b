package config

import (
	"fmt"
	"io"
	"os"
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
	s     *Setting
	flag  *pflag.Flag
	src   Source
	where string // the source as a user names it: "--addr", "OA_ADDR", "app.yml: oa.addr"
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
	s.bound = append(s.bound, &binding{s: r, flag: f, src: FromDefault, where: defaultWhere(r)})
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
// environment (getenv; for a secret, also the file its OA_<NAME>_FILE
// names), else from the YAML file named by the "config" setting (its flag,
// else its variable), else the default stays. Call it once, after the flags
// are parsed. A malformed value, or a key under oa: that no setting has, is
// an error that names its source and, unless the setting is secret, the
// value.
//
// When the command takes --db and no source named a database, the file's
// spring.datasource (the seed's Spring layout) names it; its
// serverTimezone then becomes the default of --time-zone.
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
			if err := file.CheckKeys(s.knownKeys()); err != nil {
				return err
			}
		}
	}
	if err := s.resolveWith(getenv, file); err != nil {
		return err
	}
	return s.resolveSpring(file)
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
		b.src, b.where = FromFlag, "--"+b.s.Name
		return nil
	}
	val, where, err := envValue(b.s, getenv)
	if err != nil {
		return err
	}
	src := FromEnv
	if where == "" {
		// An empty value in the file counts as unset, as an empty variable
		// does: `db: ""` must not hide spring.datasource or the default's
		// warning.
		v, ok, err := file.lookupSetting(b.s)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", file.Path, b.s.YAML, err)
		}
		if !ok || v == "" {
			return nil
		}
		val, where, src = v, file.Path+": "+b.s.YAML, FromFile
	}
	return b.set(val, where, src)
}

// set gives b the value val from the source where.
func (b *binding) set(val, where string, src Source) error {
	if err := b.flag.Value.Set(val); err != nil {
		if b.s.Secret {
			return fmt.Errorf("%s: invalid value", where)
		}
		return fmt.Errorf("%s: invalid value %q: %w", where, val, err)
	}
	b.src, b.where = src, where
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

// resolveSpring applies the file's spring.datasource to --db and
// --time-zone when no source gave them a value (see Resolve).
func (s *Set) resolveSpring(file *File) error {
	db := s.find("db")
	if file == nil || db == nil || db.src != FromDefault {
		return nil
	}
	ds, ok, err := file.SpringDataSource()
	if err != nil || !ok {
		return err
	}
	where := file.Path + ": " + springURLKey
	if err := db.set(ds.DSN, where, FromFile); err != nil {
		return err
	}
	if tz := s.find("time-zone"); tz != nil && tz.src == FromDefault && ds.TimeZone != "" {
		return tz.set(ds.TimeZone, where+" (serverTimezone)", FromFile)
	}
	return nil
}

// knownKeys are the YAML keys of every setting oactl has (one file serves
// every command, so a key another command reads is not a typo) and of
// this set's table, plus the keys read and ignored.
func (s *Set) knownKeys() []string {
	keys := append(Settings.yamlKeys(), s.table.yamlKeys()...)
	return append(keys, IgnoredKeys...)
}

// yamlKeys are the table's YAML keys.
func (t Table) yamlKeys() []string {
	var keys []string
	for _, r := range t {
		if r.YAML != "" {
			keys = append(keys, r.YAML)
		}
	}
	return keys
}

// MaxSecretFileSize bounds a file named by an OA_<NAME>_FILE variable.
const MaxSecretFileSize = 64 << 10

// envValue is the setting's variable, where names it ("" when unset: an
// empty variable counts as unset, so that `OA_DB= oactl ...` falls through
// to the file and the default). A secret may instead come from the file
// named by the variable with _FILE appended (Docker's and Kubernetes'
// secrets); setting both is an error, because which one wins would be a
// guess that could silently pick a stale secret.
func envValue(r *Setting, getenv func(string) string) (val, where string, err error) {
	if r.Env == "" {
		return "", "", nil
	}
	val = getenv(r.Env)
	if !r.Secret {
		if val == "" {
			return "", "", nil
		}
		return val, r.Env, nil
	}
	fileVar := r.Env + "_FILE"
	path := getenv(fileVar)
	switch {
	case path != "" && val != "":
		return "", "", fmt.Errorf("%s and %s are both set: set one of them", r.Env, fileVar)
	case val != "":
		return val, r.Env, nil
	case path == "":
		return "", "", nil
	}
	val, err = readSecretFile(path)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", fileVar, err)
	}
	return val, fileVar + " (" + path + ")", nil
}

// readSecretFile reads a secret file, dropping one trailing newline ("\n"
// or "\r\n", as `echo` and editors leave it). Errors never quote the
// content.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSecretFileSize+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxSecretFileSize {
		return "", fmt.Errorf("%s is larger than %d bytes", path, MaxSecretFileSize)
	}
	v := string(data)
	if strings.HasSuffix(v, "\r\n") {
		v = v[:len(v)-2]
	} else if strings.HasSuffix(v, "\n") {
		v = v[:len(v)-1]
	}
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
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

// Where names the source of the bound setting name's value the way a user
// would look for it: "--addr", "OA_ADDR", "OA_DB_FILE (/run/secrets/db)",
// "app.yml: oa.addr"; a default is named by its flag ("--addr"), or its
// variable for a setting without one. Errors about a value start with it.
func (s *Set) Where(name string) string {
	if b := s.find(name); b != nil {
		return b.where
	}
	return "--" + name
}

func defaultWhere(r *Setting) string {
	if r.NoFlag {
		return r.Env
	}
	return "--" + r.Name
}
