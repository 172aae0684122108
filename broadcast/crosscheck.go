package broadcast

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/internal/tickgrid"
)

// Cross-check (decision 0012). A frame the active's port drops whole, on a
// feed without sequence numbers, leaves no sign on that port, so repair
// (repair.go) never asks for it. The inactive therefore streams its
// sightings (identity, line window, size: not the bytes) to the active over
// the pair link, with a watermark: every frame that ended on its line
// before it has been reported. The active holds each frame it reads until
// the watermark has passed it, matches the peer's sightings one to one
// with its own frames, and treats a peer sighting no own frame may be as a
// hole just before the first own frame not certainly behind it: the repair
// of that hole fetches the frame and places it. Without sightings from the
// peer (none connected, or it fell silent for backlog.repair_timeout) the
// active holds nothing back and counts what it published unchecked.

const (
	repairSightings byte = 3

	// sightingsEvery is how often a member streams its sightings while it
	// has sighted frames lately: the hold it adds to the active's
	// latency, besides the peer's port lag.
	sightingsEvery = 10 * time.Millisecond
	// sightingsBusyFor is how long after its last sighting, or the last
	// echo of a frame the active held, a member keeps streaming every
	// sightingsEvery (at least four pass margins: its watermark must pass
	// the last frames the active holds, and the window after them, at
	// that pace).
	sightingsBusyFor = time.Second
	// sightingsIdleEvery is how often a member that is not busy moves its
	// watermark (at most a quarter of backlog.repair_timeout, after which
	// the active takes the stream for gone): an idle line costs fewer
	// messages. The first frame the active holds after such a silence
	// waits up to this long for the watermark if this member's port did
	// not deliver it; a sighting, or the echo of a held frame, brings the
	// busy pace back at once.
	sightingsIdleEvery = 100 * time.Millisecond
	// sightingsRetry is how soon a stream opens again after the link
	// took no message (no peer connected, or its queue full).
	sightingsRetry = 100 * time.Millisecond

	sightingsHeaderLen = 1 + 8 + 8 + 8 + 8 + 8 + 2
	sightingLen        = 1 + 8 + 8 + 8 + 2 + 8

	// maxPeerSightings bounds the peer sightings waiting to be matched;
	// past it the coverage breaks and starts again.
	maxPeerSightings = 1 << 14
)

// sightingsMsg is one message of a member's sightings: every frame its
// port delivered since the previous message, and the watermark through:
// the frames that ended on the line before it (on the sender's clock) have
// all been reported, since from, the previous message's watermark.
type sightingsMsg struct {
	clock, seq, ring uint64
	from, through    int64
	seen             []peerSighting
}

// peerSighting is a frame the peer's port delivered: the frame as repair
// compares it, and its position in the peer's ring (0 if it did not keep
// it), which tells the same frame in a repair's answer for certain.
type peerSighting struct {
	backlog.Sighting
	pos uint64
}

func appendSightings(b []byte, m sightingsMsg) []byte {
	b = append(b, repairSightings)
	b = binary.BigEndian.AppendUint64(b, m.clock)
	b = binary.BigEndian.AppendUint64(b, m.seq)
	b = binary.BigEndian.AppendUint64(b, m.ring)
	b = binary.BigEndian.AppendUint64(b, uint64(m.from))
	b = binary.BigEndian.AppendUint64(b, uint64(m.through))
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.seen)))
	for _, s := range m.seen {
		var fl byte
		if s.Exact {
			fl |= peerExact
		}
		b = append(b, fl)
		b = binary.BigEndian.AppendUint64(b, s.ID)
		b = binary.BigEndian.AppendUint64(b, uint64(s.Win.Lo))
		b = binary.BigEndian.AppendUint64(b, uint64(s.Win.Hi))
		b = binary.BigEndian.AppendUint16(b, uint16(min(s.Size, 0xffff)))
		b = binary.BigEndian.AppendUint64(b, s.pos)
	}
	return b
}

