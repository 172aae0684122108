package ftpair

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var testT0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestNode(t *testing.T, id string) *Node {
	t.Helper()
	n, err := NewNode(Config{MemberID: id}, 1, testT0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func at(ms int) time.Time { return testT0.Add(time.Duration(ms) * time.Millisecond) }

// tickTo ticks every 50ms from from to to (exclusive) and returns the actions.
func tickTo(n *Node, from, to int) []Action {
	var out []Action
	for ms := from; ms < to; ms += 50 {
		out = append(out, n.Step(at(ms), Tick{})...)
	}
	return out
}

func TestFirstStepSendsHeartbeat(t *testing.T) {
	n := newTestNode(t, "a")
	acts := n.Step(at(0), Tick{})
	if len(acts) != 1 {
		t.Fatalf("got %v", acts)
	}
	hb := acts[0].(SendHeartbeat)
	if hb.To != "" || hb.Heartbeat.From != "a" || hb.Heartbeat.Seq != 1 || hb.Heartbeat.Role != RoleInactive {
		t.Fatalf("got %v", hb)
	}
	if acts := n.Step(at(50), Tick{}); len(acts) != 0 {
		t.Fatalf("heartbeat before the interval: %v", acts)
	}
	acts = n.Step(at(100), PeerConnected{Peer: "b"})
	if len(acts) != 1 || acts[0].(SendHeartbeat).Heartbeat.Seq != 2 {
		t.Fatalf("got %v", acts)
	}
	// A connection between heartbeats is greeted directly.
	acts = n.Step(at(120), PeerConnected{Peer: "c"})
	if len(acts) != 1 || acts[0].(SendHeartbeat).To != "c" {
		t.Fatalf("got %v", acts)
	}
}

func TestClockGoingBackwardsIsClamped(t *testing.T) {
	n := newTestNode(t, "a")
	tickTo(n, 0, 450)
	n.Step(at(100), Tick{}) // an edge bug: treated as 400ms
	for _, a := range n.Step(at(499), Tick{}) {
		if _, ok := a.(SendHeartbeat); !ok {
			t.Fatalf("got %v before the silence ended", a)
		}
	}
	acts := n.Step(at(500), Tick{})
	if len(acts) != 2 {
		t.Fatalf("got %v", acts)
	}
	if a, ok := acts[0].(Activate); !ok || a.Reason != ReasonNoActive {
		t.Fatalf("got %v", acts)
	}
	if n.Status().Counters.Stalls != 0 {
		t.Fatal("stall counted")
	}
}

func TestStallIsNotSilence(t *testing.T) {
	n := newTestNode(t, "b")
	for ms := 0; ms <= 600; ms += 25 {
		if ms%100 == 0 {
			n.Step(at(ms), HeartbeatReceived{Heartbeat: Heartbeat{From: "a", Incarnation: 1, Seq: uint64(ms/100 + 1), Weight: 1, Role: RoleActive}})
		}
		n.Step(at(ms), Tick{})
	}
	// This process is stopped for 3s; a's heartbeats wait in the socket.
	for _, a := range n.Step(at(3600), Tick{}) {
		if _, ok := a.(Activate); ok {
			t.Fatal("activated on a silence it caused itself")
		}
	}
	if n.Status().Counters.Stalls != 1 {
		t.Fatal("stall not counted")
	}
	if v := n.Status().Peers[0].View; v != "heard" {
		t.Fatalf("peer view after the stall: %s", v)
	}
}

func TestDuplicateMemberIDIsCounted(t *testing.T) {
	n := newTestNode(t, "a")
	n.Step(at(10), HeartbeatReceived{Heartbeat: Heartbeat{From: "a", Incarnation: 2, Seq: 1, Weight: 1}})
	if got := n.Status().Counters.DuplicateMemberID; got != 1 {
		t.Fatalf("DuplicateMemberID = %d", got)
	}
	if len(n.Status().Peers) != 0 {
		t.Fatal("own id recorded as a peer")
	}
}

func TestUnknownEventPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	newTestNode(t, "a").Step(at(0), bogusEvent{})
}

type bogusEvent struct{ Tick }

func TestStatusJSON(t *testing.T) {
	n := newTestNode(t, "a")
	n.Step(at(10), HeartbeatReceived{Heartbeat: Heartbeat{From: "b", Incarnation: 1, Seq: 1, Weight: 1, Role: RoleActive, Term: 3}})
	n.Step(at(20), HealthChanged{Health: Health{Feed: FeedQuiet}})
	b, err := json.Marshal(n.Status())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"role":"inactive"`, `"feed":"quiet"`, `"id":"b"`, `"view":"heard"`, `"term":3`, `"step_downs":{}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("status JSON lacks %s: %s", want, b)
		}
	}
}

