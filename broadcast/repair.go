package broadcast

import (
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
)

// Repair from the peer (decision 0011). When the active's own port may
// have lost frames (ingest.Hole: it reopened, its framer dropped input,
// its line was quiet), the active holds back the frames it read after the
// hole, asks its peer over the pair link for the frames the peer read
// around it, and publishes those the hole lacks (backlog.FillHole) before
// the held ones. The peer answers once its own port has passed the hole.
// If no answer comes within backlog.repair_timeout, the held frames go out
// and the hole is reported unrepaired. The pipeline only encodes and
// decodes the messages; the member carries them (Options.SendRepair,
// Pipeline.HandleRepair).

// RepairMessageMax is the default bound on one repair message's size, what
// the pair link carries in one sealed message with room to spare.
const RepairMessageMax = 3900

const (
	repairRequest byte = 1
	repairAnswer  byte = 2

	answerLast      byte = 1 // the last chunk of an answer
	answerTruncated byte = 2 // the peer held more than an answer may carry
	// answerEarly: sent at pendingAnswer.latest, before the answering
	// member's port had passed the hole; frames of it may still come.
	answerEarly byte = 4

	peerExact    byte = 1
	peerPossible byte = 2

	requestLen      = 1 + 8 + 8 + 4*8
	answerHeaderLen = 1 + 8 + 8 + 8 + 2 + 1 + 2
	peerFrameHeader = 1 + 8 + 8 + 8 + 8 + 8 + 2

	// recentFrames is how many of its latest frames a member remembers
	// for the side of a hole before it.
	recentFrames = 512
	// Bounds on one answer: a longer hole is reported, not repaired.
	maxRepairFrames = 4096
	maxRepairBytes  = 1 << 20
	// maxHoles bounds the holes an active holds frames back for at once;
	// past it, a new hole is reported unrepaired at once.
	maxHoles = 64
)

// Unrepaired hole reasons, labels of feedd_broadcast_holes_unrepaired_total.
const (
	UnrepairedNoPeer    = "no_peer"   // no peer to ask: the link is down or there is none
	UnrepairedTimeout   = "timeout"   // the peer's answer did not come in time
	UnrepairedTruncated = "truncated" // the peer held more than an answer may carry
	UnrepairedBusy      = "busy"      // too many holes at once
	// UnrepairedPeerLacks: the peer answered, but the feed's sequence
	// numbers say frames of the hole are still missing: both ports lost
	// them (HoleReport.MissingSeq counts them).
	UnrepairedPeerLacks = "peer_lacks"
)

// HoleMissed is the kind of a hole the cross-check found (crosscheck.go):
// the peer read a frame this member's port did not, and left no sign.
const HoleMissed = "missed"

// HoleStart is the kind of the hole before the start of this member's own
// stream (checkStart): its port's first frames, which no sign precedes.
const HoleStart = "start"

// UnrepairedReasons lists them, for metrics.
var UnrepairedReasons = []string{UnrepairedNoPeer, UnrepairedTimeout, UnrepairedTruncated, UnrepairedBusy, UnrepairedPeerLacks}

// HoleReport describes the latest hole in this member's stream while it was
// active, for /status.
type HoleReport struct {
	At time.Time `json:"at"`
	// Kind is what showed the hole: reopened, dropped, sequence or quiet
	// (ingest.Hole), missed (HoleMissed), or start (HoleStart).
	Kind string `json:"kind"`
	// Span is the line time between the last frame before the hole and the
	// first after it, as this member's port bounds it.
	Span time.Duration `json:"span"`
	// Repaired is how many frames the peer supplied for it, of which
	// Possible were marked as possible duplicates.
	Repaired int `json:"repaired"`
	Possible int `json:"possible"`
	// InTopic is how many frames of the hole the peer supplied that the
	// topic held already: this member had read their echoes (a member
	// that published before it), so they were not published again.
	InTopic int `json:"in_topic,omitempty"`
	// Unrepaired is why the peer's frames could not be had, empty when
	// they were.
	Unrepaired string `json:"unrepaired,omitempty"`
	// MissingSeq is, on a feed with sequence numbers, how many numbers
	// between the two sides of the hole are still missing after the
	// repair (counting numbers that step by one).
	MissingSeq uint64 `json:"missing_seq,omitempty"`
	// Held is how long the frames after the hole were held back.
	Held time.Duration `json:"held"`
}

