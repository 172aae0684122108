package ftpair

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

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
		if t := n.bestPeer(func(p *peer) bool { return p.hb.Feed == FeedOK && n.heardSteadily(p) }); t != nil {
			n.deactivate(ReasonFeed, true, t.id, fmt.Sprintf("feed %s, %s reports a clean feed", n.health.Feed, t.id))
			return
		}
	}

	// A heavier member asks for our slot (its Preempt is on).
	if t := n.bestPeer(func(p *peer) bool {
		return p.hb.TakeoverFrom == n.cfg.MemberID && p.hb.Weight > n.cfg.Weight &&
			feedScore(p.hb.Feed) >= feedScore(n.health.Feed) && n.heardSteadily(p)
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

// silence is how long the peer has not been heard, not counting time this
// process itself was stalled.
func (n *Node) silence(p *peer) time.Duration {
	return n.now.Sub(p.hbBase)
}

// heardSteadily: the peer has been heard without a break, and this process
// has not stalled, for the preparation interval. A planned hand-over that
// acts on what a peer says of itself (its clean feed, its request for the
// slot) waits for that: after a cut link or a stall of ours, the
// heartbeats held back meanwhile arrive in a burst, each stamped fresh on
// arrival, and the first can report a feed the peer has since lost; right
// after a stall, even the last heartbeat from before it counts as fresh.
// By the end of the preparation interval the burst has drained and the
// peer's current heartbeats rule.
func (n *Node) heardSteadily(p *peer) bool {
	return n.now.Sub(n.steadySince(p)) >= n.cfg.PreparationInterval
}

// steadySince is when the peer's current unbroken run of heartbeats began,
// or this process's last stall ended, whichever is later.
func (n *Node) steadySince(p *peer) time.Time {
	return latest(p.heardSince, n.lastStall)
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
