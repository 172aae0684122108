package ftpair

import (
	"maps"
	"slices"
	"time"
)

// Status is a snapshot of a member's state for /status and logs. It is a
// copy: the caller may keep and marshal it.
type Status struct {
	MemberID    string `json:"member_id"`
	Incarnation uint64 `json:"incarnation"`
	Weight      int    `json:"weight"`
	ActiveGoal  int    `json:"active_goal"`

	Role      Role      `json:"role"`
	RoleSince time.Time `json:"role_since"`
	// Slot is meaningful while activating or active.
	Slot int `json:"slot"`
	// Term is the term of the current activation, or the highest known
	// term when inactive (the activation epoch).
	Term uint64 `json:"term"`

	Health Health `json:"health"`

	// HoldOff is set while this member must not be chosen to activate;
	// HoldOffReason and HoldOffUntil say why and until when (a handover
	// hold lasts until the successor is seen active).
	HoldOff       bool      `json:"hold_off"`
	HoldOffReason Reason    `json:"hold_off_reason,omitempty"`
	HoldOffUntil  time.Time `json:"hold_off_until,omitzero"`
	HandoverTo    string    `json:"handover_to,omitempty"`
	// Preparing is set between PrepareToActivate and Activate or
	// CancelPrepare.
	Preparing bool `json:"preparing"`
	// TakeoverFrom is the active member this (preempting) member is asking
	// for its slot; PreemptTarget the one it is waiting PreemptDelay on.
	TakeoverFrom  string `json:"takeover_from,omitempty"`
	PreemptTarget string `json:"preempt_target,omitempty"`
	// LastStall is when this process last resumed from a stall.
	LastStall time.Time `json:"last_stall,omitzero"`

	// MemberIDClash is set while another process is known to run under
	// this member's own id (see [PeerRefused] and [WitnessSeen]).
	MemberIDClash *MemberIDClash `json:"member_id_clash,omitempty"`

	Peers []PeerStatus `json:"peers"`
	// Transitions are the last role transitions, oldest first.
	Transitions []Transition `json:"transitions"`
	Counters    Counters     `json:"counters"`
}

// PeerStatus is what a member knows about one peer.
type PeerStatus struct {
	ID string `json:"id"`
	// View is how this member judges the peer now: "heard" (heartbeat
	// within the activation interval), "silent", "witnessed" (silent but
	// committing through Kafka), "dead" (obituary) or "unknown".
	View      string `json:"view"`
	Connected bool   `json:"connected"`
	// Last heartbeat content; zero if never heard.
	Incarnation  uint64     `json:"incarnation"`
	Seq          uint64     `json:"seq"`
	Weight       int        `json:"weight"`
	Role         Role       `json:"role"`
	Slot         int        `json:"slot"`
	Term         uint64     `json:"term"`
	Feed         FeedState  `json:"feed"`
	Kafka        KafkaState `json:"kafka"`
	HoldOff      bool       `json:"hold_off"`
	HandoverTo   string     `json:"handover_to,omitempty"`
	TakeoverFrom string     `json:"takeover_from,omitempty"`
	LastHeard    time.Time  `json:"last_heard,omitzero"`
	LastWitness  time.Time  `json:"last_witness,omitzero"`
	DiedAt       time.Time  `json:"died_at,omitzero"`
	// Refused is set while the transport's last refusal to pair with the
	// peer stands (see PeerRefused): this member then does not activate
	// for lack of an active member, nor on the peer's silence or
	// obituary. RefusedAt and RefusedReason are the last refusal, kept
	// until the peer connects.
	Refused       bool      `json:"refused,omitempty"`
	RefusedAt     time.Time `json:"refused_at,omitzero"`
	RefusedReason string    `json:"refused_reason,omitempty"`
}

// MemberIDClash describes another process running under this member's id:
// two members were configured with one member_id.
type MemberIDClash struct {
	// Since is when the current episode began; LastSeen the last sign of
	// the other process, Detail what that sign was (the transport's
	// refusal names the other process's address).
	Since    time.Time `json:"since"`
	LastSeen time.Time `json:"last_seen"`
	Detail   string    `json:"detail"`
	// Committing is set while the other process's commits were seen
	// through Kafka within the activation interval: it holds Slot, and
	// this member does not contend for it.
	Committing bool `json:"committing"`
	Slot       int  `json:"slot"`
}