type recentFrame struct {
	pos uint64
	s   backlog.Sighting
	// For a peer frame: the peer's ring and its position there, which
	// tell the same frame in a later answer for certain.
	peerRing, peerPos uint64
	// matched: one of the peer's sightings was matched with this own
	// frame (crosscheck.go). unchecked: this own frame went out without
	// the peer's sightings, so a sighting that may be it comes too late
	// to be compared with it (tooLate).
	matched, unchecked bool
	// For a peer frame, withdrawn: the activation that published it ended
	// before a commit of it was known (withdrawFills), so it is not part
	// of the published stream; uncertain: that commit's outcome is
	// unknown, so the topic may hold it after all.
	withdrawn, uncertain bool
	// marked: a peer frame published marked as a possible duplicate.
	marked bool
}

// peerFrame is one frame of a peer's answer.
type peerFrame struct {
	s        backlog.Sighting // window on the peer's clock until converted
	pos      uint64           // in the peer's ring
	possible bool
	data     []byte
	rx       int64 // wall time the peer read it, unix nanoseconds (the record's feedd-rx)
}

// hole is a hole in this member's stream while it is active.
type hole struct {
	id     uint64
	pos    uint64 // ring position of the first frame after the hole
	kind   ingest.Hole
	missed bool // found by the cross-check: the peer read a frame this port did not
	// start: the hole before this member's own stream (checkStart); the
	// frames published before it are the topic's, not this member's.
	start bool
	// need are the peer's sightings the cross-check found missing here
	// (converted to this host's clock): the fill reaches to each.
	need []backlog.Sighting
	// to is the window the request asks up to: the frame after the hole's,
	// or later, to the last of need.
	to     backlog.Window
	before *backlog.Sighting
	// own are this member's frames before the hole when it opened
	// (repairs.ownBefore), newest last.
	own      []backlog.Sighting
	after    backlog.Sighting
	asked    time.Time // when it was first asked about
	deadline time.Time
	// requested: a request for it reached the link at least once.
	requested bool

	clock     uint64 // the answering host's clock
	ring      uint64 // the answering pipeline's ring (Pipeline.ringID)
	got       []peerFrame
	chunks    uint16
	complete  bool
	truncated bool
	// early: the answer taken was sent before the peer's port had passed
	// the hole (answerEarly). askedAfterEarly: the hole was asked about
	// again for that; fallback is that early answer, decided if no later
	// one comes.
	early           bool
	askedAfterEarly bool
	fallback        *takenAnswer

	decided bool
	fill    []peerFrame
	// inTopic are the peer's frames of the hole whose echoes this member
	// read: published already, by a member before it.
	inTopic []backlog.Sighting
	// next is the fill frame to produce next; committed, how many of them
	// went out in committed transactions (an aborted one replays the rest).
	next, committed int
}

// pendingAnswer is a peer's request this member answers once its port has
// passed the hole.
type pendingAnswer struct {
	from     string
	id       uint64
	lo, hi   int64 // the hole on this host's clock: frames between are sent
	fromKnwn bool
	latest   int64 // host clock: answer by then whatever the port did
}

type repairs struct {
	recent  [recentFrames]recentFrame
	nrecent int
	// filled are the latest peer frames published in holes, each with
	// its hole's position: part of the published stream a later hole is
	// compared with, and what held frames may repeat.
	filled  [recentFrames]recentFrame
	nfilled int
	fillHi  int64 // the latest line time of any filled frame
	nextID  uint64
	holes   []*hole
	// ringHoles are holes in this member's stream while it was not
	// publishing: repaired when it activates, if their frames are still
	// in its ring (a committed frame trimmed them otherwise).
	ringHoles []ringHole
	answers   []*pendingAnswer
	// firstPos is the ring position of the first frame this member's port
	// delivered and the ring kept (0: none yet). startPending: the
	// activation found the ring empty; its first frame starts the stream.
	firstPos     uint64
	startPending bool
	// topic holds the latest data records read back from the topic, in
	// topic order, the newest at ntopic-1: what was published before the
	// start of this member's stream. unseenHi: records of frames that
	// ended on the line before it may be in the topic unseen (the echo
	// started reading after them).
	topic    [recentFrames]backlog.Sighting
	ntopic   int
	unseenHi int64
	timer    *time.Timer
	armed    time.Time
	logAt    time.Time
	last     *HoleReport
	wide     int64          // the widest window of the recent frames, for the port's latency
	lost     backlog.Window // the newest own frame no longer remembered
}

