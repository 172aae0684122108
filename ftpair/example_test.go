package ftpair_test

import (
	"fmt"
	"time"

	"github.com/feedd/feedd/ftpair"
)

// The edge owns the Node in one goroutine: it feeds it every event with the
// time from its clock and performs the returned actions in order.
func Example() {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	node, err := ftpair.NewNode(ftpair.Config{MemberID: "a", Weight: 2}, 1, now)
	if err != nil {
		panic(err)
	}
	var activating []ftpair.Activate
	step := func(ev ftpair.Event) {
		for _, a := range node.Step(now, ev) {
			switch a := a.(type) {
			case ftpair.SendHeartbeat:
				// transport: encode (a.Heartbeat.MarshalBinary), authenticate,
				// send to a.To or to every connected peer
			case ftpair.Activate:
				// broadcast: fence slot a.Slot, catch up, flush the ring, go
				// live; then report ActivationFinished{Term: a.Term}
				fmt.Println(a)
				activating = append(activating, a)
			default:
				fmt.Println(a)
			}
		}
	}
	peerB := func(seq uint64) ftpair.Event {
		return ftpair.HeartbeatReceived{Heartbeat: ftpair.Heartbeat{
			From: "b", Incarnation: 7, Seq: seq, Weight: 1, Role: ftpair.RoleInactive}}
	}

	// Peer b connects; it is inactive and nobody is active. The edge ticks
	// every 25ms; after listening for one activation interval, a (heavier)
	// activates.
	step(ftpair.PeerConnected{Peer: "b"})
	for i := 1; i <= 28; i++ {
		now = now.Add(25 * time.Millisecond)
		if i%4 == 0 {
			step(peerB(uint64(i / 4)))
		}
		step(ftpair.Tick{})
		for _, a := range activating {
			step(ftpair.ActivationFinished{Term: a.Term})
		}
		activating = nil
	}
	fmt.Println(node.Role())

	// The producer is fenced: someone else took the lock.
	now = now.Add(time.Second)
	step(ftpair.Fenced{})
	st := node.Status()
	fmt.Println(st.Role, st.Transitions[len(st.Transitions)-1].Reason, st.Counters.StepDowns[ftpair.ReasonFenced])

	// Output:
	// activate slot=0 term=1 reason=no-active
	// active
	// deactivate slot=0 reason=fenced immediate (producer fenced)
	// inactive fenced 1
}