func TestStaleObituaryAndWitnessIgnored(t *testing.T) {
	n := newTestNode(t, "m")
	hb := func(ms int, inc, seq uint64, role Role) {
		n.Step(at(ms), HeartbeatReceived{Heartbeat: Heartbeat{From: "x", Incarnation: inc, Seq: seq, Weight: 1, Role: role}})
	}
	hb(0, 1, 1, RoleActive)
	// x restarted. Its new run is heard only once the first has been
	// silent for an activation interval: a heartbeat of another
	// incarnation while the run on record is heard may be a late message
	// of an earlier run (TestOtherIncarnationWhileHeardIsStale), since a
	// clock stepped back makes the later run's incarnation the smaller.
	tickTo(n, 50, 500)
	hb(500, 2, 1, RoleInactive)
	n.Step(at(510), PeerClosed{Peer: "x", Incarnation: 1})
	if n.Status().Counters.Obituaries != 0 {
		t.Fatal("obituary of an earlier incarnation counted")
	}
	n.Step(at(520), WitnessSeen{Member: "x", Incarnation: 1})
	if !n.Status().Peers[0].LastWitness.IsZero() {
		t.Fatal("witness of an earlier incarnation recorded")
	}
	n.Step(at(530), PeerClosed{Peer: "x", Incarnation: 2})
	n.Step(at(540), WitnessSeen{Member: "x"}) // late echo of the dead run
	if v := n.Status().Peers[0].View; v != "dead" {
		t.Fatalf("view %s after a late echo", v)
	}
	tickTo(n, 550, 1100)
	n.Step(at(1100), WitnessSeen{Member: "x"}) // an activation interval later: a new run
	if v := n.Status().Peers[0].View; v != "witnessed" {
		t.Fatalf("view %s after a witness of a new run", v)
	}
}

// activeWithPeer returns a's node made active beside the inactive peer b
// by 2000ms, b heard every 50ms.
func activeWithPeer(t *testing.T) *Node {
	t.Helper()
	n := newTestNode(t, "a")
	n.Step(at(0), PeerConnected{Peer: "b"})
	n.Step(at(0), HeartbeatReceived{Heartbeat: Heartbeat{From: "b", Incarnation: 1, Seq: 1, Weight: 1}})
	for ms := 50; n.Role() != RoleActive && ms < 2000; ms += 50 {
		for _, a := range n.Step(at(ms), Tick{}) {
			if _, ok := a.(Activate); ok {
				n.Step(at(ms), ActivationFinished{})
			}
		}
		n.Step(at(ms), HeartbeatReceived{Heartbeat: Heartbeat{From: "b", Incarnation: 1, Seq: uint64(ms), Weight: 1}})
	}
	if n.Role() != RoleActive {
		t.Fatalf("a did not become active: %v", n.Role())
	}
	return n
}

// A pair link closed by the network (a firewall reset) looks like the
// peer's death to both members: the inactive b activates on the obituary
// and fences a. a buried b too, so b's commits, seen through Kafka, must
// still count as b holding the slot once a has been fenced; otherwise a
// activates again when its hold-off ends and the two take turns. a may
// notice the fence before its link reader sees the close (its next commit
// fails first) or after, and see b's first commit in between: every order.
// Records that name the run a buried say the same as records that name
// none.
func TestFencedAfterObituaryTrustsTheBuriedPeersWitness(t *testing.T) {
	for _, inc := range []uint64{0, 1} {
		testFencedAfterObituary(t, inc)
	}
}

