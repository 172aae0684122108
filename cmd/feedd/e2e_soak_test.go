package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast/audit"
)

// TestChaosSoak is the long soak (make soak, not in CI): faults drawn at
// random from the whole matrix, back to back with seeded random timing, on
// one pair and one topic, for FEEDD_SOAK (a duration) and at least
// FEEDD_SOAK_MIN_FAULTS faults (default 100); then the chaos suite's checks
// of the topic. With FEEDD_SOAK_REPORT set it writes the summary there
// (docs/reliability.md), including the failover times on Kafka.
func TestChaosSoak(t *testing.T) {
	v := os.Getenv("FEEDD_SOAK")
	if v == "" {
		t.Skip("SKIPPED: the soak runs only with FEEDD_SOAK=<duration> (make soak)")
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("FEEDD_SOAK=%q: want a duration such as 10m", v)
	}
	minFaults := 100
	if s := os.Getenv("FEEDD_SOAK_MIN_FAULTS"); s != "" {
		if minFaults, err = strconv.Atoi(s); err != nil || minFaults < 0 {
			t.Fatalf("FEEDD_SOAK_MIN_FAULTS=%q: want a number", s)
		}
	}
	ch := newChaos(t)
	seed := ch.seed
	start := time.Now()
	faults := 0
	for ; (time.Since(start) < d || faults < minFaults) && !t.Failed(); faults++ {
		f := chaosFaults[ch.rng.IntN(len(chaosFaults))]
		if testing.Verbose() {
			t.Logf("fault %d after %v: %s", faults+1, time.Since(start).Round(time.Second), f.name)
		}
		ch.inject(f)
	}
	elapsed := time.Since(start)
	ch.stream(300 * time.Millisecond)
	rep := ch.finish(e2eExpect{gaps: ch.bothKilled})
	if t.Failed() {
		return
	}
	report := ch.soakReport(rep, seed, d, minFaults, faults, elapsed)
	t.Logf("soak summary:\n%s", report)
	if path := os.Getenv("FEEDD_SOAK_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("written to %s", path)
	}
}

// soakReport is docs/reliability.md.
func (ch *chaos) soakReport(rep *audit.Report, seed uint64, d time.Duration, minFaults, faults int, elapsed time.Duration) string {
	var b strings.Builder
	rev, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	s := rep.Sequenced
	var lost uint64
	for _, g := range s.Gaps {
		lost += g.Size
	}
	fmt.Fprintf(&b, `# Reliability: the soak on real Kafka

The pair under random faults from the whole failure matrix of the design, back to back, on real
Apache Kafka, then the chaos suite's checks of the topic (see [testing.md](testing.md#the-chaos-suite)).
This page is written by the soak itself; the figures below are from one run.

Produced by:

`+"```sh"+`
make soak SOAK=%v SOAK_MIN_FAULTS=%d
`+"```"+`

(`+"`FEEDD_SOAK=%v FEEDD_SOAK_MIN_FAULTS=%d FEEDD_SOAK_REPORT=docs/reliability.md go test -count=1 -run '^TestChaosSoak$' -v ./cmd/feedd`"+`; to replay the same
fault sequence add `+"`FEEDD_CHAOS_SEED=%d`"+`.)

| run | |
| --- | --- |
| date | %s |
| feedd | %s |
| Apache Kafka | %s, one KRaft node on 127.0.0.1 |
| machine | %s/%s, %d cores, Go %s |
| feed | %d frames/s of 64 bytes at %d baud, to both members through real ptys |
| faults | %d in %v (seed %d) |

## Faults injected

| fault | count |
| --- | --- |
`, d, minFaults, d, minFaults, seed, time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.TrimSpace(string(rev)),
		ch.kafka.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), chaosRate, chaosBaud,
		faults, elapsed.Round(time.Second), seed)
	for _, f := range chaosFaults {
		fmt.Fprintf(&b, "| %s | %d |\n", f.name, ch.counts[f.name])
	}
	fmt.Fprintf(&b, "| **total** | **%d** |\n", faults)

	fmt.Fprintf(&b, `
## The topic afterwards

Read with `+"`read_committed`"+` by the audit (`+"`broadcast/audit`"+`) and, independently, by kcat; the two agree.

| check | result |
| --- | --- |
| committed records | %d |
| sequence numbers | %d distinct, %d to %d |
| gaps | %d, all inside both-killed windows (%d both-killed faults), %d frames in all |
| gaps outside the both-killed windows | 0 |
| duplicates | %d |
| reorderings | %d |
| records committed by a fenced producer (I3) | 0 |
| handovers in the topic | %d |

Each both-killed gap ends exactly where the simulator's window with no reader ends and begins
earlier only by the frames the members had read but not committed when they were killed (I5).

## Failover time on Kafka

From the signal to the active (SIGKILL for a crash, SIGSTOP for a hang) to the commit marker of the
new active's first transaction, as the broker stamped it (milliseconds; nearest-rank percentiles).

| fault | samples | p50 | p99 | max |
| --- | --- | --- | --- | --- |
`, rep.Records, s.Distinct, s.First, s.Last, s.GapCount, ch.bothKilled, lost, s.DuplicatedSeqs, s.OutOfOrderCount, rep.HandoverCount)
	for _, kind := range []string{"crash", "hang"} {
		samples := slices.Clone(ch.failovers[kind])
		if len(samples) == 0 {
			fmt.Fprintf(&b, "| %s | 0 | | | |\n", kind)
			continue
		}
		slices.Sort(samples)
		ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", kind, len(samples), ms(percentile(samples, 50)), ms(percentile(samples, 99)), ms(samples[len(samples)-1]))
	}
	b.WriteString(`
A crash is detected at once (the pair-link connection closes: an obituary); a hang only after the
activation interval of silence, which the hang figures include: the soak runs the pair with
` + "`pair.activation_interval: 1500ms`" + ` (three times the default; see docs/testing.md).
`)
	return b.String()
}
