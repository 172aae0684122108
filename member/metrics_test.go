package member

import (
	"testing"
	"time"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/internal/metric"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestPairMetrics drives a member's pair protocol core through a failover
// and checks what its metrics report: activations by reason, the missed
// and rejected heartbeats, and every reason exported from zero before its
// first event.
func TestPairMetrics(t *testing.T) {
	reg, _, m := newMonitoringMember(t, "127.0.0.1:1")

	// Before any event: every known reason at zero.
	mfs := gatherByName(t, reg)
	for _, r := range activationReasons {
		checkMetric(t, mfs, 0, "feedd_pair_activations_total", "reason", string(r))
	}
	for _, r := range stepDownReasons {
		checkMetric(t, mfs, 0, "feedd_pair_step_downs_total", "reason", string(r))
	}
	checkMetric(t, mfs, 0, "feedd_pair_heartbeats_missed_total")
	checkMetric(t, mfs, 0, "feedd_pair_heartbeats_rejected_total")

	// Member a hears b active until 300ms, then b falls silent for 400ms
	// (three heartbeats missed beyond the first interval's grace), then its
	// connection closes: an obituary, and a takes over.
	step := pairStepper(m)
	hb := func(ms int, seq uint64) {
		step(ms, ftpair.HeartbeatReceived{Heartbeat: ftpair.Heartbeat{From: "b", Incarnation: 1, Seq: seq, Weight: 1, Role: ftpair.RoleActive, Term: 1}})
	}
	for ms := 0; ms <= 300; ms += 100 {
		hb(ms, uint64(ms/100+1))
		step(ms+50, ftpair.Tick{})
	}
	hb(320, 2) // a replay of an older heartbeat: rejected
	for ms := 400; ms <= 700; ms += 50 {
		step(ms, ftpair.Tick{})
	}
	var term uint64
	for _, a := range step(700, ftpair.PeerClosed{Peer: "b", Incarnation: 1}) {
		if a, ok := a.(ftpair.Activate); ok && a.Reason == ftpair.ReasonObituary {
			term = a.Term
		}
	}
	if term == 0 {
		t.Fatalf("no activation on the obituary; status %+v", m.node.Status())
	}
	step(750, ftpair.ActivationFinished{Term: term})

	mfs = gatherByName(t, reg)
	for _, r := range activationReasons {
		want := 0.0
		if r == ftpair.ReasonObituary {
			want = 1
		}
		checkMetric(t, mfs, want, "feedd_pair_activations_total", "reason", string(r))
	}
	checkMetric(t, mfs, 0, "feedd_pair_step_downs_total", "reason", string(ftpair.ReasonFenced))
	checkMetric(t, mfs, 1, "feedd_pair_obituaries_total")
	checkMetric(t, mfs, 3, "feedd_pair_heartbeats_missed_total")
	checkMetric(t, mfs, 1, "feedd_pair_heartbeats_rejected_total")
}

// gatherByName gathers reg's metric families, by name.
func gatherByName(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return metric.ByName(mfs)
}

// pairStepper steps m's pair core at ms milliseconds after now and
// publishes its status, as the member's loop does.
func pairStepper(m *Member) func(ms int, ev ftpair.Event) []ftpair.Action {
	t0 := time.Now()
	return func(ms int, ev ftpair.Event) []ftpair.Action {
		acts := m.node.Step(t0.Add(time.Duration(ms)*time.Millisecond), ev)
		st := m.node.Status()
		m.pairStatus.Store(&st)
		return acts
	}
}

func checkMetric(t *testing.T, mfs map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	got, err := metric.Value(mfs, name, labels...)
	switch {
	case err != nil:
		t.Error(err)
	case got != want:
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}