func parseSightings(msg []byte) (sightingsMsg, error) {
	if len(msg) < sightingsHeaderLen || msg[0] != repairSightings {
		return sightingsMsg{}, fmt.Errorf("sightings of %d bytes", len(msg))
	}
	m := sightingsMsg{
		clock: binary.BigEndian.Uint64(msg[1:]), seq: binary.BigEndian.Uint64(msg[9:]), ring: binary.BigEndian.Uint64(msg[17:]),
		from: int64(binary.BigEndian.Uint64(msg[25:])), through: int64(binary.BigEndian.Uint64(msg[33:])),
	}
	n := int(binary.BigEndian.Uint16(msg[41:]))
	if len(msg) != sightingsHeaderLen+n*sightingLen {
		return sightingsMsg{}, fmt.Errorf("%d sightings in %d bytes", n, len(msg))
	}
	if m.through < m.from {
		return sightingsMsg{}, errors.New("sightings watermark goes back")
	}
	m.seen = make([]peerSighting, n)
	for i := range m.seen {
		r := msg[sightingsHeaderLen+i*sightingLen:]
		if r[0]&^peerExact != 0 {
			return sightingsMsg{}, fmt.Errorf("sighting flags %#x", r[0])
		}
		m.seen[i] = peerSighting{Sighting: backlog.Sighting{
			ID: binary.BigEndian.Uint64(r[1:]), Exact: r[0]&peerExact != 0,
			Win:  backlog.Window{Lo: int64(binary.BigEndian.Uint64(r[9:])), Hi: int64(binary.BigEndian.Uint64(r[17:]))},
			Size: int(binary.BigEndian.Uint16(r[25:])),
		}, pos: binary.BigEndian.Uint64(r[27:])}
	}
	return m, nil
}

// crossCheck is a member's state on both sides: what it streams while it
// does not publish, and what it takes from its peer while it does.
type crossCheck struct {
	// Sending. sending: a stream is open; seq, sentThrough: its last
	// message, sent at lastSend; busyUntil: the end of the busy pace.
	sending     bool
	seq         uint64
	sentThrough int64
	pending     []peerSighting
	nextSend    time.Time
	lastSend    time.Time
	busyUntil   time.Time

	// Taking. covered: the peer's stream is taken, continuously since
	// from (host clock, the latest the peer's from may be here); through
	// is its watermark on this host's clock (the earliest it may be).
	covered       bool
	clock, last   uint64 // the peer's clock and the last message's seq
	peerThrough   int64  // the last message's watermark on the peer's clock
	from, through int64
	heard         time.Time // when the last message came
	queue         []peerSighting
	ring          uint64 // the peer's ring (Pipeline.ringID)
	// anchorPos is the own frame matched with the last anchor: every own
	// frame up to it came before the sightings still queued.
	anchorPos uint64
	// released: ring positions through it may be produced.
	released uint64
}

// crossCheckFrame reports whether the cross-check holds back a frame with
// this identity.
func (p *Pipeline) crossCheckFrame(exact bool) bool {
	switch p.ringLimits.CrossCheck {
	case backlog.CrossCheckOn:
		return true
	case backlog.CrossCheckOff:
		return false
	}
	return !exact
}

// sight notes a frame this member's port delivered, kept at pos in its
// ring (0: not kept), for the peer's cross-check, while it does not
// publish.
func (p *Pipeline) sight(f *backlog.Frame, pos uint64) {
	if !p.xc.sending || !p.crossCheckFrame(f.Exact) {
		return
	}
	if len(p.xc.pending) >= maxPeerSightings {
		p.xc.sending = false // the stream breaks; the next tick opens a new one
		p.xc.pending = p.xc.pending[:0]
		return
	}
	p.xc.pending = append(p.xc.pending, peerSighting{backlog.Sighting{ID: f.ID, Exact: f.Exact, Win: f.Win, Size: len(f.Data)}, pos})
	if len(p.xc.pending) == 1 {
		p.keepSightingsBusy(time.Now())
	}
}

// keepSightingsBusy streams at the busy pace from now (the next message
// sightingsEvery after the last) until sightingsBusyFor after wall.
func (p *Pipeline) keepSightingsBusy(wall time.Time) {
	x := &p.xc
	if until := wall.Add(max(sightingsBusyFor, 4*p.ringLimits.PassMargin)); until.After(x.busyUntil) {
		x.busyUntil = until
	}
	if soon := x.lastSend.Add(sightingsEvery); x.sending && x.nextSend.After(soon) {
		x.nextSend = soon
		p.armRepair()
	}
}