// forgotten returns the window of the newest own frame that is no longer
// among the recent ones; ok is false while every frame is remembered.
func (r *repairs) forgotten() (w backlog.Window, ok bool) {
	return r.lost, r.nrecent > recentFrames
}

func (r *repairs) remember(pos uint64, f *backlog.Frame) {
	i := r.nrecent % recentFrames
	if r.nrecent >= recentFrames {
		r.lost = r.recent[i].s.Win
	}
	r.recent[i] = recentFrame{pos: pos, s: backlog.Sighting{ID: f.ID, Exact: f.Exact, Win: f.Win, Size: len(f.Data)}}
	r.nrecent++
	if f.Win.Known() {
		w := f.Win.Hi - f.Win.Lo
		// The widest of the recent windows, decaying so one slow read
		// does not stretch every repair for ever.
		r.wide = max(w, r.wide-r.wide/recentFrames)
	}
}

// ownBefore returns this member's own frames before pos, oldest first, as
// many as it remembers: the latest frames its port delivered, and where
// those do not reach back to pos (a hole found late, or one in the ring an
// activation flushes), the ring's entries before it. A hole keeps them from
// when it opens: by the time the peer answers, the port may have delivered
// more frames than are remembered, and a fill compared with fewer frames
// before the hole would take the peer's copies of published frames for
// frames of the hole.
func (r *repairs) ownBefore(pos uint64, ring *backlog.Ring) []backlog.Sighting {
	n := min(r.nrecent, recentFrames)
	var recent []backlog.Sighting
	firstRecent := pos // the position of the oldest remembered frame before pos
	for k := r.nrecent - n; k < r.nrecent; k++ {
		if f := r.recent[k%recentFrames]; f.pos < pos {
			if len(recent) == 0 {
				firstRecent = f.pos
			}
			recent = append(recent, f.s)
		}
	}
	want := recentFrames - len(recent)
	if want == 0 || ring == nil {
		return recent
	}
	var older []backlog.Sighting
	from := uint64(1)
	if firstRecent > uint64(want) {
		from = firstRecent - uint64(want)
	}
	if e, ok := ring.Oldest(); ok {
		from = max(from, e.Pos)
	}
	for e, ok := ring.Get(from); ok && e.Pos < firstRecent; e, ok = ring.Next(e.Pos) {
		older = append(older, backlog.Sighting{ID: e.ID, Exact: e.Exact, Win: e.Win, Size: len(e.Data)})
	}
	return append(older, recent...)
}

// before returns the frames published before the hole at pos: own, this
// member's own frames before it (ownBefore, newest last), with the peer
// frames published in earlier holes between them.
func (r *repairs) before(own []backlog.Sighting, pos uint64) []backlog.Sighting {
	if len(own) < 2 {
		return own
	}
	out := make([]backlog.Sighting, 0, len(own)+min(r.nfilled, recentFrames))
	out = append(out, own[:len(own)-1]...)
	for k := r.nfilled - min(r.nfilled, recentFrames); k < r.nfilled; k++ {
		if f := r.filled[k%recentFrames]; f.pos < pos && !f.withdrawn {
			out = append(out, f.s)
		}
	}
	return append(out, own[len(own)-1])
}

// fill remembers a peer frame published in the hole at pos, marked or
// not as a possible duplicate.
func (r *repairs) fill(pos uint64, s backlog.Sighting, ring, peerPos uint64, marked bool) {
	r.filled[r.nfilled%recentFrames] = recentFrame{pos: pos, s: s, peerRing: ring, peerPos: peerPos, marked: marked}
	r.nfilled++
	r.fillHi = max(r.fillHi, s.Win.Hi)
}

