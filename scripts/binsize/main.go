// Command binsize tells what the bytes of a Go binary (linux, amd64 or
// arm64, Go 1.20's function table or newer) are spent on, by package or
// by module: each function's machine code, its share of .gopclntab (its
// name, its record and its pc tables) and of its GC and inline data
// (go:func.*), and the data symbols the symbol table sizes.
// docs/PERFORMANCE.md's list of what is largest comes from it.
//
//	go build -trimpath -o /tmp/oactl ./cmd/oactl   # not -s: names are needed
//	go run ./scripts/binsize [-by package|module|func] [-n 30] /tmp/oactl
//
// What it cannot give a package: type descriptors and string literals
// (named as a whole, type:* and go:string.*: the time-zone data is a
// string) and section padding. The "attributed" line says how much of the
// file the table covers. Stripping (-s -w) removes only the symbol table
// and DWARF, so the figures are those of the stripped binary.
package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

func main() {
	by := flag.String("by", "module", "group by package, module or func")
	n := flag.Int("n", 30, "rows to print (0: all)")
	flag.Parse()
	if flag.NArg() != 1 || (*by != "package" && *by != "module" && *by != "func") {
		fmt.Fprintln(os.Stderr, "usage: binsize [-by package|module|func] [-n rows] BINARY")
		os.Exit(2)
	}
	nm, err := exec.Command("go", "tool", "nm", "-size", flag.Arg(0)).Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "binsize: go tool nm:", err)
		os.Exit(1)
	}
	rows, total, err := measure(flag.Arg(0), nm, *by)
	if err != nil {
		fmt.Fprintln(os.Stderr, "binsize:", err)
		os.Exit(1)
	}
	if err := print(os.Stdout, rows, total, *n); err != nil {
		fmt.Fprintln(os.Stderr, "binsize:", err)
		os.Exit(1)
	}
}

// Row is what one group (package, module or function) costs, in bytes.
type Row struct {
	Name                  string
	Text, Pcln, Func, Dat int
}

// Total is the sum of a row's parts.
func (r Row) Total() int { return r.Text + r.Pcln + r.Func + r.Dat }

type symbol struct {
	addr uint64
	size int
	kind string
	name string
}

// parseNM reads `go tool nm -size` output.
func parseNM(out []byte) []symbol {
	var syms []symbol
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		addr, err1 := strconv.ParseUint(f[0], 16, 64)
		size, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			continue
		}
		syms = append(syms, symbol{addr, size, f[2], strings.Join(f[3:], " ")})
	}
	return syms
}

// function is one entry of the function table.
type function struct {
	entry  uint64 // offset in .text
	name   string
	tables []uint32 // pc tables: offsets into pctab
	data   []uint32 // funcdata: offsets into go:func.*
	record int      // _func record, its functab entry and its name
}

// measure groups the bytes of the binary at path, whose nm output is nm,
// and returns the bytes of its loaded sections.
func measure(path string, nm []byte, by string) ([]Row, int64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	// What a stripped binary keeps: the loaded sections.
	var loaded int64
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Type != elf.SHT_NOBITS {
			loaded += int64(s.Size)
		}
	}
	pclnSec, text := f.Section(".gopclntab"), f.Section(".text")
	if pclnSec == nil || text == nil {
		return nil, 0, errors.New("no .gopclntab or .text: not a Go ELF binary")
	}
	pcln, err := pclnSec.Data()
	if err != nil {
		return nil, 0, err
	}
	syms := parseNM(nm)
	funcdataSize := -1
	for _, s := range syms {
		if s.name == "go:func.*" {
			funcdataSize = s.size
		}
	}
	if funcdataSize < 0 {
		return nil, 0, errors.New("no go:func.* symbol: build without -s")
	}
	fns, pctabLen, err := functions(pcln)
	if err != nil {
		return nil, 0, err
	}
	// Tables are shared between functions with equal ones: each distinct
	// table, up to the next one, is counted once, for its first user.
	pcSize := spans(fns, func(fn function) []uint32 { return fn.tables }, pctabLen)
	fdSize := spans(fns, func(fn function) []uint32 { return fn.data }, funcdataSize)
	groups := map[string]*Row{}
	row := func(name string) *Row {
		k := group(name, by)
		if groups[k] == nil {
			groups[k] = &Row{Name: k}
		}
		return groups[k]
	}
	seenPC, seenFD := map[uint32]bool{}, map[uint32]bool{}
	for i, fn := range fns {
		end := text.Size
		if i+1 < len(fns) {
			end = fns[i+1].entry
		}
		r := row(fn.name)
		r.Text += int(end - fn.entry)
		r.Pcln += fn.record
		for _, t := range fn.tables {
			if !seenPC[t] {
				seenPC[t] = true
				r.Pcln += pcSize[t]
			}
		}
		for _, d := range fn.data {
			if !seenFD[d] {
				seenFD[d] = true
				r.Func += fdSize[d]
			}
		}
	}
	bss := ^uint64(0)
	if s := f.Section(".bss"); s != nil {
		bss = s.Addr
	}
	for _, s := range syms {
		switch {
		case s.kind == "T" || s.kind == "t" || s.kind == "U" || s.addr >= bss:
		case strings.HasPrefix(s.name, "go:func.") || strings.HasPrefix(s.name, "runtime.pclntab") || strings.HasPrefix(s.name, "runtime.epclntab"):
		default:
			row(s.name).Dat += s.size
		}
	}
	rows := make([]Row, 0, len(groups))
	for _, r := range groups {
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Total() != rows[j].Total() {
			return rows[i].Total() > rows[j].Total()
		}
		return rows[i].Name < rows[j].Name
	})
	return rows, loaded, nil
}

