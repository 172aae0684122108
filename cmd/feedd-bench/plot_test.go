package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// svgContent is what a test reads of an SVG file: the text it shows and
// the colour of every filled path (the marks; lines are stroked).
type svgContent struct {
	texts []string
	fills []string
}

// parseSVG reads an SVG document with encoding/xml, failing on anything
// that is not well-formed XML with an <svg> root.
func parseSVG(data []byte) (svgContent, error) {
	var c svgContent
	dec := xml.NewDecoder(bytes.NewReader(data))
	var inText, root bool
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !root && t.Name.Local != "svg" {
				return c, fmt.Errorf("the root element is <%s>, not <svg>", t.Name.Local)
			}
			root = true
			inText = t.Name.Local == "text"
			for _, a := range t.Attr {
				if t.Name.Local == "path" && a.Name.Local == "style" {
					if f, ok := styleFill(a.Value); ok {
						c.fills = append(c.fills, f)
					}
				}
			}
		case xml.CharData:
			if inText {
				c.texts = append(c.texts, string(t))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if !root {
		return c, errors.New("no <svg> element")
	}
	return c, nil
}

func styleFill(style string) (string, bool) {
	for e := range strings.SplitSeq(style, ";") {
		if v, ok := strings.CutPrefix(e, "fill:"); ok && v != "none" {
			return v, true
		}
	}
	return "", false
}

// marks counts the filled paths of colour c, allowing for the rounding of
// a channel by one when the colour is written.
func (s svgContent) marks(c color.Color) int {
	r, g, b, _ := c.RGBA()
	n := 0
	for _, f := range s.fills {
		var fr, fg, fb int
		if _, err := fmt.Sscanf(f, "#%02x%02x%02x", &fr, &fg, &fb); err != nil {
			continue
		}
		if near(fr, int(r>>8)) && near(fg, int(g>>8)) && near(fb, int(b>>8)) {
			n++
		}
	}
	return n
}

func near(a, b int) bool { return a-b <= 1 && b-a <= 1 }

func (s svgContent) shows(text string) bool {
	return slices.ContainsFunc(s.texts, func(t string) bool { return strings.Contains(t, text) })
}

var imageLink = regexp.MustCompile(`!\[([^\]]*)\]\(([^)]+)\)`)

// TestReportLinksEveryFigure: the report written from the synthetic
// results links each figure written beside it once, with alt text, and
// nothing else; and the results it was drawn from are saved there too.
func TestReportLinksEveryFigure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.md")
	if err := syntheticResults(t).write(out); err != nil {
		t.Fatal(err)
	}
	report, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	written, err := filepath.Glob(filepath.Join(assetDir(out), "*.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != len(figureFiles) {
		t.Errorf("%d figures written, want %d: %v", len(written), len(figureFiles), written)
	}
	linked := map[string]int{}
	for _, m := range imageLink.FindAllStringSubmatch(string(report), -1) {
		if len(m[1]) < 40 {
			t.Errorf("the link to %s has the alt text %q, which says too little", m[2], m[1])
		}
		linked[filepath.Join(filepath.Dir(out), m[2])]++
	}
	for _, f := range written {
		if linked[f] != 1 {
			t.Errorf("%s is linked %d times", f, linked[f])
		}
		delete(linked, f)
	}
	for f := range linked {
		t.Errorf("the report links %s, which was not written", f)
	}
	if !strings.Contains(string(report), "](bench/"+resultsFile+")") {
		t.Error("the report does not link the results it was drawn from")
	}
	if _, err := loadResults(filepath.Join(assetDir(out), resultsFile)); err != nil {
		t.Errorf("the saved results: %v", err)
	}
}

// TestFigureLinksByTheirSections: each figure is linked inside the section
// it illustrates, before the next heading.
func TestFigureLinksByTheirSections(t *testing.T) {
	res := syntheticResults(t)
	figs, err := res.figures()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	res.render(&b, figs, "bench")
	report := b.String()
	for file, heading := range map[string]string{"throughput.svg": "## Throughput against kcat", "latency.svg": "## End-to-end latency",
		"exactly-once.svg": "## Cost of exactly-once", "failover.svg": "## Failover"} {
		link := strings.Index(report, "(bench/"+file+")")
		h := strings.Index(report, heading+"\n")
		if link < 0 || h < 0 {
			t.Errorf("%s: link at %d, heading %q at %d", file, link, heading, h)
			continue
		}
		if next := strings.Index(report[h+len(heading):], "\n## "); link < h || next >= 0 && link > h+len(heading)+next {
			t.Errorf("%s is not linked in the section %q", file, heading)
		}
	}
}

// TestFiguresShowTheirSeries: every figure is well-formed SVG holding a
// mark for every run of every series (and one in its legend), and the
// names and medians the report states.
func TestFiguresShowTheirSeries(t *testing.T) {
	res := syntheticResults(t)
	figs, err := res.figures()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		marks []int // per series colour: runs drawn plus the legend's mark
		texts []string
	}
	reps, rates, ivs := len(res.Throughput.Feedd), len(res.Latency), len(res.EOS)
	wants := map[string]want{
		"throughput.svg": {[]int{reps + 1, reps + 1, reps + 1},
			[]string{"feedd run (transactions): median 152 k frames/s", "kcat -P: median 810 k frames/s", "kcat -P, feedd's header", "feedd 0.18× kcat"}},
		"latency.svg": {[]int{rates*res.o.latencyReps + 1, rates*res.o.latencyReps + 1, rates*res.o.latencyReps + 1, rates*res.o.latencyReps + 1},
			[]string{"p50", "p99", "p99.9", "max", "target: p99 at most 15.0 ms up to 1 k frames/s", "target: p99 at most 20.0 ms above", "10 k frames/s"}},
		"exactly-once.svg": {[]int{ivs*reps + 1, ivs*reps + 1},
			[]string{"transactional", "idempotent (no transactions)", "commit interval 10ms", "commit interval 50ms"}},
		"failover.svg": {[]int{res.o.failoverReps + 1, res.o.failoverReps + 1},
			[]string{"crash (SIGKILL): p50 46.0 ms", "hang (SIGSTOP): p50 556 ms", "target: p50 below 15.0 ms", "target: p99 below 50.0 ms", "target: p99 below 550 ms", "each failover"}},
	}
	for _, f := range figs {
		w, ok := wants[f.File]
		if !ok {
			t.Errorf("an unexpected figure %s", f.File)
			continue
		}
		delete(wants, f.File)
		data, err := f.svg()
		if err != nil {
			t.Fatal(err)
		}
		svg, err := parseSVG(data)
		if err != nil {
			t.Errorf("%s is not valid SVG: %v", f.File, err)
			continue
		}
		for i, n := range w.marks {
			if got := svg.marks(seriesColors[i]); got != n {
				t.Errorf("%s: %d marks of series %d, want %d", f.File, got, i, n)
			}
		}
		for _, text := range w.texts {
			if !svg.shows(text) {
				t.Errorf("%s does not show %q; it shows %q", f.File, text, svg.texts)
			}
		}
	}
	for file := range wants {
		t.Errorf("no figure %s", file)
	}
}

