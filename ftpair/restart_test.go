package ftpair

import (
	"testing"
)

// The incarnations of these tests come from a wall clock that was stepped
// back between two runs of the peer (a host without a battery clock that
// restores its last saved time, one without NTP, a snapshot restored, an
// NTP correction): the later run has the smaller one.
const (
	firstRun = 5_000_000
	laterRun = 1_000_000
)

// restartDriver steps one member's node, finishing each activation at once,
// and sends it the heartbeats of peer, numbered per incarnation.
type restartDriver struct {
	t    *testing.T
	n    *Node
	peer string
	seq  map[uint64]uint64
	acts []Action // every action but heartbeats, in order
}

func newRestartDriver(t *testing.T, self, peer string) *restartDriver {
	t.Helper()
	return &restartDriver{t: t, n: newTestNode(t, self), peer: peer, seq: map[uint64]uint64{}}
}

func (d *restartDriver) step(ms int, ev Event) []Action {
	var out []Action
	for _, a := range d.n.Step(at(ms), ev) {
		if _, ok := a.(SendHeartbeat); ok {
			continue
		}
		out = append(out, a)
		if act, ok := a.(Activate); ok {
			d.n.Step(at(ms), ActivationFinished{Term: act.Term})
		}
	}
	d.acts = append(d.acts, out...)
	return out
}

// hb delivers the peer's next heartbeat of incarnation inc.
func (d *restartDriver) hb(ms int, inc uint64, role Role, term uint64) []Action {
	d.seq[inc]++
	hb := Heartbeat{From: d.peer, Incarnation: inc, Seq: d.seq[inc], Weight: 1, Role: role, Term: term}
	if role.holdsSlot() {
		hb.Slot = 0
	}
	return d.step(ms, HeartbeatReceived{Heartbeat: hb})
}

// run ticks every 50 ms from from to to (exclusive), the peer's heartbeats
// of incarnation inc (none if 0) arriving with each tick.
func (d *restartDriver) run(from, to int, inc uint64, role Role, term uint64) {
	for ms := from; ms < to; ms += 50 {
		d.step(ms, Tick{})
		if inc != 0 {
			d.hb(ms, inc, role, term)
		}
	}
}

// peerStatus is what the node knows of the peer.
func (d *restartDriver) peerStatus() PeerStatus {
	d.t.Helper()
	for _, p := range d.n.Status().Peers {
		if p.ID == d.peer {
			return p
		}
	}
	d.t.Fatalf("%s unknown", d.peer)
	return PeerStatus{}
}

// wantHeard fails unless the node hears the peer's run inc.
func (d *restartDriver) wantHeard(inc uint64) {
	d.t.Helper()
	if p := d.peerStatus(); p.View != "heard" || p.Incarnation != inc {
		d.t.Fatalf("%s seen as %s, incarnation %d; want heard, incarnation %d", d.peer, p.View, p.Incarnation, inc)
	}
}

// wantHandover fails unless acts hand the slot over to the peer for reason.
func (d *restartDriver) wantHandover(acts []Action, reason Reason) {
	d.t.Helper()
	for _, a := range acts {
		if dz, ok := a.(Deactivate); ok && dz.Reason == reason && dz.HandoverTo == d.peer {
			return
		}
	}
	d.t.Fatalf("no hand-over to %s for %s: %v (%s seen as %s)", d.peer, reason, acts, d.peer, d.peerStatus().View)
}

