package e2e

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// TestChaosSoak is the long soak (make soak, not in CI): faults drawn at
// random from the whole matrix, back to back with seeded random timing, on
// one pair and one topic, for FEEDD_SOAK (a duration) and at least
// FEEDD_SOAK_MIN_FAULTS faults (default 100); then the checks of the
// topic. It soaks each feed on each broker shape in turn (soakRuns;
// FEEDD_SOAK_RUNS chooses some, e.g. "seq/kafka,nmea-gps/cluster"): the
// sequenced feed, checked by the chaos suite's audit and kcat, and a GPS
// feed without sequence numbers, checked against the simulator's record
// as the feed runs are (feeds_test.go); on a single Kafka node and on
// the three-node cluster. With FEEDD_SOAK_REPORT set it writes the
// summary there (docs/reliability.md).
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
	var names []string
	for _, r := range soakRuns {
		names = append(names, r.name())
	}
	chosen := feedEnv(t, "FEEDD_SOAK_RUNS", names, names)
	var kc *e2eKafkaCluster
	var results []soakResult
	for _, r := range soakRuns {
		if !slices.Contains(chosen, r.name()) {
			continue
		}
		if r.broker == "cluster" && kc == nil {
			needE2E(t)
			kc = startE2EKafkaCluster(t)
		}
		t.Run(r.name(), func(t *testing.T) {
			res := soakResult{soakRun: r, minFaults: minFaults, soak: d}
			// Reported even when the soak stops at a failure.
			defer func() {
				res.passed = !t.Failed()
				results = append(results, res)
			}()
			if r.feed == soakSeq {
				soakSequenced(t, kc, &res)
			} else {
				soakFeed(t, kc, &res)
			}
		})
	}
	if len(results) == 0 {
		t.Fatal("no soak ran")
	}
	report := soakReport(results)
	t.Logf("soak summary:\n%s", report)
	if path := os.Getenv("FEEDD_SOAK_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("written to %s", path)
	}
}

// soakSeq names the sequenced feed among the soaks' feeds.
const soakSeq = "seq"

// soakRun is one soak: a feed on a broker shape.
type soakRun struct {
	feed   string // soakSeq, or a feed of feedSpecs
	broker string // "kafka" (one node) or "cluster" (three nodes)
}

func (r soakRun) name() string { return r.feed + "/" + r.broker }

var soakRuns = []soakRun{
	{soakSeq, "kafka"},
	{soakSeq, "cluster"},
	{serialsim.FeedNMEAGPS, "kafka"},
	{serialsim.FeedNMEAGPS, "cluster"},
}

// soakResult is what one soak found, for the report.
type soakResult struct {
	soakRun
	passed    bool
	seed      uint64
	soak      time.Duration
	minFaults int
	elapsed   time.Duration
	kafka     string // the broker's version
	counts    map[string]int
	faults    int
	failovers map[string][]time.Duration
	stalls    map[string][]time.Duration

	// The topic: records read back; frames owed (the sequenced feed:
	// distinct sequence numbers); gaps outside the both-killed windows,
	// and inside them with their frames; duplicates not marked possible,
	// and marked; records out of order.
	records, frames            int
	gaps, killedGaps           int
	killedLost                 uint64
	duplicates, markedPossible int
	reorders                   int
	handovers                  int
	// lostWindows and lostFrames: gaps of frames no port got (both ports
	// overflowed while neither member read), not the pair's.
	lostWindows int
	lostFrames  uint64
	// killedWindows and killedFrames: gaps of frames only a killed
	// member's port got, just before its kill, while its peer's port lost
	// them (a double fault), not the pair's.
	killedWindows int
	killedFrames  uint64
}

// soakFaults draws the soak's next fault.
func soakFault(ch *chaos, faults []chaosFault) chaosFault {
	return faults[ch.rng.IntN(len(faults))]
}