// sendSightings streams what is due to the peer: a member that does not
// publish sends every sightingsEvery while it is busy (keepSightingsBusy),
// every sightingsIdleEvery otherwise; an active one sends nothing.
func (p *Pipeline) sendSightings(wall time.Time) {
	if !p.crossCheckStreaming() {
		p.xc.sending = false
		p.xc.pending = p.xc.pending[:0]
		return
	}
	if wall.Before(p.xc.nextSend) {
		return
	}
	// Every frame that ended on the line before the watermark is in the
	// ring, so reported: repairTick has just drained what the port handed
	// over.
	now := hostclock.Now()
	read := p.readThrough()
	if !p.xc.sending {
		// A new stream: it reports every frame its port delivers from
		// now on, and so every frame that ends on the line from now.
		p.xc.sending, p.xc.sentThrough = true, now
		p.xc.pending = p.xc.pending[:0]
	}
	through := max(p.xc.sentThrough, read)
	if len(p.xc.pending) > 0 {
		p.keepSightingsBusy(wall)
	}
	every := sightingsEvery
	if !wall.Before(p.xc.busyUntil) {
		every = max(sightingsEvery, min(sightingsIdleEvery, p.ringLimits.RepairTimeout/4))
	}
	// On the timers' grid (tickgrid), with the member's other periodic
	// work.
	p.xc.nextSend, p.xc.lastSend = wall.Add(tickgrid.Until(wall, every)), wall
	per := (p.repairMax() - sightingsHeaderLen) / sightingLen
	seen := p.xc.pending
	for {
		n := min(len(seen), per)
		m := sightingsMsg{clock: hostclock.ID(), seq: p.xc.seq + 1, ring: p.ringID, from: p.xc.sentThrough, through: p.xc.sentThrough, seen: seen[:n]}
		if n == len(seen) {
			m.through = through
		}
		if !p.opt.SendRepair("", appendSightings(make([]byte, 0, sightingsHeaderLen+n*sightingLen), m)) {
			// Nobody to send to, or the link's queue is full: the
			// stream ends; a new one opens a little later.
			p.xc.sending = false
			p.xc.pending = p.xc.pending[:0]
			p.xc.nextSend = wall.Add(sightingsRetry)
			return
		}
		p.xc.seq, p.xc.sentThrough = m.seq, m.through
		p.c.SightingsSent += uint64(n)
		seen = seen[n:]
		if len(seen) == 0 {
			break
		}
	}
	p.xc.pending = p.xc.pending[:0]
}

// takeSightings takes a message of the peer's sightings.
func (p *Pipeline) takeSightings(msg []byte) error {
	m, err := parseSightings(msg)
	if err != nil {
		return err
	}
	a := p.act
	if a == nil || !a.live || a.stopping || !p.crossCheckOn() {
		p.xc.covered = false
		return nil
	}
	x := &p.xc
	now := hostclock.Now()
	if !x.covered || m.clock != x.clock || m.ring != x.ring || m.seq != x.last+1 || m.from != x.peerThrough || len(x.queue)+len(m.seen) > maxPeerSightings {
		// A new stream (or one that lost a message): it covers frames
		// from its own start on only.
		from, ok := p.clocks.window(m.clock, backlog.Window{Lo: m.from, Hi: m.from}, now)
		if !ok {
			x.covered = false
			return nil // nothing known of the peer's clock yet
		}
		x.covered, x.clock, x.ring, x.from, x.through = true, m.clock, m.ring, from.Hi, from.Lo
		x.queue, x.anchorPos = x.queue[:0], 0
		p.c.CrossCheckRestarts++
	}
	x.last, x.peerThrough, x.heard = m.seq, m.through, time.Now()
	if t, ok := p.clocks.window(m.clock, backlog.Window{Lo: m.through, Hi: m.through}, now); ok && t.Lo != backlog.NoLo {
		x.through = max(x.through, t.Lo)
	}
	for _, s := range m.seen {
		s.Win, _ = p.clocks.window(m.clock, s.Win, now)
		x.queue = append(x.queue, s)
	}
	p.c.SightingsTaken += uint64(len(m.seen))
	// What the port handed over meanwhile goes into the ring first: the
	// sightings are judged by its watermark (drainPort).
	p.drainPort()
	p.crossCheckAdvance()
	return nil
}

// crossCheckStreaming reports whether this member streams its sightings
// (or tries to): it does not publish, and the cross-check is not off.
func (p *Pipeline) crossCheckStreaming() bool {
	return p.act == nil && !p.shutdown && p.crossCheckOn()
}

// crossCheckWaiting reports whether the active cross-check holds frames or
// sightings that time alone may release.
func (p *Pipeline) crossCheckWaiting() bool {
	a := p.act
	return a != nil && a.live && p.crossCheckOn() && (p.xc.released < p.ring.LastPos() || len(p.xc.queue) > 0)
}