// filledAlready reports whether the peer frame at peerPos of ring was
// published in an earlier hole (already), or was published by an
// activation that ended not knowing whether its commit took (uncertain:
// published again, it is a possible duplicate).
func (r *repairs) filledAlready(ring, peerPos uint64) (already, uncertain bool) {
	for k := r.nfilled - min(r.nfilled, recentFrames); k < r.nfilled; k++ {
		if f := r.filled[k%recentFrames]; f.peerRing == ring && f.peerPos == peerPos {
			if !f.withdrawn {
				return true, false
			}
			uncertain = uncertain || f.uncertain
		}
	}
	return false, uncertain
}

// withdrawFills takes back the fill frames of the holes of an activation
// that ended: those not known to be committed are no longer part of the
// published stream, so that the same member, activating again, asks its
// peer for them again and publishes them (a record of an aborted
// transaction is never read). With unknown, the last commit's outcome is
// not known: what it held may be on the topic, and goes out again marked as
// a possible duplicate rather than not at all. It returns the holes whose
// frames must be asked for again.
func (r *repairs) withdrawFills(unknown bool) []ringHole {
	var again []ringHole
	for _, h := range r.holes {
		for i, f := range h.fill {
			if i < h.committed {
				continue
			}
			r.withdraw(h.ring, f.pos, unknown && i < h.next)
		}
		if !h.start && (!h.decided || h.committed < len(h.fill)) {
			// The start of the stream is checked again by every
			// activation (checkStart).
			again = append(again, ringHole{pos: h.pos, kind: h.kind})
		}
	}
	return again
}

// withdraw marks the fill frame at peerPos of ring withdrawn.
func (r *repairs) withdraw(ring, peerPos uint64, uncertain bool) {
	for k := r.nfilled - min(r.nfilled, recentFrames); k < r.nfilled; k++ {
		if f := &r.filled[k%recentFrames]; f.peerRing == ring && f.peerPos == peerPos && !f.withdrawn {
			f.withdrawn, f.uncertain = true, uncertain
		}
	}
}

// mayRepeatFill reports whether e, a frame of this member's read after a
// hole, may be one the peer supplied for that hole (or an earlier one) and
// published before it: a frame the peer's windows could not place before
// or after the hole's end goes out in the hole, and the member's own copy
// then is marked too.
//
// So is a frame whose identity the fills hold once, within backlog.NumberedLate
// of that copy, unmarked: a port that delivered later than its latency
// bound and the margin together (a loaded host starving the reader or, on
// a pseudo-terminal, the process that feeds it) shifts its windows past the
// peer's copies, and the cross-check then takes frames it was only late
// with for frames it missed. A sentence with a time stamp comes once; an
// identity the fills hold more than once repeats on the line, and a window
// that far off cannot be told from its next copy. A fill copy published
// marked (the peer's port was the late one, backlog.HoleRules.Late)
// carries the mark for both: this copy stays unmarked, in its place.
func (r *repairs) mayRepeatFill(e backlog.Entry, margin int64) bool {
	late := margin + int64(backlog.NumberedLate)
	if e.Win.Lo != backlog.NoLo && e.Win.Lo-late > r.fillHi {
		return false // after every filled frame: the common case, at once
	}
	own := backlog.Sighting{ID: e.ID, Exact: e.Exact, Win: e.Win}
	copies, lateCopy := 0, false
	for k := r.nfilled - min(r.nfilled, recentFrames); k < r.nfilled; k++ {
		f := r.filled[k%recentFrames]
		if f.withdrawn && !f.uncertain {
			continue // certainly never on the topic
		}
		if f.pos > e.Pos || f.s.ID != e.ID || f.s.Exact != e.Exact {
			continue
		}
		if f.s.MayBe(own, margin) {
			return true
		}
		copies++
		lateCopy = lateCopy || !f.marked && f.s.MayBe(own, late)
	}
	return copies == 1 && lateCopy
}

