package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The report's figures, one builder each: what each shows of the results
// (plot.go has the drawing they share).

func (res *results) throughputFigure() (*figure, error) {
	t := res.Throughput
	if t == nil {
		return nil, nil
	}
	names := []string{"feedd run (transactions)", "kcat -P", "kcat -P, feedd's header"}
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
		"and %s of the %s of kcat with feedd's header", len(t.Feedd), fmtRate(summarize(t.Feedd).Median),
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
	{"p50", p50Of},
	{"p99", p99Of},
	{"p99.9", p999Of},
	{"max", maxOf},
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
	highest := latencyFastP99Target.Seconds() * 1e3
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
	if err := targetLine(p, ms(latencyP99Target), "target: p99 at most "+fmtMS(ms(latencyP99Target))+" up to 1 k frames/s"); err != nil {
		return nil, err
	}
	if err := targetLine(p, ms(latencyFastP99Target), "target: p99 at most "+fmtMS(ms(latencyFastP99Target))+" above"); err != nil {
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
		_, bound := latencyTarget(l.Rate)
		p99 = append(p99, fmt.Sprintf("%s at %s frames/s (target %s, %s)", fmtMS(v), fmtRate(l.Rate), fmtMS(ms(bound)), verdictWord(v <= ms(bound))))
	}
	return fmt.Sprintf("Latency quantiles of each run by rate, against p99 targets of at most %s up to 1 k frames/s and %s above: median p99 %s; median p50 %s",
		fmtMS(ms(latencyP99Target)), fmtMS(ms(latencyFastP99Target)), strings.Join(p99, ", "), strings.Join(p50, ", "))
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