// functions reads the function table of a Go 1.20+ .gopclntab (64-bit).
func functions(p []byte) ([]function, int, error) {
	le := binary.LittleEndian
	if len(p) < 72 || le.Uint32(p) != 0xfffffff1 || p[7] != 8 {
		return nil, 0, errors.New(".gopclntab is not Go 1.20's 64-bit format")
	}
	word := func(i int) int { return int(le.Uint64(p[8+8*i:])) }
	nfunc, names, pctab, table := word(0), word(3), word(6), word(7)
	if table+8*(nfunc+1) > len(p) || pctab > table || names > len(p) {
		return nil, 0, errors.New(".gopclntab header out of range")
	}
	fns := make([]function, nfunc)
	for i := range fns {
		e := table + 8*i
		rec := table + int(le.Uint32(p[e+4:]))
		if rec+44 > len(p) {
			return nil, 0, fmt.Errorf("function %d: record out of range", i)
		}
		name := p[names+int(le.Uint32(p[rec+4:])):]
		name = name[:bytes.IndexByte(name, 0)]
		npcdata, nfuncdata := int(le.Uint32(p[rec+28:])), int(p[rec+43])
		fn := function{entry: uint64(le.Uint32(p[e:])), name: string(name), record: 44 + 4*npcdata + 4*nfuncdata + 8 + len(name) + 1}
		for _, off := range []int{16, 20, 24} { // pcsp, pcfile, pcln
			fn.tables = appendNonZero(fn.tables, le.Uint32(p[rec+off:]))
		}
		for k := range npcdata {
			fn.tables = appendNonZero(fn.tables, le.Uint32(p[rec+44+4*k:]))
		}
		for k := range nfuncdata {
			if d := le.Uint32(p[rec+44+4*npcdata+4*k:]); d != ^uint32(0) {
				fn.data = append(fn.data, d)
			}
		}
		fns[i] = fn
	}
	return fns, table - pctab, nil
}

func appendNonZero(l []uint32, v uint32) []uint32 {
	if v == 0 {
		return l
	}
	return append(l, v)
}

// spans gives each distinct offset the bytes up to the next one (the last
// up to limit).
func spans(fns []function, offsets func(function) []uint32, limit int) map[uint32]int {
	set := map[uint32]bool{}
	for _, fn := range fns {
		for _, o := range offsets(fn) {
			set[o] = true
		}
	}
	sorted := make([]uint32, 0, len(set))
	for o := range set {
		sorted = append(sorted, o)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	out := make(map[uint32]int, len(sorted))
	for i, o := range sorted {
		next := uint32(limit)
		if i+1 < len(sorted) {
			next = sorted[i+1]
		}
		out[o] = int(next - o)
	}
	return out
}

// group names the package, module or function a symbol belongs to.
func group(sym, by string) string {
	if by == "func" {
		return sym
	}
	p := packageOf(sym)
	if by == "module" {
		return moduleOf(p)
	}
	return p
}

// packageOf is the import path of a symbol: "net/http" for
// "net/http.(*Transport).RoundTrip" and for "type:.eq.net/http.Header".
func packageOf(sym string) string {
	for _, prefix := range []string{"type:.eq.", "type:", "go:itab."} {
		if strings.HasPrefix(sym, prefix) {
			sym = strings.TrimLeft(strings.TrimPrefix(sym, prefix), "*[]")
			break
		}
	}
	if strings.HasPrefix(sym, "go:") {
		return "go:"
	}
	limit := strings.IndexAny(sym, "([{ ")
	if limit < 0 {
		limit = len(sym)
	}
	slash := strings.LastIndex(sym[:limit], "/")
	dot := strings.Index(sym[slash+1:], ".")
	if dot < 0 {
		return sym
	}
	return sym[:slash+1+dot]
}

// moduleOf groups a package with its module: the standard library as
// "std", each of this module's packages on its own.
func moduleOf(pkg string) string {
	parts := strings.Split(pkg, "/")
	switch {
	case strings.HasPrefix(pkg, "github.com/oactl/oactl/"), pkg == "main":
		return pkg
	case !strings.Contains(parts[0], "."):
		return "std"
	case (parts[0] == "github.com" || parts[0] == "golang.org") && len(parts) >= 3:
		return strings.Join(parts[:3], "/")
	case len(parts) >= 2:
		return strings.Join(parts[:2], "/")
	}
	return pkg
}

func print(w io.Writer, rows []Row, loaded int64, n int) error {
	var all Row
	for _, r := range rows {
		all.Text += r.Text
		all.Pcln += r.Pcln
		all.Func += r.Func
		all.Dat += r.Dat
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%-48s %10s %10s %10s %10s %10s\n", "", "total", "code", "pclntab", "funcdata", "data")
	fmt.Fprintf(bw, "%-48s %10d %10d %10d %10d %10d\n", "attributed", all.Total(), all.Text, all.Pcln, all.Func, all.Dat)
	fmt.Fprintf(bw, "%-48s %10d (of %d loaded: types, strings, tables)\n", "not attributed", loaded-int64(all.Total()), loaded)
	for i, r := range rows {
		if n > 0 && i == n {
			break
		}
		fmt.Fprintf(bw, "%-48s %10d %10d %10d %10d %10d\n", r.Name, r.Total(), r.Text, r.Pcln, r.Func, r.Dat)
	}
	return bw.Flush()
}
