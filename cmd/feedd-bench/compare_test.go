package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestComparisonLinesTheBuildsUp: each figure of the two builds is given
// round by round, with their ratio within each round and the median of
// those ratios; a figure one build lacks in a round is left out of that
// round only.
func TestComparisonLinesTheBuildsUp(t *testing.T) {
	// Round 1: the baseline's CPU at 1.0 and 2.0 points, the build's at
	// half; round 2: the machine is twice as busy for both.
	base := resourceResults(t, nil, 1.2, 0.20, 0.10, 0.02, 0.010, 0.008)
	build := resourceResults(t, nil, 1.2, 0.10, 0.05, 0.02, 0.005, 0.004)
	busyBase := resourceResults(t, nil, 1.2, 0.40, 0.20, 0.04, 0.020, 0.016)
	busyBuild := resourceResults(t, nil, 1.2, 0.20, 0.10, 0.04, 0.010, 0.008)
	busyBuild.Memory = nil // this round measured no memory for the build
	c := &comparison{baseline: "old", feedd: "new", broker: "a broker", command: "go run ./cmd/feedd-bench --baseline old",
		rounds: [][2][]measure{{base.measures(), build.measures()}, {busyBase.measures(), busyBuild.measures()}}, took: time.Minute}
	var b strings.Builder
	if err := c.write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| CPU of the active at 1000 frames/s | 20.20%, 40.40% | 10.10%, 20.20% | 0.50, 0.50 | **0.50** |",
		"| CPU of the active / kcat at 1000 frames/s | 10.10×, 10.10× | 5.05×, 5.05× | 0.50, 0.50 | **0.50** |",
		"| CPU of the inactive idle | 0.81%, 1.62% | 0.40%, 0.81% | 0.50, 0.50 | **0.50** |",
		"| memory holding 1000000 frames, (resident − idle) / payload | 1.20× | 1.20× | 1.00 | **1.00** |",
		"- baseline: old\n- feedd: new\n",
		"go run ./cmd/feedd-bench --baseline old",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the comparison lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "activation") || strings.Contains(out, "Cut short") || strings.Contains(out, "not clean") {
		t.Errorf("a figure neither build measured, or a failure nothing had, is in the comparison:\n%s", out)
	}
}

// TestComparisonKeepsSettingsApart: figures of two rates that print alike
// rounded (1000 and 1200 frames/s) are two rows, each divided by its own
// baseline; a failover audit that found the topic unclean is said above
// the table, its gaps and duplicates are a row of their own, and a
// comparison cut short says so.
func TestComparisonKeepsSettingsApart(t *testing.T) {
	run := func(active1000, active1200 float64, gaps int64) []measure {
		o, err := parseFlags([]string{"--brokers", "127.0.0.1:9092", "--only", "cpu,failover", "--cpu-rates", "1000,1200"})
		if err != nil {
			t.Fatal(err)
		}
		res := &results{o: o, Durations: map[string]time.Duration{}}
		res.CPU = []cpuRun{{Rate: 1000, Active: active1000, Inactive: 0.1, Kcat: 0.02}, {Rate: 1200, Active: active1200, Inactive: 0.1, Kcat: 0.02}}
		res.Failover = map[string]*failoverResult{"crash": {Kind: "crash", Commit: []time.Duration{9 * time.Millisecond},
			Audit: auditSummary{Clean: gaps == 0, Records: 100, Gaps: gaps}}}
		return res.measures()
	}
	c := &comparison{baseline: "old", feedd: "new", rounds: [][2][]measure{{run(0.2, 0.4, 0), run(0.1, 0.4, 1)}},
		unclean: []string{"round 1, feedd: crash failover: 1 gap"}, cut: errors.New("round 2, baseline: timed out")}
	var b strings.Builder
	if err := c.write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| CPU of the active at 1000 frames/s | 20.00% | 10.00% | 0.50 | **0.50** |",
		"| CPU of the active at 1200 frames/s | 40.00% | 40.00% | 1.00 | **1.00** |",
		"| crash failover: gaps and duplicates in the topic | 0 | 1 | — | — |",
		"- **The topic was not clean:** round 1, feedd: crash failover: 1 gap",
		"**Cut short**, with 1 complete round(s): round 2, baseline: timed out",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the comparison lacks %q:\n%s", want, out)
		}
	}
}

// TestComparisonSparesTheReport: a comparison does not overwrite a report
// make bench wrote, whose notes it would lose.
func TestComparisonSparesTheReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	report := "# Benchmarks\n\n" + notesMarker + "\nnotes by hand\n"
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeComparison(&comparison{}, path); err == nil {
		t.Fatal("a comparison overwrote the report")
	}
	if b, _ := os.ReadFile(path); string(b) != report {
		t.Fatalf("the report changed: %q", b)
	}
	other := filepath.Join(t.TempDir(), "compare.md")
	if err := writeComparison(&comparison{}, other); err != nil {
		t.Fatal(err)
	}
}

// TestComparisonFlags: a comparison leaves out the Go micro-benchmarks
// unless they are asked for, which is refused, and writes to the standard
// output unless told otherwise.
func TestComparisonFlags(t *testing.T) {
	o, err := parseFlags([]string{"--brokers", "127.0.0.1:9092", "--baseline", "old/feedd"})
	if err != nil {
		t.Fatal(err)
	}
	if o.only["go"] || !o.only["throughput"] || !o.only["cpu"] || o.out != "-" || o.rounds != 3 {
		t.Fatalf("sections %v, out %q, rounds %d; want every section but go, the standard output, 3 rounds", o.only, o.out, o.rounds)
	}
	o, err = parseFlags([]string{"--brokers", "127.0.0.1:9092", "--baseline", "old/feedd", "--out", "cmp.md", "--only", "cpu", "--rounds", "5"})
	if err != nil {
		t.Fatal(err)
	}
	if o.out != "cmp.md" || o.rounds != 5 || len(o.only) != 1 {
		t.Fatalf("out %q, rounds %d, sections %v", o.out, o.rounds, o.only)
	}
	for _, args := range [][]string{
		{"--brokers", "127.0.0.1:9092", "--baseline", "old/feedd", "--only", "cpu,go"},
		{"--brokers", "127.0.0.1:9092", "--baseline", "old/feedd", "--rounds", "0"},
		{"--from", "results.json", "--baseline", "old/feedd"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	// Without --baseline, the report is the default output.
	if o, err := parseFlags([]string{"--brokers", "127.0.0.1:9092"}); err != nil || o.out != "docs/benchmarks.md" {
		t.Fatalf("out %q, %v", o.out, err)
	}
}
