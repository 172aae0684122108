package ftpair

import (
	"testing"
	"time"
)

// hungHolder makes n hear x as the active holder of slot 0, with a
// heartbeat every 100 ms up to 1000 ms and a commit of x's seen through
// Kafka at 1005 ms; then x hangs: nothing more comes from it.
func hungHolder(t *testing.T) *Node {
	t.Helper()
	n := newTestNode(t, "m")
	n.Step(at(0), Tick{})
	for ms := 0; ms <= 1000; ms += 100 {
		n.Step(at(ms), HeartbeatReceived{Heartbeat: Heartbeat{From: "x", Incarnation: 1, Seq: uint64(ms/100 + 1), Weight: 1, Role: RoleActive, Term: 1}})
	}
	n.Step(at(1005), WitnessSeen{Member: "x", Incarnation: 1})
	return n
}

// activatedAt steps n on a 50 ms ticker started at 0, and also at each
// NextWake before the next tick when wakes is set, until it activates, and
// returns when it did. (A node must be stepped at least every half
// activation interval, or it takes the gap for a stall of its own.)
func activatedAt(t *testing.T, n *Node, wakes bool) time.Time {
	t.Helper()
	last := at(1005)
	for last.Before(at(3000)) {
		next := testT0.Add(last.Sub(testT0).Truncate(50*time.Millisecond) + 50*time.Millisecond)
		if w := n.NextWake(); wakes && !w.IsZero() {
			if !w.After(last) {
				t.Fatalf("NextWake %v is not after the last step %v", w.Sub(testT0), last.Sub(testT0))
			}
			if w.Before(next) {
				next = w
			}
		}
		last = next
		for _, a := range n.Step(last, Tick{}) {
			if act, ok := a.(Activate); ok {
				if act.Reason != ReasonSilence || act.Peer != "x" {
					t.Fatalf("activated for %v", act)
				}
				return last
			}
		}
	}
	t.Fatal("no activation by 3 s")
	return time.Time{}
}

// TestNextWakeEndsTheSilenceOnTime: a node also stepped at its NextWake
// replaces a hung holder the moment its witness (the later sign of life)
// is an activation interval old; stepped on 50 ms ticks alone it does so
// only at the tick after.
func TestNextWakeEndsTheSilenceOnTime(t *testing.T) {
	due := at(1005).Add(DefaultActivationInterval)
	if got := activatedAt(t, hungHolder(t), true); !got.Equal(due) {
		t.Fatalf("activated at %v, want %v", got.Sub(testT0), due.Sub(testT0))
	}
	if got := activatedAt(t, hungHolder(t), false); !got.After(due) {
		t.Fatalf("on ticks alone activated at %v, not after %v: the test shows nothing", got.Sub(testT0), due.Sub(testT0))
	}
}

// TestNextWakeIsAHint: stepping before NextWake decides nothing new and
// leaves it where it was; a step that changes the role makes the wake due
// at once (the new role's rules run at the next step); with nothing pending
// it is zero.
func TestNextWakeIsAHint(t *testing.T) {
	n := hungHolder(t)
	// x's last heartbeat is a preparation interval old at 1.3 s (it stops
	// counting as a candidate, which changes nothing while it is active),
	// its witness at 1.305 s (this member prepares to replace it).
	for _, want := range []int{1300, 1305} {
		w := n.NextWake()
		if !w.Equal(at(want)) {
			t.Fatalf("wake at %v, want %v", w.Sub(testT0), at(want).Sub(testT0))
		}
		for ms := 1050; ms < want; ms += 50 {
			for _, a := range n.Step(at(ms), Tick{}) {
				if _, ok := a.(SendHeartbeat); !ok {
					t.Fatalf("a step before NextWake acted: %v", a)
				}
			}
		}
		if got := n.NextWake(); !got.Equal(w) {
			t.Fatalf("NextWake moved from %v to %v without an event", w.Sub(testT0), got.Sub(testT0))
		}
		prepared := false
		for _, a := range n.Step(w, Tick{}) {
			_, ok := a.(PrepareToActivate)
			prepared = prepared || ok
		}
		if prepared != (want == 1305) {
			t.Fatalf("at %v prepared %v", w.Sub(testT0), prepared)
		}
	}

	lone := newTestNode(t, "m")
	lone.Step(at(0), Tick{})
	if w := lone.NextWake(); !w.Equal(at(500)) {
		t.Fatalf("a lone node wakes at %v, want the end of its listening at 500ms", w.Sub(testT0))
	}
	tickTo(lone, 50, 500)
	activated := false
	for _, a := range lone.Step(at(500), Tick{}) {
		_, ok := a.(Activate)
		activated = activated || ok
	}
	if !activated {
		t.Fatal("the lone node did not activate when its listening ended")
	}
	if w := lone.NextWake(); !w.Equal(at(500)) {
		t.Fatalf("after its role changed the lone node wakes at %v, want at once (500ms)", w.Sub(testT0))
	}
	lone.Step(at(500), Tick{})
	if w := lone.NextWake(); !w.IsZero() {
		t.Fatalf("the activating lone node wakes at %v with nothing pending", w.Sub(testT0))
	}
}