// seeTopic remembers a data record read back from the topic.
func (r *repairs) seeTopic(s backlog.Sighting) {
	r.topic[r.ntopic%recentFrames] = s
	r.ntopic++
}

// topicTail returns the latest records read back from the topic, oldest
// first.
func (r *repairs) topicTail() []backlog.Sighting {
	n := min(r.ntopic, recentFrames)
	out := make([]backlog.Sighting, 0, n)
	for k := r.ntopic - n; k < r.ntopic; k++ {
		out = append(out, r.topic[k%recentFrames])
	}
	return out
}

// lastTopic returns the latest record read back from the topic, if any.
func (r *repairs) lastTopic() *backlog.Sighting {
	if r.ntopic == 0 {
		return nil
	}
	s := r.topic[(r.ntopic-1)%recentFrames]
	return &s
}

// forgetTopic forgets the records read back: the topic was created again.
func (r *repairs) forgetTopic() {
	r.ntopic, r.unseenHi = 0, 0
}

// portLag is how long after a line time this member's port has surely
// delivered the frame ending then: its latency, as wide as its recent
// windows, plus the pass margin for a port slower than its bound.
func (p *Pipeline) portLag() int64 {
	return min(p.rep.wide, int64(time.Second)) + int64(p.ringLimits.PassMargin)
}

// portThrough returns the time before which this member's port has handed
// over every frame that ended on the line, on the host clock, with the pass
// margin kept for a port slower than its bound.
func (p *Pipeline) portThrough(now int64) int64 {
	if p.opt.ReadThrough != nil {
		if t := p.opt.ReadThrough(); t != 0 {
			return min(t, now) - int64(p.ringLimits.PassMargin)
		}
		return backlog.NoLo
	}
	return now - p.portLag()
}

// readThrough returns the time before which every frame this member's port
// delivered that ended on the line is in the ring, as of the last drain:
// what decides on it now drains first.
func (p *Pipeline) readThrough() int64 { return p.drainedThrough }

// portEnded reports whether this member's port was closed at the last
// drain: the frames it delivers once open again, even those that ended on
// the line while it was closed (a device or pseudo-terminal may keep bytes
// until it is opened), come after every frame it held, with a hole of
// their own. A hole held while the port was open can be decided with the
// frames it did deliver; waiting for the port to pass it would hold them
// until the port came back, and a planned hand-over (a port closed is a
// quiet feed) would leave them in this member's ring, where the next
// active cannot reach them. A peer's request is not answered on it: the
// hole it asks about may reach past the close, into frames the port
// delivers once open again.
func (p *Pipeline) portEnded() bool { return p.drainedClosed }

// delivered reports whether this member's port has certainly delivered
// every frame that ended on the line by t.
func (p *Pipeline) delivered(t int64) bool {
	return p.passed(t) || p.readThrough() > t
}

type ringHole struct {
	pos  uint64
	kind ingest.Hole
}

// startRepair handles a frame that follows a hole in this member's stream.
func (p *Pipeline) startRepair(pos uint64, f *backlog.Frame, kind ingest.Hole) {
	a := p.act
	if p.opt.SendRepair == nil {
		return
	}
	if a == nil || a.phase == phaseSyncing || a.phase == phaseFencing {
		// Not publishing yet: the frames before it may still be
		// published by another member, or by this one when it activates.
		p.keepRingHole(ringHole{pos, kind})
		return
	}
	if a.stopping {
		return
	}
	p.askPeer(pos, f, kind, nil)
}

// keepRingHole remembers a hole in the ring for the next activation.
func (p *Pipeline) keepRingHole(rh ringHole) {
	if len(p.rep.ringHoles) == maxHoles {
		// Forget the holes the ring has trimmed, or else the oldest.
		oldest, _ := p.ring.Oldest()
		kept := p.rep.ringHoles[:0]
		for _, old := range p.rep.ringHoles {
			if old.pos >= oldest.Pos {
				kept = append(kept, old)
			}
		}
		p.rep.ringHoles = kept
		if len(kept) == maxHoles {
			p.rep.ringHoles = kept[1:]
		}
	}
	p.rep.ringHoles = append(p.rep.ringHoles, rh)
}

