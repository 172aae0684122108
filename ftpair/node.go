package ftpair

import (
	"fmt"
	"slices"
	"time"
)

// maxTransitions is how many role transitions Status keeps.
const maxTransitions = 16

// maxFenceBackoff caps the exponent of the hold-off after repeated fencing
// by a member we can neither hear nor witness: 2^4 activation intervals.
const maxFenceBackoff = 4

// Node is the deterministic core of one member. It is not safe for
// concurrent use: one goroutine at the edge owns it and feeds it events in
// the order they happened.
//
// Node never reads the clock. Every Step carries now from the edge's clock,
// which must be monotonic (a now earlier than the previous one is treated
// as the previous one).
type Node struct {
	cfg Config
	inc uint64
	seq uint64

	started   time.Time
	now       time.Time
	lastStep  time.Time
	lastStall time.Time // when the last stall of this process ended

	role      Role
	roleSince time.Time
	slot      int
	term      uint64 // term of the current activation
	actReason Reason // why the current activation was decided
	maxTerm   uint64 // highest term seen anywhere
	// retryTerm is the term of this member's last activation, which
	// failed, while no later term and no other holder at that term has
	// been seen since: the next activation may reuse it. Zero otherwise.
	retryTerm uint64

	health       Health
	kafkaOKSince time.Time
	feedBadSince time.Time

	holdUntil   time.Time
	holdReason  Reason
	fenceStreak int
	fencedSlot  int
	// fencedAt is when this member was last fenced: proof that some member
	// initialised the lock at that time.
	fencedAt time.Time

	handoverTo    string
	handoverSlot  int
	handoverUntil time.Time
	// stepDown is the planned step-down under way while the role is
	// deactivating: announced (handoverTo) once the final commit is done.
	stepDown struct {
		reason Reason
		to     string
		detail string
	}

	preemptTarget string
	preemptSince  time.Time
	takeoverFrom  string

	prepared bool
	// recheck: the last step changed the role; the new role's rules are
	// yet to run.
	recheck bool
	// twin is what this member knows of another process running under its
	// own member id.
	twin twin
	// refusalBlocked: in the last evaluation a refused peer kept this
	// member from activating (for counting episodes).
	refusalBlocked bool

	nextHB   time.Time
	lastAdv  Heartbeat
	sent     [sentKept]sentHeartbeat // the latest heartbeats sent
	sentAny  bool
	greet    []string
	peers    map[string]*peer
	ids      []string // sorted peer ids
	trans    []Transition
	counters Counters
	out      []Action
}

// peer is what a member knows about another member.
type peer struct {
	id        string
	hb        Heartbeat // last accepted heartbeat
	haveHB    bool
	heardAt   time.Time
	hbBase    time.Time // heardAt moved forward by our own stalls since
	connected bool
	dead      bool // obituary received, no newer heartbeat since
	deadAt    time.Time

	// heardSince is when the current unbroken run of heartbeats began: the
	// arrival of the first one after more than two heartbeat intervals
	// without one (the peer's silence, a cut link, a stall of ours), or
	// from a new process of the peer.
	heardSince time.Time

	// ackSeq is the latest of this incarnation's heartbeats the peer's
	// heartbeats say it took (0: none).
	ackSeq uint64

	witnessAt   time.Time
	witBase     time.Time // witnessAt moved forward by our own stalls since
	witnessInc  uint64
	witnessSlot int

	suppressed bool // this witnessed silence has been counted

	// The transport refused to pair with the peer (PeerRefused): at
	// refusedAt, standing for refusedFor from refBase (refusedAt moved
	// forward by our own stalls since), because of refusedWhy.
	refusedAt  time.Time
	refBase    time.Time
	refusedFor time.Duration
	refusedWhy string
	// missed is how many heartbeats of the current silence have been
	// counted as missed.
	missed uint64
}

// view classifies a peer as this member currently sees it.
type view uint8

