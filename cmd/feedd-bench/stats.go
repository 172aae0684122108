package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Summary is a figure measured over repeated runs: its median and the
// smallest and largest value seen. The spread of a figure on a shared,
// noisy machine is the range, not a confidence interval: with a handful of
// runs the range says plainly how far apart they were.
type Summary struct {
	Median, Min, Max float64
	N                int
}

// summarize returns the median, minimum and maximum of vs (which it does
// not modify); a zero Summary for none.
func summarize(vs []float64) Summary {
	if len(vs) == 0 {
		return Summary{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return Summary{Median: median(s), Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// median of sorted values: the middle one, or the mean of the two middle
// ones.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// percentile is the nearest-rank percentile of sorted samples: the
// smallest sample with at least p% of the samples at or below it. With
// 1,000 samples p99.9 is the largest.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The epsilon keeps 99.9% of 1,000 at rank 999 despite rounding.
	i := int(math.Ceil(p/100*float64(len(sorted))-1e-9)) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Spread is the range as a share of the median: (max-min)/median.
func (s Summary) Spread() float64 {
	if s.Median == 0 {
		return 0
	}
	return (s.Max - s.Min) / math.Abs(s.Median)
}

// format renders the summary with f applied to each value, as
// "median (min–max)", or just the value for a single run.
func (s Summary) format(f func(float64) string) string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 || s.Min == s.Max {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

// LatencyStats are the quantiles of one run's latency samples.
type LatencyStats struct {
	N                     int
	P50, P99, P999, Max   time.Duration
	Mean                  time.Duration
	Below, Above, Missing int // samples not counted: warm-up, after the end, never arrived
}

// The quantiles of a run's statistics, as perRun and the latency figure
// take them.
func p50Of(s LatencyStats) time.Duration  { return s.P50 }
func p99Of(s LatencyStats) time.Duration  { return s.P99 }
func p999Of(s LatencyStats) time.Duration { return s.P999 }
func maxOf(s LatencyStats) time.Duration  { return s.Max }

func latencyStats(samples []time.Duration) LatencyStats {
	s := slices.Clone(samples)
	slices.Sort(s)
	var ls LatencyStats
	ls.N = len(s)
	if ls.N == 0 {
		return ls
	}
	ls.P50, ls.P99, ls.P999, ls.Max = percentile(s, 50), percentile(s, 99), percentile(s, 99.9), s[len(s)-1]
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	ls.Mean = sum / time.Duration(len(s))
	return ls
}

// Number formatting for the report.

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// A magnitude is how values from least up are written: divided by scale,
// in format.
type magnitude struct {
	least, scale float64
	format       string
}

// byMagnitude writes v as the first of ms, largest first, whose least size
// reaches, or in format small if size reaches none.
func byMagnitude(v, size float64, small string, ms ...magnitude) string {
	for _, m := range ms {
		if size >= m.least {
			return fmt.Sprintf(m.format, v/m.scale)
		}
	}
	return fmt.Sprintf(small, v)
}

func fmtMS(v float64) string {
	return byMagnitude(v, v, "%.2f ms", magnitude{100, 1, "%.0f ms"}, magnitude{10, 1, "%.1f ms"})
}

// fmtRate renders a count per second with a k or M suffix.
func fmtRate(v float64) string {
	return byMagnitude(v, v, "%.0f", magnitude{1e6, 1e6, "%.2f M"}, magnitude{1e3, 1e3, "%.0f k"})
}

// fmtNum renders a benchmark figure with three significant digits.
func fmtNum(v float64) string {
	return byMagnitude(v, math.Abs(v), "%.4g", magnitude{1e9, 1e9, "%.3g G"}, magnitude{1e6, 1e6, "%.3g M"}, magnitude{1e4, 1e3, "%.3g k"})
}

// fixed renders a value with the given number of decimals.
func fixed(decimals int) func(float64) string {
	return func(v float64) string { return fmt.Sprintf("%.*f", decimals, v) }
}

func fmtMiB(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }

func fmtRatio(v float64) string { return fmt.Sprintf("%.2f×", v) }

func fmtPct(v float64) string { return fmt.Sprintf("%.1f%%", v) }

// fmtPct2 is a percentage with two decimals: for figures near a bound of a
// percent or so, and for a rate's share of a whole one.
func fmtPct2(v float64) string { return fmt.Sprintf("%.2f%%", v) }