// soakSequenced soaks the sequenced feed: the chaos suite's pair, faults
// and checks.
func soakSequenced(t *testing.T, kc *e2eKafkaCluster, res *soakResult) {
	faults := chaosFaults
	if res.broker == "cluster" {
		faults = clusterFaults
	}
	var ch *chaos
	if res.broker == "cluster" {
		ch = newChaos(t, kc, "soak-seq")
	} else {
		ch = newChaos(t, nil, "")
	}
	res.seed = ch.seed
	start := time.Now()
	for ; (time.Since(start) < res.soak || res.faults < res.minFaults) && !t.Failed(); res.faults++ {
		f := soakFault(ch, faults)
		if testing.Verbose() {
			t.Logf("fault %d after %v: %s", res.faults+1, time.Since(start).Round(time.Second), f.name)
		}
		ch.inject(f)
	}
	res.elapsed = time.Since(start)
	ch.stream(300 * time.Millisecond)
	rep := ch.finish(e2eExpect{gaps: ch.bothKilled, killed: ch.killed})
	res.fill(ch)
	if rep == nil {
		return
	}
	s := rep.Sequenced
	res.records, res.frames = int(rep.Records), int(s.Distinct)
	res.killedGaps = int(s.GapCount)
	res.gaps = max(0, int(s.GapCount)-ch.bothKilled-ch.lostToBoth.windows-ch.lostWithKilled.windows)
	for _, g := range s.Gaps {
		res.killedLost += g.Size
	}
	res.duplicates, res.reorders, res.handovers = int(s.DuplicatedSeqs), int(s.OutOfOrderCount), int(rep.HandoverCount)
}

// soakFeed soaks a feed without sequence numbers: a feed run's pair and
// checks, and the faults of feedChaosFaults.
func soakFeed(t *testing.T, kc *e2eKafkaCluster, res *soakResult) {
	r, ch := newFeedChaos(t, feedSpecNamed(res.feed), res.broker, kc, "")
	res.seed = ch.seed
	faults := feedChaosFaults(r, res.broker)
	start := time.Now()
	for ; (time.Since(start) < res.soak || res.faults < res.minFaults) && !t.Failed(); res.faults++ {
		f := soakFault(ch, faults)
		if testing.Verbose() {
			t.Logf("fault %d after %v: %s", res.faults+1, time.Since(start).Round(time.Second), f.name)
		}
		injectFeed(r, ch, f)
	}
	res.elapsed = time.Since(start)
	r.settle()
	r.stream(r.between(300*time.Millisecond, time.Second))
	res.fill(ch)
	if t.Failed() {
		return
	}
	s := r.check()
	res.records, res.frames = s.records, s.owed
	res.gaps = int(s.missing)
	res.duplicates, res.markedPossible = int(s.unmarked), s.extra
}

func (res *soakResult) fill(ch *chaos) {
	res.counts = maps.Clone(ch.counts)
	res.lostWindows, res.lostFrames = ch.lostToBoth.windows, ch.lostToBoth.frames
	res.killedWindows, res.killedFrames = ch.lostWithKilled.windows, ch.lostWithKilled.frames
	res.failovers, res.stalls = ch.failovers, ch.stalls
	switch {
	case ch.kafka != nil:
		res.kafka = ch.kafka.Version()
	case ch.kcluster != nil:
		res.kafka = ch.kcluster.Nodes()[0].Version()
	}
}

