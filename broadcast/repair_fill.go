package broadcast

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/hostclock"
)

func (p *Pipeline) takeAnswer(msg []byte) error {
	a, err := parseAnswer(msg)
	if err != nil {
		return err
	}
	var h *hole
	for _, x := range p.rep.holes {
		if x.id == a.id {
			h = x
		}
	}
	if h == nil || h.decided || h.complete {
		return nil // late: the hole was decided without it
	}
	if a.chunk != h.chunks {
		// A lost chunk: what came is kept, the rest is the timeout's.
		return fmt.Errorf("answer chunk %d, want %d", a.chunk, h.chunks)
	}
	if h.chunks > 0 && (a.clock != h.clock || a.ring != h.ring) {
		return errors.New("answer chunks from two rings")
	}
	h.got = append(h.got, a.frames...)
	h.clock, h.ring = a.clock, a.ring
	h.chunks++
	if a.last {
		h.complete, h.truncated, h.early = true, a.truncated, a.early
	}
	p.repairTick()
	return nil
}

// repairTick answers what is due, decides what can be, streams and takes
// the cross-check's sightings, and rearms the timer for the next.
func (p *Pipeline) repairTick() {
	// What the port handed over since the loop last drained goes into the
	// ring before anything is judged by its watermark (drainPort).
	p.drainPort()
	now := hostclock.Now()
	wall := time.Now()
	p.sendSightings(wall)
	p.crossCheckAdvance()
	kept := p.rep.answers[:0]
	for _, pa := range p.rep.answers {
		if passed := p.delivered(pa.hi); passed || now >= pa.latest {
			p.answer(pa, !passed)
			continue
		}
		kept = append(kept, pa)
	}
	clear(p.rep.answers[len(kept):])
	p.rep.answers = kept
	for _, h := range p.rep.holes {
		if a := p.act; h.decided || a == nil || a.stopping {
			// Stopping: what is held stays in the ring for the next
			// active, whose own ring has the hole's frames.
			continue
		}
		switch {
		case h.complete && p.readyToFill(h, now):
			if h.early && !h.askedAfterEarly && p.answerLacks(h, now) && p.askAfterEarly(h, wall) {
				break
			}
			h.takeFallback()
			p.decide(h, wall, "")
			continue
		case wall.After(h.deadline) && !p.askAgain(h, wall):
			if h.fallback != nil {
				// The question asked after an early answer was not
				// answered whole in time: the early answer, with what
				// came of the later one, is the best there is.
				h.takeFallback()
				p.decide(h, wall, "")
				continue
			}
			why := UnrepairedTimeout
			if !h.requested {
				why = UnrepairedNoPeer
			}
			p.decide(h, wall, why)
			continue
		}
		// Holes are decided in ring order: a later hole's answer may hold
		// frames this one will publish (the cross-check places a hole
		// before holes found earlier), and only a decided fill keeps
		// them out of the later one. Nothing after this hole goes out
		// before it is decided anyway.
		break
	}
	p.armRepair()
}

// passed reports whether this member's port has certainly delivered every
// frame that ended on the line by t: a newer frame began after it by more
// than the margin.
func (p *Pipeline) passed(t int64) bool {
	if p.rep.nrecent == 0 {
		return false
	}
	last := p.rep.recent[(p.rep.nrecent-1)%recentFrames].s.Win
	return last.Lo != backlog.NoLo && last.Lo-int64(p.ringLimits.PassMargin) > t
}

// readyToFill reports whether this member's own port has delivered every
// frame the peer's answer could be, so the frames held after the hole can
// be compared with it.
func (p *Pipeline) readyToFill(h *hole, now int64) bool {
	latest := h.to.Hi
	for i := range h.got {
		w, _ := p.clocks.window(h.clock, h.got[i].s.Win, now)
		if w.Lo == backlog.NoLo || w.Lo-int64(p.ringLimits.PassMargin) <= h.to.Hi {
			latest = max(latest, w.Hi)
		}
	}
	return p.portEnded() || p.delivered(latest)
}