const (
	viewUnknown   view = iota // connected or once witnessed, nothing current
	viewDead                  // obituary
	viewHeard                 // heartbeat within the activation interval
	viewSilent                // heard before, silent for the activation interval, no witness
	viewWitnessed             // not heard, but the Kafka witness shows it committing
)

var viewNames = [...]string{"unknown", "dead", "heard", "silent", "witnessed"}

func (v view) String() string { return viewNames[v] }

// NewNode validates cfg (after filling in defaults) and returns the core of
// a member starting now, in role inactive. incarnation must differ every
// time the member's process starts (it need not grow). The member will not activate on its own
// judgement before one activation interval has passed, so that it learns
// the group first; it joins an existing group as inactive.
func NewNode(cfg Config, incarnation uint64, now time.Time) (*Node, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:          cfg,
		inc:          incarnation,
		started:      now,
		now:          now,
		lastStep:     now,
		roleSince:    now,
		kafkaOKSince: now,
		nextHB:       now,
		peers:        make(map[string]*peer),
		counters:     Counters{StepDowns: make(map[Reason]uint64), ActivationsByReason: make(map[Reason]uint64)},
	}
	return n, nil
}

// Config returns the configuration in effect (defaults applied).
func (n *Node) Config() Config { return n.cfg }

// Role returns the member's current role.
func (n *Node) Role() Role { return n.role }

// Slot returns the slot held while activating or active.
func (n *Node) Slot() int { return n.slot }

// Term returns the term of the current activation, or the highest known
// term when inactive.
func (n *Node) Term() uint64 {
	if n.role.holdsSlot() {
		return n.term
	}
	return n.maxTerm
}

// Step feeds one event, stamped now, into the core and returns the actions
// the edge must perform, in order. The returned slice is the caller's.
func (n *Node) Step(now time.Time, ev Event) []Action {
	if now.Before(n.now) {
		now = n.now
	}
	if gap := now.Sub(n.lastStep); gap > n.cfg.ActivationInterval/2 {
		// This process was not stepped for a while (stopped, swapped,
		// starved). Peers' heartbeats and witness records of that time are
		// still queued for us: do not count the stall as their silence.
		for _, p := range n.peers {
			if !p.hbBase.IsZero() {
				p.hbBase = p.hbBase.Add(gap)
			}
			if !p.witBase.IsZero() {
				p.witBase = p.witBase.Add(gap)
			}
			if !p.refBase.IsZero() {
				p.refBase = p.refBase.Add(gap)
			}
		}
		for _, t := range []*time.Time{&n.twin.seenBase, &n.twin.refBase, &n.twin.witBase} {
			if !t.IsZero() {
				*t = t.Add(gap)
			}
		}
		n.lastStall = now
		n.counters.Stalls++
	}
	n.now, n.lastStep = now, now

	switch e := ev.(type) {
	case Tick:
	case HeartbeatReceived:
		n.onHeartbeat(e.Heartbeat)
	case PeerConnected:
		n.onConnected(e.Peer)
	case PeerClosed:
		n.onClosed(e)
	case PeerRefused:
		n.onRefused(e)
	case HealthChanged:
		n.onHealth(e.Health)
	case WitnessSeen:
		n.onWitness(e)
	case Fenced:
		n.onFenced(e)
	case ActivationFinished:
		n.onActivationFinished(e)
	case ActivationFailed:
		n.onActivationFailed(e)
	case SwitchoverRequested:
		n.onSwitchover(e)
	case DeactivationFinished:
		n.onDeactivationFinished(e)
	case nil:
	default:
		panic(fmt.Sprintf("ftpair: unknown event %T", ev))
	}

	n.countMissed()
	role := n.role
	n.evaluate()
	// evaluate runs the rules of the role it starts in; those of a role it
	// changed to run at the next step (NextWake says it is due at once).
	n.recheck = n.role != role
	n.heartbeat()
	out := n.out
	n.out = nil
	return out
}

// ---- transitions ------------------------------------------------------------

