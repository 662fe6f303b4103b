package mockwx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Script is a test environment declared in one YAML file (--script
// FILE): per-user behaviours, phone numbers and faults, applied when the
// server starts. Its keys are those of the helpers' JSON:
//
//	users:
//	  nina: {errcode: 40226}
//	  lena: {stickySessionKey: true, riskRank: 3, noUnionid: true}
//	phones:
//	  alice: "13800001111"
//	  bob: {phoneNumber: "61234567", countryCode: "852"}
//	faults: {errorRate: 0.2, errcode: -1, latencyMs: 100, jitterMs: 50, seed: 7}
//
// Make one with LoadScript or ParseScript (which validate everything) and
// hand it to New through Config.Script.
type Script struct {
	users  []scriptUser
	phones []scriptPhone
	faults *Faults
}

type scriptUser struct {
	name string
	b    Behaviour
}

type scriptPhone struct {
	user string
	p    phone
}

// ScriptError is a script mockwx cannot use: the file and the line
// (0 when the problem is the whole file, e.g. it cannot be read).
type ScriptError struct {
	File string
	Line int
	Msg  string
	Err  error // the cause, when there is one (a read error)
}

func (e *ScriptError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

func (e *ScriptError) Unwrap() error { return e.Err }

// LoadScript reads and validates the script at path. Every error is a
// *ScriptError naming the file and, for its content, the line.
func LoadScript(path string) (*Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &ScriptError{File: path, Msg: "cannot read the script: " + pe.Err.Error(), Err: err}
		}
		return nil, &ScriptError{File: path, Msg: "cannot read the script: " + err.Error(), Err: err}
	}
	return ParseScript(path, data)
}

// ParseScript validates a script; name is the file name errors give.
func ParseScript(name string, data []byte) (*Script, error) {
	p := scriptParser{file: name}
	if line, bad := badText(data); bad != "" {
		return nil, p.errf(line, "%s", bad)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return &Script{}, nil // an empty file declares nothing
		}
		return nil, p.yamlErr(data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, p.errf(max(next.Line, 1), "a script is one YAML document; found another")
	case err != io.EOF:
		return nil, p.yamlErr(data, err)
	}
	if err := p.script(&doc); err != nil {
		return nil, err
	}
	return &p.sc, nil
}

// apply sets up what sc declares; sc was validated, caps included.
func (s *Server) apply(sc *Script) {
	s.mu.Lock()
	for _, u := range sc.users {
		s.setBehaviour(u.name, u.b)
	}
	for _, p := range sc.phones {
		s.setPhone(p.user, p.p)
	}
	s.mu.Unlock()
	if sc.faults != nil {
		s.setFaults(*sc.faults)
	}
}

type scriptParser struct {
	file string
	sc   Script
}

func (p *scriptParser) errf(line int, format string, args ...any) error {
	return &ScriptError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

var yamlLine = regexp.MustCompile(`^yaml: line \d+: `)

// yamlErr turns a syntax error of the YAML library into a ScriptError.
// The library's "line N" is where the enclosing construct starts (the
// "users:" line for a bad entry 10,000 lines below), so the line is found
// again: the first one whose prefix of the file does not parse.
func (p *scriptParser) yamlErr(data []byte, err error) error {
	msg := yamlLine.ReplaceAllString(err.Error(), "")
	return p.errf(firstBadLine(data), "malformed YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// firstBadLine finds by bisection the shortest prefix of whole lines
// that fails to parse, data as a whole failing. Cutting inside a flow
// collection ("{", "[") that spans lines fails too, so an error there is
// reported at or after the line that opens it.
func firstBadLine(data []byte) int {
	ends := []int{}
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(n int) bool {
		dec := yaml.NewDecoder(bytes.NewReader(data[:ends[n-1]]))
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); err != nil {
				return err != io.EOF
			}
		}
	}
	lo, hi := 1, len(ends) // fails(hi)
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// badText finds what the YAML library would refuse without saying where:
// invalid UTF-8 and control characters.
func badText(data []byte) (int, string) {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, "malformed YAML: invalid UTF-8"
		case r == '\n':
			line++
		case r < 0x20 && r != '\t' && r != '\r', r == 0x7f:
			return line, fmt.Sprintf("malformed YAML: control character %U", r)
		}
		i += size
	}
	return 0, ""
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// pairs walks a mapping's keys in order, refusing a repeated key; a null
// (an empty section) has none.
func (p *scriptParser) pairs(n *yaml.Node, what string, fn func(k, v *yaml.Node) error) error {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return p.errf(n.Line, "%s must be a mapping", what)
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return p.errf(k.Line, "a key of %s must be a plain name", what)
		}
		if at, dup := seen[k.Value]; dup {
			return p.errf(k.Line, "%q is given twice in %s (first at line %d)", k.Value, what, at)
		}
		seen[k.Value] = k.Line
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *scriptParser) unknown(k *yaml.Node, what string, known ...string) error {
	return p.errf(k.Line, "unknown key %q in %s (want %s)", k.Value, what, strings.Join(known, ", "))
}