// testFencedAfterObituary runs the cases with b's records naming
// incarnation inc (0: none).
func testFencedAfterObituary(t *testing.T, inc uint64) {
	const cut = 2000
	type event func(ms int) (int, Event)
	fence := func(ms int) (int, Event) { return ms, Fenced{} }
	closed := func(ms int) (int, Event) { return ms, PeerClosed{Peer: "b", Incarnation: 1} }
	commit := func(ms int) (int, Event) { return ms, WitnessSeen{Member: "b", Incarnation: inc} }
	for _, tc := range []struct {
		name   string
		events []event
	}{
		{"obituary then fence", []event{closed, fence}},
		{"fence then obituary", []event{fence, closed}},
		{"fence, a commit of b, obituary", []event{fence, commit, closed}},
		{"obituary, a commit of b, fence", []event{closed, commit, fence}},
	} {
		t.Run(fmt.Sprintf("%s, records naming incarnation %d", tc.name, inc), func(t *testing.T) {
			n := activeWithPeer(t)
			step := func(ms int, ev Event) []Action { return n.Step(at(ms), ev) }
			for i, ev := range tc.events {
				step(ev(cut + 2*i))
			}
			if n.Role() != RoleInactive {
				t.Fatalf("a still %v after being fenced", n.Role())
			}
			// b commits every 25ms; a ticks every 50ms, a tick landing just
			// after a's hold-off ends and before the next witness: without
			// the rule, b would still be buried then (its witnesses ignored
			// for an activation interval after the obituary) and a would
			// find the slot free.
			for ms := cut + 10; ms < cut+5000; ms += 5 {
				if (ms-cut)%50 == 15 {
					for _, a := range step(ms, Tick{}) {
						if act, ok := a.(Activate); ok {
							t.Fatalf("at +%dms a activated again (%v) while b, which fenced it, is witnessed committing", ms-cut, act)
						}
					}
				}
				if (ms-cut)%25 == 20 {
					step(ms, WitnessSeen{Member: "b", Incarnation: inc})
				}
			}
		})
	}
}

// A fence from before the peer last spoke says nothing about who commits
// after its obituary: the late echo of a peer that died is not taken for a
// new run.
func TestOldFenceDoesNotRaiseTheDead(t *testing.T) {
	n := activeWithPeer(t)
	n.Step(at(2000), Fenced{})
	for ms := 2100; ms <= 4000; ms += 100 {
		n.Step(at(ms), HeartbeatReceived{Heartbeat: Heartbeat{From: "b", Incarnation: 1, Seq: uint64(ms), Weight: 1, Role: RoleActive, Term: 2}})
	}
	n.Step(at(4050), PeerClosed{Peer: "b", Incarnation: 1})
	n.Step(at(4060), WitnessSeen{Member: "b"}) // its last commit, echoing late
	if v := n.Status().Peers[0].View; v != "dead" {
		t.Fatalf("view %s after a late echo of the dead peer", v)
	}
}