// crossCheckOn reports whether this member holds back any frame for the
// peer's sightings.
func (p *Pipeline) crossCheckOn() bool {
	return p.ringLimits.CrossCheck != backlog.CrossCheckOff && p.opt.SendRepair != nil
}

// crossCheckLive starts the cross-check of an activation that goes live:
// what its ring holds now is the backlog, flushed unchecked (the peer
// published or lost it); the peer's stream is taken from its next message.
func (p *Pipeline) crossCheckLive(flushThrough uint64) {
	p.xc.released = flushThrough
	p.xc.covered = false
	p.xc.queue = p.xc.queue[:0]
	if e, ok := p.ring.Oldest(); ok {
		p.rep.markUnchecked(e.Pos, flushThrough)
	}
}

// markUnchecked notes that the own frames at ring positions from to to,
// both included, went out without the peer's sightings.
func (r *repairs) markUnchecked(from, to uint64) {
	for k := r.nrecent - 1; k >= r.nrecent-min(r.nrecent, recentFrames); k-- {
		f := &r.recent[k%recentFrames]
		if f.pos < from {
			break
		}
		if f.pos <= to {
			f.unchecked = true
		}
	}
}

// tooLate reports whether a peer sighting may be an own frame the
// cross-check can no longer compare it with: one published unchecked
// (while the peer's stream was missing or late: a link that held the
// sightings and delivered them when it healed), or one this member no
// longer remembers. Such a sighting says nothing about this member's
// port, so it is neither a hole nor a repair: its frame went out
// unchecked, as the frames around it did. Nearness in time to frames
// published unchecked is not enough: a sighting no such frame may be is
// of a frame this member's port lost, and dropping it would be a gap on
// a guess.
func (p *Pipeline) tooLate(s backlog.Sighting, margin int64) bool {
	if s.Win.Lo == backlog.NoLo {
		return false // no line time: only its identity can tell
	}
	if f, ok := p.rep.forgotten(); ok && f.Hi != math.MaxInt64 && s.Win.Lo-margin <= f.Hi {
		return true
	}
	return p.rep.mayBeUnchecked(s, margin)
}

// mayBeUnchecked reports whether a remembered own frame that went out
// unchecked may be s within the margin, matched with another sighting or
// not: the one-to-one matching that would tell them apart ran after it
// went out.
func (r *repairs) mayBeUnchecked(s backlog.Sighting, margin int64) bool {
	for k := r.nrecent - min(r.nrecent, recentFrames); k < r.nrecent; k++ {
		if f := &r.recent[k%recentFrames]; f.unchecked && f.s.MayBe(s, margin) {
			return true
		}
	}
	return false
}

// crossCheckHold reports whether the frame at pos waits for the peer's
// sightings.
func (p *Pipeline) crossCheckHold(pos uint64) bool {
	return p.crossCheckOn() && pos > p.xc.released
}

// crossCheckAdvance matches the peer's sightings this member's port has
// certainly passed, starts a repair for each that no frame of its own may
// be, and releases the frames no sighting still to come can precede.
func (p *Pipeline) crossCheckAdvance() {
	a := p.act
	x := &p.xc
	if a == nil || !a.live || !p.crossCheckOn() {
		return
	}
	now := hostclock.Now()
	wall := time.Now()
	margin := int64(p.ringLimits.PassMargin)
	if x.covered && wall.Sub(x.heard) >= p.ringLimits.RepairTimeout {
		x.covered = false // the peer fell silent
	}
	if !x.covered {
		x.queue = x.queue[:0]
	}
	// The peer's sightings are taken in segments, each ending at an
	// anchor (a sighting whose identity neither stream repeats within the
	// margin: its own copy is certain) or at a pause in the peer's stream.
	// Within a segment, sightings and own frames are matched by identity,
	// so a dropped copy of a sentence the feed repeats shows as one
	// sighting too many, whatever the windows.
	for len(x.queue) > 0 {
		n, anchor, slack, ok := p.nextSegment(now, margin)
		if !ok {
			break
		}
		if !p.closeSegment(x.queue[:n], anchor, slack, margin) {
			break // no own frame after it yet: it waits for one
		}
		if anchor >= 0 {
			n++
		}
		x.queue = x.queue[:copy(x.queue, x.queue[n:])]
	}

	for pos := x.released + 1; pos <= p.ring.LastPos(); pos++ {
		e, ok := p.ring.Get(pos)
		if !ok || !p.crossCheckFrame(e.Exact) || pos <= a.flushThrough {
			x.released = pos
			continue
		}
		switch {
		case !x.covered || e.Win.Lo == backlog.NoLo || e.Win.Lo-margin <= x.from:
			// No stream from the peer, or the frame may precede it.
			p.c.CrossCheckUnchecked++
			p.rep.markUnchecked(pos, pos)
		case x.through > e.Win.Hi && (len(x.queue) == 0 || x.queue[0].Win.Lo-margin > e.Win.Hi):
			// Every sighting that may come before it has been matched.
		case wall.Sub(time.Unix(0, e.ReceivedAt)) >= p.ringLimits.RepairTimeout:
			p.c.CrossCheckUnchecked++
			p.rep.markUnchecked(pos, pos)
		default:
			p.armRepair()
			return
		}
		x.released = pos
	}
	p.armRepair()
}