func (n *Node) activate(slot int, reason Reason, who string) {
	if n.retryTerm == 0 || n.retryTerm != n.maxTerm {
		n.maxTerm++
	}
	n.retryTerm = 0
	n.term, n.slot = n.maxTerm, slot
	n.actReason = reason
	n.prepared = false
	n.handoverTo = ""
	n.emit(Activate{Slot: slot, Term: n.term, Reason: reason, Peer: who})
	detail := ""
	if who != "" {
		detail = "peer " + who
	}
	n.transition(RoleActivating, reason, detail)
}

func (n *Node) deactivate(reason Reason, planned bool, to, detail string) {
	n.emit(Deactivate{Slot: n.slot, Reason: reason, Planned: planned, HandoverTo: to, Detail: detail})
	if n.role == RoleDeactivating {
		// A planned step-down overtaken (fenced, superseded): it was
		// counted when it began, and its hand-over is void.
		n.stepDown.to = ""
	} else {
		n.counters.StepDowns[reason]++
	}
	if planned {
		// Keep the slot, and say so in every heartbeat, until the edge
		// reports the final commit done: a peer that heard nothing while
		// it ran would activate on the silence and fence it mid-commit.
		n.stepDown.reason, n.stepDown.to, n.stepDown.detail = reason, to, detail
		n.transition(RoleDeactivating, reason, detail)
		return
	}
	n.handOver(to)
	n.transition(RoleInactive, reason, detail)
}

// handOver names the successor of this member's slot in its heartbeats,
// from now for one activation interval.
func (n *Node) handOver(to string) {
	if to != "" {
		n.handoverTo, n.handoverSlot = to, n.slot
		n.handoverUntil = n.now.Add(n.cfg.ActivationInterval)
	}
}

// onDeactivationFinished: the final commit of a planned step-down is done
// (or was aborted): the slot is free, and the hand-over is announced now.
func (n *Node) onDeactivationFinished(e DeactivationFinished) {
	if n.role != RoleDeactivating {
		return // overtaken by a fence or a later term: already inactive
	}
	detail := n.stepDown.detail
	if e.Err != "" {
		detail += "; final commit failed: " + e.Err
	}
	n.handOver(n.stepDown.to)
	n.transition(RoleInactive, n.stepDown.reason, detail)
	n.stepDown.to = ""
}

func (n *Node) hold(d time.Duration, why Reason) {
	n.holdUntil, n.holdReason = n.now.Add(d), why
}

func (n *Node) transition(to Role, reason Reason, detail string) {
	t := Transition{At: n.now, From: n.role, To: to, Reason: reason, Detail: detail}
	if len(n.trans) == maxTransitions {
		n.trans = slices.Delete(n.trans, 0, 1)
	}
	n.trans = append(n.trans, t)
	n.role, n.roleSince = to, n.now
}

func (n *Node) emit(a Action) { n.out = append(n.out, a) }

// current builds the heartbeat content (without Seq).
func (n *Node) current() Heartbeat {
	role := n.role
	if role == RoleDeactivating {
		// Peers need only know that the slot is held; a peer of an
		// earlier release would refuse a role it does not know.
		role = RoleActive
	}
	hb := Heartbeat{
		From:         n.cfg.MemberID,
		Incarnation:  n.inc,
		Weight:       n.cfg.Weight,
		Role:         role,
		Term:         n.maxTerm,
		Feed:         n.health.Feed,
		Kafka:        n.health.Kafka,
		HoldOff:      n.holdingOff(),
		HandoverTo:   n.handoverTo,
		TakeoverFrom: n.takeoverFrom,
	}
	switch {
	case n.role.holdsSlot():
		hb.Slot, hb.Term = n.slot, n.term
	case n.handoverTo != "":
		hb.Slot = n.handoverSlot
	}
	return hb
}