// The active dies and restarts with a smaller incarnation. Its peer took
// over on the obituary, and must take the new run's heartbeats as the
// restart they are: an operator switchover back to it is honoured.
func TestRestartedActiveWithSmallerIncarnationHeardAfterObituary(t *testing.T) {
	d := newRestartDriver(t, "b", "a")
	d.run(0, 1000, firstRun, RoleActive, 1)
	acts := d.step(1000, PeerClosed{Peer: "a", Incarnation: firstRun})
	if len(acts) == 0 || acts[0].(Activate).Reason != ReasonObituary {
		t.Fatalf("no activation on the obituary: %v", acts)
	}
	d.step(1100, PeerConnected{Peer: "a"})
	d.run(1100, 2000, laterRun, RoleInactive, 0)
	d.wantHeard(laterRun)
	if got := d.n.Status().Counters.StaleHeartbeats; got != 0 {
		t.Fatalf("%d heartbeats of the restarted run dropped", got)
	}
	d.wantHandover(d.step(2000, SwitchoverRequested{Target: "a"}), ReasonSwitchover)
}

// The mirror case: the inactive dies and restarts with a smaller
// incarnation. The active must take the new run as its peer, and hand over
// to it when its own commits fail.
func TestRestartedInactiveWithSmallerIncarnationHeardAfterObituary(t *testing.T) {
	d := newRestartDriver(t, "a", "b")
	d.run(0, 1000, firstRun, RoleInactive, 0)
	if d.n.Role() != RoleActive {
		t.Fatalf("a is %v", d.n.Role())
	}
	d.step(1000, PeerClosed{Peer: "b", Incarnation: firstRun})
	d.step(1100, PeerConnected{Peer: "b"})
	d.run(1100, 1500, laterRun, RoleInactive, 1)
	d.wantHeard(laterRun)
	d.step(1500, HealthChanged{Health: Health{Kafka: KafkaFailing}})
	d.run(1500, 2050, laterRun, RoleInactive, 1)
	d.wantHandover(d.acts, ReasonKafka)
}

// A peer that vanishes without an obituary (its host lost power) and comes
// back with a smaller incarnation is taken once its earlier run has been
// silent for the activation interval, and not before: until then the other
// incarnation may be a late message of an earlier run.
func TestRestartedPeerWithSmallerIncarnationHeardAfterSilence(t *testing.T) {
	d := newRestartDriver(t, "a", "b")
	d.run(0, 1050, firstRun, RoleInactive, 0) // last heard at 1000
	d.run(1050, 1450, 0, 0, 0)
	d.step(1450, Tick{})
	d.hb(1450, laterRun, RoleInactive, 1)
	if p := d.peerStatus(); p.Incarnation != firstRun {
		t.Fatalf("another incarnation taken after %dms of silence", 450)
	}
	d.run(1500, 2000, laterRun, RoleInactive, 1)
	d.wantHeard(laterRun)
	d.wantHandover(d.step(2000, SwitchoverRequested{Target: "b"}), ReasonSwitchover)
}

// While the run on record is heard, messages of another incarnation are
// late messages of an earlier run's connection, whichever incarnation is
// the larger: its heartbeats, its obituary and its commits change nothing.
func TestOtherIncarnationWhileHeardIsStale(t *testing.T) {
	d := newRestartDriver(t, "a", "b")
	d.run(0, 1000, firstRun, RoleInactive, 0)
	for i, inc := range []uint64{laterRun, 9_000_000} {
		ms := 1000 + 100*i
		d.step(ms, Tick{})
		d.hb(ms, inc, RoleActive, 7)
		d.step(ms+10, PeerClosed{Peer: "b", Incarnation: inc})
		d.step(ms+20, WitnessSeen{Member: "b", Incarnation: inc})
		d.hb(ms+50, firstRun, RoleInactive, 1)
	}
	d.wantHeard(firstRun)
	st := d.n.Status()
	if p := st.Peers[0]; p.Role != RoleInactive || !p.LastWitness.IsZero() {
		t.Fatalf("b is %v, last witness %v: another run's message was taken", p.Role, p.LastWitness)
	}
	if st.Counters.StaleHeartbeats != 2 || st.Counters.Obituaries != 0 {
		t.Fatalf("stale heartbeats %d, obituaries %d; want 2 and 0", st.Counters.StaleHeartbeats, st.Counters.Obituaries)
	}
	if d.n.Role() != RoleActive {
		t.Fatalf("a is %v", d.n.Role())
	}
}