// startMissedRepair handles frames the peer read and this member's port
// did not (the peer's sightings), found by the cross-check: the hole goes
// before e, a held frame at pos.
func (p *Pipeline) startMissedRepair(pos uint64, e backlog.Entry, need []backlog.Sighting) {
	if a := p.act; a == nil || a.stopping || p.opt.SendRepair == nil {
		return
	}
	p.askPeer(pos, &backlog.Frame{ID: e.ID, Exact: e.Exact, Win: e.Win, Data: e.Data}, ingest.NoHole, need)
}

// askPeer asks the peer for the frames of the hole before the frame f at
// pos, and holds back what follows until its answer is decided. need is
// the peer's sightings the cross-check found missing there, if it did.
func (p *Pipeline) askPeer(pos uint64, f *backlog.Frame, kind ingest.Hole, need []backlog.Sighting) {
	p.c.Holes++
	now := time.Now()
	h := &hole{
		id: p.rep.nextID, pos: pos, kind: kind, missed: need != nil,
		own:   p.rep.ownBefore(pos, p.ring),
		after: backlog.Sighting{ID: f.ID, Exact: f.Exact, Win: f.Win, Size: len(f.Data)},
		to:    f.Win,
		asked: now, deadline: now.Add(p.ringLimits.RepairTimeout),
	}
	if len(h.own) > 0 {
		h.before = &h.own[len(h.own)-1]
	}
	h.need = need
	for _, s := range need {
		h.to.Hi = max(h.to.Hi, s.Win.Hi)
	}
	p.rep.nextID++
	if len(p.rep.holes) >= maxHoles {
		p.unrepaired(h, UnrepairedBusy, now)
		return
	}
	if heard, _, _ := p.peerHeardWithin(now, p.ringLimits.RepairPatience); !p.request(h) && !heard {
		p.unrepaired(h, UnrepairedNoPeer, now)
		return
	}
	// Sent, or the link is down but the peer was heard lately: it may
	// come back with the frames (askAgain), and a peer that died a moment
	// ago may start again within backlog.repair_timeout and read them
	// (its new process reads the line from its start).
	p.holdFor(h)
}

// request sends the request for h; it reports whether the link took it.
func (p *Pipeline) request(h *hole) bool {
	if !p.opt.SendRepair("", encodeRequest(h)) {
		return false
	}
	if !h.requested {
		p.c.RepairRequests++
	}
	h.requested = true
	return true
}

// peerHeardWithin reports whether the peer was heard on the pair link
// within d before now, whether it is gone since, and whether this member
// replaced it since (Options.PeerHeard).
func (p *Pipeline) peerHeardWithin(now time.Time, d time.Duration) (heard, gone, replaced bool) {
	if p.opt.PeerHeard == nil {
		return false, false, false
	}
	at, gone, replaced := p.opt.PeerHeard()
	return !at.IsZero() && now.Sub(at) < d, gone, replaced
}

// askAgain handles a hole whose answer did not come by its deadline. While
// the peer was heard within backlog.repair_patience and is not gone, and
// the hole is no older than that, the peer may still hold its frames (a
// pair link cut while both members live, a peer starved of the processor,
// a peer that died and has started again): the hole stays held and the
// peer is asked again, under a new request id so that what a late answer
// to the old one brings is not mixed in. A peer this member replaced
// because it fell silent is asked again only for a hole that certainly
// lost frames: for a quiet line, which may have lost nothing, the stream
// would stall on a stopped process for nothing. It reports whether it
// did so.
func (p *Pipeline) askAgain(h *hole, now time.Time) bool {
	patience := p.ringLimits.RepairPatience
	heard, gone, replaced := p.peerHeardWithin(now, patience)
	if now.Sub(h.asked) >= patience || !heard || gone || replaced && h.kind == ingest.HoleQuiet {
		return false
	}
	h.id = p.rep.nextID
	p.rep.nextID++
	h.got, h.chunks, h.complete, h.truncated, h.early = nil, 0, false, false, false
	h.deadline = now.Add(p.ringLimits.RepairTimeout)
	p.c.RepairRequestsAgain++
	p.request(h)
	return true
}

