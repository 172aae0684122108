package member

import (
	"testing"
	"time"

	"github.com/feedd/feedd/ftpair"
)

// TestPairRefusalMetrics: a member whose only peer is refused for its frame
// identity does not activate once it has listened, and says so in
// feedd_pair_refusal_suppressed_total (once per episode); the link's
// refusal gauge and clock metrics are exported per peer.
func TestPairRefusalMetrics(t *testing.T) {
	reg, _, m := newMonitoringMember(t, "127.0.0.1:1")
	step := pairStepper(m)
	step(0, ftpair.PeerRefused{Peer: "b", Reason: "refusing peer b: its frame identity is ...", For: 10 * time.Second})
	for ms := 50; ms <= 1000; ms += 50 {
		for _, a := range step(ms, ftpair.Tick{}) {
			if _, ok := a.(ftpair.Activate); ok {
				t.Fatalf("activated at %dms while refusing its peer", ms)
			}
		}
	}
	byName := gatherByName(t, reg)
	checkMetric(t, byName, 1, "feedd_pair_refusal_suppressed_total")
	// No handshake happened on the link itself (the peer's address is
	// closed): the gauge is exported, at 0.
	checkMetric(t, byName, 0, "feedd_pair_link_identity_refused", "peer", "b")
	checkMetric(t, byName, 0, "feedd_pair_link_clock_bounds_total", "peer", "b", "result", "accepted")
	if st := m.node.Status(); len(st.Peers) != 1 || !st.Peers[0].Refused {
		t.Fatalf("pair status: %+v", st.Peers)
	}
}
