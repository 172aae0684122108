package main

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The report's figures are drawn from the results its tables are rendered
// from, as SVG: vector, small, and the same bytes for the same results, so
// that a redraw from saved results changes nothing in git. vgsvg writes
// text as <text> naming the font (Liberation Serif, metric-compatible with
// Times New Roman, the usual fallback) rather than embedding it: embedding
// would add hundreds of kilobytes of base64 to every file.

// figure is one picture of the report.
type figure struct {
	File    string // its name in the report's directory
	Section string // the report section it illustrates (one of sections)
	Alt     string // its point in words, for the image link
	Panels  []*plot.Plot
	Width   vg.Length
	Height  vg.Length
}

// Colours (Okabe and Ito's, told apart with colour blindness) and glyphs
// of the series, in the order a figure uses them.
var (
	seriesColors = []color.Color{
		color.RGBA{0x00, 0x72, 0xb2, 0xff}, // blue
		color.RGBA{0xe6, 0x9f, 0x00, 0xff}, // orange
		color.RGBA{0x00, 0x9e, 0x73, 0xff}, // green
		color.RGBA{0xd5, 0x5e, 0x00, 0xff}, // vermillion
	}
	seriesGlyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, diamondGlyph{}}
	targetColor  = color.RGBA{0x66, 0x66, 0x66, 0xff}
)

// diamondGlyph is a filled diamond: every series glyph is filled, so that
// a series' marks are the paths filled with its colour.
type diamondGlyph struct{}

func (diamondGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius * 1.3
	var p vg.Path
	p.Move(vg.Point{X: pt.X, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X + r, Y: pt.Y})
	p.Line(vg.Point{X: pt.X, Y: pt.Y + r})
	p.Line(vg.Point{X: pt.X - r, Y: pt.Y})
	p.Close()
	c.Fill(p)
}

// figures are the report's pictures of the sections the results hold.
func (res *results) figures() ([]figure, error) {
	var figs []figure
	for _, build := range []func() (*figure, error){res.throughputFigure, res.latencyFigure, res.eosFigure, res.failoverFigure} {
		f, err := build()
		if err != nil {
			return nil, err
		}
		if f != nil {
			figs = append(figs, *f)
		}
	}
	return figs, nil
}

// svg draws the figure, its panels side by side.
func (f figure) svg() ([]byte, error) {
	c := vgsvg.New(f.Width, f.Height)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: len(f.Panels), PadX: vg.Centimeter, PadTop: vg.Millimeter, PadBottom: vg.Millimeter,
		PadLeft: vg.Millimeter, PadRight: 2 * vg.Millimeter}
	for i, cv := range plot.Align([][]*plot.Plot{f.Panels}, tiles, dc)[0] {
		f.Panels[i].Draw(cv)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("drawing %s: %w", f.File, err)
	}
	return buf.Bytes(), nil
}

// figureFiles are the names of every figure the harness draws: a figure
// not drawn this time (its section was not run) is removed, so that no
// picture of an earlier run stays beside a report that no longer shows it.
var figureFiles = []string{"throughput.svg", "latency.svg", "exactly-once.svg", "failover.svg"}

// writeFigures draws figs into dir and removes the figures of sections not
// drawn.
func writeFigures(dir string, figs []figure) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("the figures' directory: %w", err)
	}
	for _, name := range figureFiles {
		if slices.IndexFunc(figs, func(f figure) bool { return f.File == name }) >= 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing a figure of an earlier run: %w", err)
		}
	}
	for _, f := range figs {
		data, err := f.svg()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.File), data, 0o644); err != nil {
			return fmt.Errorf("writing a figure: %w", err)
		}
	}
	return nil
}

// newPlot is a plot with the report's title, axis labels and a legend in
// its top left corner.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	p.Title.Padding = 3 * vg.Millimeter
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = 2*vg.Millimeter, -vg.Millimeter
	p.Y.Tick.Marker = plainTicks{}
	p.Add(plotter.NewGrid())
	return p
}

// plainTicks are gonum's default ticks labelled without trailing zeros
// (50, not 50.00).
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = fmt.Sprintf("%.4g", ts[i].Value)
		}
	}
	return ts
}

// countTicks label whole numbers at a step of 1, 2 or 5 times a power of
// ten, at most ten of them: the failovers are counted, never halved.
type countTicks struct{}

