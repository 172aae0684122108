package audit

// When frames repeat, many alignments are minimal, and Myers' algorithm
// picks one without regard to what the records and frames say about
// themselves. weigh chooses, among all the minimal alignments, one that
// leaves unmatched as many records marked as possible duplicates as any
// can, and then as many frames some port did not receive intact.
//
// It weighs the cells of the edit graph that lie on a minimal path (see
// expect_minimal.go), row by row, between the least and the greatest
// diagonal such a cell has in the row (the row's hull). Every minimal path
// stays inside the hulls, so the best of them is found; a path through the
// hulls that is not minimal has fewer matches and loses to any that is,
// since a match outweighs everything else. A row whose hull is one cell is
// crossed by every minimal path at that cell: the rows between two such
// anchors are weighed on their own, and only where some minimal path could
// do better than Myers' (some unmarked record extra and some marked one
// matched, or likewise for frames).
//
// Where the frames do not repeat in step with the differences, a hull is
// about one cell. Where they do, over a stretch of a feed whose cycle
// repeats exactly, the hulls span every diagonal between the differences
// (a copy of a whole cycle can be the extra one anywhere in the stretch).
// There the rows repeat: row x's frame, the records its hull meets, their
// marks and the hull itself are those of row x-p. Then if row x-1's values
// are row x-1-p's plus a constant, so are the values of every repeating
// row after it, and the choices are the same (the programme adds and takes
// maxima, and adding a constant to its inputs adds it to its outputs). So
// once a row's values repeat, the rest of the repeating stretch is not
// computed: its choices are read from the p rows before it, and the rows
// after it start from their values plus the constant. The cost is then the
// cells of rows that do not repeat, or not yet: those near a difference, a
// mark or a lost frame.

import (
	"slices"
)

const (
	// maxWeighedCells bounds the cells weighed (two bits each are kept)
	// and maxMinimalRuns the runs listing the cells on minimal paths;
	// beyond them refine weighs a window around each difference instead.
	maxWeighedCells = 1 << 28
	maxMinimalRuns  = 1 << 22
	// maxPeriod is the longest cycle of frames looked for.
	maxPeriod = 64
)

const (
	stepNone = iota
	stepMatch
	stepFrame  // the frame above is left out
	stepRecord // the record to the left is left out
)

// unreachable is the value of a cell no path from the span's start
// reaches.
const unreachable = -int64(1) << 62

// weighSpan is a stretch between two anchors: from cell (x1, x1+k1) to
// cell (x2, x2+k2).
type weighSpan struct{ x1, k1, x2, k2 int }

// weighWeights are a match's value, less marked for a marked record and
// lost for a frame some port did not receive intact.
type weighWeights struct{ match, marked, lost int64 }

// weigh replaces the alignment with the best minimal one, or refines it
// near each difference when that would cost too much.
func (c *comparison) weigh() {
	if !c.couldDoBetter(weighSpan{0, 0, len(c.a), len(c.b) - len(c.a)}) {
		return // also when nothing is marked or lost
	}
	dist := len(c.a) + len(c.b)
	for _, j := range c.ma {
		if j >= 0 {
			dist -= 2
		}
	}
	frontTable := c.frontTable
	if frontTable <= 0 {
		frontTable = minimalTableEntries
	}
	budget := c.maxWeighedCells
	if budget <= 0 {
		budget = maxWeighedCells
	}
	lo, hi, ok := minimalHull(c.a, c.b, dist, frontTable, maxMinimalRuns)
	if ok {
		c.marked = make([]bool, len(c.b))
		for j := range c.topic {
			c.marked[j] = c.topic[j].PossibleDuplicate
		}
		for _, s := range c.weighSpans(lo, hi) {
			w := &spanWeigher{c: c, s: s, lo: lo, hi: hi, budget: budget}
			if !w.run() {
				ok = false
				break
			}
			budget -= w.cells
		}
	}
	if !ok {
		c.refine()
		c.weighedNear = dist
	}
}

// weighSpans lists the stretches between anchors where a minimal path
// could do better than the current alignment.
func (c *comparison) weighSpans(lo, hi []int32) []weighSpan {
	n := len(c.a)
	var out []weighSpan
	x1, k1 := 0, 0
	for x := 1; x <= n; x++ {
		if x < n && lo[x] != hi[x] {
			continue
		}
		k := int(lo[x])
		if x == n {
			k = len(c.b) - n
		}
		if s := (weighSpan{x1, k1, x, k}); !(x == x1+1 && (k == k1 || k == k1-1)) && c.couldDoBetter(s) {
			out = append(out, s)
		}
		x1, k1 = x, k
	}
	return out
}