// TestMissedHeartbeatsCounted: a peer's silence counts one missed heartbeat
// per heartbeat interval beyond the first; a heartbeat ends the count; an
// obituary'd peer's silence and this process's own stall count nothing.
func TestMissedHeartbeatsCounted(t *testing.T) {
	n := newTestNode(t, "b") // heartbeat interval 100ms
	seq := uint64(0)
	hb := func(ms int) {
		seq++
		n.Step(at(ms), HeartbeatReceived{Heartbeat: Heartbeat{From: "a", Incarnation: 1, Seq: seq, Weight: 1, Role: RoleInactive}})
	}
	missed := func() uint64 { return n.Status().Counters.MissedHeartbeats }

	// Heartbeats on time, and one 150ms late: nothing missed.
	for ms := 0; ms <= 300; ms += 100 {
		hb(ms)
		n.Step(at(ms+50), Tick{})
	}
	hb(450)
	if got := missed(); got != 0 {
		t.Fatalf("missed %d with every heartbeat within two intervals", got)
	}
	// Silent from 450 to 1150: 700ms, six intervals beyond the first.
	tickTo(n, 475, 1150)
	n.Step(at(1150), Tick{})
	if got := missed(); got != 6 {
		t.Fatalf("missed %d after 700ms of silence, want 6", got)
	}
	hb(1150)
	tickTo(n, 1175, 1250)
	if got := missed(); got != 6 {
		t.Fatalf("missed %d after the peer was heard again, want still 6", got)
	}
	// This process stalls for 3s; the peer's heartbeats queue meanwhile.
	n.Step(at(4250), Tick{})
	if got := missed(); got != 6 {
		t.Fatalf("missed %d after this process's own stall, want still 6", got)
	}
	hb(4250)
	// The peer's connection closes: an obituary. Its silence is expected.
	n.Step(at(4260), PeerClosed{Peer: "a", Incarnation: 1})
	tickTo(n, 4275, 6000)
	if got := missed(); got != 6 {
		t.Fatalf("missed %d while the peer has an obituary, want still 6", got)
	}
}

// TestActivationsCountedByReason: an activation is counted under the reason
// it was decided for, once the edge reports it finished.
func TestActivationsCountedByReason(t *testing.T) {
	n := newTestNode(t, "b")
	for ms := 0; ms <= 600; ms += 100 {
		n.Step(at(ms), HeartbeatReceived{Heartbeat: Heartbeat{From: "a", Incarnation: 1, Seq: uint64(ms/100 + 1), Weight: 1, Role: RoleActive, Slot: 0, Term: 1}})
		n.Step(at(ms+50), Tick{})
	}
	var act Activate
	find := func(acts []Action) bool {
		for _, a := range acts {
			if a, ok := a.(Activate); ok {
				act = a
				return true
			}
		}
		return false
	}
	// a dies: b activates at once on the obituary.
	if !find(n.Step(at(700), PeerClosed{Peer: "a", Incarnation: 1})) || act.Reason != ReasonObituary {
		t.Fatalf("no activation on the obituary (got %+v)", act)
	}
	if c := n.Status().Counters; c.Activations != 0 || len(c.ActivationsByReason) != 0 {
		t.Fatalf("counted before the activation finished: %+v", c)
	}
	n.Step(at(750), ActivationFinished{Term: act.Term})
	c := n.Status().Counters
	if c.Activations != 1 || c.ActivationsByReason[ReasonObituary] != 1 || len(c.ActivationsByReason) != 1 {
		t.Fatalf("after an activation on an obituary: activations %d, by reason %v", c.Activations, c.ActivationsByReason)
	}
	// The status is a copy: changing it does not change the node.
	c.ActivationsByReason[ReasonSilence] = 5
	if n.Status().Counters.ActivationsByReason[ReasonSilence] != 0 {
		t.Fatal("Status shares its ActivationsByReason map with the node")
	}
}