// heartbeat broadcasts when one is due or the content changed, and greets
// newly connected peers.
func (n *Node) heartbeat() {
	adv := n.current()
	if !n.sentAny || !n.now.Before(n.nextHB) || !sameAdvert(adv, n.lastAdv) {
		n.emit(SendHeartbeat{Heartbeat: n.numbered(adv)})
		n.lastAdv, n.sentAny = adv, true
		n.nextHB = n.now.Add(n.cfg.HeartbeatInterval - heartbeatEarly(n.cfg.HeartbeatInterval))
		n.greet = n.greet[:0]
	}
	for _, id := range n.greet {
		n.emit(SendHeartbeat{To: id, Heartbeat: n.numbered(adv)})
	}
	n.greet = n.greet[:0]
}

// heartbeatEarly is how much sooner than an interval after the last a
// heartbeat may go. The edge's ticks fire a little late, by an amount that
// varies from one to the next; a heartbeat due an instant after a tick
// would wait for the next, half an interval on, and such heartbeats come
// 1.5 intervals apart: a peer then shows it heard this member's heartbeats
// too late for WitnessNeeded every few seconds, and the witness's
// keepalives come back with it.
func heartbeatEarly(interval time.Duration) time.Duration { return interval / 10 }

// numbered is the next heartbeat to send with content adv: its sequence
// number, and what this member has heard of each peer. Its sending time
// is kept for WitnessNeeded.
func (n *Node) numbered(adv Heartbeat) Heartbeat {
	n.seq++
	hb := adv
	hb.Seq = n.seq
	for _, id := range n.ids {
		if p := n.peers[id]; p.haveHB && !p.dead {
			hb.Heard = append(hb.Heard, HeardHeartbeat{From: id, Incarnation: p.hb.Incarnation, Seq: p.hb.Seq})
		}
	}
	n.sent[n.seq%sentKept] = sentHeartbeat{seq: n.seq, at: n.now}
	return hb
}

// sentKept is how many of its latest heartbeats' sending times a member
// keeps: at the default interval, 1.6 s of them, well past witnessGate.
const sentKept = 16

// sentHeartbeat is when this member sent the heartbeat numbered seq.
type sentHeartbeat struct {
	seq uint64
	at  time.Time
}

// sentAt is when this member sent its heartbeat numbered seq, zero if it
// is no longer kept (or was never sent).
func (n *Node) sentAt(seq uint64) time.Time {
	if h := n.sent[seq%sentKept]; seq != 0 && h.seq == seq {
		return h.at
	}
	return time.Time{}
}

// witnessGate is how recently every peer must have shown that it heard
// this member for the Kafka witness to be spared: two heartbeat intervals
// and a half, since a peer's heartbeat names the last of ours it took
// before it was sent, up to an interval (and the round trip) later.
func (n *Node) witnessGate() time.Duration { return n.cfg.HeartbeatInterval * 5 / 2 }

// WitnessNeeded reports whether the Kafka witness is needed now: whether
// some peer that could take over when this member falls silent may not be
// hearing it. peers are all the members of the group but this one, as
// configured (whether heard or not). It is false only if each of them has
// taken, according to its latest heartbeat, one of this member's sent
// within witnessGate; and always true when witnessGate is more than half
// the activation interval, too slow a pace of heartbeats to leave room
// for the witness to arrive once they show a peer deaf.
//
// The active member's control keepalives are that witness (broadcast):
// they keep an inactive member whose link is cut from taking over on the
// silence. Spared while the peers hear the active, they are needed again
// within witnessGate of the last heartbeat a peer took, plus the edge's
// tick: half an activation interval and a little more, before the peer
// could decide on the silence.
func (n *Node) WitnessNeeded(peers []string) bool {
	gate := n.witnessGate()
	if gate > n.cfg.ActivationInterval/2 {
		return true
	}
	for _, id := range peers {
		p := n.peers[id]
		if p == nil || p.ackSeq == 0 {
			return true
		}
		at := n.sentAt(p.ackSeq)
		if at.IsZero() || n.now.Sub(at) > gate {
			return true
		}
	}
	return false
}

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// sortedWith returns a sorted copy of slots with s added.
func sortedWith(slots []int, s int) []int {
	out := append(slices.Clone(slots), s)
	slices.Sort(out)
	return out
}
