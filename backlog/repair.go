package backlog

// Repair: the active's own stream has a hole (its port reopened, a frame
// failed its checksum, the framer lost its place, the feed's sequence
// jumped), and its peer, reading the same line through a splitter, may hold
// the frames it lacks. The peer sends the frames its ring holds around the
// hole; FillHole picks those to publish in the hole, with the same two
// certain facts the echo uses (same frame, behind) and nothing else.
//
// The local frames are the hole's two sides: before, the active's frames up
// to the hole (what it produced recently, newest last), and after, those it
// read since the hole and holds back until the repair is decided. A peer
// frame belongs in the hole unless it certainly lies at or before the last
// frame before the hole, or certainly at or after the first frame after it.
// Of those that belong, a frame no local frame can be (no local frame with
// its identity has a window within the margin of its own) is certainly
// missing from the local stream; one that some local frame may be is published all the same,
// marked as a possible duplicate: dropping it on a guess could leave a gap.

// Sighting is one frame as repair compares it: its identity, its line-time
// window on this host's clock (a peer's converted and widened by what is
// known of the offset between the clocks) and its size in bytes.
type Sighting struct {
	ID    uint64
	Exact bool
	Win   Window
	Size  int
}

// HoleRules are the parameters of the certain facts, as for the ring: the
// line's character time (zero: no same-frame rule by time) and the pass
// margin kept on the behind rule.
type HoleRules struct {
	ByteTime int64
	Margin   int64
	// Late is how much later than its window says a port may have
	// delivered a numbered frame (its reader starved by a loaded host): a
	// peer frame numbered between the local frames on each side of a hole,
	// whose window lies past the frame after the hole by no more than
	// Late, is taken as one the hole lacks, and marked as a possible
	// duplicate (time and number disagree about it). Zero places numbered
	// frames by time alone.
	//
	// The same slack marks a peer frame without a number that the one
	// local frame of its identity near it may be once the peer's window is
	// taken as up to Late behind the line (laterCopy): the fill publishes
	// it away from the local copy, which stays unmarked.
	Late int64
	// NumbersCameBack: a feed sequence number came back on the local port
	// (Ring.NumbersCameBack), so the same number may be another frame:
	// only windows within Margin plus Late of each other make two
	// sightings of it one (sameNumber).
	NumbersCameBack bool
}

// Fill is one peer frame chosen to fill a hole, in line order.
type Fill struct {
	// Index is the frame's index in the peer's frames given to FillHole.
	Index int
	// Possible: a local frame may be this frame; publish it marked as a
	// possible duplicate.
	Possible bool
}

// FillHole returns, in line order, the peer frames that belong in the hole
// between before and after. before and after are the local frames on each
// side of the hole and peer the peer's frames, each in line order.
//
// after must hold every local frame after the hole that may be one of the
// peer's frames (a peer frame whose window starts later than the margin
// past the first one's end is cut by time), so the caller holds what it
// reads until its port has passed that point. before may be as short as
// one frame, the last before the hole (a peer frame that may be older than
// the oldest given is marked), and is empty only when the local stream has
// nothing before the hole. after is empty only when nothing was read since.
func FillHole(before, after, peer []Sighting, rules HoleRules) []Fill {
	return FillHoleThrough(before, after, peer, -1, rules)
}

// FillHoleThrough is FillHole for a hole known to lack peer[through]: the
// fill reaches at least to it, even past local frames after the hole that
// certainly are peer frames before it (they go out again, marked). A hole
// found by comparing the streams is placed where no local frame after it is
// certainly behind the frame it lacks, which may be early; through is -1
// when no peer frame is known to be lacking.
func FillHoleThrough(before, after, peer []Sighting, through int, rules HoleRules) []Fill {
	lo := lowerCut(before, after, peer, rules)
	var last *Sighting
	if len(before) > 0 {
		last = &before[len(before)-1]
	}
	hi := max(upperCut(after, peer, lo, last, rules), min(through+1, len(peer)))
	fill := fillRange(before, after, peer, lo, hi, rules)
	for i, f := range fill {
		if p := peer[f.Index]; len(after) > 0 && ahead(p.Win, after[0].Win, rules.Margin) && numberedInHole(p, last, after[0], rules) {
			fill[i].Possible = true // taken by its number against its time
		}
	}
	return fill
}

