package audit

// refine is what weigh falls back on when weighing every minimal alignment
// would cost too much: it re-aligns a window around each difference with
// a dynamic programme that, among the alignments with the most matches,
// leaves unmatched first the records marked as possible duplicates and
// then the frames some port did not receive intact. Outside the windows
// the alignment is unchanged, and each window keeps its number of matches,
// so the result is still minimal; but a marked record farther away than
// the window, past a stretch of repeated frames, is not found.

const (
	// refineAnchors is how many matched pairs a window reaches beyond the
	// difference on each side: a member re-publishes frames shortly after
	// their first copy.
	refineAnchors = 48
	// refineMaxSide bounds a window's frames and records: the programme
	// costs their product in time and memory.
	refineMaxSide = 768
)

// Weights of a match in the programme: a match counts first, then whether
// the record is marked, then whether the frame was lost by a port. A
// window holds at most refineMaxSide matches, so the lower weights never
// add up to a higher one.
const (
	weightMatch    = int64(1) << 42
	penaltyMarked  = int64(1) << 20
	penaltyLostOne = int64(1)
)

func (c *comparison) refine() {
	markedSum := make([]int32, len(c.b)+1) // markedSum[j]: marked records before j
	for j := range c.topic {
		markedSum[j+1] = markedSum[j]
		if c.topic[j].PossibleDuplicate {
			markedSum[j+1]++
		}
	}
	lostSum := make([]int32, len(c.a)+1)
	for i := range c.exp {
		lostSum[i+1] = lostSum[i]
		if !c.exp[i].deliveredEverywhere() {
			lostSum[i+1]++
		}
	}
	if markedSum[len(c.b)] == 0 && lostSum[len(c.a)] == 0 {
		return // nothing to prefer
	}
	// pairs are the matched pairs in order, between two sentinels.
	type pair struct{ i, j int }
	pairs := []pair{{-1, -1}}
	for i, j := range c.ma {
		if j >= 0 {
			pairs = append(pairs, pair{i, int(j)})
		}
	}
	pairs = append(pairs, pair{len(c.a), len(c.b)})
	var table []int64
	for k := 0; k+1 < len(pairs); k++ {
		p, q := pairs[k], pairs[k+1]
		if q.i == p.i+1 && q.j == p.j+1 {
			continue // no difference between them
		}
		lo, hi := max(k-refineAnchors, 0), min(k+1+refineAnchors, len(pairs)-1)
		for lo < k && (pairs[hi].i-pairs[lo].i > refineMaxSide || pairs[hi].j-pairs[lo].j > refineMaxSide) {
			lo++
			if hi > k+1 {
				hi--
			}
		}
		a0, a1 := pairs[lo].i+1, pairs[hi].i // the window: a[a0:a1], b[b0:b1]
		b0, b1 := pairs[lo].j+1, pairs[hi].j
		if a1-a0 > refineMaxSide || b1-b0 > refineMaxSide {
			continue // too large a difference to weigh
		}
		if markedSum[b1] == markedSum[b0] && lostSum[a1] == lostSum[a0] {
			continue
		}
		table = c.realign(a0, a1, b0, b1, table)
		// The window keeps its number of matches: refresh its pairs.
		n := lo + 1
		for i := a0; i < a1; i++ {
			if j := c.ma[i]; j >= 0 {
				pairs[n] = pair{i, int(j)}
				n++
			}
		}
		if n != hi {
			panic("audit: re-aligning a window changed its number of matches")
		}
	}
}