// takenAnswer is a whole answer kept while the hole is asked about again.
type takenAnswer struct {
	clock, ring uint64
	got         []peerFrame
	truncated   bool
}

// takeFallback joins the early answer kept while h was asked again with
// what came of the later question: the frames of both, by their positions
// in the peer's ring, when they come from the same ring. The early answer
// alone when nothing came since, or when the later answer comes from
// another ring (a peer restarted meanwhile): positions in two rings cannot
// be matched, and that answer is what was decided before the question was
// asked again.
func (h *hole) takeFallback() {
	f := h.fallback
	if f == nil {
		return
	}
	h.fallback = nil
	if h.chunks == 0 || h.ring != f.ring || h.clock != f.clock {
		h.clock, h.ring, h.got, h.truncated = f.clock, f.ring, f.got, f.truncated
		h.complete, h.early = true, true
		return
	}
	have := make(map[uint64]bool, len(h.got))
	for _, g := range h.got {
		have[g.pos] = true
	}
	for _, g := range f.got {
		if !have[g.pos] {
			h.got = append(h.got, g)
		}
	}
	slices.SortStableFunc(h.got, func(a, b peerFrame) int { return cmp.Compare(a.pos, b.pos) })
	h.complete, h.truncated = true, h.truncated || f.truncated
}

// answerLacks reports whether h's answer leaves sequence numbers of the
// hole, or sightings the cross-check found missing there, without a frame.
func (p *Pipeline) answerLacks(h *hole, now int64) bool {
	if numbered(h) {
		have := p.publishedInHole(h)
		for _, f := range h.got {
			if f.s.Exact && f.s.ID > h.before.ID && f.s.ID < h.after.ID {
				have[f.s.ID] = true
			}
		}
		if uint64(len(have)) < h.after.ID-h.before.ID-1 {
			return true
		}
	}
	for _, n := range h.need {
		found := false
		for _, f := range h.got {
			s := f.s
			s.Win, _ = p.clocks.window(h.clock, s.Win, now)
			if s.MayBe(n, 0) {
				found = true
				break
			}
		}
		if !found {
			return true
		}
	}
	return false
}

// askAfterEarly asks about h again when its whole answer came early (the
// peer's port had not passed the hole: a starved reader, bytes written
// late) and leaves frames of it unfilled: the peer's port may still
// deliver them. The early answer is kept, to be decided if no other comes.
// Once per hole, within askAgain's bounds; it reports whether it asked.
func (p *Pipeline) askAfterEarly(h *hole, wall time.Time) bool {
	kept := &takenAnswer{clock: h.clock, ring: h.ring, got: h.got, truncated: h.truncated}
	if !p.askAgain(h, wall) {
		return false
	}
	h.askedAfterEarly, h.fallback = true, kept
	return true
}