func (p *scriptParser) script(doc *yaml.Node) error {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return nil
	}
	return p.pairs(root, "the script", func(k, v *yaml.Node) error {
		switch k.Value {
		case "users":
			return p.users(v)
		case "phones":
			return p.phones(v)
		case "faults":
			return p.faults(v)
		}
		return p.unknown(k, "the script", "users", "phones", "faults")
	})
}

func (p *scriptParser) users(n *yaml.Node) error {
	return p.pairs(n, "users", func(k, v *yaml.Node) error {
		if !validUser(k.Value) {
			return p.errf(k.Line, "user %q: a user is 1-64 printable ASCII characters without ~ . /", k.Value)
		}
		if len(p.sc.users) >= maxBehaviours {
			return p.errf(k.Line, "more than %d users", maxBehaviours)
		}
		var b Behaviour
		what := "users." + k.Value
		err := p.pairs(v, what, func(fk, fv *yaml.Node) error {
			var err error
			switch fk.Value {
			case "errcode":
				b.Errcode, err = p.int(fv, what+".errcode")
			case "noUnionid":
				b.NoUnionID, err = p.bool(fv, what+".noUnionid")
			case "riskRank":
				b.RiskRank, err = p.int(fv, what+".riskRank")
			case "stickySessionKey":
				b.StickySessionKey, err = p.bool(fv, what+".stickySessionKey")
			default:
				err = p.unknown(fk, what, "errcode", "noUnionid", "riskRank", "stickySessionKey")
			}
			return err
		})
		if err != nil {
			return err
		}
		if err := b.check(); err != nil {
			return p.errf(v.Line, "%s: %v", what, err)
		}
		p.sc.users = append(p.sc.users, scriptUser{name: k.Value, b: b})
		return nil
	})
}

func (p *scriptParser) phones(n *yaml.Node) error {
	return p.pairs(n, "phones", func(k, v *yaml.Node) error {
		if !validUser(k.Value) {
			return p.errf(k.Line, "user %q: a user is 1-64 printable ASCII characters without ~ . /", k.Value)
		}
		if len(p.sc.phones) >= maxUsers {
			return p.errf(k.Line, "more than %d phones", maxUsers)
		}
		what := "phones." + k.Value
		var number, country string
		var err error
		if v.Kind == yaml.MappingNode {
			err = p.pairs(v, what, func(fk, fv *yaml.Node) error {
				var err error
				switch fk.Value {
				case "phoneNumber":
					number, err = p.text(fv, what+".phoneNumber")
				case "countryCode":
					country, err = p.text(fv, what+".countryCode")
				default:
					err = p.unknown(fk, what, "phoneNumber", "countryCode")
				}
				return err
			})
		} else {
			number, err = p.text(v, what)
		}
		if err != nil {
			return err
		}
		ph, err := parsePhone(number, country)
		if err != nil {
			return p.errf(v.Line, "%s: %v", what, err)
		}
		p.sc.phones = append(p.sc.phones, scriptPhone{user: k.Value, p: ph})
		return nil
	})
}

func (p *scriptParser) faults(n *yaml.Node) error {
	var f Faults
	err := p.pairs(n, "faults", func(k, v *yaml.Node) error {
		var err error
		switch k.Value {
		case "errorRate":
			f.ErrorRate, err = p.float(v, "faults.errorRate")
		case "errcode":
			f.Errcode, err = p.int(v, "faults.errcode")
		case "latencyMs":
			f.LatencyMs, err = p.int(v, "faults.latencyMs")
		case "jitterMs":
			f.JitterMs, err = p.int(v, "faults.jitterMs")
		case "seed":
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&f.Seed) != nil {
				err = p.errf(v.Line, "faults.seed must be an integer 0..%d", uint64(1<<64-1))
			}
		default:
			err = p.unknown(k, "faults", "errorRate", "errcode", "latencyMs", "jitterMs", "seed")
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return p.errf(deref(n).Line, "faults: %v", err)
	}
	p.sc.faults = &f
	return nil
}

func (p *scriptParser) int(n *yaml.Node, what string) (int, error) {
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil || v < -1<<31 || v > 1<<31-1 {
		return 0, p.errf(n.Line, "%s must be an integer", what)
	}
	return v, nil
}

func (p *scriptParser) float(n *yaml.Node, what string) (float64, error) {
	var v float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") || n.Decode(&v) != nil {
		return 0, p.errf(n.Line, "%s must be a number", what)
	}
	return v, nil
}

func (p *scriptParser) bool(n *yaml.Node, what string) (bool, error) {
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		return false, p.errf(n.Line, "%s must be true or false", what)
	}
	return v, nil
}

// text reads a string or a number as written ("0086" stays "0086").
func (p *scriptParser) text(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!int") {
		return "", p.errf(n.Line, "%s must be a string", what)
	}
	return n.Value, nil
}