// Transition is one role change and why it happened.
type Transition struct {
	At     time.Time `json:"at"`
	From   Role      `json:"from"`
	To     Role      `json:"to"`
	Reason Reason    `json:"reason,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Counters are monotonic over the life of a Node (export them as
// Prometheus counters).
type Counters struct {
	// Activations counts completed activations; ActivationFailures the
	// failed ones.
	Activations        uint64 `json:"activations"`
	ActivationFailures uint64 `json:"activation_failures"`
	// ActivationsByReason splits Activations by the reason the activation
	// was decided for (no-active, obituary, silence, handover): obituary and
	// silence are failovers.
	ActivationsByReason map[Reason]uint64 `json:"activations_by_reason"`
	// StepDowns counts deactivations by reason (fenced, superseded, kafka,
	// feed, switchover, preempted).
	StepDowns map[Reason]uint64 `json:"step_downs"`
	// Obituaries counts peers declared dead because their connection
	// closed.
	Obituaries uint64 `json:"obituaries"`
	// WitnessSuppressed counts silences of an active peer after which this
	// member would have activated but did not, because the Kafka witness
	// showed the peer still committing (pair link cut). One per episode.
	WitnessSuppressed uint64 `json:"witness_suppressed"`
	// Prepares counts prepare-to-activate hints.
	Prepares uint64 `json:"prepares"`
	// Refused counts refused operator requests.
	Refused uint64 `json:"refused"`
	// Stalls counts gaps between steps longer than half the activation
	// interval (this process was stopped or starved).
	Stalls uint64 `json:"stalls"`
	// StaleHeartbeats counts heartbeats dropped as older than one already
	// taken from the same run, as from another run while the one on record
	// is still heard, or as malformed.
	StaleHeartbeats uint64 `json:"stale_heartbeats"`
	// MissedHeartbeats counts heartbeats that did not arrive from a peer
	// that was heard and has no obituary: one once a heartbeat interval
	// has passed beyond the first without a heartbeat (the first absorbs
	// delay and jitter), and one more for each further interval. This
	// process's own stalls are not counted.
	MissedHeartbeats uint64 `json:"missed_heartbeats"`
	// PeerRefusals counts refusals reported by the transport
	// (PeerRefused), one per refused attempt to connect.
	PeerRefusals uint64 `json:"peer_refusals"`
	// RefusalSuppressed counts the times this member would have activated
	// but did not, because a peer it refused might be active (see
	// PeerRefused). One per episode.
	RefusalSuppressed uint64 `json:"refusal_suppressed"`
	// DuplicateMemberID counts heartbeats carrying our own member id from
	// another incarnation: two members are configured with one id.
	DuplicateMemberID uint64 `json:"duplicate_member_id"`
	// MemberIDClashes counts episodes of another process running under
	// this member's id (Status.MemberIDClash), one per episode.
	MemberIDClashes uint64 `json:"member_id_clashes"`
}

// Status returns a snapshot as of the last Step.
func (n *Node) Status() Status {
	s := Status{
		MemberID:      n.cfg.MemberID,
		Incarnation:   n.inc,
		Weight:        n.cfg.Weight,
		ActiveGoal:    n.cfg.ActiveGoal,
		Role:          n.role,
		RoleSince:     n.roleSince,
		Slot:          n.slot,
		Term:          n.Term(),
		Health:        n.health,
		HoldOff:       n.holdingOff(),
		HandoverTo:    n.handoverTo,
		Preparing:     n.prepared,
		TakeoverFrom:  n.takeoverFrom,
		PreemptTarget: n.preemptTarget,
		LastStall:     n.lastStall,
		Transitions:   slices.Clone(n.trans),
		Counters:      n.counters,
	}
	s.Counters.StepDowns = maps.Clone(n.counters.StepDowns)
	s.Counters.ActivationsByReason = maps.Clone(n.counters.ActivationsByReason)
	switch {
	case n.handoverTo != "":
		s.HoldOffReason, s.HoldOffUntil = ReasonHandover, n.handoverUntil
	case n.now.Before(n.holdUntil):
		s.HoldOffReason, s.HoldOffUntil = n.holdReason, n.holdUntil
	}
	if !n.role.holdsSlot() {
		s.Slot = 0
	}
	if n.clashStanding() {
		c := &MemberIDClash{Since: n.twin.since, LastSeen: n.twin.lastAt, Detail: n.twin.detail}
		c.Slot, c.Committing = n.twinHolds()
		s.MemberIDClash = c
	}
	for _, id := range n.ids {
		p := n.peers[id]
		ps := PeerStatus{
			ID:          id,
			View:        n.view(p).String(),
			Connected:   p.connected,
			LastHeard:   p.heardAt,
			LastWitness: p.witnessAt,
		}
		if p.dead {
			ps.DiedAt = p.deadAt
		}
		ps.Refused, ps.RefusedAt, ps.RefusedReason = n.refused(p), p.refusedAt, p.refusedWhy
		if p.haveHB {
			h := p.hb
			ps.Incarnation, ps.Seq, ps.Weight, ps.Role, ps.Slot, ps.Term = h.Incarnation, h.Seq, h.Weight, h.Role, h.Slot, h.Term
			ps.Feed, ps.Kafka, ps.HoldOff, ps.HandoverTo, ps.TakeoverFrom = h.Feed, h.Kafka, h.HoldOff, h.HandoverTo, h.TakeoverFrom
		}
		s.Peers = append(s.Peers, ps)
	}
	return s
}