// TestStallIsNotKafkaFailure: an active member stopped for seconds wakes
// with the commit it had in flight "failing" since before the stop. The
// chaos suite saw such a member step down for Kafka (an immediate stop,
// which aborts through its old producer) before the heartbeats queued
// during the stall told it that its peer had taken over. The stall does not
// count: the member first hears the peer's later term and steps down as
// superseded; and if Kafka really fails, it steps down for Kafka one
// activation interval after waking.
func TestStallIsNotKafkaFailure(t *testing.T) {
	for _, replaced := range []bool{true, false} {
		n := newTestNode(t, "a")
		seq := uint64(0)
		hbB := func(ms int, role Role, term uint64) []Action {
			seq++
			return n.Step(at(ms), HeartbeatReceived{Heartbeat: Heartbeat{From: "b", Incarnation: 1, Seq: seq, Weight: 1, Role: role, Term: term}})
		}
		var term uint64
		for ms := 0; ms <= 2000 && term == 0; ms += 25 {
			acts := n.Step(at(ms), Tick{})
			if ms%100 == 0 {
				acts = append(acts, hbB(ms, RoleInactive, 0)...)
			}
			for _, act := range acts {
				if a, ok := act.(Activate); ok {
					term = a.Term
					n.Step(at(ms), ActivationFinished{Term: a.Term})
				}
			}
		}
		if term == 0 || n.Role() != RoleActive {
			t.Fatalf("a did not become active: %v", n.Role())
		}
		// a's commit starts at 2100 and a is stopped from 2110 to 5110.
		acts := n.Step(at(5110), HealthChanged{Health: Health{Feed: FeedOK, Kafka: KafkaFailing, KafkaFailingSince: at(2100)}})
		for _, act := range acts {
			if d, ok := act.(Deactivate); ok {
				t.Fatalf("replaced %v: deactivated on waking, for %s: the stall counted as Kafka failing", replaced, d.Reason)
			}
		}
		want := ReasonKafka
		if replaced {
			acts = hbB(5120, RoleActive, term+1) // b took over while a was stopped
			want = ReasonSuperseded
		} else {
			acts = nil
			for ms := 5120; ms <= 5110+int(DefaultActivationInterval/time.Millisecond)+100; ms += 50 {
				if ms%100 == 20 {
					acts = append(acts, hbB(ms, RoleInactive, 0)...)
				}
				acts = append(acts, n.Step(at(ms), Tick{})...)
			}
		}
		var got []Reason
		for _, act := range acts {
			if d, ok := act.(Deactivate); ok {
				got = append(got, d.Reason)
			}
		}
		if len(got) != 1 || got[0] != want {
			t.Fatalf("replaced %v: step-downs %v, want one, %s", replaced, got, want)
		}
	}
}

