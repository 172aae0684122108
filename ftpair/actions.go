package ftpair

import (
	"fmt"
	"strings"
)

// Action is an output of Node.Step. The edge performs the actions of one
// Step in the order given; each must be complete (or, for Activate, started)
// before the next one is performed. The set of concrete types is closed.
type Action interface {
	isAction()
	fmt.Stringer
}

// SendHeartbeat asks the transport to send Heartbeat to peer To, or to every
// connected peer when To is empty. Losing one is harmless; the core sends
// another every HeartbeatInterval and at once on every change.
type SendHeartbeat struct {
	To        string
	Heartbeat Heartbeat
}

// PrepareToActivate is the Rendezvous prepare-to-activate hint: the holder
// of Slot (Peer) has been silent for the preparation interval and this
// member would replace it. The edge may warm what activation needs (connect
// the producer client, resolve the coordinator) but must not fence or write.
// It is issued once per silence and withdrawn by CancelPrepare or superseded
// by Activate.
type PrepareToActivate struct {
	Slot int
	Peer string
}

// CancelPrepare withdraws an earlier PrepareToActivate (the holder was heard
// again, the witness showed it alive, or another member was chosen). The
// edge may release what it warmed.
type CancelPrepare struct{}

// Activate tells the edge to take Slot: fence (initialise the producer id of
// the slot's transactional.id), read the topic to its end and trim, flush
// the ring, go live. It reports the outcome with ActivationFinished or
// ActivationFailed carrying Term, or Fenced if it was fenced meanwhile.
// Peer is the member replaced, when there is one.
type Activate struct {
	Slot   int
	Term   uint64
	Reason Reason
	Peer   string
}

// Deactivate tells the edge to stop writing. If Planned, it first commits
// the open transaction (a commit boundary), so nothing is left for the
// successor to replay, and reports DeactivationFinished when that is done;
// the member keeps its slot until then. Otherwise it stops at once (the
// open transaction is aborted or will be, and the successor's ring covers
// it). An immediate Deactivate may follow a planned one still running (a
// fence meanwhile): it ends it. A Deactivate while
// an activation is still in progress cancels that activation; a late
// ActivationFinished for it is ignored. HandoverTo names the member that
// will take the slot, when the step-down is a handover; the core announces it
// in the heartbeats that follow, so the edge need not send anything itself.
type Deactivate struct {
	Slot       int
	Reason     Reason
	Planned    bool
	HandoverTo string
	Detail     string
}

// RequestRefused answers an operator request the core cannot honour; the
// admin endpoint relays Reason to the caller.
type RequestRefused struct {
	Request string
	Reason  string
}

func (SendHeartbeat) isAction()     {}
func (PrepareToActivate) isAction() {}
func (CancelPrepare) isAction()     {}
func (Activate) isAction()          {}
func (Deactivate) isAction()        {}
func (RequestRefused) isAction()    {}

func (a SendHeartbeat) String() string {
	to := "all"
	if a.To != "" {
		to = a.To
	}
	return "send to=" + to + " " + a.Heartbeat.String()
}

func (a PrepareToActivate) String() string {
	return fmt.Sprintf("prepare slot=%d peer=%s", a.Slot, a.Peer)
}

func (CancelPrepare) String() string { return "cancel-prepare" }

func (a Activate) String() string {
	s := fmt.Sprintf("activate slot=%d term=%d reason=%s", a.Slot, a.Term, a.Reason)
	if a.Peer != "" {
		s += " peer=" + a.Peer
	}
	return s
}

func (a Deactivate) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deactivate slot=%d reason=%s", a.Slot, a.Reason)
	if a.Planned {
		b.WriteString(" planned")
	} else {
		b.WriteString(" immediate")
	}
	if a.HandoverTo != "" {
		b.WriteString(" handover=" + a.HandoverTo)
	}
	if a.Detail != "" {
		fmt.Fprintf(&b, " (%s)", a.Detail)
	}
	return b.String()
}

func (a RequestRefused) String() string {
	return fmt.Sprintf("refused %s: %s", a.Request, a.Reason)
}