// FillStart returns, in line order, the peer frames that belong before the
// start of the local stream: after[0] is the first frame the local port
// delivered, so no local frame precedes it and nothing marks a hole before
// it. before are the frames known published before the start (the topic's
// latest records, newest last; empty when none is known), and peer the
// peer's frames, each in line order: every one that began on the line by
// to plus the margin. through is as for FillHoleThrough.
//
// The rules are FillHole's, with one more way to know where the local
// stream begins among the peer's frames: an anchor, the first local frame
// up to to whose identity occurs once among the local frames and once among
// the peer's, the peer's copy with a window within the margin of its own
// (a sentence with a time stamp; decision 0012 matches sightings by the
// same rule). The peer's frames from the anchor's copy on came after it on
// the line, and so did those just before it that are, one for one and in
// order, the local frames before the anchor (the same identity, windows
// within the margin). Without an anchor, a feed whose frames repeat would
// have the peer's copies of every local frame within the margin of the
// first published again, marked.
//
// That is not certain as the two facts are. If the peer lost the copy of
// the anchor or of a local frame before it, and holds another frame of
// that identity from before the local stream began (two frames alike in a
// row), the peer's frames between that one and the start are not chosen:
// as they were not before the start was asked about at all. Nothing is
// ever chosen unmarked that a local frame may be.
func FillStart(before, after, peer []Sighting, to int64, through int, rules HoleRules) []Fill {
	lo := lowerCut(before, after, peer, rules)
	hi := upperCut(after, peer, lo, nil, rules)
	if j, r := startAnchor(after, peer, lo, to, rules.Margin); j >= 0 {
		// Back from the anchor's copy, as long as the peer's frames are
		// the local ones before it.
		for r > 0 && j > lo {
			p, l := peer[j-1], after[r-1]
			if p.ID != l.ID || p.Exact != l.Exact || !p.MayBe(l, rules.Margin) || behind(p.Win, after[0].Win, rules.Margin) {
				break
			}
			j, r = j-1, r-1
		}
		hi = min(hi, j)
	}
	hi = max(hi, min(through+1, len(peer)))
	return fillRange(before, after, peer, lo, hi, rules)
}

// startAnchor returns the index in peer of the copy of the first local
// frame that ended by to and whose identity neither the local frames nor
// the peer's from lo on repeat, and that frame's index in after; -1 if
// there is none.
func startAnchor(after, peer []Sighting, lo int, to, margin int64) (copyAt, at int) {
	type key struct {
		id    uint64
		exact bool
	}
	peerAt := make(map[key]int) // index of the one copy; -1 for several
	for j := lo; j < len(peer); j++ {
		k := key{peer[j].ID, peer[j].Exact}
		if _, seen := peerAt[k]; seen {
			peerAt[k] = -1
		} else {
			peerAt[k] = j
		}
	}
	local := make(map[key]int, len(after))
	for _, l := range after {
		local[key{l.ID, l.Exact}]++
	}
	for i, l := range after {
		if l.Win.Hi > to {
			break
		}
		k := key{l.ID, l.Exact}
		j, ok := peerAt[k]
		if !ok || j < 0 || local[k] != 1 || !peer[j].MayBe(l, margin) {
			continue
		}
		if behind(peer[j].Win, after[0].Win, margin) {
			// Certainly before the local stream began: not the copy.
			return -1, -1
		}
		return j, i
	}
	return -1, -1
}

// fillRange returns peer[lo:hi] as a fill, each marked where a local frame
// may be it.
func fillRange(before, after, peer []Sighting, lo, hi int, rules HoleRules) []Fill {
	var fill []Fill
	for j := lo; j < hi; j++ {
		p := peer[j]
		possible := mayBeAny(p, before, rules) || mayBeAny(p, after, rules) ||
			len(before) > 0 && olderThanGiven(p.Win, before[0].Win, rules.Margin) ||
			laterCopy(p, before, after, rules)
		fill = append(fill, Fill{Index: j, Possible: possible})
	}
	return fill
}

