package backlog

import "math"

// The rules that decide what an echo removes. A member must never remove an
// entry whose frame may still be missing from the topic (that frame would be
// lost if this member took over), and should remove every entry whose frame
// is in the topic (or it would be published twice). Where it cannot be sure,
// it keeps the entry: flushed later, it is a counted possible duplicate.
//
// Two facts make an entry certain, and nothing else does:
//
//   - Same frame. A serial line carries one character at a time, so two
//     distinct frames with the same n bytes end at least n character times
//     apart. If an entry and an echo have the same identity and both
//     windows fit within less than that, they are the same frame. A feed
//     sequence number (an exact identity) says so unless line time says
//     otherwise: a counter may wrap, or its sender restart (sameNumber).
//   - Behind. If an entry's window ends before a committed frame's window
//     begins, the entry's frame came first on the line: it is in the topic
//     already, or the active never read it. Everything older than a matched
//     entry is behind it too. A margin (PassMargin) is kept on the time
//     rule, for ports that deliver later than their latency bound says. A
//     frame with a feed sequence number is left to the exact rule.

// TrimEcho handles one committed record echoed back from the topic.
//
// If an entry is certainly the echo's frame, it is removed with every older
// entry (those counted as passed). Otherwise the echo is remembered: the
// frame may arrive later (Append then recognises it) or an entry may be it
// without certainty (PossiblyPublished then says so). Either way every entry
// that a committed frame certainly came after, by more than the pass margin,
// is passed over.
func (r *Ring) TrimEcho(e Echo) TrimResult {
	var res TrimResult
	r.stats.Echoes++
	if e.Exact && !e.Possible {
		r.noteNumber(&r.lastEchoed, &r.haveEchoed, e.ID)
	}
	if r.mem.n > 0 {
		r.expireMemory(max(e.Win.Hi, r.lastWin.Hi))
	}
	if e.Win.Lo != NoLo && e.Win.Lo-r.margin > r.passBefore {
		r.passBefore = e.Win.Lo - r.margin
	}
	switch k := r.findCertain(e); {
	case k >= 0:
		s := r.slot(k)
		res.Kind, res.Pos, res.ReceivedAt = TrimMatched, r.headPos()+uint64(k), r.hi(s)+r.wallOffset
		res.Passed = k
		res.Realigned = k > 0 || r.uncertain || r.limbo.n > 0
		r.pass(k)
		r.drop(1)
		r.stats.TrimmedByEcho++
		r.limbo.resolveAll(&r.stats)
		r.matched(&res)
	case r.limbo.matchCertain(r, e):
		res.Kind = TrimMatched
		res.Realigned = true
		r.matched(&res)
	default:
		res.Kind = TrimRemembered
		res.Forgotten = r.remember(e.ID, e.Win, e.Exact)
	}
	res.Passed += r.passBehind()
	return res
}

func (r *Ring) matched(res *TrimResult) {
	r.stats.Matched++
	if res.Realigned {
		r.stats.Realigned++
	}
	r.uncertain = false
}

// remember keeps an echo no entry certainly is; it reports whether the
// memory had to forget its oldest echo for it.
func (r *Ring) remember(id uint64, w Window, exact bool) bool {
	r.stats.Remembered++
	r.uncertain = true
	evicted, ew := r.mem.push(id, w, exact)
	if evicted {
		r.forget(ew)
	}
	return evicted
}

// forget accounts for a remembered echo leaving the memory unmatched: an
// entry it may be stays possibly published.
func (r *Ring) forget(w Window) {
	r.stats.Forgotten++
	r.forgottenHi = max(r.forgottenHi, w.Hi)
}

// expireMemory forgets the echoes (oldest first) whose windows ended more
// than the memory's TTL before now.
func (r *Ring) expireMemory(now int64) int {
	if now < math.MinInt64+r.memTTL {
		return 0
	}
	cutoff := now - r.memTTL
	c := 0
	for r.mem.n > 0 && r.mem.win[r.mem.oldest].Hi < cutoff {
		node := r.mem.oldest
		r.forget(r.mem.win[node])
		r.mem.remove(node)
		c++
	}
	return c
}

