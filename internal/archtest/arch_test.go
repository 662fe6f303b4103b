// Package archtest keeps docs/ARCHITECTURE.md's import rules true: each
// package of the module may import only the packages listed for it, so
// arrows point one way and the layers stay what the document says.
package archtest

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/oactl/oactl/"

// allowed lists, for each package of the module, the module packages its
// non-test files may import. A package missing here fails the test: a new
// package gets its place in docs/ARCHITECTURE.md and here together.
var allowed = map[string][]string{
	"internal/wechat":     {},
	"internal/keyseal":    {},
	"internal/logfmt":     {},
	"internal/config":     {},
	"internal/storage":    {},
	"internal/testutil":   {},
	"internal/archtest":   {},
	"internal/auth":       {"internal/wechat"},
	"internal/api":        {"internal/auth", "internal/storage", "internal/wechat"},
	"internal/server":     {"internal/api", "internal/auth", "internal/logfmt", "internal/storage", "internal/wechat"},
	"internal/db":         {"internal/auth"},
	"internal/db/migrate": {"internal/auth", "internal/db"},
	"internal/db/doctor":  {"internal/auth", "internal/db", "internal/db/migrate"},
	"internal/inspect":    {"internal/auth"},
	"internal/mockwx":     {"internal/wechat"},
	// Test support: imported by _test files only (checked below).
	"internal/auth/authtest":    {"internal/auth", "internal/testutil", "internal/wechat"},
	"internal/dbtest":           {"internal/db"},
	"internal/testutil/apispec": {},
	// The commands wire everything; nothing imports them.
	"cmd/oactl": {"internal/auth", "internal/config", "internal/db", "internal/db/doctor", "internal/db/migrate",
		"internal/inspect", "internal/keyseal", "internal/logfmt", "internal/mockwx", "internal/server", "internal/wechat"},
	// Benchmark and soak programs read the database to check results.
	"scripts/benchbase":  {"internal/db", "internal/wechat"}, // wechat: serve's WeChat pool size and timeout
	"scripts/soakrun":    {"internal/db"},
	"scripts/benchchart": {},
	"scripts/binsize":    {},
}

// noHTTP are the packages that must not know HTTP: the domain and the file
// store are used by the HTTP layer, never the other way round.
var noHTTP = []string{"internal/auth", "internal/storage", "internal/db", "internal/db/migrate", "internal/db/doctor", "internal/keyseal", "internal/config", "internal/logfmt"}

// testSupport may be imported only by _test files.
var testSupport = []string{"internal/testutil", "internal/testutil/apispec", "internal/auth/authtest", "internal/dbtest"}

func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]*build.Package{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "examples" || name == "docs") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		rel, _ := filepath.Rel(root, path)
		pkgs[filepath.ToSlash(rel)] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages under %s: is the walk wrong?", len(pkgs), root)
	}
	rel := func(imp string) (string, bool) { return strings.CutPrefix(imp, module) }
	for name, p := range pkgs {
		allow, ok := allowed[name]
		if !ok {
			t.Errorf("%s is not in the import rules: add it to docs/ARCHITECTURE.md and to allowed", name)
			continue
		}
		for _, imp := range p.Imports {
			if r, ours := rel(imp); ours {
				if !slices.Contains(allow, r) {
					t.Errorf("%s imports %s: not allowed by docs/ARCHITECTURE.md", name, r)
				}
				if slices.Contains(testSupport, r) && !slices.Contains(testSupport, name) {
					t.Errorf("%s imports the test-support package %s outside its tests", name, r)
				}
			}
			if imp == "net/http" && slices.Contains(noHTTP, name) {
				t.Errorf("%s imports net/http: it must not know HTTP", name)
			}
		}
	}
	for name := range allowed {
		if _, ok := pkgs[name]; !ok {
			t.Errorf("allowed lists %s, which has no Go files: remove it", name)
		}
	}
	// Nothing imports cmd, even from tests.
	for name, p := range pkgs {
		all := append(append(append([]string{}, p.Imports...), p.TestImports...), p.XTestImports...)
		sort.Strings(all)
		for _, imp := range all {
			if r, ours := rel(imp); ours && strings.HasPrefix(r, "cmd/") {
				t.Errorf("%s imports %s: nothing imports a command", name, r)
			}
		}
	}
}