// decide picks the peer's frames for a hole; why is empty when the answer
// is complete, otherwise why it is not.
func (p *Pipeline) decide(h *hole, wall time.Time, why string) {
	if why == "" && h.truncated {
		why = UnrepairedTruncated
	}
	now := hostclock.Now()
	// A peer frame an earlier hole's fill published is in the stream
	// already, for certain: its answer named the same ring position.
	got := h.got[:0]
	for _, f := range h.got {
		already, uncertain := p.rep.filledAlready(h.ring, f.pos)
		if already {
			continue
		}
		f.possible = f.possible || uncertain
		got = append(got, f)
	}
	h.got = got
	margin := int64(p.ringLimits.PassMargin)
	peer := make([]backlog.Sighting, len(h.got))
	peerHi := int64(math.MinInt64)
	for i := range h.got {
		peer[i] = h.got[i].s
		peer[i].Win, _ = p.clocks.window(h.clock, h.got[i].s.Win, now)
		peerHi = max(peerHi, peer[i].Win.Hi)
	}
	// The frames held after the hole, as far as one may be a peer frame:
	// frames are in line order, so none after one that began later than
	// every peer frame ended (by the margin) can be. (At an activation
	// the ring may hold a long backlog after the hole.)
	var after []backlog.Sighting
	for e, ok := p.ring.Get(h.pos); ok; e, ok = p.ring.Next(e.Pos) {
		if len(after) > 0 && e.Win.Lo != backlog.NoLo && e.Win.Lo-margin > peerHi {
			break
		}
		after = append(after, backlog.Sighting{ID: e.ID, Exact: e.Exact, Win: e.Win, Size: len(e.Data)})
	}
	rules := backlog.HoleRules{ByteTime: int64(p.ringLimits.LineByteTime), Margin: margin, Late: int64(backlog.NumberedLate),
		NumbersCameBack: p.ring.NumbersCameBack()}
	var fills []backlog.Fill
	if h.start {
		fills = backlog.FillStart(p.rep.topicTail(), after, peer, h.to.Hi, lastNeeded(h.need, peer), rules)
	} else {
		fills = backlog.FillHoleThrough(p.rep.before(h.own, h.pos), after, peer, lastNeeded(h.need, peer), rules)
	}
	possible := 0
	var tail []backlog.Sighting
	if len(fills) > 0 {
		tail = p.rep.topicTail()
	}
	for _, f := range fills {
		pf := h.got[f.Index]
		pf.s.Win = peer[f.Index].Win
		// The topic may hold frames of the hole already: a member that
		// published before this one did, and this member read their
		// echoes while its port was losing them (or before its port
		// delivered them late). The peer cannot know, when its own echo
		// lags or it published them itself and was cut off from Kafka
		// before it learnt their commit's outcome.
		certain, maybe := p.ring.Echoed(pf.s, margin+int64(backlog.NumberedLate))
		if !certain {
			inTail, mayTail := backlog.Published(pf.s, tail, rules)
			certain, maybe = inTail, maybe || mayTail
		}
		if certain {
			h.inTopic = append(h.inTopic, pf.s)
			continue
		}
		pf.possible = pf.possible || f.Possible || maybe
		if h.start && p.rep.unseenHi != 0 && (peer[f.Index].Win.Lo == backlog.NoLo || peer[f.Index].Win.Lo-margin <= p.rep.unseenHi) {
			// It may have ended on the line before this member's echo
			// began to read: the topic may hold it unseen.
			pf.possible = true
		}
		if pf.possible {
			possible++
		}
		h.fill = append(h.fill, pf)
		p.rep.fill(h.pos, pf.s, h.ring, pf.pos, pf.possible)
	}
	h.decided = true
	h.got = nil
	p.c.RepairedFrames += uint64(len(h.fill))
	p.c.RepairedPossible += uint64(possible)
	p.c.RepairInTopic += uint64(len(h.inTopic))
	rep := p.report(h, wall)
	rep.Repaired, rep.Possible, rep.InTopic = len(h.fill), possible, len(h.inTopic)
	if why != "" {
		p.countUnrepaired(why)
		rep.Unrepaired = why
	}
	rep.MissingSeq = p.missingSeq(h)
	if why == "" && rep.MissingSeq > 0 {
		why = UnrepairedPeerLacks
		p.countUnrepaired(why)
		rep.Unrepaired = why
	}
	p.c.HoleMissingSeq += rep.MissingSeq
	if h.start && len(h.fill) == 0 && why == "" {
		// Nothing before this member's first frame: no hole after all.
		p.notify()
		return
	}
	p.rep.last = rep
	if len(h.fill) > 0 || len(h.inTopic) > 0 || why != "" {
		p.log.Info("hole in this member's stream", "kind", rep.Kind, "span", rep.Span, "repaired", rep.Repaired,
			"possible_duplicates", rep.Possible, "in_topic", rep.InTopic, "unrepaired", rep.Unrepaired, "missing_seq", rep.MissingSeq, "held", rep.Held)
	}
	p.notify()
}