// couldDoBetter reports whether, between the anchors, some record left out
// is unmarked while a marked one is matched, or some frame left out was
// received intact everywhere while a frame that was not is matched. If not,
// no alignment leaves out more marked records or more frames lost by a
// port: the number of records and frames left out is the same in all.
func (c *comparison) couldDoBetter(s weighSpan) bool {
	var extraUnmarked, matchedMarked, missingDelivered, matchedLost bool
	for j := s.x1 + s.k1; j < s.x2+s.k2; j++ {
		switch marked := c.topic[j].PossibleDuplicate; {
		case c.mb[j] < 0 && !marked:
			extraUnmarked = true
		case c.mb[j] >= 0 && marked:
			matchedMarked = true
		}
	}
	if extraUnmarked && matchedMarked {
		return true
	}
	for i := s.x1; i < s.x2; i++ {
		switch lost := c.lost[i]; {
		case c.ma[i] < 0 && !lost:
			missingDelivered = true
		case c.ma[i] >= 0 && lost:
			matchedLost = true
		}
	}
	return missingDelivered && matchedLost
}

// spanWeigher weighs one span.
type spanWeigher struct {
	c      *comparison
	s      weighSpan
	lo, hi []int32
	w      weighWeights
	budget int64
	// p is the span's cycle of frames (0: none); repeatsB[j-j1] counts
	// the records of the span before j that differ from the one p before
	// them, in bytes or mark.
	p        int
	repeatsB []int32
	// steps holds two bits a cell for the rows computed; at[x-x1] is the
	// first cell of row x, or of the row whose choices it repeats. cells
	// counts the cells computed.
	steps []byte
	at    []int64
	cells int64
	// ring holds the values of the last p+1 rows, row x in ring[x%len]:
	// cell k at 1+k-lo[x], between one unreachable cell before and two
	// after.
	ring [][]int64
}

// run weighs the span and replaces its alignment; it returns false,
// changing nothing, when that would take more than the budget's cells.
func (sw *spanWeigher) run() bool {
	c, s := sw.c, sw.s
	sw.w = c.weights(s)
	sw.p = c.period(s)
	widest := 0
	for x := s.x1; x <= s.x2; x++ {
		widest = max(widest, int(sw.hi[x]-sw.lo[x])+1)
	}
	if sw.p > 0 {
		j1, j2 := s.x1+s.k1, s.x2+s.k2
		sw.repeatsB = make([]int32, j2-j1+1)
		for j := j1; j < j2; j++ {
			differs := j < sw.p || c.b[j] != c.b[j-sw.p] || c.marked[j] != c.marked[j-sw.p]
			sw.repeatsB[j-j1+1] = sw.repeatsB[j-j1]
			if differs {
				sw.repeatsB[j-j1+1]++
			}
		}
	}
	sw.ring = make([][]int64, sw.p+1)
	if sw.p == 0 {
		sw.ring = make([][]int64, 2)
	}
	for i := range sw.ring {
		sw.ring[i] = make([]int64, widest+3)
	}
	sw.at = make([]int64, s.x2-s.x1+1)
	if !sw.start() {
		return false
	}
	for x := s.x1 + 1; x <= s.x2; {
		if e := sw.repeatFrom(x); e > x {
			x = e
			continue
		}
		if !sw.row(x) {
			return false
		}
		x++
	}
	sw.traceBack()
	return true
}

// weights returns the span's weights: a match outweighs all the marks and
// losses the span can hold, and a mark all its losses.
func (c *comparison) weights(s weighSpan) weighWeights {
	var marked, lost int64
	for j := s.x1 + s.k1; j < s.x2+s.k2; j++ {
		if c.topic[j].PossibleDuplicate {
			marked++
		}
	}
	for i := s.x1; i < s.x2; i++ {
		if c.lost[i] {
			lost++
		}
	}
	w := weighWeights{lost: 1, marked: lost + 1}
	w.match = w.marked * (marked + 1)
	if rows := int64(s.x2 - s.x1 + 1); w.match > (int64(1)<<61)/rows {
		// Only for spans of millions of frames, most of them marked
		// and lost: losses are no longer weighed.
		w = weighWeights{match: marked + 1, marked: 1}
	}
	return w
}