func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for i := 0; (hi-lo)/step > 10; i++ {
		step *= []float64{2, 2.5, 2}[i%3]
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v)})
	}
	return ts
}

// perRunLabel explains the marks of a plot with runs.
const perRunLabel = "a mark per run, a bar at the median"

// categories makes the x axis one category per name, at 0, 1, ...
func categories(p *plot.Plot, names ...string) {
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
}

// yFromZero starts the y axis at zero and leaves room above the highest
// value for a legend of up to five rows.
func yFromZero(p *plot.Plot, highest float64) {
	p.Y.Min, p.Y.Max = 0, highest*1.6
}

// runs draws one series' values of one category: a mark per run, spread
// in run order across a slot of width w at x, and a bar at their median.
// The median is given, so that it is the very figure the report states.
func runs(p *plot.Plot, x, w float64, vals []float64, med float64, i int) (*plotter.Scatter, *plotter.Line, error) {
	if len(vals) == 0 {
		// Only a hand-edited results file has a series without runs.
		return nil, nil, errors.New("no runs")
	}
	xys := make(plotter.XYs, len(vals))
	for j, v := range vals {
		xys[j] = plotter.XY{X: x + spread(j, len(vals), 0.7*w), Y: v}
	}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, nil, fmt.Errorf("the runs: %w", err)
	}
	s.GlyphStyle = draw.GlyphStyle{Color: seriesColors[i], Radius: vg.Points(2.5), Shape: seriesGlyphs[i]}
	m, err := hline(x-w/2, x+w/2, med, seriesColors[i], false)
	if err != nil {
		return nil, nil, err
	}
	m.Width = vg.Points(2)
	p.Add(s, m)
	return s, m, nil
}

// spread is the offset of the j-th of n marks within a slot of width w.
func spread(j, n int, w float64) float64 {
	if n < 2 {
		return 0
	}
	return w * (float64(j)/float64(n-1) - 0.5)
}

// hline is a horizontal line at y from x0 to x1, dashed for a target.
func hline(x0, x1, y float64, c color.Color, dashed bool) (*plotter.Line, error) {
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}})
	if err != nil {
		return nil, fmt.Errorf("a line at %g: %w", y, err)
	}
	l.Color = c
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	return l, nil
}