// TestHeldHeartbeatsHandNothingOver: a chaos run cut the pair link for 5 s
// through a proxy that holds the bytes, both members alive. a was active;
// during the cut a's feed turned noisy, and so did b's. When the link came
// back, b's heartbeats held by the proxy arrived in a burst, each stamped
// fresh on arrival, and a handed the slot to b on the first, 1.5 s old,
// which said feed=ok; 17 s later b handed it back the same way. A member
// stopped (SIGSTOP) meanwhile wakes with the same burst queued, and with
// the peer's last heartbeat from before the stop looking fresh; a heavier
// peer's request for the slot can be as old. A planned hand-over on what
// the peer says of itself now waits until the peer has been heard without
// a break (and this process has run without a stall) for the preparation
// interval: then the burst has drained, and to a peer whose feed is really
// clean, or that really still asks, the slot goes at once.
func TestHeldHeartbeatsHandNothingOver(t *testing.T) {
	const cut, back = 2000, 7200 // the link is cut, or a is stopped, from cut to back
	prep := int(DefaultPreparationInterval / time.Millisecond)
	for _, c := range []struct {
		name     string
		stall    bool      // a is stopped instead of the link being cut
		aNoisyAt int       // when a's feed turns noisy (-1: never)
		asking   bool      // b, heavier, asks for a's slot while its feed is as good as a's
		feedB    FeedState // b's feed from the third held heartbeat on
		want     Reason    // why a hands over to b, a preparation interval after back; "": never
	}{
		{"cut link, b noisy too", false, cut + 2500, false, FeedNoisy, ""},
		{"cut link, b clean", false, cut + 2500, false, FeedOK, ReasonFeed},
		// a's feed is noisy from just before the stop: a step-down is
		// due on waking, were b's last heartbeat before it current.
		{"stall, b noisy too", true, cut - 300, false, FeedNoisy, ""},
		{"stall, b clean", true, cut - 300, false, FeedOK, ReasonFeed},
		// b's preempt delay ran out as the link was cut; its feed then
		// turned noisy, and it withdrew its request.
		{"cut link, b withdrew its request", false, -1, true, FeedNoisy, ""},
		{"cut link, b still asks", false, -1, true, FeedOK, ReasonPreempted},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newTestNode(t, "a")
			seq := uint64(0)
			var handed []Deactivate
			var handedAt int
			step := func(ms int, ev Event) {
				for _, act := range n.Step(at(ms), ev) {
					switch a := act.(type) {
					case Activate:
						n.Step(at(ms), ActivationFinished{Term: a.Term})
					case Deactivate:
						if handed == nil {
							handedAt = ms
						}
						handed = append(handed, a)
					}
				}
			}
			hbB := func(ms int, feed FeedState, asks bool) {
				seq++
				hb := Heartbeat{From: "b", Incarnation: 1, Seq: seq, Weight: 1, Feed: feed}
				if c.asking {
					hb.Weight = 2
					if asks && feed == FeedOK {
						hb.TakeoverFrom = "a"
					}
				}
				step(ms, HeartbeatReceived{Heartbeat: hb})
			}
			tick := func(ms int) {
				if ms == c.aNoisyAt {
					step(ms, HealthChanged{Health: Health{Feed: FeedNoisy}})
				}
				step(ms, Tick{})
			}
			// a activates alone; b joins at 1 s, as inactive.
			for ms := 0; ms < cut; ms += 50 {
				tick(ms)
				if ms >= 1000 && ms%100 == 0 {
					hbB(ms, FeedOK, false)
				}
			}
			if n.Role() != RoleActive || handed != nil {
				t.Fatalf("before the cut: a is %v, step-downs %v", n.Role(), handed)
			}
			if !c.stall {
				for ms := cut; ms < back; ms += 50 {
					tick(ms)
				}
			}
			// The link is back (or a resumes: its clock fires before its
			// socket is read). The held heartbeats arrive in order at one
			// moment, the first two sent before b's feed turned noisy.
			tick(back)
			hbB(back, FeedOK, true)
			hbB(back, FeedOK, true)
			hbB(back, c.feedB, true)
			for ms := back + 50; ms <= back+2000; ms += 50 {
				if ms%100 == 0 {
					hbB(ms, c.feedB, true)
				}
				tick(ms)
			}

			if c.want == "" {
				if handed != nil {
					t.Fatalf("at %dms a stepped down: %+v; b's held heartbeats said what b no longer did", handedAt, handed)
				}
				return
			}
			if len(handed) != 1 || handedAt != back+prep {
				t.Fatalf("step-downs %+v at %dms; want one at %dms", handed, handedAt, back+prep)
			}
			if d := handed[0]; d.Reason != c.want || !d.Planned || d.HandoverTo != "b" {
				t.Fatalf("stepped down %+v; want a planned hand-over to b, reason %s", d, c.want)
			}
		})
	}
}

// TestHeartbeatsOnJitteryTicks: the edge ticks every half interval, each
// tick late by its own fraction of a millisecond. A heartbeat goes on every
// other tick, an interval apart, though a tick is sometimes less late than
// the one an interval before it.
func TestHeartbeatsOnJitteryTicks(t *testing.T) {
	n := newTestNode(t, "a")
	late := []time.Duration{0, 300, 100, 400, 0, 200, 0, 100, 0} // µs
	var sent []time.Duration
	for i, l := range late {
		now := at(50 * i).Add(l * time.Microsecond)
		for _, a := range n.Step(now, Tick{}) {
			if _, ok := a.(SendHeartbeat); ok {
				sent = append(sent, now.Sub(testT0))
			}
		}
	}
	want := []time.Duration{0, 100100 * time.Microsecond, 200 * time.Millisecond, 300 * time.Millisecond, 400 * time.Millisecond}
	if !slices.Equal(sent, want) {
		t.Fatalf("heartbeats at %v, want %v", sent, want)
	}
}