// lowerCut returns the index of the first peer frame that may lie after
// the last local frame before the hole: every frame before it certainly is
// one of the local frames, or is older than the newest of them. after are
// the local frames after the hole, for numberedBefore.
func lowerCut(before, after, peer []Sighting, rules HoleRules) int {
	if len(before) == 0 {
		return 0
	}
	last := before[len(before)-1]
	oldest := before[0]
	var first *Sighting
	if len(after) > 0 {
		first = &after[0]
	}
	cut := 0
	for j, p := range peer {
		switch {
		case isAny(p, before, rules):
			// Frames are in line order: this one and all before it are
			// at or before a frame the hole follows.
			cut = j + 1
		case p.Exact && behind(p.Win, oldest.Win, rules.Margin):
			// A numbered frame is matched by number: time only places it
			// before everything the local side still remembers.
			cut = j + 1
		case numberedBefore(p, last, first, rules):
			cut = j + 1
		case !p.Exact && behind(p.Win, last.Win, rules.Margin):
			cut = j + 1
		}
	}
	return cut
}

// numberedBefore reports whether p is by its number earlier than last, the
// local frame before the hole, and its window does not put it certainly
// after last: a peer stopped or starved reads what waited in its port with
// a window reaching back over the wait, which time alone would take for
// the hole's frames, though the local side published them long before and
// no longer remembers them. Only where the numbers run up from last to
// first, the local frame after the hole: a counter that wrapped in the
// hole says nothing by its order. numberedAfter is the other side.
func numberedBefore(p, last Sighting, first *Sighting, rules HoleRules) bool {
	return first != nil && p.Exact && last.Exact && first.Exact && last.ID < first.ID &&
		p.ID < last.ID && !ahead(p.Win, last.Win, rules.Margin)
}

// upperCut returns the index of the first peer frame, from lo on, that
// certainly lies at or after the first local frame after the hole, or
// len(peer). last is the local frame before the hole (nil: none known).
func upperCut(after, peer []Sighting, lo int, last *Sighting, rules HoleRules) int {
	if len(after) == 0 {
		return len(peer)
	}
	first := after[0]
	for j := lo; j < len(peer); j++ {
		p := peer[j]
		if isAny(p, after, rules) || numberedAfter(p, last, first, rules) ||
			ahead(p.Win, first.Win, rules.Margin) && !numberedInHole(p, last, first, rules) {
			return j
		}
	}
	return len(peer)
}

// numberedAfter reports whether p is by its number later than first, the
// local frame after the hole, and its window does not put it certainly
// before first: a peer port that overflowed reads a frame with a window
// reaching far back, which time alone would take for one of the hole's.
// Only where the numbers run up from last, the local frame before the hole,
// to first: a counter that wrapped in the hole says nothing by its order.
func numberedAfter(p Sighting, last *Sighting, first Sighting, rules HoleRules) bool {
	return last != nil && p.Exact && last.Exact && first.Exact && last.ID < first.ID &&
		p.ID > first.ID && !behind(p.Win, first.Win, rules.Margin)
}

// numberedInHole reports whether p, a peer frame whose window puts it after
// first, the local frame after the hole, is by its number one the hole
// lacks: numbered between last and first, and late by no more than
// rules.Late.
func numberedInHole(p Sighting, last *Sighting, first Sighting, rules HoleRules) bool {
	return rules.Late > 0 && last != nil && p.Exact && last.Exact && first.Exact &&
		last.ID < p.ID && p.ID < first.ID && !ahead(p.Win, first.Win, rules.Margin+rules.Late)
}

// Published says what records read back from the topic (topic, in any
// order) say of p, a peer's frame offered for a hole: certain, one of them
// is certainly p's frame; possible, one may be (its identity, within the
// margin). A feed sequence number is certain only where both windows lie
// within rules.Margin plus rules.Late of each other, end to end: a counter
// may wrap, or its sender restart.
func Published(p Sighting, topic []Sighting, rules HoleRules) (certain, possible bool) {
	for _, t := range topic {
		if t.ID != p.ID || t.Exact != p.Exact {
			continue
		}
		if certainlySame(t, p, rules.Margin+rules.Late, rules.ByteTime) {
			return true, true
		}
		possible = possible || t.MayBe(p, rules.Margin)
	}
	return false, possible
}

