package ftpair

import "time"

// NextWake returns the earliest moment after the last step at which the
// passing of time alone could change what the node decides: a holder's
// silence or witness reaching the activation interval, the preparation
// interval, the end of a listening period, a hold-off or a refusal. It is
// the last step's own time when that step changed the role: the new role's
// rules run at the next step. Zero when nothing is pending. Heartbeats are
// not among them: they keep to the edge's Tick.
//
// It is a hint for the edge, which would otherwise see such a moment only
// at its next Tick: stepping the node at NextWake acts on it at once (a
// hung active is replaced the moment the activation interval ends, not up
// to a tick later). Stepping earlier or later is always correct; the edge
// still ticks. While every peer keeps its heartbeats coming, each one
// moves the wake further out, so a healthy pair is not stepped more often.
func (n *Node) NextWake() time.Time {
	if n.recheck {
		return n.now
	}
	var next time.Time
	at := func(t time.Time) {
		if !t.IsZero() && t.After(n.now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	after := func(t time.Time, d time.Duration) {
		if !t.IsZero() {
			at(t.Add(d))
		}
	}
	ai := n.cfg.ActivationInterval

	after(latest(n.started, n.kafkaOKSince), ai)
	after(n.lastStall, ai)
	at(n.holdUntil)
	at(n.handoverUntil)
	if n.role == RoleActive && n.health.Kafka == KafkaFailing {
		after(latest(n.health.KafkaFailingSince, n.lastStall), ai)
	}
	if n.role == RoleActive && n.health.Feed != FeedOK {
		after(n.feedBadSince, ai)
	}
	if n.preemptTarget != "" {
		after(n.preemptSince, n.cfg.PreemptDelay)
	}
	after(n.twin.witBase, ai)
	after(n.twin.seenBase, twinHoldIntervals*ai)
	after(n.twin.refBase, n.twin.refusedFor)
	for _, p := range n.peers {
		if p.haveHB {
			after(p.hbBase, ai)
			after(p.hbBase, n.cfg.PreparationInterval) // no longer a candidate
			if n.role == RoleActive {
				after(n.steadySince(p), n.cfg.PreparationInterval) // may take a planned hand-over
			}
		}
		after(p.witBase, ai)
		after(latest(p.hbBase, p.witBase), n.cfg.PreparationInterval)
		after(p.refBase, p.refusedFor)
	}
	return next
}