// passBehind removes the oldest entries whose windows end before the pass
// threshold, and returns how many.
//
// A frame with a feed sequence number is passed by time only once a number
// has come back, and only NumberedLate further behind: while the numbers
// grow, its own echo, or the echo of a later number, removes it exactly,
// and a port that delivered it later than its latency bound must not cost
// it; once one has come back, an echo whose window is too wide for
// sameNumber (a peer's clock not measured for a long while) matches
// nothing, and without this the ring would keep every numbered frame until
// it overflowed.
func (r *Ring) passBehind() int {
	r.limbo.resolveBefore(r.passBefore, &r.stats)
	k := 0
	for ; k < r.n; k++ {
		s := r.slot(k)
		hi := r.hi(s)
		if hi >= r.passBefore || r.exact(s) && (!r.numbersCameBack || r.passBefore-hi <= int64(NumberedLate)) {
			break
		}
	}
	if k > 0 {
		r.pass(k)
	}
	return k
}

// pass removes the k oldest entries, which lie behind a committed frame.
// An entry that a remembered echo may have been the record of is counted
// passed; one that no echo could have been was skipped by the active: its
// port never delivered the frame. The echo stays remembered: it may be
// another entry's record, and that entry must still be seen as possibly
// published.
func (r *Ring) pass(k int) {
	if k == 0 {
		return
	}
	for i := range k {
		p := r.slot(i)
		b, o := r.sl.block(p), p&blockMask
		w, exact := b.window(o), b.exact(o)
		node := r.mem.first(b.ids[o])
		for ; node >= 0; node = r.mem.same[node] {
			if r.mem.exact[node] == exact && r.mayBe(r.mem.win[node], w, exact) {
				break
			}
		}
		switch {
		case node >= 0, w.Lo <= r.forgottenHi:
			r.stats.Passed++
		default:
			r.stats.Skipped++
		}
	}
	r.drop(k)
}

