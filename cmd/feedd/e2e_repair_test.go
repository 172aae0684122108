package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// Repair from the peer, end to end (decision 0011): two `feedd run`
// members read one simulated feed through real pseudo-terminals, and the
// simulator injects a fault on the active's port only: frames corrupted
// (their checksums fail), frames dropped (on the sequenced feed, where the
// active sees its sequence skip), the cable pulled for 100 ms and for 2 s,
// the receiver at the wrong baud rate for a while. The inactive's port
// keeps every frame, so every frame reached a live member: the topic must
// hold every one, in feed order, checked against the simulator's record by
// `feedd audit --expect --strict` and by kcat (the checks of the chaos runs
// on realistic feeds, e2e_feeds_test.go).
//
// TestE2ERepair runs each fault once per feed on the embedded broker (make
// test). FEEDD_REPAIR_RUNS repeats each (make test-repair runs 20 per
// fault kind), FEEDD_FEEDS_BROKERS chooses the brokers (embedded, kafka),
// FEEDD_CHAOS_SEED replays a run, FEEDD_FEEDS_LOG collects the summaries.

// repairSpecs are the feeds: the sequenced feed and a GPS feed without
// sequence numbers, each at more than 500 frames a second.
var repairSpecs = []feedSpec{
	{serialsim.FeedSeq, 600, 460800},
	{serialsim.FeedNMEAGPS, 80, 921600},
}

// repairFault is a fault on one port; run injects it and returns when it
// is over.
type repairFault struct {
	name string
	// sequenced: the fault is one only a feed with sequence numbers lets
	// the active notice (a frame dropped whole leaves no trace on a line).
	sequenced bool
	run       func(r *feedRun, port int) error
}

var repairFaults = []repairFault{
	{name: "corrupt", run: func(r *feedRun, port int) error {
		return r.forAWhile(time.Second, func() error { return r.sim.SetCorrupt(port, 0.03) }, func() error { return r.sim.SetCorrupt(port, 0) })
	}},
	{name: "drop", sequenced: true, run: func(r *feedRun, port int) error {
		return r.forAWhile(time.Second, func() error { return r.sim.SetDrop(port, 0.03) }, func() error { return r.sim.SetDrop(port, 0) })
	}},
	{name: "unplug-100ms", run: func(r *feedRun, port int) error { return r.sim.Unplug(port, 100*time.Millisecond) }},
	{name: "unplug-2s", run: func(r *feedRun, port int) error { return r.sim.Unplug(port, 2*time.Second) }},
	{name: "baud", run: func(r *feedRun, port int) error {
		return r.forAWhile(500*time.Millisecond, func() error { return r.sim.SetReceiverBaud(port, 9600) }, func() error { return r.sim.SetReceiverBaud(port, 0) })
	}},
}

// forAWhile starts a fault, streams for d, and ends it.
func (r *feedRun) forAWhile(d time.Duration, start, end func() error) error {
	if err := start(); err != nil {
		return err
	}
	r.stream(d)
	return end()
}