// soakReport is docs/reliability.md.
func soakReport(results []soakResult) string {
	var b strings.Builder
	rev, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	fmt.Fprintf(&b, `# Reliability: the soaks on real Kafka

A pair of `+"`feedd run`"+` processes under random faults from the whole failure matrix of the
design, back to back, on Apache Kafka, then the checks of the topic. Each soak runs one feed on one
broker shape: the sequenced feed (checked by the audit and by kcat, as the chaos suite is: see
[testing.md](testing.md#the-chaos-suite)) and a GPS feed without sequence numbers whose sentences
repeat byte for byte (checked against the simulator's record by `+"`feedd audit --expect`"+` and by
kcat: see [testing.md](testing.md#chaos-runs-on-realistic-feeds)); on one KRaft node and on a
cluster of three (replication factor 3, `+"`min.insync.replicas=2`"+`). This page is written by
the soak itself.

Produced by:

`+"```sh"+`
make soak SOAK=%v SOAK_MIN_FAULTS=%d
`+"```"+`

(`+"`FEEDD_SOAK=%v FEEDD_SOAK_MIN_FAULTS=%d FEEDD_SOAK_REPORT=docs/reliability.md go test -count=1 -timeout 6h -run '^TestChaosSoak$' -v ./e2e`"+`;
`+"`FEEDD_SOAK_RUNS=seq/cluster`"+` runs one soak, `+"`FEEDD_CHAOS_SEED`"+` replays a soak's faults.)

| run | |
| --- | --- |
| date | %s |
| feedd | %s |
| machine | %s/%s, %d cores, Go %s |

## Summary

| feed | broker | result | faults | time | frames | records | gaps outside both-killed | duplicates unmarked | marked possible | reorders | frames no port got | frames only a killed member got |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
`, results[0].soak, results[0].minFaults, results[0].soak, results[0].minFaults,
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.TrimSpace(string(rev)),
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	for _, r := range results {
		result := "passed"
		if !r.passed {
			result = "**failed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %v | %d | %d | %d | %d | %d | %d | %d in %d gaps | %d in %d gaps |\n", r.feed, brokerShape(r.broker), result, r.faults,
			r.elapsed.Round(time.Second), r.frames, r.records, r.gaps, r.duplicates, r.markedPossible, r.reorders, r.lostFrames, r.lostWindows, r.killedFrames, r.killedWindows)
	}
	b.WriteString(`
Frames: on the sequenced feed, the distinct sequence numbers in the topic; on the GPS feed, the
frames some member's port received intact (the record's frames the topic owes). Gaps outside the
both-killed windows must be 0 (both members killed at once, the feed goes on with no reader: those
gaps are expected, one per such fault, and each is checked to end exactly where the simulator's
window with no reader ends). "Marked possible" are records beyond the frames owed that repeat an
earlier frame and are marked ` + "`dup`" + ` in their header (decision 0010): a member that takes
over without a sequence number cannot always know whether the topic has a frame, and publishes
it marked rather than risk a gap. Reorders on the GPS feed: the comparison accepts the frames only
in feed order, so a passed soak has none. "Frames no port got": frames the simulator delivered to
neither member's port because both ports' buffers overflowed while neither member read (a
loaded machine: two members, up to three JVM brokers and the test share two cores); they are not
the pair's to publish (I1 asks for every frame a member read) and show as gaps of exactly those
frames, which the check tells apart from the pair's own. "Frames only a killed member got": frames
that only one member's port delivered, at most 2 s of the feed before that member was killed, while
its peer's port overflowed: a double fault, the frames lost with the killed member (I5); they too
show as gaps of exactly those frames (with any frames no port got beside them).
`)
	for _, r := range results {
		fmt.Fprintf(&b, "\n## %s on %s\n\n", r.feed, brokerShape(r.broker))
		if !r.passed {
			b.WriteString("This soak **failed**; the test's log says where. Its figures below are what it had reached.\n\n")
		}
		fmt.Fprintf(&b, "Apache Kafka %s; seed %d; %d faults in %v.\n\n| fault | count |\n| --- | --- |\n", r.kafka, r.seed, r.faults, r.elapsed.Round(time.Second))
		for _, name := range slices.Sorted(maps.Keys(r.counts)) {
			fmt.Fprintf(&b, "| %s | %d |\n", name, r.counts[name])
		}
		if r.feed == soakSeq {
			fmt.Fprintf(&b, "\nBoth-killed gaps: %d, %d frames in all; hand-overs in the topic: %d; records committed by a fenced producer (I3): 0.\n",
				r.killedGaps, r.killedLost, r.handovers)
		}
		b.WriteString("\nFailover times, milliseconds (nearest-rank percentiles):\n\n| measure | samples | p50 | p99 | max |\n| --- | --- | --- | --- | --- |\n")
		rows := 0
		for _, kind := range []string{"crash", "hang"} {
			rows += durationRow(&b, kind+": signal to the new active's first commit", r.failovers[kind])
		}
		for _, kind := range slices.Sorted(maps.Keys(r.stalls)) {
			rows += durationRow(&b, kind+": longest time without a commit", r.stalls[kind])
		}
		if rows == 0 {
			b.WriteString("| (none measured) | 0 | | | |\n")
		}
	}
	b.WriteString(`
A crash is detected at once (the pair-link connection closes: an obituary); a hang only after the
activation interval of silence, which the hang figures include: the soaks run the pair with
` + "`pair.activation_interval: 1500ms`" + ` (three times the default; see docs/testing.md). The
commit times are the commit markers' timestamps, as the broker stamped them. On the cluster, the
stalls of its own faults run from the fault until the pair has settled again, the restarted node
included.
`)
	return b.String()
}

func brokerShape(broker string) string {
	if broker == "cluster" {
		return "three nodes"
	}
	return "one node"
}

// durationRow writes one row of a failover table; it reports whether it
// wrote one.
func durationRow(b *strings.Builder, what string, samples []time.Duration) int {
	if len(samples) == 0 {
		return 0
	}
	samples = slices.Sorted(slices.Values(samples))
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(b, "| %s | %d | %s | %s | %s |\n", what, len(samples), ms(percentile(samples, 50)), ms(percentile(samples, 99)), ms(samples[len(samples)-1]))
	return 1
}