// holdFor keeps a hole whose request went out: what follows it is held
// back until its answer is decided.
func (p *Pipeline) holdFor(h *hole) {
	// Holes stay in ring order (repairHold walks them so): one the
	// cross-check finds may lie before one the port showed.
	i := len(p.rep.holes)
	for i > 0 && p.rep.holes[i-1].pos > h.pos {
		i--
	}
	p.rep.holes = append(p.rep.holes, nil)
	copy(p.rep.holes[i+1:], p.rep.holes[i:])
	p.rep.holes[i] = h
	p.armRepair()
}

// checkStart runs as an activation goes live. If this member's ring still
// holds the first frame its port delivered, or holds nothing and its port
// has delivered nothing yet, nothing shows that its stream follows on from
// the topic's end: ingest marks no hole before a port's first frame, so
// frames the peer read just before it (a port opened a moment later, a
// framer that drops what precedes the first frame boundary it is sure of)
// would never be asked for, and the peer would pass them over as skipped
// once this member's first commit came back to it. The start of the
// stream is therefore a hole, asked about like any other: the peer's ring
// is trimmed only by what the topic holds, so what it holds before this
// member's first frame is what the topic may lack. This is the case on a
// pair's first activation, and after a member started while its peer was
// active and took over before the peer's commits reached its first frame.
// After a take-over from a member that published up to here, the ring's
// first frames were trimmed, and each frame since follows one this member
// read: nothing is asked (and a dead peer could not answer).
func (p *Pipeline) checkStart() {
	p.rep.startPending = false
	if p.opt.SendRepair == nil {
		return
	}
	if p.rep.firstPos == 0 {
		p.rep.startPending = true
		return
	}
	if e, ok := p.ring.Oldest(); ok && e.Pos == p.rep.firstPos {
		p.askStart(e.Pos, &backlog.Frame{ID: e.ID, Exact: e.Exact, Win: e.Win, Data: e.Data})
	}
}

// askStart asks the peer for the frames its ring holds before f, this
// member's first, at pos: those after the latest record of the topic, or
// all it holds if none was read back. Without a feed sequence number, the
// request reaches a pass margin past f, so that a local frame the feed does
// not repeat there can be told among the peer's (backlog.FillStart). With
// no peer to ask, nothing is held and nothing is counted: there may well be
// no hole.
func (p *Pipeline) askStart(pos uint64, f *backlog.Frame) {
	if a := p.act; a == nil || a.stopping {
		return
	}
	now := time.Now()
	h := &hole{
		id: p.rep.nextID, pos: pos, start: true, before: p.rep.lastTopic(),
		after: backlog.Sighting{ID: f.ID, Exact: f.Exact, Win: f.Win, Size: len(f.Data)},
		to:    f.Win,
		asked: now, deadline: now.Add(p.ringLimits.RepairTimeout),
	}
	if !f.Exact {
		h.to.Hi += int64(p.ringLimits.PassMargin)
	}
	p.rep.nextID++
	if len(p.rep.holes) >= maxHoles {
		p.unrepaired(h, UnrepairedBusy, now)
		return
	}
	if !p.opt.SendRepair("", encodeRequest(h)) {
		p.log.Debug("no peer to ask for what it read before this member's first frame")
		return
	}
	p.c.RepairStartChecks++
	p.holdFor(h)
}

// Unrepaired returns the count of holes left unrepaired for reason why.
func (c Counters) Unrepaired(why string) uint64 {
	switch why {
	case UnrepairedNoPeer:
		return c.UnrepairedNoPeer
	case UnrepairedTimeout:
		return c.UnrepairedTimeout
	case UnrepairedTruncated:
		return c.UnrepairedTruncated
	case UnrepairedBusy:
		return c.UnrepairedBusy
	case UnrepairedPeerLacks:
		return c.UnrepairedPeerLacks
	}
	return 0
}