// period returns the least p <= maxPeriod, at most a quarter of the
// span's rows, such that nine in ten of the span's frames, sampled, equal
// the frame p before them; 0 if there is none. A wrong guess costs time,
// never the result: rows are skipped only where they repeat.
func (c *comparison) period(s weighSpan) int {
	const samples = 256
	rows := s.x2 - s.x1
	if c.everyRow {
		return 0
	}
	for p := 1; p <= maxPeriod && 4*p <= rows; p++ {
		n, same := min(samples, rows-p), 0
		for t := range n {
			if i := s.x1 + p + t*(rows-p)/n; c.a[i] == c.a[i-p] {
				same++
			}
		}
		if same*10 >= n*9 {
			return p
		}
	}
	return 0
}

// grow makes room for a row of n cells' steps, starting on a byte, and
// returns where they start.
func (sw *spanWeigher) grow(n int) (int64, bool) {
	first := (sw.cells + 3) &^ 3
	sw.cells = first + int64(n)
	if sw.cells > sw.budget {
		return 0, false
	}
	need := int((sw.cells + 3) / 4)
	if need > len(sw.steps) {
		old := len(sw.steps)
		sw.steps = slices.Grow(sw.steps, need-old)[:need]
		clear(sw.steps[old:])
	}
	return first, true
}

func (sw *spanWeigher) step(i int64) byte {
	return sw.steps[i>>2] >> ((i & 3) << 1) & 3
}

// pad marks the cells around row x's values unreachable.
func (sw *spanWeigher) pad(x int) {
	row, w := sw.ring[x%len(sw.ring)], int(sw.hi[x]-sw.lo[x])+1
	row[0], row[w+1], row[w+2] = unreachable, unreachable, unreachable
}

// start fills the span's first row: its start cell, and the cells after
// it reached by leaving records out.
func (sw *spanWeigher) start() bool {
	x, lo, hi := sw.s.x1, int(sw.lo[sw.s.x1]), int(sw.hi[sw.s.x1])
	first, ok := sw.grow(hi - lo + 1)
	if !ok {
		return false
	}
	sw.at[0] = first
	cur := sw.ring[x%len(sw.ring)]
	for k := lo; k <= hi; k++ {
		v := unreachable
		switch {
		case k == sw.s.k1:
			v = 0
		case k > sw.s.k1 && cur[k-lo] != unreachable:
			v = cur[k-lo]
			i := first + int64(k-lo)
			sw.steps[i>>2] |= stepRecord << ((i & 3) << 1)
		}
		cur[1+k-lo] = v
	}
	sw.pad(x)
	return true
}

// row computes row x from row x-1.
func (sw *spanWeigher) row(x int) bool {
	c := sw.c
	plo, phi := int(sw.lo[x-1]), int(sw.hi[x-1])
	rlo, rhi := int(sw.lo[x]), int(sw.hi[x])
	first, ok := sw.grow(rhi - rlo + 1)
	if !ok {
		return false
	}
	sw.at[x-sw.s.x1] = first
	prev, cur := sw.ring[(x-1)%len(sw.ring)], sw.ring[x%len(sw.ring)]
	steps := sw.steps[first>>2:]
	frame := c.a[x-1]
	matchValue := sw.w.match
	if c.lost[x-1] {
		matchValue -= sw.w.lost
	}
	markedValue := sw.w.marked
	b, marked := c.b, c.marked
	// Cell k's match takes record j = x-1+k and row x-1's cell k, at
	// prev[i]; leaving the frame out comes from row x-1's cell k+1, at
	// prev[i+1]. A row's cells start at least one before the previous
	// row's (the path reaching the first came down from there), so both
	// lie in prev and its padding up to k = phi+1; after that, only
	// leaving records out reaches a cell.
	i, j := rlo-plo+1, x-1+rlo
	left := unreachable
	var acc byte
	var shift uint
	o := 0
	k := rlo
	for mid := min(rhi, phi+1); k <= mid; k++ {
		best, step := unreachable, byte(stepNone)
		if p := prev[i]; p != unreachable && b[j] == frame {
			best, step = p+matchValue, stepMatch
			if marked[j] {
				best -= markedValue
			}
		}
		if p := prev[i+1]; p != unreachable && p >= best {
			best, step = p, stepFrame
		}
		if left != unreachable && left >= best {
			best, step = left, stepRecord
		}
		cur[1+k-rlo] = best
		left = best
		i, j = i+1, j+1
		acc |= step << shift
		if shift += 2; shift == 8 {
			steps[o], o, acc, shift = acc, o+1, 0, 0
		}
	}
	for ; k <= rhi; k++ {
		step := byte(stepNone)
		if left != unreachable {
			step = stepRecord
		}
		cur[1+k-rlo] = left
		acc |= step << shift
		if shift += 2; shift == 8 {
			steps[o], o, acc, shift = acc, o+1, 0, 0
		}
	}
	if shift > 0 {
		steps[o] = acc
	}
	sw.pad(x)
	return true
}

