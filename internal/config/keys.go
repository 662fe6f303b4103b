package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// IgnoredKeys are keys under oa: that the seed's application.yml has and
// oactl reads as known but does not use: oactl always speaks JSON.
var IgnoredKeys = []string{"oa.wx.msg-data-format"}

// CheckKeys returns an error for the first key under oa: that is none of
// known (dotted keys matched as Lookup matches them) nor inside one of
// them: a typo such as tokne-ttl must not be silently ignored. The error
// names the file, the line, the key as written and the nearest known key.
// Keys outside oa: (spring, server, logging, ...) are the Java backend's
// and are not checked.
func (f *File) CheckKeys(known []string) error {
	if f == nil || f.root == nil {
		return nil
	}
	norm := make(map[string]string, len(known)) // normalised → as the table writes it
	for _, k := range known {
		norm[normPath(k)] = k
	}
	for i := 0; i+1 < len(f.root.Content); i += 2 {
		k := resolve(f.root.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode || normKey(k.Value) != "oa" {
			continue
		}
		if err := f.checkMapping(k.Value, "oa", f.root.Content[i+1], norm); err != nil {
			return err
		}
	}
	return nil
}

// checkMapping checks the keys of the value at path (written as shown).
func (f *File) checkMapping(shown, path string, n *yaml.Node, known map[string]string) error {
	n = resolve(n)
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("config file %s: line %d: %s: want keys under it, not a value", f.Path, n.Line, shown)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			return fmt.Errorf("config file %s: line %d: %s: keys must be plain names", f.Path, n.Content[i].Line, shown)
		}
		keyShown, keyPath := shown+"."+k.Value, path+"."+normKey(k.Value)
		if _, ok := known[keyPath]; ok {
			continue
		}
		if hasKeyUnder(known, keyPath) {
			if err := f.checkMapping(keyShown, keyPath, n.Content[i+1], known); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("config file %s: line %d: unknown key %s (did you mean %s?)", f.Path, k.Line, keyShown, nearestKey(keyPath, known))
	}
	return nil
}

func hasKeyUnder(known map[string]string, path string) bool {
	for k := range known {
		if strings.HasPrefix(k, path+".") {
			return true
		}
	}
	return false
}

// nearestKey is the known key closest to path by edit distance over the
// normalised keys, or over their last parts plus one (so that a key in
// the wrong section, oa.seed, finds oa.mockwx.seed); ties go to the
// alphabetically first, so the message is the same on every run.
func nearestKey(path string, known map[string]string) string {
	// The distance is quadratic in the key's length; a key longer than any
	// known one by far is no typo of one anyway.
	const maxLen = 128
	if len(path) > maxLen {
		path = path[:maxLen]
	}
	best, bestD := "", -1
	for k, shown := range known {
		d := min(editDistance(path, k), editDistance(lastPart(path), lastPart(k))+1)
		if bestD < 0 || d < bestD || (d == bestD && shown < best) {
			best, bestD = shown, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, by bytes
// (keys are ASCII; a non-ASCII key is far from all of them anyway).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// normPath normalises each part of a dotted key as Lookup matches it.
func normPath(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		parts[i] = normKey(p)
	}
	return strings.Join(parts, ".")
}

func lastPart(path string) string {
	return path[strings.LastIndex(path, ".")+1:]
}
