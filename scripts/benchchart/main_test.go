package main

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
)

const table = `mockwx|jscode2session req/s|22766.74|bare net/http handler req/s|40637.33|0.56|0.8
info (MariaDB)|GET /wx/auth/info req/s|6517.61|one PK SELECT req/s|7486.67|0.87|1.0
login <&> "x"|login_by_weixin req/s|1|upsert+insert tx req/s|1|2.60|0.8
SQLite vs MariaDB login|SQLite login req/s|2397.65|MariaDB login req/s|1911.27|1.25|-
migrate check|failed: see go test output|-|-|-|-|-
`

func TestChartIsWellFormedAndDrawsEveryFigure(t *testing.T) {
	rows, err := parse(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 (the failed one has no figure)", len(rows))
	}
	var b strings.Builder
	if err := draw(&b, "t", rows); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	dec := xml.NewDecoder(strings.NewReader(svg))
	var bars, goals int
	var widths []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "rect":
				for _, a := range se.Attr {
					if a.Name.Local == "fill" && a.Value != "#ffffff" {
						bars++
					}
					if a.Name.Local == "width" {
						widths = append(widths, a.Value)
					}
				}
			case "line":
				for _, a := range se.Attr {
					if a.Name.Local == "stroke" && a.Value == "#000000" {
						goals++
					}
				}
			}
		}
	}
	if bars != 4 || goals != 3 {
		t.Errorf("%d bars and %d goal marks, want 4 and 3", bars, goals)
	}
	for _, want := range []string{"0.56", "0.87", "2.60", "1.25", "login &lt;&amp;&gt; &#34;x&#34;", `fill="#c62828"`, `fill="#2e7d32"`, `fill="#8c8c8c"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %s", want)
		}
	}
	// Bars are proportional to the ratio (widths[0] is the background).
	if len(widths) != 5 {
		t.Fatalf("widths %v", widths)
	}
	w := make([]float64, len(widths))
	for i, s := range widths {
		w[i], _ = strconv.ParseFloat(s, 64)
	}
	for i, ratio := range []float64{0.56, 0.87, 2.60, 1.25} {
		if got, want := w[i+1]/w[1], ratio/0.56; got < want*0.99 || got > want*1.01 {
			t.Errorf("bar %d is %.2f× the first, want %.2f×", i, got, want)
		}
	}
}

func TestParseRefusesMalformedRows(t *testing.T) {
	for _, in := range []string{"a|b|c", "a|b|c|d|e|1.0|x", "a|b|c|d|e|1.0|-1"} {
		if _, err := parse(strings.NewReader(in)); err == nil {
			t.Errorf("parse(%q) accepted it", in)
		}
	}
	rows, err := parse(strings.NewReader("a|b|c|d|e|NaN|1\na|b|c|d|e|-3|1\n"))
	if err != nil || len(rows) != 0 {
		t.Errorf("rows without a usable ratio: %v, %v", rows, err)
	}
}
