package audit

import "slices"

// maxMoveCandidates bounds the places looked at for each block when
// searching where a missing block went.
const maxMoveCandidates = 256

// findMoves pairs missing frames with extra records that hold the same
// frames in the same order: first whole missing runs found inside an extra
// run, then whole extra runs found inside a missing run (the longest runs
// first, as the likeliest to have moved as blocks), then single frames
// left over (consecutive ones joined into blocks). Each takes the candidate
// nearest to where the frames belong. Records marked possible whose frame
// is matched elsewhere are left out: with repeated frames, a lost frame
// and a member's re-publication of an equal one are otherwise
// indistinguishable from a move, and the mark says which it is.
func (c *comparison) findMoves() {
	c.moveA, c.moveB = make([]int32, len(c.a)), make([]int32, len(c.b))
	for i := range c.moveA {
		c.moveA[i] = -1
	}
	for j := range c.moveB {
		c.moveB[j] = -1
	}
	// A record marked possible whose frame is matched elsewhere is what
	// its member said it might be, a duplicate: it is no candidate.
	kept := make(map[int32]bool)
	for j, i := range c.mb {
		if i >= 0 {
			kept[c.b[j]] = true
		}
	}
	candidate := func(j int) bool { return c.mb[j] < 0 && !(c.topic[j].PossibleDuplicate && kept[c.b[j]]) }
	freeA := func(i int) bool { return c.ma[i] < 0 && c.moveA[i] < 0 }
	freeB := func(j int) bool { return candidate(j) && c.moveB[j] < 0 }
	extraAt := positionsByID(c.b, candidate)
	missingAt := positionsByID(c.a, func(i int) bool { return c.ma[i] < 0 })
	if len(extraAt) == 0 || len(missingAt) == 0 {
		return
	}
	// fits reports whether x[p:p+n] are free and equal to y[q:q+n].
	fits := func(x []int32, free func(int) bool, p int, y []int32, q, n int) bool {
		if p < 0 || p+n > len(x) {
			return false
		}
		for k := range n {
			if !free(p+k) || x[p+k] != y[q+k] {
				return false
			}
		}
		return true
	}

	// Whole missing runs inside extra runs, the longest first.
	for _, r := range longestFirst(runs(len(c.a), freeA)) {
		s, n := r.s, r.e-r.s
		if p, ok := nearest(extraAt[c.a[s]], c.insertionB(s), func(p int) bool { return fits(c.b, freeB, p, c.a, s, n) }); ok {
			c.addMove(s, p, n)
		}
	}
	// Whole extra runs inside missing runs, the longest first.
	for _, r := range longestFirst(runs(len(c.b), freeB)) {
		s, n := r.s, r.e-r.s
		if p, ok := nearest(missingAt[c.b[s]], c.insertionA(s), func(p int) bool { return fits(c.a, freeA, p, c.b, s, n) }); ok {
			c.addMove(p, s, n)
		}
	}
	// Single frames.
	first := len(c.moves)
	for j := range c.b {
		if !freeB(j) {
			continue
		}
		if i, ok := nearest(missingAt[c.b[j]], c.insertionA(j), freeA); ok {
			c.addMove(i, j, 1)
		}
	}
	c.joinSingles(first)
}

func (c *comparison) addMove(a, b, n int) {
	id := int32(len(c.moves))
	c.moves = append(c.moves, moveSpan{a: a, b: b, n: n})
	for k := range n {
		c.moveA[a+k], c.moveB[b+k] = id, id
	}
}

// joinSingles joins the single-frame moves from moves[first:] that
// continue one another in both streams.
func (c *comparison) joinSingles(first int) {
	singles := slices.Clone(c.moves[first:])
	if len(singles) < 2 {
		return
	}
	slices.SortFunc(singles, func(x, y moveSpan) int { return x.a - y.a })
	c.moves = c.moves[:first]
	for _, m := range singles {
		if k := len(c.moves) - 1; k >= first {
			last := &c.moves[k]
			if last.a+last.n == m.a && last.b+last.n == m.b {
				last.n++
				continue
			}
		}
		c.moves = append(c.moves, m)
	}
	for k := first; k < len(c.moves); k++ {
		m := c.moves[k]
		for i := range m.n {
			c.moveA[m.a+i], c.moveB[m.b+i] = int32(k), int32(k)
		}
	}
}

// neighbours computes, once the alignment is final, each frame's and each
// record's nearest matched neighbours.
func (c *comparison) neighbours() {
	c.prevB, c.nextB = make([]int32, len(c.a)), make([]int32, len(c.a))
	last := int32(-1)
	for i := range c.a {
		c.prevB[i] = last
		if c.ma[i] >= 0 {
			last = c.ma[i]
		}
	}
	next := int32(len(c.b))
	for i := len(c.a) - 1; i >= 0; i-- {
		if c.ma[i] >= 0 {
			next = c.ma[i]
		}
		c.nextB[i] = next
	}
	c.prevA = make([]int32, len(c.b))
	last = -1
	for j := range c.b {
		c.prevA[j] = last
		if c.mb[j] >= 0 {
			last = c.mb[j]
		}
	}
}

// insertionB is the topic position where expected frame i belongs: just
// after the record matched to the nearest matched frame before it.
func (c *comparison) insertionB(i int) int { return int(c.prevB[i]) + 1 }

// insertionA is the expected position a topic record j stands at: just
// after the frame matched to the nearest matched record before it.
func (c *comparison) insertionA(j int) int { return int(c.prevA[j]) + 1 }

// positionsByID lists, for each id, the positions i of x where keep(i), in
// increasing order.
func positionsByID(x []int32, keep func(int) bool) map[int32][]int {
	out := make(map[int32][]int)
	for i, id := range x {
		if keep(i) {
			out[id] = append(out[id], i)
		}
	}
	return out
}

// nearest returns the position in the sorted list ps nearest to want for
// which ok holds, looking at no more than maxMoveCandidates of them.
func nearest(ps []int, want int, ok func(int) bool) (int, bool) {
	hi, _ := slices.BinarySearch(ps, want)
	lo := hi - 1
	for range maxMoveCandidates {
		switch {
		case lo < 0 && hi >= len(ps):
			return 0, false
		case hi < len(ps) && (lo < 0 || ps[hi]-want <= want-ps[lo]):
			if p := ps[hi]; ok(p) {
				return p, true
			}
			hi++
		default:
			if p := ps[lo]; ok(p) {
				return p, true
			}
			lo--
		}
	}
	return 0, false
}

type span struct{ s, e int }

// longestFirst collects the runs, the longest first (in order among equals).
func longestFirst(seq func(yield func(int, int) bool)) []span {
	var out []span
	for s, e := range seq {
		out = append(out, span{s, e})
	}
	slices.SortStableFunc(out, func(x, y span) int { return (y.e - y.s) - (x.e - x.s) })
	return out
}

// runs yields the maximal runs [s, e) of positions below n where in holds.
func runs(n int, in func(int) bool) func(yield func(int, int) bool) {
	return func(yield func(int, int) bool) {
		for s := 0; s < n; {
			if !in(s) {
				s++
				continue
			}
			e := s + 1
			for e < n && in(e) {
				e++
			}
			if !yield(s, e) {
				return
			}
			s = e
		}
	}
}