// certainlySame reports whether two sightings of one identity are certainly
// one frame: the same feed sequence number with both windows, end to end,
// within slack, or the same bytes within less than their time on the line.
// A wide window (a starved port's) could otherwise reach a number of
// another round.
func certainlySame(a, b Sighting, slack, byteTime int64) bool {
	if a.Exact {
		return a.Win.Known() && b.Win.Known() && max(a.Win.Hi-b.Win.Lo, b.Win.Hi-a.Win.Lo) <= slack
	}
	return sameFrame(a.Win, b.Win, min(a.Size, b.Size), byteTime)
}

// isAny reports whether p is certainly one of the local frames.
func isAny(p Sighting, local []Sighting, rules HoleRules) bool {
	for _, l := range local {
		if l.ID != p.ID || l.Exact != p.Exact {
			continue
		}
		if p.Exact && sameNumber(l.Win, p.Win, rules.Margin+rules.Late, rules.NumbersCameBack) ||
			!p.Exact && sameFrame(l.Win, p.Win, min(l.Size, p.Size), rules.ByteTime) {
			return true
		}
	}
	return false
}

// mayBeAny reports whether some local frame may be p. The margin widens
// the windows: a port that delivers later than its bound shifts a copy's
// window, and a copy taken for two frames would go out unmarked.
func mayBeAny(p Sighting, local []Sighting, rules HoleRules) bool {
	for _, l := range local {
		if l.MayBe(p, rules.Margin) {
			return true
		}
	}
	return false
}

// laterCopy reports whether p may be a copy, read late, of a local frame:
// the only local frame of its identity within the margin and rules.Late of
// it, and an earlier one. A peer port that delivered a run of frames past
// its latency bound (a reader or the process feeding it starved) shifts
// their windows past the local copies, and the cross-check then asks for
// frames the local stream has. Such a copy is published marked, wherever
// the fill places it; the local copy, in its place, is not. A sentence with
// a time stamp comes once; one that repeats within that span is left to
// the margin, as before, rather than marked for every copy near it.
func laterCopy(p Sighting, before, after []Sighting, rules HoleRules) bool {
	if rules.Late <= 0 || p.Exact || !p.Win.Known() {
		return false
	}
	copies, earlier := 0, false
	for _, local := range [][]Sighting{before, after} {
		for _, l := range local {
			if l.ID == p.ID && !l.Exact && l.Win.Known() && l.MayBe(p, rules.Margin+rules.Late) {
				copies++
				earlier = earlier || l.Win.Lo < p.Win.Lo
			}
		}
	}
	return copies == 1 && earlier
}

// MayBe reports whether s and o may be one frame: the same identity and,
// without a feed sequence number, windows that come within slack of each
// other (or one of them unbounded).
func (s Sighting) MayBe(o Sighting, slack int64) bool {
	if s.ID != o.ID || s.Exact != o.Exact {
		return false
	}
	if s.Exact || !s.Win.Known() || !o.Win.Known() {
		return true
	}
	return s.Win.Lo-slack <= o.Win.Hi && o.Win.Lo-slack <= s.Win.Hi
}

// olderThanGiven reports whether a frame in window w may lie at or before
// the oldest local frame given, whose window is oldest: its copy, if the
// local stream has one, may be older still, where FillHole cannot see it.
func olderThanGiven(w, oldest Window, margin int64) bool {
	return w.Lo == NoLo || w.Lo-margin <= oldest.Hi
}

// behind reports whether a frame in window w certainly came before one in
// window ref: its latest line time is earlier than ref's earliest by more
// than the margin.
func behind(w, ref Window, margin int64) bool {
	return ref.Lo != NoLo && w.Hi < ref.Lo-margin
}

// ahead reports whether a frame in window w certainly came after one in
// window ref, by more than the margin.
func ahead(w, ref Window, margin int64) bool {
	return w.Lo != NoLo && w.Lo-margin > ref.Hi
}