// realign replaces the alignment of a[a0:a1] with b[b0:b1] (bounded by
// matched pairs or the ends) with the best by the weights above. table is
// scratch space, returned for reuse.
func (c *comparison) realign(a0, a1, b0, b1 int, table []int64) []int64 {
	n, m := a1-a0, b1-b0
	w := m + 1
	if cap(table) < (n+1)*w {
		table = make([]int64, (n+1)*w)
	}
	s := table[:(n+1)*w]
	clear(s[:w])
	for i := 1; i <= n; i++ {
		row, prev := s[i*w:(i+1)*w], s[(i-1)*w:i*w]
		row[0] = 0
		ai := c.a[a0+i-1]
		var lost int64
		if !c.exp[a0+i-1].deliveredEverywhere() {
			lost = penaltyLostOne
		}
		for j := 1; j <= m; j++ {
			best := max(prev[j], row[j-1])
			if ai == c.b[b0+j-1] {
				v := prev[j-1] + weightMatch - lost
				if c.topic[b0+j-1].PossibleDuplicate {
					v -= penaltyMarked
				}
				best = max(best, v)
			}
			row[j] = best
		}
	}
	for i := a0; i < a1; i++ {
		c.ma[i] = -1
	}
	for j := b0; j < b1; j++ {
		c.mb[j] = -1
	}
	// Back from the end; on ties a record is left out before a frame, and
	// both before a match: later copies become the extra ones.
	for i, j := n, m; i > 0 && j > 0; {
		switch v := s[i*w+j]; {
		case v == s[i*w+j-1]:
			j--
		case v == s[(i-1)*w+j]:
			i--
		default:
			c.match(a0+i-1, b0+j-1)
			i, j = i-1, j-1
		}
	}
	return table
}

func (c *comparison) match(i, j int) { c.ma[i], c.mb[j] = int32(j), int32(i) }

// maxSlide bounds how far an edit is slid among equal frames in search of
// a better-placed equivalent: a run of identical frames can be as long as
// the feed.
const maxSlide = 4096

// slideExtra moves each run of extra records among equal records so that
// it holds as many records marked possible as it can, and otherwise lies as
// late as it can: of two copies, the later is the duplicate.
func (c *comparison) slideExtra() {
	marked := func(j int) int {
		if c.topic[j].PossibleDuplicate {
			return 1
		}
		return 0
	}
	slideRuns(c.b, c.mb, c.ma, marked, true)
}

// slideMissing moves each run of missing frames among equal frames so that
// it holds as many frames some port did not receive intact as it can, and
// otherwise lies as early as it can.
func (c *comparison) slideMissing() {
	lost := func(i int) int {
		if c.exp[i].deliveredEverywhere() {
			return 0
		}
		return 1
	}
	slideRuns(c.a, c.ma, c.mb, lost, false)
}

// slideRuns slides every run of unmatched elements of x (m[i] < 0) along
// x while the alignment stays valid and minimal: a run [s, e) moves up by
// one when x[s-1] is matched and equal to x[e-1], the match passing to
// x[e-1], and down likewise. Of the positions reachable it takes the one
// whose run scores most, ties going to the latest (late) or the earliest.
// other is the alignment seen from the other stream.
func slideRuns(x, m, other []int32, score func(int) int, late bool) {
	n := len(x)
	for s := 0; s < n; {
		if m[s] >= 0 {
			s++
			continue
		}
		e := s
		for e < n && m[e] < 0 {
			e++
		}
		up := 0
		for up < maxSlide && s-up-1 >= 0 && m[s-up-1] >= 0 && x[s-up-1] == x[e-up-1] {
			up++
		}
		down := 0
		for down < maxSlide && e+down < n && m[e+down] >= 0 && x[s+down] == x[e+down] {
			down++
		}
		if up == 0 && down == 0 {
			s = e
			continue
		}
		runLen := e - s
		cur := 0
		for i := s - up; i < e-up; i++ {
			cur += score(i)
		}
		best, bestScore := s-up, cur
		for p := s - up + 1; p <= s+down; p++ {
			cur += score(p+runLen-1) - score(p-1)
			if cur > bestScore || (late && cur == bestScore) {
				best, bestScore = p, cur
			}
		}
		for ; s > best; s, e = s-1, e-1 { // up by one
			i := m[s-1]
			m[e-1], other[i], m[s-1] = i, int32(e-1), -1
		}
		for ; s < best; s, e = s+1, e+1 { // down by one
			i := m[e]
			m[s], other[i], m[e] = i, int32(s), -1
		}
		s = e
	}
}
