package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A comparison (--baseline) measures two builds of feedd on one broker:
// the sections chosen run for each build in turn, round after round, the
// order swapped every round so that neither build always meets the machine
// first. On a shared machine a figure moves by tens of percent from one
// minute to the next; the ratio of the two builds within a round moves far
// less, and is what says whether a change moved the figure.

// measure is one figure of one run of the sections, as a comparison
// lines the builds up: name and unit say what it is.
type measure struct {
	name  string
	unit  unit
	value float64
}

// unit is how a measure prints.
type unit int

const (
	unitMS unit = iota
	unitRate
	unitRatio
	unitPct
	unitCount
)

func (u unit) format(v float64) string {
	switch u {
	case unitMS:
		return fmtMS(v)
	case unitRate:
		return fmtRate(v)
	case unitRatio:
		return fmtRatio(v)
	case unitCount:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmtPct2(v)
	}
}

// measures are the figures of res that a change to feedd can move, each
// the median over the run's repetitions: the figures the targets judge,
// the absolute ones beside the ratios to a peer, and what the failover
// audits found. A name says its setting exactly (rates and depths as
// given), so two settings never share a row; a setting given twice is
// measured once.
func (res *results) measures() []measure {
	var out []measure
	seen := map[string]bool{}
	add := func(name string, u unit, vs []float64) {
		if len(vs) > 0 && !seen[name] {
			seen[name] = true
			out = append(out, measure{name, u, summarize(vs).Median})
		}
	}
	if t := res.Throughput; t != nil {
		add("throughput, frames/s", unitRate, t.Feedd)
		add("throughput / kcat", unitRatio, t.Ratios)
	}
	for _, l := range res.Latency {
		add(fmt.Sprintf("latency p50 at %g frames/s", l.Rate), unitMS, latencyPerRun(l, p50Of))
		add(fmt.Sprintf("latency p99 at %g frames/s", l.Rate), unitMS, latencyPerRun(l, p99Of))
	}
	for _, e := range res.EOS {
		add(fmt.Sprintf("exactly-once at %v: transactional / idempotent", e.Interval), unitRatio, e.Ratios)
	}
	for _, kind := range []string{"crash", "hang"} {
		if f := res.Failover[kind]; f != nil && len(f.Commit) > 0 {
			s := sortedDur(f.Commit)
			add(kind+" failover p50", unitMS, []float64{ms(percentile(s, 50))})
			add(kind+" failover p99", unitMS, []float64{ms(percentile(s, 99))})
			// A faster failover that loses or repeats frames is no gain:
			// the audit's findings go beside the times.
			add(kind+" failover: gaps and duplicates in the topic", unitCount, []float64{float64(f.Audit.Gaps + f.Audit.Dups)})
			add(kind+" failover: failbacks", unitCount, []float64{float64(f.Failbacks)})
		}
	}
	for _, depth := range res.o.activationDepth {
		member, visible, _ := res.activationAt(depth)
		if depth == 0 {
			add("activation, no backlog, member-observed", unitMS, member)
			continue
		}
		add(fmt.Sprintf("activation, %d-frame backlog readable", depth), unitMS, visible)
	}
	for _, depth := range res.o.memoryDepths {
		_, _, _, ratio := res.memoryAt(depth)
		add(fmt.Sprintf("memory holding %d frames, (resident − idle) / payload", depth), unitRatio, ratio)
	}
	for _, rate := range res.o.cpuRates {
		active, inactive, kcat := res.cpuAt(rate)
		at := "idle"
		if rate != cpuIdle {
			at = fmt.Sprintf("at %g frames/s", rate)
		}
		add("CPU of the active "+at, unitPct, active)
		add("CPU of the inactive "+at, unitPct, inactive)
		if len(kcat) > 0 {
			add("CPU of the active / kcat "+at, unitRatio, perRunRatios(active, kcat))
			add("CPU of the inactive / kcat "+at, unitRatio, perRunRatios(inactive, kcat))
		}
	}
	return out
}

// unclean lists what the failover audits of res found wrong, for a
// comparison to say beside its table.
func (res *results) unclean() []string {
	var out []string
	for _, kind := range []string{"crash", "hang"} {
		if f := res.Failover[kind]; f != nil && !f.Audit.Clean {
			out = append(out, fmt.Sprintf("%s failover: %s", kind, f.Audit))
		}
	}
	return out
}

func latencyPerRun(l latencyResult, f func(LatencyStats) time.Duration) []float64 {
	var v []float64
	for _, r := range l.Runs {
		v = append(v, ms(f(r.Stats)))
	}
	return v
}

// comparison is what a comparison measured: for each round, the measures
// of the baseline and of the build compared with it.
type comparison struct {
	baseline, feedd string // the binaries and their versions
	broker          string
	command         string         // as typed
	settings        string         // every setting, defaults included
	rounds          [][2][]measure // [round][0: baseline, 1: feedd]
	unclean         []string       // what a failover audit found wrong, by round and build
	took            time.Duration
	cut             error // why the comparison stopped before its last round
}