// nextSegment finds the segment at the head of the peer's sightings: n of
// them, followed by the anchor whose own copy is recent[anchor] (-1: a
// pause ends it, or no end came in time and the oldest sighting goes
// alone, matched with no slack on the windows). ok is false while the
// segment cannot be closed yet.
func (p *Pipeline) nextSegment(now, margin int64) (n, anchor int, slack int64, ok bool) {
	x := &p.xc
	for i, s := range x.queue {
		if !p.delivered(s.Win.Hi) {
			break // this member's port may still deliver its copy
		}
		if i > 0 && s.Win.Lo != backlog.NoLo && s.Win.Lo-x.queue[i-1].Win.Hi > 2*margin {
			return i, -1, margin, true
		}
		if k := p.rep.anchor(s.Sighting, x.anchorPos, margin); k >= 0 && uniqueIn(x.queue, i, margin) {
			return i, k, margin, true
		}
	}
	last := x.queue[len(x.queue)-1]
	if x.through-last.Win.Hi > 2*margin && p.delivered(last.Win.Hi+margin) {
		return len(x.queue), -1, margin, true // the peer's stream pauses after it
	}
	if head := x.queue[0]; now-head.Win.Hi > int64(p.ringLimits.RepairTimeout)/2 {
		// A run of repeated frames with no end yet: the oldest alone,
		// before what it holds back is published unchecked.
		return 1, -1, 0, true
	}
	return 0, -1, 0, false
}

// uniqueIn reports whether no other sighting of q may be q[i] within the
// margin.
func uniqueIn(q []peerSighting, i int, margin int64) bool {
	for j := range q {
		if j != i && q[j].MayBe(q[i].Sighting, margin) {
			return false
		}
	}
	return true
}

// anchor returns the index in recent of the one own frame after position
// after that may be s within the margin, or -1 if there is none or more
// than one.
func (r *repairs) anchor(s backlog.Sighting, after uint64, margin int64) int {
	found := -1
	for k := r.nrecent - 1; k >= r.nrecent-min(r.nrecent, recentFrames); k-- {
		f := &r.recent[k%recentFrames]
		if f.pos <= after {
			break
		}
		if !f.s.MayBe(s, margin) {
			continue
		}
		if found >= 0 || f.matched {
			return -1
		}
		found = k
	}
	return found
}

// closeSegment matches a segment's sightings with own frames between the
// previous anchor and this one (recent[anchor], or the newest without
// one), and repairs what none may be, in a hole after the previous anchor:
// every own frame up to it certainly came before them. It returns false,
// matching nothing, when no own frame follows that place yet, or while the
// answer to the repair there is still coming chunk by chunk, or came early
// and may be asked again (askAfterEarly): only the answer decided tells
// whether it holds the segment's frames, and taking them for missed before
// then opens a second hole for frames the first one fills (its last chunk,
// the question asked again, or its decision advances the cross-check
// again).
func (p *Pipeline) closeSegment(seg []peerSighting, anchor int, slack, margin int64) bool {
	x := &p.xc
	at, ok := p.ring.Next(max(x.anchorPos, x.released))
	if !ok {
		return false
	}
	if h := p.rep.lastHoleAt(at.Pos); h != nil && !h.decided && h.chunks > 0 && (!h.complete || h.early && !h.askedAfterEarly) {
		return false
	}
	upTo := uint64(math.MaxUint64)
	if anchor >= 0 {
		upTo = p.rep.recent[anchor%recentFrames].pos
	}
	var missing []backlog.Sighting
	for _, s := range seg {
		switch {
		case p.rep.matchOwn(s.Sighting, x.anchorPos, upTo, slack), p.rep.matchFilled(x.ring, s.pos), p.holeCovers(s, x.ring, at.Pos, margin):
		case p.tooLate(s.Sighting, margin):
			p.c.SightingsLate++
		default:
			missing = append(missing, s.Sighting)
		}
	}
	if anchor >= 0 {
		f := &p.rep.recent[anchor%recentFrames]
		f.matched = true
		x.anchorPos = f.pos
	}
	if len(missing) > 0 {
		p.c.CrossCheckMissed += uint64(len(missing))
		p.startMissedRepair(at.Pos, at, missing)
	}
	return true
}

