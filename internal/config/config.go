// Package config resolves oactl's settings from, in order of precedence,
// command-line flags, OA_* environment variables, a YAML file and
// defaults. The YAML file may be the seed's Spring application.yml: only
// keys under "oa" are read, everything else (spring.*, ...) is ignored.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a configuration file: a real one is a few hundred
// bytes, and a huge one is a mistake (or an attack on the YAML parser).
const MaxFileSize = 1 << 20

// Setting ties a flag to its other two names: Env, the environment
// variable ("" for none), and YAML, the dotted path in the file ("" for
// none). The flag's own parser reads env and YAML text too, so a value
// means the same wherever it is written.
type Setting struct {
	Flag   string
	Env    string
	YAML   string
	Secret bool // never echo the value in errors
}

// Resolve fills every flag that was not given on the command line from the
// environment, else from file (may be nil); flags untouched by all three
// keep their defaults. getenv is os.Getenv in production.
func Resolve(settings []Setting, flags *pflag.FlagSet, getenv func(string) string, file *File) error {
	for _, s := range settings {
		f := flags.Lookup(s.Flag)
		if f == nil {
			return fmt.Errorf("config: no flag --%s", s.Flag)
		}
		if f.Changed {
			continue
		}
		val, src, ok := lookup(s, getenv, file)
		if !ok {
			continue
		}
		if err := f.Value.Set(val); err != nil {
			if s.Secret {
				return fmt.Errorf("%s: invalid value", src)
			}
			return fmt.Errorf("%s: invalid value %q: %w", src, val, err)
		}
	}
	return nil
}

func lookup(s Setting, getenv func(string) string, file *File) (val, src string, ok bool) {
	if s.Env != "" && getenv != nil {
		if v := getenv(s.Env); v != "" {
			return v, s.Env, true
		}
	}
	if s.YAML != "" && file != nil {
		if v, ok := file.Lookup(s.YAML); ok {
			return v, file.Path + ": " + s.YAML, true
		}
	}
	return "", "", false
}

// File is a parsed YAML configuration file.
type File struct {
	Path string
	root map[string]any
}

// Load reads and parses a YAML configuration file.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config file %s: larger than %d bytes", path, MaxFileSize)
	}
	return Parse(path, data)
}

// Parse parses YAML configuration text; path names it in errors.
func Parse(path string, data []byte) (*File, error) {
	root := map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config file %s: not valid YAML: %w", path, err)
	}
	return &File{Path: path, root: root}, nil
}

// Lookup returns the scalar at a dotted path such as "oa.wx.app-id". Keys
// match the way Spring's relaxed binding does: case, '-' and '_' are
// ignored, so app-id, appId and app_id are one key. Lists are joined with
// commas.
func (f *File) Lookup(path string) (string, bool) {
	var cur any = f.root
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		found := false
		for k, v := range m {
			if normKey(k) == normKey(part) {
				cur, found = v, true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	switch v := cur.(type) {
	case nil:
		return "", false
	case map[string]any:
		return "", false
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			if _, nested := e.(map[string]any); nested {
				return "", false
			}
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, ","), true
	default:
		return fmt.Sprint(v), true
	}
}

func normKey(k string) string {
	k = strings.ToLower(k)
	k = strings.ReplaceAll(k, "-", "")
	return strings.ReplaceAll(k, "_", "")
}
