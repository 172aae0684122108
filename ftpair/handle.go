package ftpair

import (
	"fmt"
	"slices"
	"time"
)

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

// run is the incarnation of the peer's run on record: that of its last
// heartbeat taken or, while it has never been heard, the one its last
// commit seen through Kafka named (0: none named).
func (p *peer) run() uint64 {
	if p.haveHB {
		return p.hb.Incarnation
	}
	return p.witnessInc
}

// runOver reports whether the peer's run on record has ended as far as
// this member can tell: it was buried (an obituary), or it has not been
// heard for the activation interval, measured as every silence is (this
// process's own stalls do not count). A run known only from its commits
// ends when they have not been seen for that long. Only then is another
// incarnation taken for the peer restarted, whether it is larger or
// smaller: incarnations come from the peer's wall clock, which may have
// been stepped back between two runs (a host without a battery clock that
// restores its last saved time, one without NTP, a restored snapshot, an
// NTP correction), so their order cannot tell the later run. While the run
// on record is heard, a message of another incarnation is a late one of an
// earlier run's connection.
func (n *Node) runOver(p *peer) bool {
	switch {
	case p.dead:
		return true
	case p.haveHB:
		return n.silence(p) >= n.cfg.ActivationInterval
	}
	return !n.witnessFresh(p)
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
	restarted := false
	switch run := p.run(); {
	case !p.haveHB && run == 0: // nothing on record
	case hb.Incarnation == run:
		if p.haveHB && hb.Seq <= p.hb.Seq {
			n.counters.StaleHeartbeats++
			return
		}
	case !n.runOver(p):
		n.counters.StaleHeartbeats++
		return
	default:
		restarted = true
	}
	// A new process: forget the old one's witness and episode. Commits
	// that named the new run are its own.
	if restarted {
		p.suppressed = false
	}
	if p.witnessInc != hb.Incarnation && (restarted || p.witnessInc != 0) {
		p.witnessAt, p.witBase = time.Time{}, time.Time{}
	}
	// The first heartbeat after a break may open a burst that a cut link
	// (a proxy holding the bytes) or our own stall held back: what it says
	// can be seconds old, and only the heartbeats after it tell what the
	// peer says now. The gap is measured from the real arrival (heardAt,
	// not hbBase), so a stall of ours that long is a break too
	// (steadySince covers shorter ones).
	if !p.haveHB || restarted || n.now.Sub(p.heardAt) > 2*n.cfg.HeartbeatInterval {
		p.heardSince = n.now
	}
	if restarted || p.haveHB && p.hb.Incarnation != hb.Incarnation {
		p.ackSeq = 0
	}
	for _, h := range hb.Heard {
		if h.From == n.cfg.MemberID && h.Incarnation == n.inc && h.Seq <= n.seq {
			p.ackSeq = max(p.ackSeq, h.Seq)
		}
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
	if run := p.run(); e.Incarnation != 0 && run != 0 && e.Incarnation != run {
		// The connection of another run than the one on record: an
		// earlier run's, or one never taken (its heartbeats came while
		// the run on record was heard). Its end says nothing of the run
		// on record.
		return
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
	run := p.run()
	other := e.Incarnation != 0 && e.Incarnation != run
	if other && run != 0 && !n.runOver(p) {
		return // records of another run while the one on record lives: an earlier run's
	}
	if p.dead {
		// Records the dead process committed just before it died may still
		// be echoing. A record of another incarnation, or (when records do
		// not say) one seen an activation interval after the obituary, comes
		// from a new run. A record of the buried run's own, or of no
		// stated run, seen after this member was fenced since the peer
		// last spoke, shows the peer alive: someone took the lock after
		// that, and the peer still committing is that someone (its
		// connection was closed by the network, not by its death). The
		// fence may be noticed before the obituary or after it, and the
		// peer's first commits seen before either: a cut closes both ends
		// at once, the peer activates on its own obituary, and this member
		// learns of the fence at its next commit, which may come before
		// its link reader sees the close. (A peer never heard spoke last
		// in its last commit seen.)
		lastSpoke := p.heardAt
		if !p.haveHB {
			lastSpoke = p.witnessAt
		}
		alive := other ||
			e.Incarnation == 0 && n.now.Sub(p.deadAt) >= n.cfg.ActivationInterval ||
			n.fencedAt.After(lastSpoke)
		if !alive {
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
