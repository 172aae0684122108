package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// The failure matrix on a feed without sequence numbers: a GPS feed whose
// sentences repeat byte for byte, read by two `feedd run` members that know
// frames by content and line time, takes every fault of the chaos suite on
// its broker shape (feedChaosFaults), and the repair faults on a port,
// checked against the simulator's record as every feed run is (feeds_test.go:
// `feedd audit --expect --strict` and kcat). TestChaosFeed runs the faults
// on one Kafka node; TestChaosCluster runs them, and the repair cases of
// clusterRepairCases, on the three-node cluster.

// TestChaosFeed runs every fault of the single node's matrix once on the
// GPS feed.
func TestChaosFeed(t *testing.T) {
	needChaos(t)
	runFeedMatrix(t, nil)
}

// newFeedChaos starts a feed run of spec on broker (kc for the cluster)
// that the chaos suite's faults can be injected into.
func newFeedChaos(t *testing.T, spec feedSpec, broker string, kc *e2eKafkaCluster, name string) (*feedRun, *chaos) {
	t.Helper()
	ch := &chaos{seed: chaosSeed(t), failovers: map[string][]time.Duration{}, stalls: map[string][]time.Duration{}, counts: map[string]int{}}
	r := newFeedRunOn(t, spec, broker, ch.seed, true, kc, name)
	ch.e2eCluster, ch.rng = r.e2eCluster, r.rng
	return r, ch
}

// feedChaosFaults are the faults a feed without sequence numbers takes:
// the chaos suite's on broker's shape but both-killed (which loses frames
// by design: the sequenced feed covers it), and the feed runs' planned
// stop of the active.
func feedChaosFaults(r *feedRun, broker string) []chaosFault {
	faults := chaosFaults
	if broker == "cluster" {
		faults = clusterFaults
	}
	faults = slices.DeleteFunc(slices.Clone(faults), func(f chaosFault) bool { return f.name == "both-killed" })
	return append(faults, chaosFault{"term-active", func(_ *chaos, active, inactive *e2eMember) { r.termActive(active, inactive) }})
}

// injectFeed injects f between two settled states of the feed run's
// pair, after a random stretch of streaming.
func injectFeed(r *feedRun, ch *chaos, f chaosFault) {
	active, inactive := r.settle()
	r.stream(r.between(100*time.Millisecond, 700*time.Millisecond))
	ch.counts[f.name]++
	f.run(ch, active, inactive)
}

// runFeedMatrix runs each fault of feedChaosFaults once, in an order
// drawn from the run's seed, on the GPS feed: on one Kafka node of its own,
// or on kc. Then it checks the topic against the simulator's record.
func runFeedMatrix(t *testing.T, kc *e2eKafkaCluster) {
	broker, name := "kafka", ""
	if kc != nil {
		broker, name = "cluster", "chaos-feed-"+serialsim.FeedNMEAGPS
	}
	start := time.Now()
	r, ch := newFeedChaos(t, feedSpecNamed(serialsim.FeedNMEAGPS), broker, kc, name)
	faults := feedChaosFaults(r, broker)
	ch.rng.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
	var names []string
	for _, f := range faults {
		if t.Failed() {
			// The run has failed; what the topic holds says more.
			t.Logf("stopping after %d of %d faults; checking the topic", len(names), len(faults))
			break
		}
		t.Logf("fault %d of %d at +%.3fs: %s", len(names)+1, len(faults), time.Since(r.released).Seconds(), f.name)
		injectFeed(r, ch, f)
		names = append(names, f.name)
		if kc != nil {
			// The next fault needs the whole cluster.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			err := kc.WaitInSync(ctx)
			cancel()
			if err != nil {
				t.Fatalf("after %s: %v", f.name, err)
			}
		}
	}
	r.settle()
	r.stream(r.between(300*time.Millisecond, time.Second))
	s := r.check()
	s.faults, s.elapsed = names, time.Since(start)
	s.ownHandovers = len(r.faults)
	verdict := ""
	if t.Failed() {
		verdict = "FAILED: "
	}
	t.Logf("%s%s; failovers %v; stalls %v", verdict, s, ch.failovers, ch.stalls)
}

// clusterRepairCases are the repair cases the cluster runs: every fault
// on the active's port, and on the sequenced feed the cable pulled from
// both ports at once. (The faults on the inactive's port, which must not
// change the topic, run on the embedded broker in TestE2ERepair.)
func clusterRepairCases(feed string) []repairCase {
	return slices.DeleteFunc(repairCases(feed), func(c repairCase) bool { return c.where == onInactive })
}

// runClusterRepairs runs clusterRepairCases of each repair feed once on
// kc, each on a pipeline of its own.
func runClusterRepairs(t *testing.T, kc *e2eKafkaCluster) {
	seed := chaosSeed(t)
	for i, spec := range repairSpecs {
		for j, c := range clusterRepairCases(spec.feed) {
			runSeed := seed + uint64(100*i+j)
			t.Run(fmt.Sprintf("repair/%s/%s@%s", strings.ReplaceAll(spec.feed, ":", "-"), c.fault.name, c.where), func(t *testing.T) {
				runRepair(t, spec, c, "cluster", runSeed, kc)
			})
		}
	}
}