// runRepair runs one repair run: a pair on spec, one fault on the active's
// port, the checks of a feed run.
func runRepair(t *testing.T, spec feedSpec, fault repairFault, broker string, seed uint64) feedSummary {
	t.Helper()
	start := time.Now()
	r := newFeedRun(t, spec, broker, seed, !strings.HasPrefix(spec.feed, serialsim.FeedSeq))
	active, inactive := r.settle()
	r.stream(r.between(200*time.Millisecond, 600*time.Millisecond))
	before, err := active.feedStatus()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Since(r.released)
	if err := fault.run(r, active.port); err != nil {
		t.Fatal(err)
	}
	now, _ := r.settle()
	r.stream(r.between(300*time.Millisecond, time.Second))
	after, err := active.feedStatus()
	if err != nil {
		t.Fatal(err)
	}
	k0, k1 := before.Broadcast.Counters, after.Broadcast.Counters
	note := fmt.Sprintf("%s on %s's port at +%.3fs: holes %d, repaired %d (possible %d), unrepaired %d; active afterwards %s",
		fault.name, active.id, at.Seconds(), k1.Holes-k0.Holes, k1.RepairedFrames-k0.RepairedFrames, k1.RepairedPossible-k0.RepairedPossible,
		k1.UnrepairedNoPeer+k1.UnrepairedTimeout+k1.UnrepairedTruncated+k1.UnrepairedBusy-
			(k0.UnrepairedNoPeer+k0.UnrepairedTimeout+k0.UnrepairedTruncated+k0.UnrepairedBusy), now.id)
	r.faults = append(r.faults, note)
	t.Log(note)
	_ = inactive
	s := r.check()
	s.faults, s.elapsed = []string{fault.name}, time.Since(start)
	t.Log(s)
	if path := os.Getenv("FEEDD_FEEDS_LOG"); path != "" {
		line := "repair " + s.String() + "\n  " + note
		if t.Failed() {
			line = "FAILED " + line + "; kept in " + r.dir
		}
		appendLine(t, path, line)
	}
	return s
}

func TestE2ERepair(t *testing.T) {
	needE2E(t)
	runs := feedIntEnv(t, "FEEDD_REPAIR_RUNS", 1)
	brokers := feedEnv(t, "FEEDD_FEEDS_BROKERS", []string{"embedded"}, feedBrokers)
	seed0 := uint64(time.Now().UnixNano())
	if s := os.Getenv("FEEDD_CHAOS_SEED"); s != "" {
		fmt.Sscan(s, &seed0)
	}
	for _, spec := range repairSpecs {
		for _, fault := range repairFaults {
			if fault.sequenced && spec.feed != serialsim.FeedSeq {
				continue
			}
			for _, broker := range brokers {
				for i := range runs {
					seed := seed0 + uint64(i)
					t.Run(fmt.Sprintf("%s/%s/%s/%d", spec.feed, fault.name, broker, i), func(t *testing.T) {
						runRepair(t, spec, fault, broker, seed)
					})
				}
			}
		}
	}
}

// newFeedRun starts a feed run's cluster on spec, with the feed released
// once both members read their ports.
func newFeedRun(t *testing.T, spec feedSpec, broker string, seed uint64, fingerprint bool) *feedRun {
	t.Helper()
	needE2E(t)
	requireKcat(t)
	dir, err := os.MkdirTemp("", "feedd-feed-run-")
	if err != nil {
		t.Fatal(err)
	}
	keep := os.Getenv("FEEDD_E2E_KEEP") != ""
	t.Cleanup(func() {
		if keep {
			t.Logf("the run's record, outputs and logs are in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	t.Logf("%s on %s: seed %d (rerun with FEEDD_CHAOS_SEED=%d FEEDD_FEEDS=%s FEEDD_FEEDS_BROKERS=%s)", spec.feed, broker, seed, seed, spec.feed, broker)
	r := &feedRun{spec: spec, broker: broker, seed: seed, rng: rand.New(rand.NewPCG(seed, 0xfeedd)), dir: dir,
		record: filepath.Join(dir, "feed.record")}
	r.e2eCluster = newE2ECluster(t, e2eOptions{
		kafka: broker == "kafka", rate: spec.rate, baud: spec.baud, activation: chaosActivation,
		feed: spec.feed, simSeed: seed, record: r.record, fingerprint: fingerprint, holdFeed: true,
		readTimeout: 5 * time.Millisecond,
	})
	r.inStep = feedInStep
	t.Cleanup(func() {
		if t.Failed() {
			keep = true
			r.keepEvidence()
		}
	})
	for _, m := range r.members {
		r.waitFor(m.id+" reading its port", func() (bool, string) {
			st, err := m.status()
			if err != nil {
				return false, err.Error()
			}
			return st.Ingest.Connected, "port not open yet"
		})
	}
	r.releaseFeed()
	r.released = time.Now()
	return r
}
