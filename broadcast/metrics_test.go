package broadcast

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestMetrics: the pipeline's and the Kafka clients' metrics register on the
// registerer given, survive a deactivation and a new activation (each with
// a fresh producer client), and report the role and commits.
func TestMetrics(t *testing.T) {
	b := startBroker(t, "")
	reg := prometheus.NewRegistry()
	p := startMemberWith(t, testConfig(b.Addr(), "feed"), Options{Pipeline: "test", Member: "a", Logger: testsupport.Logger(), Registerer: reg})

	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	for round := uint64(0); round < 2; round++ {
		p.mustActivate(t, actx)
		for i := uint64(1); i <= 10; i++ {
			p.Accept(frame(round*10+i, time.Now()))
		}
		waitFor(t, "frames committed", func() bool { return p.Status().Counters.CommittedFrames == (round+1)*10 })
		mfs := gather(t, reg)
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
				for _, l := range m.GetLabel() {
					if l.GetName() == "role" && l.GetValue() != "active" {
						v = -1
					}
				}
				if v >= 0 {
					got[mf.GetName()] = v
				}
			}
		}
		if got["feedd_broadcast_role"] != 1 || got["feedd_broadcast_committed_frames_total"] != float64((round+1)*10) {
			t.Fatalf("round %d: role %v, committed frames %v", round, got["feedd_broadcast_role"], got["feedd_broadcast_committed_frames_total"])
		}
		if _, ok := got["feedd_kafka_producer_produce_bytes_total"]; !ok {
			t.Fatalf("round %d: no producer client metrics in %v", round, got)
		}
		// kprom's buffered-record gauges lose the _total suffix that only
		// counters may carry.
		for _, mf := range mfs {
			if strings.HasSuffix(mf.GetName(), "_total") && mf.GetType() != dto.MetricType_COUNTER {
				t.Errorf("round %d: %s is a %s ending in _total", round, mf.GetName(), mf.GetType())
			}
		}
		for _, name := range []string{"feedd_kafka_producer_buffered_produce_records", "feedd_kafka_echo_buffered_fetch_records"} {
			if _, ok := got[name]; !ok {
				t.Errorf("round %d: %s is not exposed", round, name)
			}
		}
		if err := p.Deactivate(actx, Planned); err != nil {
			t.Fatal(err)
		}
		// The producer client is closed: all its metrics, renamed or not,
		// are unregistered, so the next one can register them again (the
		// next round checks that it did). The standby client that an
		// inactive member keeps connected may register its own meanwhile,
		// but it has produced nothing.
		mfs = gather(t, reg)
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "feedd_kafka_producer_produce_") {
				t.Errorf("round %d: %s still exposed after the producer closed", round, mf.GetName())
			}
		}
	}
	if err := reg.Register(collector{p.Pipeline}); err == nil {
		t.Fatal("registering the pipeline's metrics twice succeeded")
	}
}