// matchOwn matches a peer sighting with the oldest of this member's recent
// frames between positions after and upTo (exclusive) that may be it, with
// this slack on the windows, and is not matched yet; false when none may be.
func (r *repairs) matchOwn(s backlog.Sighting, after, upTo uint64, slack int64) bool {
	n := min(r.nrecent, recentFrames)
	found := -1
	for k := r.nrecent - 1; k >= r.nrecent-n; k-- {
		f := &r.recent[k%recentFrames]
		if f.pos <= after {
			break
		}
		if f.pos < upTo && !f.matched && f.s.MayBe(s, slack) {
			found = k
		}
	}
	if found < 0 {
		return false
	}
	r.recent[found%recentFrames].matched = true
	return true
}

// matchFilled reports whether a repair published the peer's frame at pos
// of its ring.
func (r *repairs) matchFilled(ring, pos uint64) bool {
	if pos == 0 {
		return false
	}
	for k := r.nfilled - min(r.nfilled, recentFrames); k < r.nfilled; k++ {
		f := &r.filled[k%recentFrames]
		if !f.matched && !f.withdrawn && f.peerRing == ring && f.peerPos == pos {
			f.matched = true
			return true
		}
	}
	return false
}

// holeCovers reports whether the last hole at or before position at, where
// s belongs, is a repair not decided yet whose answer will hold s's frame:
// one that has not come yet and asks for the frames around s, or one that
// has come whole from ring and holds it. Its fill is then made to reach s.
// Only the last: a fill that reached past a later hole's place would
// publish frames of that hole before the ones it lacks.
func (p *Pipeline) holeCovers(s peerSighting, ring, at uint64, margin int64) bool {
	h := p.rep.lastHoleAt(at)
	if h == nil || h.decided || s.Win.Lo == backlog.NoLo {
		return false
	}
	if h.chunks > 0 {
		// The answer has begun to come: it covers s if it holds the
		// frame (the start of a stream is often answered before the
		// cross-check has placed the sightings of what it lacked).
		if !h.complete || h.ring != ring || s.pos == 0 || !h.holds(s.pos) {
			return false
		}
		h.need = append(h.need, s.Sighting)
		return true
	}
	from := int64(math.MinInt64)
	if h.before != nil && h.before.Win.Lo != backlog.NoLo {
		from = h.before.Win.Lo - margin
	}
	if s.Win.Hi < from || s.Win.Hi > h.to.Hi {
		return false
	}
	h.need = append(h.need, s.Sighting)
	return true
}

// lastHoleAt returns the last hole at or before ring position at, or nil.
func (r *repairs) lastHoleAt(at uint64) *hole {
	var last *hole
	for _, h := range r.holes {
		if h.pos <= at {
			last = h // holes are in ring order
		}
	}
	return last
}

// holds reports whether the answer taken for h has the frame at pos of the
// peer's ring.
func (h *hole) holds(pos uint64) bool {
	for i := range h.got {
		if h.got[i].pos == pos {
			return true
		}
	}
	return false
}

// CrossCheckStatus is where the cross-check stands, for /status.
type CrossCheckStatus struct {
	// Mode is backlog.cross_check: auto, on or off.
	Mode string `json:"mode"`
	// Covered: this member is active and takes its peer's sightings.
	Covered bool `json:"covered"`
	// Sending: this member streams its sightings to an active peer.
	Sending bool `json:"sending"`
}

func (p *Pipeline) crossCheckStatus() CrossCheckStatus {
	return CrossCheckStatus{Mode: p.ringLimits.CrossCheck, Covered: p.xc.covered && p.act != nil, Sending: p.xc.sending}
}
