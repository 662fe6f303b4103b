// Command benchchart draws scripts/bench's table as an SVG bar chart:
// one bar per benchmark, its ratio against the same-run baseline, with the
// goal marked. scripts/bench writes docs/bench.svg with it.
//
//	benchchart [-title TEXT] < rows > chart.svg
//
// Each input line is scripts/bench's row: name|subject|value|baseline|
// value|ratio|goal, with "-" for a missing ratio or goal. Rows without a
// ratio are left out.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// row is one benchmark of the table.
type row struct {
	name  string
	ratio float64
	goal  float64 // NaN: no goal
}

func main() {
	title := flag.String("title", "oactl benchmarks: each figure against its baseline in the same run (higher is better)", "chart title")
	flag.Parse()
	rows, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
	if err := draw(os.Stdout, *title, rows); err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
}

func parse(r io.Reader) ([]row, error) {
	var rows []row
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 7 {
			return nil, fmt.Errorf("line %d: %d fields, want 7 (name|subject|value|baseline|value|ratio|goal)", n, len(f))
		}
		ratio, err := strconv.ParseFloat(f[5], 64)
		if err != nil || ratio < 0 || math.IsInf(ratio, 0) || math.IsNaN(ratio) {
			continue // no figure (a failed run): nothing to draw
		}
		goal := math.NaN()
		if f[6] != "-" {
			if goal, err = strconv.ParseFloat(f[6], 64); err != nil || goal < 0 || math.IsInf(goal, 0) {
				return nil, fmt.Errorf("line %d: goal %q", n, f[6])
			}
		}
		rows = append(rows, row{name: f[0], ratio: ratio, goal: goal})
	}
	return rows, sc.Err()
}

// Layout, in SVG user units.
const (
	width    = 760
	labelW   = 230 // the benchmark names
	rightPad = 60  // room for the ratio written after a bar
	barH     = 18
	gap      = 10
	top      = 40
	axisH    = 34
)

func draw(w io.Writer, title string, rows []row) error {
	scale := 2.0 // at least up to 2×, so that 1.0 sits mid-chart
	for _, r := range rows {
		scale = math.Max(scale, math.Ceil(math.Max(r.ratio, nanZero(r.goal))*2)/2)
	}
	plotW := float64(width - labelW - rightPad)
	x := func(v float64) float64 { return labelW + v/scale*plotW }
	height := top + len(rows)*(barH+gap) + axisH

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", 10, html.EscapeString(title))
	bottom := top + len(rows)*(barH+gap)
	// Grid every 0.5, and the baseline (1.0) stronger.
	for v := 0.0; v <= scale+1e-9; v += 0.5 {
		stroke, sw := "#dddddd", 1
		if v == 1 {
			stroke, sw = "#555555", 2
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="%d"/>`+"\n", x(v), top-6, x(v), bottom, stroke, sw)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(v), bottom+14, strconv.FormatFloat(v, 'f', -1, 64))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555555">ratio (1 = as fast as the baseline; ▏ = goal)</text>`+"\n", x(scale/2), bottom+30)
	for i, r := range rows {
		y := top + i*(barH+gap)
		colour := "#8c8c8c" // no goal
		if !math.IsNaN(r.goal) {
			colour = "#2e7d32"
			if r.ratio < r.goal {
				colour = "#c62828"
			}
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, y+barH-5, html.EscapeString(r.name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %.2f</title></rect>`+"\n",
			labelW, y, x(r.ratio)-labelW, barH, colour, html.EscapeString(r.name), r.ratio)
		// The figure after the bar, or after the goal mark when that is further.
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.2f</text>`+"\n", x(math.Max(r.ratio, nanZero(r.goal)))+5, y+barH-5, r.ratio)
		if !math.IsNaN(r.goal) {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000000" stroke-width="2"/>`+"\n", x(r.goal), y-3, x(r.goal), y+barH+3)
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func nanZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}