// startRingRepairs asks the peer about the holes in the ring an
// activation is about to flush.
func (p *Pipeline) startRingRepairs() {
	pending := p.rep.ringHoles
	p.rep.ringHoles = nil
	oldest, ok := p.ring.Oldest()
	for _, rh := range pending {
		if !ok || rh.pos < oldest.Pos {
			continue // trimmed: a committed frame came after it
		}
		if len(p.rep.holes) > 0 && p.rep.holes[0].start && p.rep.holes[0].pos == rh.pos {
			continue // the start of the stream is asked about already, from further back
		}
		if e, ok := p.ring.Get(rh.pos); ok {
			p.startRepair(rh.pos, &backlog.Frame{ID: e.ID, Exact: e.Exact, Win: e.Win, Data: e.Data}, rh.kind)
		}
	}
}

// repairHold is consulted by produceMore before it produces the entry at
// pos: it returns a peer frame to produce first, or hold when nothing from
// pos on may be produced yet.
func (p *Pipeline) repairHold(pos uint64) (f *peerFrame, hold bool) {
	if p.crossCheckHold(pos) {
		return nil, true
	}
	for _, h := range p.rep.holes {
		if pos < h.pos {
			return nil, false
		}
		if !h.decided {
			return nil, true
		}
		if h.next < len(h.fill) {
			h.next++
			return &h.fill[h.next-1], false
		}
	}
	return nil, false
}

// repairsCommitted takes a commit of everything produced so far, through
// ring position last: the holes whose fill and first held frame are in the
// topic are done.
func (p *Pipeline) repairsCommitted(last uint64) {
	kept := p.rep.holes[:0]
	for _, h := range p.rep.holes {
		h.committed = h.next
		if !(h.decided && h.committed == len(h.fill) && h.pos <= last) {
			kept = append(kept, h)
		}
	}
	clear(p.rep.holes[len(kept):])
	p.rep.holes = kept
}

// repairsAborted takes an aborted transaction: the fill frames it held are
// produced again when the replay reaches their holes.
func (p *Pipeline) repairsAborted(unknown bool) { p.rep.aborted(unknown) }

// aborted rewinds every hole to its committed fill frames. With unknown,
// the failed commit may have gone through (an EndTxn whose answer was
// lost): those produced since go out again marked as possible duplicates,
// since unlike this member's own frames, which the echo read during the
// recovery trims, the peer's are not in its ring to be trimmed.
func (r *repairs) aborted(unknown bool) {
	for _, h := range r.holes {
		for i := h.committed; unknown && i < h.next; i++ {
			h.fill[i].possible = true
		}
		h.next = h.committed
	}
}

// dropHoles forgets the holes of an activation that ended: what was held
// stays in the ring, for whoever publishes next. A hole whose peer frames
// were not all committed is kept as one of the ring's, so that this member,
// if it is the one to publish next, asks for them again (withdrawFills);
// unknown says the last commit's outcome is not known.
func (p *Pipeline) dropHoles(unknown bool) {
	for _, rh := range p.rep.withdrawFills(unknown) {
		p.keepRingHole(rh)
	}
	clear(p.rep.holes)
	p.rep.holes = p.rep.holes[:0]
	p.rep.startPending = false
}

// armRepair sets the timer for the next repair event.
func (p *Pipeline) armRepair() {
	var next time.Time
	for _, h := range p.rep.holes {
		if !h.decided && (next.IsZero() || h.deadline.Before(next)) {
			next = h.deadline
		}
	}
	if len(p.rep.answers) > 0 || len(p.rep.holes) > 0 || p.crossCheckWaiting() {
		// Due times are on the host clock: poll them every few
		// milliseconds rather than convert.
		soon := time.Now().Add(5 * time.Millisecond)
		if next.IsZero() || soon.Before(next) {
			next = soon
		}
	}
	if p.crossCheckStreaming() && (next.IsZero() || p.xc.nextSend.Before(next)) {
		next = p.xc.nextSend
	}
	if next.IsZero() || !p.rep.armed.IsZero() && !p.rep.armed.After(next) {
		// Nothing to wait for, or the timer fires as soon already: reset
		// on every frame, it would never fire at all.
		return
	}
	p.rep.armed = next
	p.rep.timer.Reset(time.Until(next))
}