// TestFiguresAreTheSameBytesEachTime: drawing the same results twice gives
// the same files, so that a redraw from saved results changes nothing.
func TestFiguresAreTheSameBytesEachTime(t *testing.T) {
	draw := func() map[string][]byte {
		figs, err := syntheticResults(t).figures()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for _, f := range figs {
			if out[f.File], err = f.svg(); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	first, second := draw(), draw()
	if len(first) == 0 {
		t.Fatal("no figures drawn")
	}
	for name, data := range first {
		if !bytes.Equal(data, second[name]) {
			t.Errorf("%s differs between two drawings", name)
		}
	}
}

// TestFiguresOfSectionsNotRunAreRemoved: a run of fewer sections leaves no
// figure of an earlier run beside the report.
func TestFiguresOfSectionsNotRunAreRemoved(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.md")
	res := syntheticResults(t)
	if err := res.write(out); err != nil {
		t.Fatal(err)
	}
	res.Failover, res.EOS = nil, nil
	if err := res.write(out); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"throughput.svg": true, "latency.svg": true, "exactly-once.svg": false, "failover.svg": false} {
		if _, err := os.Stat(filepath.Join(assetDir(out), name)); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", name, err == nil, want)
		}
	}
}

// TestCountTicks: the failover axis is labelled with whole failovers, at
// most ten labels however many there were.
func TestCountTicks(t *testing.T) {
	for _, tc := range []struct {
		hi   float64
		want string
	}{
		{3.5, "1 2 3"},
		{12.5, "2 4 6 8 10 12"},
		{30.5, "5 10 15 20 25 30"},
		{100.5, "10 20 30 40 50 60 70 80 90 100"},
	} {
		var got []string
		for _, tick := range (countTicks{}).Ticks(0.5, tc.hi) {
			got = append(got, tick.Label)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("ticks up to %g: %q, want %q", tc.hi, got, tc.want)
		}
	}
}

// TestFiguresRefuseASeriesWithoutRuns: saved results with a series emptied
// by hand are an error, not a panic of the drawing.
func TestFiguresRefuseASeriesWithoutRuns(t *testing.T) {
	res := syntheticResults(t)
	res.EOS[1].IdemTput = nil
	if _, err := res.figures(); err == nil || !strings.Contains(err.Error(), "no runs") {
		t.Fatalf("figures of a series without runs: %v", err)
	}
}
