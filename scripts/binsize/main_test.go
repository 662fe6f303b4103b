package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestPackageAndModuleOfSymbols(t *testing.T) {
	for _, c := range []struct{ sym, pkg, mod string }{
		{"net/http.(*Transport).RoundTrip", "net/http", "std"},
		{"type:.eq.net/http.Header", "net/http", "std"},
		{"go:itab.*os.File,io.Writer", "os", "std"},
		{"slices.SortFunc[go.shape.struct { net/http.key string }]", "slices", "std"},
		{"modernc.org/sqlite/lib._sqlite3VdbeExec", "modernc.org/sqlite/lib", "modernc.org/sqlite"},
		{"github.com/charmbracelet/x/ansi.StringWidth", "github.com/charmbracelet/x/ansi", "github.com/charmbracelet/x"},
		{"github.com/oactl/oactl/internal/inspect.Model.View", "github.com/oactl/oactl/internal/inspect", "github.com/oactl/oactl/internal/inspect"},
		{"main.runServe", "main", "main"},
		{"go:func.*", "go:", "std"},
		{"vendor/golang.org/x/net/idna.idnaValues", "vendor/golang.org/x/net/idna", "std"},
	} {
		if got := group(c.sym, "package"); got != c.pkg {
			t.Errorf("package of %q = %q, want %q", c.sym, got, c.pkg)
		}
		if got := group(c.sym, "module"); got != c.mod {
			t.Errorf("module of %q = %q, want %q", c.sym, got, c.mod)
		}
	}
}

// TestMeasureThisBinary: every byte of the test binary's code is given to
// a function's package, the tables too, and no more is attributed than
// the loaded sections hold.
func TestMeasureThisBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("binsize reads ELF binaries")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	nm, err := exec.Command("go", "tool", "nm", "-size", self).Output()
	if err != nil {
		t.Skip("go tool nm:", err)
	}
	rows, loaded, err := measure(self, nm, "package")
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var all Row
	found := map[string]bool{}
	for _, r := range rows {
		all.Text += r.Text
		all.Pcln += r.Pcln
		all.Func += r.Func
		all.Dat += r.Dat
		found[r.Name] = r.Text > 0
	}
	if text := f.Section(".text").Size; uint64(all.Text) != text {
		t.Errorf("code attributed %d, .text is %d", all.Text, text)
	}
	if pcln := f.Section(".gopclntab").Size; all.Pcln <= 0 || uint64(all.Pcln+all.Func) > pcln {
		t.Errorf("tables attributed %d + %d, .gopclntab is %d", all.Pcln, all.Func, pcln)
	}
	if int64(all.Total()) > loaded {
		t.Errorf("attributed %d of %d loaded bytes", all.Total(), loaded)
	}
	for _, p := range []string{"runtime", "testing", "debug/elf", "main"} {
		if !found[p] {
			t.Errorf("no code attributed to %s", p)
		}
	}
	var b strings.Builder
	if err := print(&b, rows, loaded, 3); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(b.String(), "\n"); lines != 6 {
		t.Errorf("printed %d lines, want 3 headers and 3 rows:\n%s", lines, b.String())
	}
}

func TestNotAGoBinary(t *testing.T) {
	if _, _, err := measure("/proc/self/exe", nil, "module"); err == nil {
		t.Error("no nm output: want an error (no go:func.*)")
	}
	if _, _, err := measure("main.go", nil, "module"); err == nil {
		t.Error("a source file measured without error")
	}
}