// targetLine draws a dashed line across the plot at y, named in the legend.
func targetLine(p *plot.Plot, y float64, name string) error {
	l, err := hline(p.X.Min, p.X.Max, y, targetColor, true)
	if err != nil {
		return err
	}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

func (res *results) throughputFigure() (*figure, error) {
	t := res.Throughput
	if t == nil {
		return nil, nil
	}
	names := []string{"feedd run (transactions)", "kcat -P", "kcat -P, feedd's headers"}
	series := [][]float64{scale(t.Feedd, 1e-3), scale(t.Kcat, 1e-3), scale(t.KcatHeaders, 1e-3)}
	p := newPlot(fmt.Sprintf("Throughput, %d frames: feedd %s kcat", t.Frames, fmtRatio(summarize(t.Ratios).Median)),
		perRunLabel, "thousand frames/s")
	categories(p, names...)
	highest := 0.0
	for i, vals := range series {
		s, m, err := runs(p, float64(i), 0.5, vals, summarize(vals).Median, i)
		if err != nil {
			return nil, fmt.Errorf("throughput, %s: %w", names[i], err)
		}
		p.Legend.Add(fmt.Sprintf("%s: median %s frames/s", names[i], fmtRate(1e3*summarize(vals).Median)), s, m)
		highest = max(highest, slices.Max(vals))
	}
	yFromZero(p, highest)
	alt := fmt.Sprintf("Throughput over %d runs each: feedd with transactions at a median of %s frames/s, %s of kcat's %s "+
		"and %s of the %s of kcat with feedd's headers", len(t.Feedd), fmtRate(summarize(t.Feedd).Median),
		fmtRatio(summarize(t.Ratios).Median), fmtRate(summarize(t.Kcat).Median),
		fmtRatio(summarize(t.HeaderRatios).Median), fmtRate(summarize(t.KcatHeaders).Median))
	return &figure{File: "throughput.svg", Section: "throughput", Alt: alt, Panels: []*plot.Plot{p},
		Width: 16 * vg.Centimeter, Height: 10 * vg.Centimeter}, nil
}

// latencyQuantiles are the per-run quantiles the latency figure shows.
var latencyQuantiles = []struct {
	name string
	of   func(LatencyStats) time.Duration
}{
	{"p50", func(s LatencyStats) time.Duration { return s.P50 }},
	{"p99", func(s LatencyStats) time.Duration { return s.P99 }},
	{"p99.9", func(s LatencyStats) time.Duration { return s.P999 }},
	{"max", func(s LatencyStats) time.Duration { return s.Max }},
}

func (res *results) latencyFigure() (*figure, error) {
	if len(res.Latency) == 0 {
		return nil, nil
	}
	var names []string
	for _, l := range res.Latency {
		names = append(names, fmtRate(l.Rate)+" frames/s")
	}
	p := newPlot("End-to-end latency by rate", perRunLabel, "ms from the write to the consumer")
	categories(p, names...)
	highest := latencyP99Target.Seconds() * 1e3
	for k, q := range latencyQuantiles {
		var thumbs []plot.Thumbnailer
		for i, l := range res.Latency {
			var vals []float64
			for _, r := range l.Runs {
				vals = append(vals, ms(q.of(r.Stats)))
			}
			s, m, err := runs(p, float64(i)+spread(k, len(latencyQuantiles), 0.66), 0.2, vals, l.perRun(q.of).Median, k)
			if err != nil {
				return nil, fmt.Errorf("latency, %s at %s: %w", q.name, names[i], err)
			}
			thumbs = []plot.Thumbnailer{s, m}
			highest = max(highest, slices.Max(vals))
		}
		p.Legend.Add(q.name, thumbs...)
	}
	if err := targetLine(p, ms(latencyP99Target), "target: p99 at most "+fmtMS(ms(latencyP99Target))); err != nil {
		return nil, err
	}
	yFromZero(p, highest)
	return &figure{File: "latency.svg", Section: "latency", Alt: res.latencyAlt(), Panels: []*plot.Plot{p},
		Width: 16 * vg.Centimeter, Height: 10 * vg.Centimeter}, nil
}

func (res *results) latencyAlt() string {
	var p50, p99 []string
	for _, l := range res.Latency {
		p50 = append(p50, fmtMS(l.perRun(latencyQuantiles[0].of).Median))
		v := l.perRun(latencyQuantiles[1].of).Median
		p99 = append(p99, fmt.Sprintf("%s at %s frames/s (%s)", fmtMS(v), fmtRate(l.Rate), verdictWord(v <= ms(latencyP99Target))))
	}
	return fmt.Sprintf("Latency quantiles of each run by rate, against a p99 target of at most %s: median p99 %s; median p50 %s",
		fmtMS(ms(latencyP99Target)), strings.Join(p99, ", "), strings.Join(p50, ", "))
}

// verdictWord is a target's verdict inside a sentence.
func verdictWord(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

// eosModes are the two producers the exactly-once figure compares.
var eosModes = []struct {
	name string
	tput func(eosResult) []float64
}{
	{"transactional", func(e eosResult) []float64 { return e.TxnTput }},
	{"idempotent (no transactions)", func(e eosResult) []float64 { return e.IdemTput }},
}

func (res *results) eosFigure() (*figure, error) {
	if len(res.EOS) == 0 {
		return nil, nil
	}
	var names, ratios []string
	for _, e := range res.EOS {
		names = append(names, "commit interval "+e.Interval.String())
		ratios = append(ratios, fmt.Sprintf("%.3f at %v", summarize(e.Ratios).Median, e.Interval))
	}
	p := newPlot("Throughput with and without transactions", perRunLabel, "thousand frames/s")
	categories(p, names...)
	highest := 0.0
	for k, mode := range eosModes {
		var thumbs []plot.Thumbnailer
		for i, e := range res.EOS {
			vals := scale(mode.tput(e), 1e-3)
			s, m, err := runs(p, float64(i)+spread(k, len(eosModes), 0.44), 0.4, vals, summarize(vals).Median, k)
			if err != nil {
				return nil, fmt.Errorf("exactly-once, %s at %v: %w", mode.name, e.Interval, err)
			}
			thumbs = []plot.Thumbnailer{s, m}
			highest = max(highest, slices.Max(vals))
		}
		p.Legend.Add(mode.name, thumbs...)
	}
	yFromZero(p, highest)
	alt := "Throughput of feedd with transactions against feedd with the idempotent producer, per run, by commit interval: " +
		"the median ratio of back-to-back runs is " + strings.Join(ratios, ", ")
	return &figure{File: "exactly-once.svg", Section: "eos", Alt: alt, Panels: []*plot.Plot{p},
		Width: 16 * vg.Centimeter, Height: 10 * vg.Centimeter}, nil
}

// failoverKinds are the failover scenarios in the order of the report,
// with the targets their figure shows.
var failoverKinds = []struct {
	kind, label string
	targets     []failoverTarget
}{
	{"crash", "crash (SIGKILL)", []failoverTarget{{50, crashP50Target}, {99, crashP99Target}}},
	{"hang", "hang (SIGSTOP)", []failoverTarget{{99, hangP99Target}}},
}

type failoverTarget struct {
	percentile float64
	below      time.Duration
}

func (res *results) failoverFigure() (*figure, error) {
	var panels []*plot.Plot
	var alt []string
	for i, k := range failoverKinds {
		f := res.Failover[k.kind]
		if f == nil || len(f.Commit) == 0 {
			continue
		}
		p, err := failoverPanel(k.label, f.Commit, k.targets, i)
		if err != nil {
			return nil, fmt.Errorf("failover, %s: %w", k.kind, err)
		}
		panels = append(panels, p)
		s := sortedDur(f.Commit)
		var ts []string
		for _, t := range k.targets {
			ts = append(ts, fmt.Sprintf("p%g below %s %s", t.percentile, fmtMS(ms(t.below)), verdictWord(percentile(s, t.percentile) < t.below)))
		}
		alt = append(alt, fmt.Sprintf("%s p50 %s, from %s to %s over %d failovers, target %s", k.label, fmtMS(ms(percentile(s, 50))),
			fmtMS(ms(s[0])), fmtMS(ms(s[len(s)-1])), len(s), strings.Join(ts, " and ")))
	}
	if len(panels) == 0 {
		return nil, nil
	}
	return &figure{File: "failover.svg", Section: "failover", Panels: panels,
		Alt:   "Failover time of every failover in the order they ran, with the median: " + strings.Join(alt, "; "),
		Width: vg.Length(len(panels)) * 10 * vg.Centimeter, Height: 9 * vg.Centimeter}, nil
}

// failoverPanel is one scenario's failovers in the order they ran, their
// nearest-rank median (the p50 the report states) and the targets.
func failoverPanel(label string, commit []time.Duration, targets []failoverTarget, i int) (*plot.Plot, error) {
	s := sortedDur(commit)
	p50 := ms(percentile(s, 50))
	p := newPlot(label+": p50 "+fmtMS(p50), "failover, in the order they ran", "ms from the signal to the first commit")
	p.X.Min, p.X.Max = 0.5, float64(len(commit))+0.5
	p.X.Tick.Marker = countTicks{}
	xys := make(plotter.XYs, len(commit))
	for j, d := range commit {
		xys[j] = plotter.XY{X: float64(j + 1), Y: ms(d)}
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, fmt.Errorf("the failovers: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: seriesColors[i], Radius: vg.Points(2.5), Shape: seriesGlyphs[i]}
	med, err := hline(p.X.Min, p.X.Max, p50, seriesColors[i], false)
	if err != nil {
		return nil, err
	}
	p.Add(sc, med)
	p.Legend.Add("each failover", sc)
	p.Legend.Add("p50 "+fmtMS(p50), med)
	lo, hi := ms(s[0]), ms(s[len(s)-1])
	for _, t := range targets {
		if err := targetLine(p, ms(t.below), fmt.Sprintf("target: p%g below %s", t.percentile, fmtMS(ms(t.below)))); err != nil {
			return nil, err
		}
		lo, hi = min(lo, ms(t.below)), max(hi, ms(t.below))
	}
	// Not from zero: the spread of the failovers is the point, and a hang's
	// take half a second before the first of them.
	p.Y.Min = max(0, lo-0.1*(hi-lo))
	p.Y.Max = hi + 0.5*(hi-p.Y.Min)
	return p, nil
}