// findCertain returns the index (from the oldest, 0) of the entry that is
// certainly the echo's frame, or -1.
func (r *Ring) findCertain(e Echo) int {
	if r.n == 0 {
		return -1
	}
	if e.Exact {
		return r.findExact(e)
	}
	if !e.Win.Known() || r.byteTime <= 0 {
		return -1
	}
	// In the steady state the echo is the oldest entry's. A certain match
	// is the only one, so no other entry needs a look.
	p := r.headPos()
	b, o := r.sl.block(p), p&blockMask
	if b.ids[o] == e.ID && !b.exact(o) {
		if start, end := r.extentIn(0, b, o); r.sameFrame(b.window(o), e.Win, int(end-start)) {
			return 0
		}
	}
	// Entries are in line order and their windows grow with it: the
	// candidates are those whose windows overlap the echo's, a short run
	// found by binary search.
	lo, hi := 0, r.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.hi(r.slot(m)) < e.Win.Lo {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for k, stop := lo, min(r.n, lo+maxCandidates); k < stop; k++ {
		p := r.slot(k)
		b, o := r.sl.block(p), p&blockMask
		w := b.window(o)
		if w.Lo > e.Win.Hi {
			break
		}
		if b.ids[o] == e.ID && !b.exact(o) && r.sameFrame(w, e.Win, r.size(k)) {
			return k
		}
	}
	return -1
}

// maxCandidates bounds the entries compared with one echo by time; windows
// that wide could not make a match certain anyway.
const maxCandidates = 1024

// findExact finds the oldest entry that is certainly the echo's frame by its
// feed sequence number (sameNumber): at the head, within the look-ahead
// window, by binary search where the numbers grow (as a feed's do between
// restarts of its count), or by a scan of the rest of the ring once enough
// misses have paid for one.
func (r *Ring) findExact(e Echo) int {
	if r.isNumbered(0, e) {
		return 0
	}
	w := min(r.n, r.lookAhead)
	if k := r.scanExact(e, 1, w); k >= 0 {
		return k
	}
	if r.n <= w {
		return -1
	}
	lo, hi := w, r.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.id(r.slot(m)) < e.ID {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < r.n && r.isNumbered(lo, e) {
		// Where the numbers do not grow, an older entry may hold the
		// same number; the scan below finds the oldest when it can.
		if k := r.scanExact(e, w, lo); k < 0 {
			return lo
		}
	}
	r.scanCredit = min(r.scanCredit+r.lookAhead, r.n)
	if r.scanCredit < r.n-w {
		return -1
	}
	r.scanCredit = 0
	return r.scanExact(e, w, r.n)
}

func (r *Ring) scanExact(e Echo, from, to int) int {
	for k := from; k < to; k++ {
		if r.isNumbered(k, e) {
			return k
		}
	}
	return -1
}

// isNumbered reports whether the entry at index k is certainly the frame of
// e, an echo with a feed sequence number.
func (r *Ring) isNumbered(k int, e Echo) bool {
	s := r.slot(k)
	return r.id(s) == e.ID && r.exact(s) && sameNumber(r.window(s), e.Win, r.numberSlack, r.numbersCameBack)
}

// noteNumber records a feed sequence number seen in one stream, in line
// order (the port's frames, or the echo's records not marked as possible
// duplicates), and reports whether it came back: a number that does not
// grow is a counter that wrapped or a sender that restarted its count.
func (r *Ring) noteNumber(last *uint64, have *bool, id uint64) bool {
	back := *have && id <= *last
	if back {
		r.numbersCameBack = true
		r.stats.NumbersBack++
	}
	*last, *have = id, true
	return back
}

// notePortNumber is noteNumber for a frame of the port that ended on the
// line by at, and counts a number that came back within the slack: the
// same number as the frame before it, or a counter whose round took no
// longer.
func (r *Ring) notePortNumber(id uint64, at int64) {
	repeat := r.haveAppended && id == r.lastAppended && at-r.lastAppendedAt <= r.numberSlack
	if r.noteNumber(&r.lastAppended, &r.haveAppended, id) {
		if repeat || r.backAt != math.MinInt64 && at-r.backAt <= r.numberSlack {
			r.stats.NumbersBackSoon++
		}
		r.backAt = at
	}
	r.lastAppendedAt = at
}

// NumbersCameBack reports whether a feed sequence number has come back (it
// did not grow) on this member's port or in the echo since the ring was
// made: from then on the same number may be another frame (sameNumber).
func (r *Ring) NumbersCameBack() bool { return r.numbersCameBack }

// sameNumber reports whether two sightings of one feed sequence number, in
// windows a and b, are certainly one frame; slack is how far apart two
// sightings of one frame can be (the pass margin plus NumberedLate).
//
// A counter that wraps, or a sender that restarts its count, brings a
// number back as another frame, and taking one for the other would pass
// over a frame that is not in the topic. While no number has come back
// (cameBack), the number decides unless the windows show the two further
// apart than slack. Once one has, both windows must be known and lie
// within slack of each other, end to end. Not told apart: a counter that
// comes round again within slack, and, before any number came back, a
// sighting whose window has no start (docs/configuration.md, sequence).
func sameNumber(a, b Window, slack int64, cameBack bool) bool {
	if cameBack {
		return a.Known() && b.Known() && max(a.Hi-b.Lo, b.Hi-a.Lo) <= slack
	}
	return !numbersApart(a, b, slack)
}

// mayBeNumber reports whether two sightings of one feed sequence number may
// be one frame: always while no number came back (a sighting further from
// the other than slack is still that frame, only read late); once one did,
// unless the windows show them further apart than slack.
func mayBeNumber(a, b Window, slack int64, cameBack bool) bool {
	return !cameBack || !numbersApart(a, b, slack)
}

// numbersApart reports whether one window begins more than slack after the
// other ends.
func numbersApart(a, b Window, slack int64) bool {
	return ahead(a, b, slack) || ahead(b, a, slack)
}

// sameFrame reports whether two sightings of frames with the same n bytes,
// within windows a and b, are certainly one frame: they overlap, and even
// their farthest ends are closer than the line takes to carry n bytes.
func (r *Ring) sameFrame(a, b Window, n int) bool { return sameFrame(a, b, n, r.byteTime) }

// sameFrame is the rule for a line of the given character time.
func sameFrame(a, b Window, n int, byteTime int64) bool {
	if !a.Known() || !b.Known() || !overlaps(a, b) || byteTime <= 0 || n <= 0 {
		return false
	}
	return max(a.Hi-b.Lo, b.Hi-a.Lo) < int64(n)*byteTime
}

// certainEcho returns the remembered echo that is certainly the frame being
// appended, or -1.
func (r *Ring) certainEcho(id uint64, exact bool, w Window, n int) int32 {
	for node := r.mem.first(id); node >= 0; node = r.mem.same[node] {
		if r.mem.exact[node] != exact {
			continue
		}
		if exact && sameNumber(r.mem.win[node], w, r.numberSlack, r.numbersCameBack) || !exact && r.sameFrame(r.mem.win[node], w, n) {
			return node
		}
	}
	return -1
}

func overlaps(a, b Window) bool { return a.Lo <= b.Hi && b.Lo <= a.Hi }