// repeats reports whether row x repeats row x-p: the same frame, lost or
// not, the same hull as row x-p and the row before it as the row before
// that, and the same records, marked or not, in the columns its cells
// match.
func (sw *spanWeigher) repeats(x int) bool {
	p, c := sw.p, sw.c
	if p == 0 || x-p <= sw.s.x1 || c.a[x-1] != c.a[x-1-p] || c.lost[x-1] != c.lost[x-1-p] ||
		sw.lo[x] != sw.lo[x-p] || sw.hi[x] != sw.hi[x-p] || sw.lo[x-1] != sw.lo[x-1-p] || sw.hi[x-1] != sw.hi[x-1-p] {
		return false
	}
	j1 := sw.s.x1 + sw.s.k1
	from, to := x-1+int(sw.lo[x])-j1, x-1+int(sw.hi[x])-j1 // in repeatsB
	return from >= 0 && sw.repeatsB[to+1] == sw.repeatsB[from]
}

// repeatFrom skips the rows from x on that repeat, if row x-1's values are
// row x-1-p's plus a constant, and returns the first row not skipped (x
// if none is).
func (sw *spanWeigher) repeatFrom(x int) int {
	if !sw.repeats(x) {
		return x
	}
	p, n := sw.p, len(sw.ring)
	last, before := sw.ring[(x-1)%n], sw.ring[(x-1-p)%n]
	width := int(sw.hi[x-1]-sw.lo[x-1]) + 1
	shift, found := int64(0), false
	for k := 1; k <= width; k++ {
		switch u, v := last[k], before[k]; {
		case (u == unreachable) != (v == unreachable):
			return x
		case u == unreachable:
		case !found:
			shift, found = u-v, true
		case u-v != shift:
			return x
		}
	}
	e := x + 1
	for e <= sw.s.x2 && sw.repeats(e) {
		e++
	}
	// Rows x to e-1 repeat rows x-p to x-1 as often as it takes; every
	// round adds shift to the values.
	for r := x; r < e; r++ {
		sw.at[r-sw.s.x1] = sw.at[r-p-sw.s.x1]
	}
	// The ring then holds rows e-1-p to e-1: row r is row r' = r-p*t in
	// [x-1-p, x-1] plus t*shift. Copy the old ring first.
	old := make([][]int64, n)
	for i := range old {
		old[i] = slices.Clone(sw.ring[i])
	}
	for r := max(e-1-p, x); r < e; r++ {
		t := (r - x + p) / p
		src, dst := old[(r-p*t)%n], sw.ring[r%n]
		for k := 1; k <= int(sw.hi[r]-sw.lo[r])+1; k++ {
			if v := src[k]; v == unreachable {
				dst[k] = unreachable
			} else {
				dst[k] = v + int64(t)*shift
			}
		}
		sw.pad(r)
	}
	return e
}

// traceBack follows the choices back from the span's end, and replaces
// the span's alignment with the path. Ties went to leaving out a record,
// then a frame, then to a match: from the end backwards, later copies are
// the extra ones.
func (sw *spanWeigher) traceBack() {
	c, s := sw.c, sw.s
	for i := s.x1; i < s.x2; i++ {
		if j := c.ma[i]; j >= 0 {
			c.mb[j], c.ma[i] = -1, -1
		}
	}
	x, k := s.x2, s.k2
	for x != s.x1 || k != s.k1 {
		switch sw.step(sw.at[x-s.x1] + int64(k-int(sw.lo[x]))) {
		case stepMatch:
			c.match(x-1, x-1+k)
			x--
		case stepFrame:
			x, k = x-1, k+1
		case stepRecord:
			k--
		default:
			panic("audit: weighing lost its way back")
		}
	}
}
