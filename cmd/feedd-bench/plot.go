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
