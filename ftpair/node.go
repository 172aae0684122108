package ftpair

import (
	"cmp"
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
	// twin is what this member knows of another process running under its
	// own member id.
	twin twin
	// refusalBlocked: in the last evaluation a refused peer kept this
	// member from activating (for counting episodes).
	refusalBlocked bool

	nextHB   time.Time
	lastAdv  Heartbeat
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

// twinHoldIntervals is how many activation intervals a sign of another
// process under our member id (a heartbeat, or its commits in Kafka) keeps
// the clash standing. Its commits are renewed continuously while it is
// active; an inactive twin writes nothing to Kafka, and only the
// transport's refusals (PeerRefused naming our own id) renew the clash.
const twinHoldIntervals = 4

// twin is another process running under this member's id: two members
// were configured with one member_id. It is never a peer: it cannot be
// heard (the transport refuses it, and heartbeats from our own id are
// dropped), and it takes no part in the ranking. Its commits, seen through
// Kafka, hold its slot like a peer's witness.
type twin struct {
	since time.Time // the current episode began; zero: none yet
	// The last sign of it (heartbeat or witness) and when the transport
	// last refused it, moved forward by our own stalls since (as for
	// peers), and how long that refusal stands.
	seenBase   time.Time
	refBase    time.Time
	refusedFor time.Duration
	lastAt     time.Time
	detail     string
	// Its last commit seen through Kafka, and the slot it was in.
	witBase time.Time
	slot    int
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
// a member starting now, in role inactive. incarnation must grow every time
// the member's process starts. The member will not activate on its own
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
	n.evaluate()
	n.heartbeat()
	out := n.out
	n.out = nil
	return out
}

// ---- events ---------------------------------------------------------------

func (n *Node) peer(id string) *peer {
	p, ok := n.peers[id]
	if !ok {
		p = &peer{id: id}
		n.peers[id] = p
		i, _ := slices.BinarySearch(n.ids, id)
		n.ids = slices.Insert(n.ids, i, id)
	}
	return p
}

func (n *Node) onHeartbeat(hb Heartbeat) {
	if hb.From == "" {
		n.counters.StaleHeartbeats++
		return
	}
	if hb.From == n.cfg.MemberID {
		if hb.Incarnation != n.inc {
			n.counters.DuplicateMemberID++
			n.twinSeen(fmt.Sprintf("a heartbeat from incarnation %d of this member's id (ours is %d)", hb.Incarnation, n.inc))
		}
		return
	}
	p := n.peer(hb.From)
	if p.haveHB && (hb.Incarnation < p.hb.Incarnation || hb.Incarnation == p.hb.Incarnation && hb.Seq <= p.hb.Seq) {
		n.counters.StaleHeartbeats++
		return
	}
	// A new process: forget the old one's witness and episode.
	restarted := p.haveHB && hb.Incarnation > p.hb.Incarnation
	if restarted {
		p.suppressed = false
	}
	if p.witnessInc != 0 && p.witnessInc < hb.Incarnation || restarted && p.witnessInc == 0 {
		p.witnessAt, p.witBase = time.Time{}, time.Time{}
	}
	p.dead = false
	p.hb, p.haveHB, p.heardAt, p.hbBase = hb, true, n.now, n.now
	p.missed = 0
	n.maxTerm = max(n.maxTerm, hb.Term)
	if hb.Role.holdsSlot() && hb.Term >= n.retryTerm {
		n.retryTerm = 0 // another member claims a slot at that term: a contest
	}
}

func (n *Node) onConnected(id string) {
	if id == "" || id == n.cfg.MemberID {
		return
	}
	p := n.peer(id)
	p.connected = true
	// The transport accepted the peer: whatever it refused before has
	// been fixed (the peer restarted with settings matching ours).
	p.refusedAt, p.refBase, p.refusedFor, p.refusedWhy = time.Time{}, time.Time{}, 0, ""
	if !slices.Contains(n.greet, id) {
		n.greet = append(n.greet, id)
	}
}

func (n *Node) onClosed(e PeerClosed) {
	p, ok := n.peers[e.Peer]
	if !ok {
		return
	}
	if e.Incarnation != 0 && p.haveHB && e.Incarnation < p.hb.Incarnation {
		return // the old connection of an earlier run
	}
	p.connected = false
	if !p.dead && (p.haveHB || !p.witnessAt.IsZero()) {
		p.dead, p.deadAt = true, n.now
		n.counters.Obituaries++
	}
}

// onRefused records a refusal by the transport. A refusal stands for at
// least one activation interval.
func (n *Node) onRefused(e PeerRefused) {
	if e.Peer == "" {
		return
	}
	if e.Peer == n.cfg.MemberID {
		n.twinRefused(e)
		return
	}
	p := n.peer(e.Peer)
	p.refusedAt, p.refBase = n.now, n.now
	p.refusedFor = max(e.For, n.cfg.ActivationInterval)
	p.refusedWhy = e.Reason
	n.counters.PeerRefusals++
}

// twinRefused records the transport's refusal of a process that presents
// our own member id.
func (n *Node) twinRefused(e PeerRefused) {
	n.twinEpisode()
	t := &n.twin
	t.refBase, t.refusedFor = n.now, max(e.For, n.cfg.ActivationInterval)
	t.lastAt, t.detail = n.now, e.Reason
	n.counters.PeerRefusals++
}

// twinSeen records a sign of another process under our member id.
func (n *Node) twinSeen(detail string) {
	n.twinEpisode()
	t := &n.twin
	if t.refBase.IsZero() || n.now.Sub(t.refBase) >= t.refusedFor {
		// The transport's refusal, while it stands, says more: it names
		// the other process's address.
		t.detail = detail
	}
	t.seenBase, t.lastAt = n.now, n.now
}

// twinEpisode starts a clash episode unless one stands.
func (n *Node) twinEpisode() {
	if !n.clashStanding() {
		n.twin.since = n.now
		n.counters.MemberIDClashes++
	}
}

// clashStanding: another process under our member id was refused by the
// transport within the refusal's duration, or showed itself within
// twinHoldIntervals activation intervals (not counting our own stalls).
func (n *Node) clashStanding() bool {
	t := &n.twin
	return !t.refBase.IsZero() && n.now.Sub(t.refBase) < t.refusedFor ||
		!t.seenBase.IsZero() && n.now.Sub(t.seenBase) < twinHoldIntervals*n.cfg.ActivationInterval
}

// twinHolds reports the slot the twin holds as far as we can tell: its
// commits were seen within the activation interval.
func (n *Node) twinHolds() (int, bool) {
	t := &n.twin
	if !t.witBase.IsZero() && n.now.Sub(t.witBase) < n.cfg.ActivationInterval {
		return t.slot, true
	}
	return 0, false
}

func (n *Node) onHealth(h Health) {
	was := n.health
	if h.Kafka == KafkaFailing {
		switch {
		case !h.KafkaFailingSince.IsZero():
		case was.Kafka == KafkaFailing:
			h.KafkaFailingSince = was.KafkaFailingSince
		default:
			h.KafkaFailingSince = n.now
		}
	} else {
		h.KafkaFailingSince = time.Time{}
		if was.Kafka != KafkaOK {
			n.kafkaOKSince = n.now
		}
	}
	if h.Feed != FeedOK && was.Feed == FeedOK {
		n.feedBadSince = n.now
	}
	n.health = h
}

func (n *Node) onWitness(e WitnessSeen) {
	if e.Member == "" {
		return
	}
	if e.Member == n.cfg.MemberID {
		n.twinSeen(fmt.Sprintf("records committed under this member's id by another process (slot %d)", e.Slot))
		n.twin.witBase, n.twin.slot = n.now, e.Slot
		return
	}
	p := n.peer(e.Member)
	known := p.hb.Incarnation
	if !p.haveHB {
		known = p.witnessInc
	}
	if e.Incarnation != 0 && e.Incarnation < known {
		return // records of an earlier run
	}
	if p.dead {
		// Records the dead process committed just before it died may still
		// be echoing. A record of a later incarnation, or (when records do
		// not say) one seen an activation interval after the obituary, comes
		// from a new run. So does one seen after this member was fenced
		// since the obituary: someone took the lock after the death, and the
		// peer still committing is that someone (its connection was closed
		// by the network, not by its death).
		newRun := e.Incarnation > known ||
			e.Incarnation == 0 && n.now.Sub(p.deadAt) >= n.cfg.ActivationInterval ||
			e.Incarnation == 0 && n.fencedAt.After(p.deadAt)
		if !newRun {
			return
		}
		p.dead = false
	}
	p.witnessAt, p.witBase, p.witnessInc, p.witnessSlot = n.now, n.now, e.Incarnation, e.Slot
	n.retryTerm = 0 // a holder at a term we cannot know
}

func (n *Node) onFenced(e Fenced) {
	if !n.role.holdsSlot() || e.Term != 0 && e.Term != n.term {
		return
	}
	n.fenceStreak++
	n.fencedSlot = n.slot
	n.fencedAt = n.now
	hold := n.cfg.ActivationInterval << min(n.fenceStreak-1, maxFenceBackoff)
	n.deactivate(ReasonFenced, false, "", "producer fenced")
	n.hold(hold, ReasonFenced)
}

func (n *Node) onActivationFinished(e ActivationFinished) {
	if n.role != RoleActivating || e.Term != 0 && e.Term != n.term {
		return
	}
	n.counters.Activations++
	n.counters.ActivationsByReason[n.actReason]++
	n.transition(RoleActive, "", "")
}

func (n *Node) onActivationFailed(e ActivationFailed) {
	if n.role != RoleActivating || e.Term != 0 && e.Term != n.term {
		return
	}
	n.counters.ActivationFailures++
	n.retryTerm = n.term
	n.transition(RoleInactive, ReasonActivationFailed, e.Err)
	n.hold(max(n.cfg.ActivationInterval, e.RetryAfter), ReasonActivationFailed)
}

func (n *Node) onSwitchover(e SwitchoverRequested) {
	refuse := func(why string) {
		n.counters.Refused++
		n.emit(RequestRefused{Request: "switchover", Reason: why})
	}
	switch n.role {
	case RoleInactive:
		if a := n.anyHolder(); a != "" {
			refuse("not active; ask " + a)
		} else {
			refuse("not active")
		}
		return
	case RoleActivating:
		refuse("activation in progress")
		return
	case RoleDeactivating:
		refuse("deactivation in progress")
		return
	}
	var target *peer
	if e.Target != "" {
		p, ok := n.peers[e.Target]
		if !ok || e.Target == n.cfg.MemberID {
			refuse(fmt.Sprintf("unknown member %q", e.Target))
			return
		}
		if why := n.notReady(p); why != "" {
			refuse(fmt.Sprintf("%s is not ready: %s", e.Target, why))
			return
		}
		target = p
	} else {
		target = n.bestPeer(func(*peer) bool { return true })
		if target == nil {
			refuse("no ready member to hand over to")
			return
		}
	}
	n.deactivate(ReasonSwitchover, true, target.id, "operator request")
}

// ---- decisions --------------------------------------------------------------

// evaluate applies the rules after every event.
func (n *Node) evaluate() {
	now := n.now
	if n.handoverTo != "" {
		p := n.peers[n.handoverTo]
		taken := p != nil && n.view(p) == viewHeard && p.hb.Role.holdsSlot()
		if taken || p == nil || p.dead || !now.Before(n.handoverUntil) {
			n.handoverTo = ""
		}
	}
	if n.holdReason == ReasonFenced && now.Before(n.holdUntil) {
		// The hold-off after fencing lasts until we learn who holds the
		// lock: once a peer is seen holding that slot, the rules suffice.
		for _, id := range n.ids {
			if s, ok := n.claim(n.peers[id]); ok && s == n.fencedSlot {
				n.holdUntil = time.Time{}
				n.fenceStreak = 0
				break
			}
		}
	}

	wasBlocked := n.refusalBlocked
	n.refusalBlocked = false
	switch n.role {
	case RoleActive:
		n.checkStepDown()
	case RoleDeactivating:
		// Still holding the slot while the final commit runs: a later
		// term on our slot means someone fenced us, or will.
		n.checkSuperseded()
	case RoleInactive:
		n.checkActivate()
	}
	if n.refusalBlocked && !wasBlocked {
		n.counters.RefusalSuppressed++
	}

	if n.role == RoleInactive {
		n.checkPrepare()
		n.checkPreempt()
	} else {
		n.preemptTarget, n.takeoverFrom = "", ""
	}
	n.countSuppressed()
}

// checkSuperseded: another active heard on the link holds our slot with a
// later term: it fenced us, or will; stop now rather than at the next
// commit. It reports whether this member stepped down.
func (n *Node) checkSuperseded() bool {
	for _, id := range n.ids {
		p := n.peers[id]
		if n.view(p) != viewHeard || p.hb.Role != RoleActive || p.hb.Slot != n.slot {
			continue
		}
		if p.hb.Term > n.term || p.hb.Term == n.term && n.peerRanksFirst(p) {
			n.deactivate(ReasonSuperseded, false, "", fmt.Sprintf("%s holds slot %d with term %d", p.id, p.hb.Slot, p.hb.Term))
			return true
		}
	}
	return false
}

// checkStepDown: fenced is handled at once in onFenced; here the rules that
// depend on peers and time.
func (n *Node) checkStepDown() {
	if n.checkSuperseded() {
		return
	}

	if n.health.Kafka == KafkaFailing {
		// A commit this process had in flight when it was stopped could
		// not finish while it was stopped: judge Kafka from what it could
		// observe since its last stall. Meanwhile the peers' heartbeats
		// queued during the stall arrive, and a member that was replaced
		// while stopped steps down as superseded, without an abort through
		// its old producer.
		failing := n.now.Sub(latest(n.health.KafkaFailingSince, n.lastStall))
		if failing >= n.cfg.ActivationInterval {
			if t := n.bestPeer(func(*peer) bool { return true }); t != nil {
				n.deactivate(ReasonKafka, false, t.id, "kafka failing for "+failing.String())
				return
			}
		}
	}

	// The feed step-down waits for the activation interval so that a feed
	// that goes quiet everywhere (it is the source that is quiet) does not
	// cause a needless switch while the peers' reports arrive.
	if n.health.Feed != FeedOK && n.now.Sub(n.feedBadSince) >= n.cfg.ActivationInterval {
		if t := n.bestPeer(func(p *peer) bool { return p.hb.Feed == FeedOK }); t != nil {
			n.deactivate(ReasonFeed, true, t.id, fmt.Sprintf("feed %s, %s reports a clean feed", n.health.Feed, t.id))
			return
		}
	}

	// A heavier member asks for our slot (its Preempt is on).
	if t := n.bestPeer(func(p *peer) bool {
		return p.hb.TakeoverFrom == n.cfg.MemberID && p.hb.Weight > n.cfg.Weight &&
			feedScore(p.hb.Feed) >= feedScore(n.health.Feed)
	}); t != nil {
		n.deactivate(ReasonPreempted, true, t.id, fmt.Sprintf("%s (weight %d) asked for the slot", t.id, t.hb.Weight))
	}
}

func (n *Node) checkActivate() {
	if !n.selfReady() {
		return
	}
	vacant := n.vacantSlots()
	if len(vacant) == 0 {
		return
	}
	s, ok := n.assign(vacant)
	if !ok {
		return
	}
	reason, who := n.vacancyReason(s)
	// Judge that a slot is free only from what we could have observed.
	// After a stall of this process, what peers said meanwhile may still
	// be queued for us, the obituaries and handovers included: relearn for
	// an activation interval, as at start-up. Otherwise a handover is
	// announced live, and an obituary received while our view of Kafka
	// (hence of the witness) was sound is acted on at once; for anything
	// else we must have listened, with a sound view of Kafka, for a whole
	// activation interval.
	ai := n.cfg.ActivationInterval
	listening := latest(n.started, n.kafkaOKSince)
	switch {
	case !n.lastStall.IsZero() && n.now.Before(n.lastStall.Add(ai)):
		return
	case reason == ReasonHandover:
	case reason == ReasonObituary && !n.peers[who].deadAt.Before(listening):
	case n.now.Before(listening.Add(ai)):
		return
	}
	if n.refusalBlocks(reason, who) {
		n.refusalBlocked = true
		return
	}
	n.activate(s, reason, who)
}

// countMissed counts the heartbeats missed from each peer heard before: one
// for every heartbeat interval of silence beyond the first. The silence is
// measured from hbBase, so this process's own stalls add nothing; while a
// peer has an obituary its silence is expected and is not counted, and
// neither is it later, if the obituary is withdrawn.
func (n *Node) countMissed() {
	for _, id := range n.ids {
		p := n.peers[id]
		if !p.haveHB {
			continue
		}
		due := uint64(0)
		if s := n.silence(p); s > n.cfg.HeartbeatInterval {
			due = uint64(s/n.cfg.HeartbeatInterval) - 1
		}
		if due > p.missed {
			if !p.dead {
				n.counters.MissedHeartbeats += due - p.missed
			}
			p.missed = due
		}
	}
}

// checkPrepare issues or withdraws the prepare-to-activate hint: a holder
// has shown no sign of life (heartbeat or witness) for the preparation
// interval, and this member would replace it.
func (n *Node) checkPrepare() {
	want, slot, who := false, 0, ""
	if n.selfReady() {
		vacant := n.vacantSlots()
		for _, id := range n.ids {
			p := n.peers[id]
			s, ok := n.claim(p)
			if !ok || n.sinceSignOfLife(p) < n.cfg.PreparationInterval || slices.Contains(vacant, s) || n.refused(p) {
				continue
			}
			if got, ok := n.assign(sortedWith(vacant, s)); ok && got == s {
				want, slot, who = true, s, p.id
				break
			}
		}
	}
	switch {
	case want && !n.prepared:
		n.prepared = true
		n.counters.Prepares++
		n.emit(PrepareToActivate{Slot: slot, Peer: who})
	case !want && n.prepared:
		n.prepared = false
		n.emit(CancelPrepare{})
	}
}

// countSuppressed counts, once per episode, each holder whose heartbeats
// stopped for the activation interval while the Kafka witness kept showing
// it committing (a cut pair link), and that this member would otherwise
// have replaced. A witness that merely trails the last heartbeat (a process
// that has just hung: its last commits echo after it stopped) is not
// counted.
func (n *Node) countSuppressed() {
	var vacant []int
	computed := false
	for _, id := range n.ids {
		p := n.peers[id]
		if n.view(p) != viewWitnessed {
			p.suppressed = false
			continue
		}
		if p.suppressed || n.role != RoleInactive || !n.selfReady() {
			continue
		}
		if p.haveHB && p.witBase.Sub(p.hbBase) < n.cfg.PreparationInterval {
			continue
		}
		if !computed {
			vacant, computed = n.vacantSlots(), true
		}
		s := p.witnessSlot
		if slices.Contains(vacant, s) {
			continue
		}
		if got, ok := n.assign(sortedWith(vacant, s)); ok && got == s {
			p.suppressed = true
			n.counters.WitnessSuppressed++
		}
	}
}

// checkPreempt maintains the takeover request of a heavier inactive member.
func (n *Node) checkPreempt() {
	var target *peer
	if n.cfg.Preempt && n.selfReady() {
		for _, id := range n.ids {
			p := n.peers[id]
			if n.view(p) != viewHeard || p.hb.Role != RoleActive || p.hb.Weight >= n.cfg.Weight ||
				feedScore(p.hb.Feed) > feedScore(n.health.Feed) {
				continue
			}
			// The lowest-ranked active we outrank.
			if target == nil || rankLess(target.hb.Feed, target.hb.Weight, target.id, p.hb.Feed, p.hb.Weight, p.id) {
				target = p
			}
		}
	}
	if target == nil {
		n.preemptTarget, n.takeoverFrom = "", ""
		return
	}
	if target.id != n.preemptTarget {
		n.preemptTarget, n.preemptSince, n.takeoverFrom = target.id, n.now, ""
	}
	if n.now.Sub(n.preemptSince) >= n.cfg.PreemptDelay {
		n.takeoverFrom = target.id
	}
}

// ---- views ------------------------------------------------------------------

// silence is how long the peer has not been heard, not counting time this
// process itself was stalled.
func (n *Node) silence(p *peer) time.Duration {
	return n.now.Sub(p.hbBase)
}

// sinceSignOfLife is how long the peer has given no sign of life: neither a
// heartbeat nor a witness.
func (n *Node) sinceSignOfLife(p *peer) time.Duration {
	last := p.hbBase
	if p.witBase.After(last) {
		last = p.witBase
	}
	return n.now.Sub(last)
}

// witnessFresh: the witness showed the peer committing within the
// activation interval (again not counting our own stalls).
func (n *Node) witnessFresh(p *peer) bool {
	return !p.witBase.IsZero() && n.now.Sub(p.witBase) < n.cfg.ActivationInterval
}

// refused: the transport refused to pair with the peer recently (within
// the time its last refusal stands, not counting our own stalls).
func (n *Node) refused(p *peer) bool {
	return !p.refBase.IsZero() && n.now.Sub(p.refBase) < p.refusedFor
}

// refusalBlocks says whether a refused peer forbids activating for reason
// (concerning peer who). A refused peer is one we cannot hear and whose
// frames have other identities than ours: it may hold a slot without our
// knowing, so no slot counts as vacant for lack of a holder (no-active);
// and its silence or obituary says nothing, since we never had a session
// with it that could carry either (or the one we had is from before it
// was reconfigured). A handover is announced by a peer we hear, and a
// silence or obituary of another peer is judged as usual: the refused
// peer, refusing us in turn, does not activate on it either.
func (n *Node) refusalBlocks(reason Reason, who string) bool {
	switch reason {
	case ReasonNoActive:
		for _, id := range n.ids {
			if n.refused(n.peers[id]) {
				return true
			}
		}
	case ReasonSilence, ReasonObituary:
		p := n.peers[who]
		return p != nil && n.refused(p)
	}
	return false
}

func (n *Node) view(p *peer) view {
	switch {
	case p.dead:
		return viewDead
	case p.haveHB && n.silence(p) < n.cfg.ActivationInterval:
		return viewHeard
	case n.witnessFresh(p):
		return viewWitnessed
	case p.haveHB:
		return viewSilent
	}
	return viewUnknown
}

// claim returns the slot a peer holds as far as we can tell now.
func (n *Node) claim(p *peer) (int, bool) {
	switch n.view(p) {
	case viewHeard:
		if p.hb.Role.holdsSlot() {
			return p.hb.Slot, true
		}
	case viewWitnessed:
		return p.witnessSlot, true
	}
	return 0, false
}

func (n *Node) vacantSlots() []int {
	held := make([]bool, n.cfg.ActiveGoal)
	mark := func(s int) {
		if s >= 0 && s < len(held) {
			held[s] = true
		}
	}
	if n.role.holdsSlot() {
		mark(n.slot)
	}
	for _, id := range n.ids {
		if s, ok := n.claim(n.peers[id]); ok {
			mark(s)
		}
	}
	if s, ok := n.twinHolds(); ok {
		mark(s)
	}
	var vacant []int
	for s, h := range held {
		if !h {
			vacant = append(vacant, s)
		}
	}
	return vacant
}

// anyHolder names some member known to hold a slot, for refusals.
func (n *Node) anyHolder() string {
	for _, id := range n.ids {
		if _, ok := n.claim(n.peers[id]); ok {
			return id
		}
	}
	return ""
}

// selfReady: this member may be chosen to activate.
func (n *Node) selfReady() bool {
	return !n.holdingOff() && n.health.Kafka == KafkaOK
}

func (n *Node) holdingOff() bool {
	return n.now.Before(n.holdUntil) || n.handoverTo != ""
}

// notReady says why a peer may not be chosen to activate, or "". A peer
// silent for the preparation interval is not counted on: after an obituary
// the others would otherwise wait for a candidate that may itself be hung.
func (n *Node) notReady(p *peer) string {
	switch {
	case n.view(p) != viewHeard:
		return n.view(p).String()
	case n.silence(p) >= n.cfg.PreparationInterval:
		return "silent for " + n.silence(p).String()
	case p.hb.Role != RoleInactive:
		return "it is " + p.hb.Role.String()
	case p.hb.HoldOff:
		return "it is holding off"
	case p.hb.Kafka != KafkaOK:
		return "its kafka is failing"
	}
	return ""
}

// bestPeer returns the best-ranked ready peer satisfying ok.
func (n *Node) bestPeer(ok func(*peer) bool) *peer {
	var best *peer
	for _, id := range n.ids {
		p := n.peers[id]
		if n.notReady(p) != "" || !ok(p) {
			continue
		}
		if best == nil || rankLess(p.hb.Feed, p.hb.Weight, p.id, best.hb.Feed, best.hb.Weight, best.id) {
			best = p
		}
	}
	return best
}

// rankLess orders candidates: clean feed first, then higher weight, then
// lower member id.
func rankLess(fa FeedState, wa int, ida string, fb FeedState, wb int, idb string) bool {
	if c := cmp.Compare(feedScore(fb), feedScore(fa)); c != 0 {
		return c < 0
	}
	if wa != wb {
		return wa > wb
	}
	return ida < idb
}

// peerRanksFirst breaks a tie between this member and p by weight and id.
func (n *Node) peerRanksFirst(p *peer) bool {
	if p.hb.Weight != n.cfg.Weight {
		return p.hb.Weight > n.cfg.Weight
	}
	return p.id < n.cfg.MemberID
}

type candidate struct {
	id     string
	feed   FeedState
	weight int
}

// assign decides which vacant slot, if any, this member should take. Every
// ready member runs the same computation on (nearly) the same view, so they
// agree without talking: slots announced in a handover go to their named
// successors; the others go, in slot order, to the ready inactive members in
// rank order.
func (n *Node) assign(vacant []int) (int, bool) {
	if !n.selfReady() || n.role != RoleInactive {
		return 0, false
	}
	me := n.cfg.MemberID
	cands := []candidate{{me, n.health.Feed, n.cfg.Weight}}
	for _, id := range n.ids {
		p := n.peers[id]
		if n.notReady(p) == "" {
			cands = append(cands, candidate{id, p.hb.Feed, p.hb.Weight})
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if rankLess(a.feed, a.weight, a.id, b.feed, b.weight, b.id) {
			return -1
		}
		return 1
	})

	free := slices.Clone(vacant)
	taken := map[string]bool{}
	for _, id := range n.ids {
		q := n.peers[id]
		to := q.hb.HandoverTo
		if to == "" || n.view(q) != viewHeard || q.hb.Role != RoleInactive || taken[to] {
			continue
		}
		i := slices.Index(free, q.hb.Slot)
		if i < 0 || !slices.ContainsFunc(cands, func(c candidate) bool { return c.id == to }) {
			continue
		}
		if to == me {
			return q.hb.Slot, true
		}
		taken[to] = true
		free = slices.Delete(free, i, i+1)
	}
	i := 0
	for _, c := range cands {
		if taken[c.id] {
			continue
		}
		if i >= len(free) {
			break
		}
		if c.id == me {
			return free[i], true
		}
		i++
	}
	return 0, false
}

// vacancyReason explains why slot s is free: handed to us, its holder died
// or went silent, or nobody is known to have held it.
func (n *Node) vacancyReason(s int) (Reason, string) {
	for _, id := range n.ids {
		q := n.peers[id]
		if n.view(q) == viewHeard && q.hb.Role == RoleInactive && q.hb.HandoverTo == n.cfg.MemberID && q.hb.Slot == s {
			return ReasonHandover, id
		}
	}
	var last *peer
	var lastTerm uint64
	for _, id := range n.ids {
		p := n.peers[id]
		v := n.view(p)
		if v != viewDead && v != viewSilent && v != viewUnknown {
			continue
		}
		switch {
		case p.haveHB && p.hb.Role.holdsSlot() && p.hb.Slot == s:
		case !p.haveHB && !p.witnessAt.IsZero() && p.witnessSlot == s:
		default:
			continue
		}
		if last == nil || p.hb.Term >= lastTerm {
			last, lastTerm = p, p.hb.Term
		}
	}
	switch {
	case last == nil:
		return ReasonNoActive, ""
	case last.dead:
		return ReasonObituary, last.id
	}
	return ReasonSilence, last.id
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
	if !n.sentAny || !n.now.Before(n.nextHB) || adv != n.lastAdv {
		n.seq++
		hb := adv
		hb.Seq = n.seq
		n.emit(SendHeartbeat{Heartbeat: hb})
		n.lastAdv, n.sentAny = adv, true
		n.nextHB = n.now.Add(n.cfg.HeartbeatInterval)
		n.greet = n.greet[:0]
	}
	for _, id := range n.greet {
		n.seq++
		hb := adv
		hb.Seq = n.seq
		n.emit(SendHeartbeat{To: id, Heartbeat: hb})
	}
	n.greet = n.greet[:0]
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