// compare runs the chosen sections for both builds, o.rounds times;
// command is the command line, for the report. A round that fails ends the
// comparison: what the rounds before it measured is returned with the
// error.
func compare(ctx context.Context, o options, b *broker, dir string, bins [2]string, command string) (*comparison, error) {
	c := &comparison{baseline: bins[0] + " (" + feeddVersion(bins[0]) + ")", feedd: bins[1] + " (" + feeddVersion(bins[1]) + ")",
		broker: b.Kind, command: command, settings: newResults(o, b, bins[1]).command()}
	start := time.Now()
	defer func() { c.took = time.Since(start) }()
	names := [2]string{"baseline", "feedd"}
	for round := range o.rounds {
		var got [2][]measure
		order := [2]int{0, 1}
		if round%2 == 1 {
			order = [2]int{1, 0}
		}
		for _, i := range order {
			log.Printf("round %d of %d: %s (%s)", round+1, o.rounds, names[i], bins[i])
			r := &runner{o: o, bin: bins[i], dir: dir, broker: b, res: newResults(o, b, bins[i])}
			if err := r.runSections(ctx); err != nil {
				c.cut = fmt.Errorf("round %d, %s: %w", round+1, names[i], err)
				return c, c.cut
			}
			got[i] = r.res.measures()
			for _, u := range r.res.unclean() {
				c.unclean = append(c.unclean, fmt.Sprintf("round %d, %s: %s", round+1, names[i], u))
			}
		}
		c.rounds = append(c.rounds, got)
	}
	return c, nil
}

// write prints the comparison as a Markdown table: each figure of both
// builds, round by round, and their ratio within each round.
func (c *comparison) write(w io.Writer) error {
	var b strings.Builder
	p := printer(&b)
	p("Two builds of feedd measured on %s, %d rounds, the order of the builds swapped every round, in %v:\n\n",
		c.broker, len(c.rounds), c.took.Round(time.Second))
	if c.cut != nil {
		p("**Cut short**, with %d complete round(s): %v\n\n", len(c.rounds), c.cut)
	}
	p("- baseline: %s\n- feedd: %s\n\n```sh\n%s\n```\n\nwith these settings for each build:\n\n```sh\n%s\n```\n\n", c.baseline, c.feedd, c.command, c.settings)
	for _, u := range c.unclean {
		p("- **The topic was not clean:** %s\n", u)
	}
	if len(c.unclean) > 0 {
		p("\n")
	}
	p("Each cell lists the rounds in order; the last column is the median over the rounds of feedd / baseline within a round.\n\n")
	p("| figure | baseline | feedd | feedd / baseline | median |\n| --- | --- | --- | --- | --- |\n")
	for _, row := range c.rows() {
		var base, build, ratios []string
		var rs []float64
		for _, pair := range row.values {
			base = append(base, row.unit.format(pair[0]))
			build = append(build, row.unit.format(pair[1]))
			if pair[0] == 0 {
				ratios = append(ratios, "—") // nothing to divide by
				continue
			}
			r := pair[1] / pair[0]
			rs = append(rs, r)
			ratios = append(ratios, fmt.Sprintf("%.2f", r))
		}
		med := "—"
		if len(rs) > 0 {
			med = fmt.Sprintf("**%.2f**", summarize(rs).Median)
		}
		p("| %s | %s | %s | %s | %s |\n", row.name, strings.Join(base, ", "), strings.Join(build, ", "),
			strings.Join(ratios, ", "), med)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// comparedRow is one figure over the rounds that measured it for both
// builds.
type comparedRow struct {
	name   string
	unit   unit
	values [][2]float64
}

// rows lines the figures up by name, in the order the first round gave
// them; a figure a round lacks for either build is left out of that round.
func (c *comparison) rows() []comparedRow {
	var rows []comparedRow
	at := map[string]int{}
	for _, round := range c.rounds {
		base := map[string]float64{}
		for _, m := range round[0] {
			base[m.name] = m.value
		}
		for _, m := range round[1] {
			v, ok := base[m.name]
			if !ok {
				continue
			}
			i, seen := at[m.name]
			if !seen {
				i = len(rows)
				at[m.name] = i
				rows = append(rows, comparedRow{name: m.name, unit: m.unit})
			}
			rows[i].values = append(rows[i].values, [2]float64{v, m.value})
		}
	}
	return rows
}

// writeComparison writes the comparison to path, or to the standard output
// for "-". It does not overwrite a report make bench wrote (which has notes
// below its marker that it keeps).
func writeComparison(c *comparison, path string) error {
	if path == "-" {
		return c.write(os.Stdout)
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Contains(old, []byte(notesMarker)) {
		return fmt.Errorf("--out %s holds a benchmark report with notes; a comparison goes to a file of its own", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := c.write(f); err != nil {
		f.Close()
		return err
	}
	log.Printf("wrote %s", path)
	return f.Close()
}
