// Package config is oactl's settings table and its resolver. Every setting
// of every command is one row of Settings (flag, OA_* variable, YAML key,
// default, usage); commands register their flags from it and read the
// environment and the YAML file only through Set.Resolve, in order of
// precedence: flag, environment (for a secret, also the file its
// OA_<NAME>_FILE names), file, default. The YAML file may be the seed's
// Spring application.yml: keys under "oa" are read (and an unknown one is
// an error), spring.datasource names the database when nothing else does,
// and everything else (server.*, logging.*, ...) is ignored.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a configuration file: a real one is a few hundred
// bytes, and a huge one is a mistake (or an attack on the YAML parser).
const MaxFileSize = 1 << 20

// File is a parsed YAML configuration file.
type File struct {
	Path string
	root *yaml.Node // a mapping node, or nil for an empty file
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

// maxAliasDepth bounds alias chains followed by Lookup.
const maxAliasDepth = 16

// Parse parses YAML configuration text; path names it in errors.
//
// The text is decoded into yaml.Node, not into maps: the YAML library's
// map decoding reports every pair of duplicate keys, which takes time and
// memory quadratic in their number (a 20 KB file of repeated keys took
// half a minute, found by FuzzParse). Duplicates are found here in one
// pass and the first one is reported.
func Parse(path string, data []byte) (*File, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &File{Path: path}, nil
		}
		return nil, fmt.Errorf("config file %s: not valid YAML: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("config file %s: not a YAML document", path)
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return &File{Path: path}, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s: want a mapping of keys at the top (like oa: ...)", path)
	}
	if err := checkDuplicates(root); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return &File{Path: path, root: root}, nil
}

// checkDuplicates walks every mapping once (aliases are not followed:
// they point at nodes that are checked where they are defined).
func checkDuplicates(n *yaml.Node) error {
	stack := []*yaml.Node{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.MappingNode {
			seen := make(map[string]bool, len(n.Content)/2)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind == yaml.ScalarNode {
					if seen[k.Value] {
						return fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
					}
					seen[k.Value] = true
				}
			}
		}
		if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
			stack = append(stack, n.Content...)
		}
	}
	return nil
}

// Lookup returns the scalar at a dotted path such as "oa.wx.app-id". Keys
// match the way Spring's relaxed binding does: case, '-' and '_' are
// ignored, so app-id, appId and app_id are one key. A list of scalars is
// joined with commas.
func (f *File) Lookup(path string) (string, bool) {
	v := f.node(path)
	switch {
	case v == nil:
		return "", false
	case v.Kind == yaml.ScalarNode:
		if v.Tag == "!!null" {
			return "", false
		}
		return v.Value, true
	case v.Kind == yaml.SequenceNode:
		parts := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			e = resolve(e)
			if e == nil || e.Kind != yaml.ScalarNode {
				return "", false
			}
			parts = append(parts, e.Value)
		}
		return strings.Join(parts, ","), true
	}
	return "", false
}

// LookupPairs is Lookup for a setting whose YAML form may also be a list
// of mappings, such as oa.wx.apps' [{app-id, app-secret}, ...]: each
// mapping reads as "KEY=VALUE" (keys[0]'s value, '=', keys[1]'s; "KEY"
// alone without keys[1]) and the list joins them with commas, the form
// the setting's environment variable takes. A mapping without keys[0], or
// with a key besides the two, is an error naming its line.
func (f *File) LookupPairs(path string, keys [2]string) (string, bool, error) {
	if v, ok := f.Lookup(path); ok {
		return v, true, nil
	}
	seq := f.node(path)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return "", false, nil
	}
	parts := make([]string, 0, len(seq.Content))
	for _, e := range seq.Content {
		e = resolve(e)
		if e == nil || e.Kind != yaml.MappingNode {
			return "", false, fmt.Errorf("want a list of {%s, %s}", keys[0], keys[1])
		}
		var got [2]string
		var has [2]bool
		for i := 0; i+1 < len(e.Content); i += 2 {
			k, v := resolve(e.Content[i]), resolve(e.Content[i+1])
			j := slices.IndexFunc(keys[:], func(want string) bool { return k != nil && normKey(k.Value) == normKey(want) })
			if j < 0 || v == nil || v.Kind != yaml.ScalarNode {
				return "", false, fmt.Errorf("line %d: want only %s and %s in each entry", e.Line, keys[0], keys[1])
			}
			got[j], has[j] = v.Value, true
		}
		if !has[0] {
			return "", false, fmt.Errorf("line %d: an entry without %s", e.Line, keys[0])
		}
		if has[1] {
			parts = append(parts, got[0]+"="+got[1])
		} else {
			parts = append(parts, got[0])
		}
	}
	return strings.Join(parts, ","), true, nil
}

// node returns the node at a dotted path (keys matched as in Lookup), or
// nil.
func (f *File) node(path string) *yaml.Node {
	if f == nil || f.root == nil {
		return nil
	}
	cur := f.root
	for _, part := range strings.Split(path, ".") {
		m := resolve(cur)
		if m == nil || m.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := resolve(m.Content[i]); k != nil && k.Kind == yaml.ScalarNode && normKey(k.Value) == normKey(part) {
				next = m.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		cur = next
	}
	return resolve(cur)
}

// resolve follows alias nodes to what they name, within a bound.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i == maxAliasDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

func normKey(k string) string {
	k = strings.ToLower(k)
	k = strings.ReplaceAll(k, "-", "")
	return strings.ReplaceAll(k, "_", "")
}