// lastNeeded returns the index of the last peer frame that is one of the
// sightings the cross-check found missing (the nearest in time of those
// with its identity), or -1.
func lastNeeded(need, peer []backlog.Sighting) int {
	last := -1
	for _, n := range need {
		best, dist := -1, int64(math.MaxInt64)
		for i, f := range peer {
			if !f.MayBe(n, 0) {
				continue
			}
			d := (f.Win.Lo/2 + f.Win.Hi/2) - (n.Win.Lo/2 + n.Win.Hi/2)
			if d < 0 {
				d = -d
			}
			if d < dist {
				best, dist = i, d
			}
		}
		last = max(last, best)
	}
	return last
}

// numbered reports whether both sides of h carry feed sequence numbers
// with numbers missing between them.
func numbered(h *hole) bool {
	return h.before != nil && h.before.Exact && h.after.Exact && h.after.ID > h.before.ID+1
}

// publishedInHole returns the numbers between the two sides of h that the
// latest records read back from the topic hold: published already (by a
// member active before this one), so a peer whose echo trimmed them cannot
// send them, and need not. A record that ended on the line before the frame
// before the hole began is of an earlier round of a counter that wraps;
// where that cannot be told (the frame's window is unbounded) nothing is
// counted, and neither for the start of the stream, whose frame before is
// the topic's latest record: a number after it there is of an earlier round
// too.
func (p *Pipeline) publishedInHole(h *hole) map[uint64]bool {
	have := make(map[uint64]bool)
	if h.start || h.before.Win.Lo == backlog.NoLo {
		return have
	}
	slack := int64(p.ringLimits.PassMargin) + int64(backlog.NumberedLate)
	for _, t := range p.rep.topicTail() {
		if !t.Exact || t.ID <= h.before.ID || t.ID >= h.after.ID || t.Win.Hi < h.before.Win.Lo-slack {
			continue
		}
		have[t.ID] = true
	}
	return have
}

// missingSeq counts, on a feed with sequence numbers, the numbers between
// the two sides of a hole that neither its fill nor the topic holds
// (numbers that step by one).
func (p *Pipeline) missingSeq(h *hole) uint64 {
	if !numbered(h) {
		return 0
	}
	have := p.publishedInHole(h)
	for _, f := range h.fill {
		if f.s.Exact && f.s.ID > h.before.ID && f.s.ID < h.after.ID {
			have[f.s.ID] = true
		}
	}
	for _, s := range h.inTopic {
		if s.Exact && s.ID > h.before.ID && s.ID < h.after.ID {
			have[s.ID] = true
		}
	}
	missing := h.after.ID - h.before.ID - 1
	return missing - min(uint64(len(have)), missing)
}

func (p *Pipeline) report(h *hole, wall time.Time) *HoleReport {
	r := &HoleReport{At: h.asked, Kind: h.kind.String(), Held: wall.Sub(h.asked)}
	switch {
	case h.missed:
		r.Kind = HoleMissed
	case h.start:
		r.Kind = HoleStart
	}
	if h.before != nil && h.after.Win.Lo != backlog.NoLo && h.after.Win.Lo > h.before.Win.Hi {
		r.Span = time.Duration(h.after.Win.Lo - h.before.Win.Hi)
	}
	return r
}

// unrepaired reports a hole that is not held for: nobody can be asked.
func (p *Pipeline) unrepaired(h *hole, why string, wall time.Time) {
	p.countUnrepaired(why)
	r := p.report(h, wall)
	r.Unrepaired, r.MissingSeq = why, p.missingSeq(h)
	p.c.HoleMissingSeq += r.MissingSeq
	p.rep.last = r
	if wall.Sub(p.rep.logAt) >= 10*time.Second {
		p.log.Warn("hole in this member's stream not repaired", "kind", r.Kind, "reason", why)
		p.rep.logAt = wall
	}
	p.notify()
}

func (p *Pipeline) countUnrepaired(why string) {
	switch why {
	case UnrepairedNoPeer:
		p.c.UnrepairedNoPeer++
	case UnrepairedTimeout:
		p.c.UnrepairedTimeout++
	case UnrepairedTruncated:
		p.c.UnrepairedTruncated++
	case UnrepairedBusy:
		p.c.UnrepairedBusy++
	case UnrepairedPeerLacks:
		p.c.UnrepairedPeerLacks++
	}
}