// TestLatencyHistograms: the commit histogram observes every committed
// transaction of frames, once; the activation histogram observes an
// activation once the backlog the ring held when it went live has been
// committed, and an activation with nothing to flush when it goes live.
func TestLatencyHistograms(t *testing.T) {
	b := startBroker(t, "")
	reg := prometheus.NewRegistry()
	cfg := testConfig(b.Addr(), "feed")
	// Commits happen only when a transaction holds 5 frames: the interval
	// is far longer than the test, and there are no control keepalives.
	cfg.CommitMaxFrames = 5
	cfg.CommitInterval, cfg.CommitLinger = time.Minute, time.Minute
	cfg.TransactionTimeout = 2 * time.Minute
	cfg.ControlInterval = -1
	p := startMemberWith(t, cfg, Options{Pipeline: "test", Member: "a", Logger: testsupport.Logger(), Registerer: reg})
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()

	histogram := func(name string) (count uint64, sum float64) {
		t.Helper()
		mfs := gather(t, reg)
		for _, mf := range mfs {
			if mf.GetName() == name {
				h := mf.GetMetric()[0].GetHistogram()
				return h.GetSampleCount(), h.GetSampleSum()
			}
		}
		t.Fatalf("%s is not exposed", name)
		return 0, 0
	}
	const commitHist, activationHist = "feedd_broadcast_commit_duration_seconds", "feedd_broadcast_activation_duration_seconds"
	if n, _ := histogram(commitHist); n != 0 {
		t.Fatalf("%s count %d before any commit", commitHist, n)
	}

	// A backlog of 7 frames while inactive.
	seq := uint64(0)
	accept := func(n int) {
		for range n {
			seq++
			p.Accept(frame(seq, time.Now()))
		}
	}
	accept(7)
	waitFor(t, "the backlog in the ring", func() bool { return p.Status().Ring.Len == 7 })

	start := time.Now()
	p.mustActivate(t, actx)
	// Live: the first 5 are committed at once; the other 2 wait for more.
	waitFor(t, "the first commit", func() bool { return p.Status().Counters.Commits == 1 })
	if n, _ := histogram(activationHist); n != 0 {
		t.Fatalf("%s count %d while 2 frames of the backlog are not committed", activationHist, n)
	}
	accept(3)
	flushedAfter := time.Since(start) // the flush's commit can only follow these frames
	waitFor(t, "the backlog committed", func() bool { return p.Status().Counters.Commits == 2 })
	n, sum := histogram(activationHist)
	if n != 1 || sum < flushedAfter.Seconds() || sum > time.Since(start).Seconds() {
		t.Fatalf("%s: count %d, sum %vs; want 1 activation of between %v and %v", activationHist, n, sum, flushedAfter, time.Since(start))
	}

	// Three more commits while live: the activation is not observed again.
	accept(15)
	waitFor(t, "five commits", func() bool { return p.Status().Counters.Commits == 5 })
	st := p.Status()
	n, sum = histogram(commitHist)
	if n != 5 || sum <= 0 || sum > float64(st.Counters.CommitNanos)/1e9+1e-6 {
		t.Fatalf("%s: count %d, sum %vs; want 5 commits taking at most the %vs of feedd_broadcast_commit_seconds_total",
			commitHist, n, sum, float64(st.Counters.CommitNanos)/1e9)
	}
	if n, _ := histogram(activationHist); n != 1 {
		t.Fatalf("%s count %d after commits of a live member, want still 1", activationHist, n)
	}

	// A new activation with an empty ring has nothing to flush: observed
	// by the time Activate returns.
	if err := p.Deactivate(actx, Planned); err != nil {
		t.Fatal(err)
	}
	p.mustActivate(t, actx)
	if n, _ := histogram(activationHist); n != 2 {
		t.Fatalf("%s count %d after a second activation with an empty ring, want 2", activationHist, n)
	}
	if n, _ := histogram(commitHist); n != p.Status().Counters.Commits {
		t.Fatalf("%s count %d, feedd_broadcast_commits_total %d", commitHist, n, p.Status().Counters.Commits)
	}
}

// TestRingBoundMetrics: the ring's bounds are exported, defaults included,
// so that an alert can compare the depth with them.
func TestRingBoundMetrics(t *testing.T) {
	for _, tc := range []struct {
		ring              backlog.Config
		maxFrames, maxByt float64
	}{
		{backlog.Config{}, backlog.DefaultMaxFrames, backlog.DefaultMaxBytes},
		{backlog.Config{MaxFrames: 5000, MaxBytes: 1 << 20}, 5000, 1 << 20},
	} {
		reg := prometheus.NewRegistry()
		if _, err := New(testConfig("127.0.0.1:1", "feed"), Options{Pipeline: "test", Member: "a", Ring: tc.ring, Logger: testsupport.Logger(), Registerer: reg}); err != nil {
			t.Fatal(err)
		}
		mfs := gather(t, reg)
		got := map[string]float64{}
		for _, mf := range mfs {
			if len(mf.GetMetric()) == 1 {
				got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		if got["feedd_broadcast_ring_max_frames"] != tc.maxFrames || got["feedd_broadcast_ring_max_bytes"] != tc.maxByt {
			t.Errorf("ring %+v: max_frames %v, max_bytes %v; want %v, %v", tc.ring, got["feedd_broadcast_ring_max_frames"], got["feedd_broadcast_ring_max_bytes"], tc.maxFrames, tc.maxByt)
		}
	}
}
