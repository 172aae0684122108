package ftpair

import (
	"testing"
	"time"
)

// TestWitnessNeeded: two members exchange heartbeats over a link whose two
// directions are cut and mended independently. The active member spares
// the Kafka witness only while its peer's heartbeats show that it hears
// it, never for a peer it has not heard from, and needs it again within
// witnessGate (plus a step) of a cut in either direction: well inside the
// activation interval after which the cut-off peer would decide on the
// silence.
func TestWitnessNeeded(t *testing.T) {
	a := newTestNode(t, "a")
	b := newTestNode(t, "b")
	const step = 10 * time.Millisecond
	up := map[string]bool{"a>b": true, "b>a": true}
	var inFlight []SendHeartbeat // sent in one step, delivered at the next
	var from []string
	deliver := func(now time.Time) {
		sent, senders := inFlight, from
		inFlight, from = nil, nil
		for i, s := range sent {
			to := map[string]*Node{"a": b, "b": a}[senders[i]]
			if up[senders[i]+">"+map[string]string{"a": "b", "b": "a"}[senders[i]]] {
				collect(to.Step(now, HeartbeatReceived{Heartbeat: s.Heartbeat}), to == a, &inFlight, &from)
			}
		}
	}
	var now time.Time
	run := func(until time.Duration, check func(need bool)) {
		for ; now.Before(testT0.Add(until)); now = now.Add(step) {
			deliver(now)
			collect(a.Step(now, Tick{}), true, &inFlight, &from)
			// b's heartbeats keep another phase than a's.
			collect(b.Step(now.Add(3*time.Millisecond), Tick{}), false, &inFlight, &from)
			if check != nil {
				check(a.WitnessNeeded([]string{"b"}))
			}
		}
	}
	now = testT0
	if !a.WitnessNeeded([]string{"b"}) {
		t.Fatal("witness spared for a peer never heard")
	}
	run(500*time.Millisecond, nil)
	steady := func(what string) func(bool) {
		return func(need bool) {
			if need {
				t.Fatalf("%s, at %v: witness needed while the peer hears the member", what, now.Sub(testT0))
			}
		}
	}
	run(1500*time.Millisecond, steady("both ways up"))
	if !a.WitnessNeeded([]string{"b", "c"}) {
		t.Fatal("witness spared though peer c was never heard")
	}

	cutAt := now
	deadline := a.witnessGate() + 2*step
	needAfterCut := func(what string) func(bool) {
		return func(need bool) {
			if !need && now.Sub(cutAt) > deadline {
				t.Fatalf("%s: witness still spared %v after the cut", what, now.Sub(cutAt))
			}
		}
	}
	up["a>b"] = false // the peer no longer hears a; a still hears it
	run(2000*time.Millisecond, needAfterCut("a to b cut"))
	up["a>b"] = true
	run(2500*time.Millisecond, nil)
	run(3500*time.Millisecond, steady("mended"))

	cutAt = now
	up["b>a"] = false // a no longer hears the peer
	run(4000*time.Millisecond, needAfterCut("b to a cut"))
	if deadline > a.cfg.ActivationInterval*3/5 {
		t.Fatalf("witness needed again up to %v after a cut: too close to the activation interval (%v)", deadline, a.cfg.ActivationInterval)
	}

	// Heartbeats too slow for the witness to be in time once they show
	// a peer deaf: never spared.
	slow, err := NewNode(Config{MemberID: "s", HeartbeatInterval: 250 * time.Millisecond, ActivationInterval: time.Second}, 1, testT0)
	if err != nil {
		t.Fatal(err)
	}
	if !slow.WitnessNeeded(nil) {
		t.Fatal("witness spared with heartbeats every 250ms and a 1s activation interval")
	}
	if a.WitnessNeeded(nil) {
		t.Fatal("witness needed with no peer configured")
	}
}

// collect keeps the heartbeats among acts, with who sent them.
func collect(acts []Action, fromA bool, into *[]SendHeartbeat, from *[]string) {
	sender := "b"
	if fromA {
		sender = "a"
	}
	for _, x := range acts {
		if s, ok := x.(SendHeartbeat); ok {
			*into = append(*into, s)
			*from = append(*from, sender)
		}
	}
}
