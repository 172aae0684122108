package broadcast

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetrics: the pipeline's and the Kafka clients' metrics register on the
// registerer given, survive a deactivation and a new activation (each with
// a fresh producer client), and report the role and commits.
func TestMetrics(t *testing.T) {
	b := startBroker(t, "")
	reg := prometheus.NewRegistry()
	p, err := New(testConfig(b.Addr(), "feed"), Options{Pipeline: "test", Member: "a", Logger: testLogger(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = p.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	for round := uint64(0); round < 2; round++ {
		if err := p.Activate(actx); err != nil {
			t.Fatal(err)
		}
		for i := uint64(1); i <= 10; i++ {
			p.Accept(frame(round*10+i, time.Now()))
		}
		waitFor(t, "frames committed", func() bool { return p.Status().Counters.CommittedFrames == (round+1)*10 })
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
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
		if err := p.Deactivate(actx, Planned); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Register(collector{p}); err == nil {
		t.Fatal("registering the pipeline's metrics twice succeeded")
	}
}
