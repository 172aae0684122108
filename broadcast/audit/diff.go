package audit

import "fmt"

// DefaultMaxDifferences bounds the edit distance the expected-feed
// comparison searches for, unless ExpectOptions.MaxDifferences says
// otherwise. The search costs about (expected + topic) × differences steps
// at worst and memory linear in the inputs.
const DefaultMaxDifferences = 20000

// TooDifferentError is returned when the feed and the topic differ by more
// frames than the comparison was allowed to look for: no exact minimal
// alignment was computed, so none is reported.
type TooDifferentError struct {
	// Max is the bound that was exceeded.
	Max int
}

func (e *TooDifferentError) Error() string {
	return fmt.Sprintf("the topic and the expected feed differ by more than %d frames (missing plus extra): "+
		"no exact alignment was computed; audit a narrower range (--from), check that the record file belongs to this topic, "+
		"or raise the bound (--max-differences)", e.Max)
}

// align computes a minimal alignment of a and b, the longest common
// subsequence, with Myers' O(ND) algorithm in linear space (the bisection
// of "An O(ND) Difference Algorithm and Its Variations", 1986). ma[i] is
// the index in b matched to a[i], or -1; mb[j] the index in a matched to
// b[j], or -1. Beyond maxD edits (deletions plus insertions) it returns a
// *TooDifferentError.
func align(a, b []int32, maxD int) (ma, mb []int32, err error) {
	ma, mb = make([]int32, len(a)), make([]int32, len(b))
	for i := range ma {
		ma[i] = -1
	}
	for j := range mb {
		mb[j] = -1
	}
	d := &differ{a: a, b: b, ma: ma, mb: mb, limit: maxD/2 + 2}
	if err := d.diff(0, len(a), 0, len(b)); err != nil {
		return nil, nil, &TooDifferentError{Max: maxD}
	}
	matched := 0
	for _, j := range ma {
		if j >= 0 {
			matched++
		}
	}
	if len(a)+len(b)-2*matched > maxD {
		return nil, nil, &TooDifferentError{Max: maxD}
	}
	return ma, mb, nil
}

type differ struct {
	a, b   []int32
	ma, mb []int32
	// limit bounds d in each bisection: half the edit distance, plus slack.
	limit  int
	v1, v2 []int
}

var errTooDifferent = &TooDifferentError{}

func (df *differ) match(i, j int) {
	df.ma[i], df.mb[j] = int32(j), int32(i)
}

// diff aligns a[aLo:aHi] with b[bLo:bHi].
func (df *differ) diff(aLo, aHi, bLo, bHi int) error {
	a, b := df.a, df.b
	for aLo < aHi && bLo < bHi && a[aLo] == b[bLo] {
		df.match(aLo, bLo)
		aLo, bLo = aLo+1, bLo+1
	}
	for aLo < aHi && bLo < bHi && a[aHi-1] == b[bHi-1] {
		aHi, bHi = aHi-1, bHi-1
		df.match(aHi, bHi)
	}
	if aLo == aHi || bLo == bHi {
		return nil // what is left of the other side is all edits
	}
	x, y, found, err := df.bisect(aLo, aHi, bLo, bHi)
	if err != nil || !found {
		return err
	}
	if err := df.diff(aLo, x, bLo, y); err != nil {
		return err
	}
	return df.diff(x, aHi, y, bHi)
}

// bisect finds a point (x, y) on a minimal path through the edit graph of
// a[aLo:aHi] and b[bLo:bHi], searching from both ends at once until the
// paths meet (the middle snake). found is false when the two have nothing
// in common.
func (df *differ) bisect(aLo, aHi, bLo, bHi int) (x, y int, found bool, err error) {
	a, b := df.a[aLo:aHi], df.b[bLo:bHi]
	n, m := len(a), len(b)
	maxD := (n + m + 1) / 2
	dEnd := min(maxD, df.limit)
	off := dEnd
	size := 2*dEnd + 2
	if cap(df.v1) < size {
		df.v1, df.v2 = make([]int, size), make([]int, size)
	}
	fwd, bwd := &path{v: df.v1[:size]}, &path{v: df.v2[:size], back: true}
	for i := range size {
		fwd.v[i], bwd.v[i] = -1, -1
	}
	fwd.v[off+1], bwd.v[off+1] = 0, 0
	delta := n - m
	front := delta%2 != 0 // the forward path meets the backward one on odd deltas
	for d := range dEnd {
		if x, y, met := fwd.extend(bwd, a, b, d, off, delta, front); met {
			return aLo + x, bLo + y, true, nil
		}
		if x, y, met := bwd.extend(fwd, a, b, d, off, delta, !front); met {
			return aLo + x, bLo + y, true, nil
		}
	}
	if dEnd < maxD {
		return 0, 0, false, errTooDifferent
	}
	return 0, 0, false, nil // nothing in common
}

// path is the search of bisect from one end of the edit graph: v[off+k] is
// how far along a the furthest path on diagonal k has come from that end
// (-1 before any has), and diagonals below -d+kstart or above d-kend have
// left the graph.
type path struct {
	v            []int
	kstart, kend int
	back         bool // from the ends of a and b towards their starts
}

// extend lengthens every path of p by one edit of cost d and the snake that
// follows it (the run of equal elements). With meet set, it stops where a
// path reaches over the other end's path on the same diagonal, and returns
// the forward path's point there.
func (p *path) extend(other *path, a, b []int32, d, off, delta int, meet bool) (x, y int, met bool) {
	n, m := len(a), len(b)
	v := p.v
	for k := -d + p.kstart; k <= d-p.kend; k += 2 {
		i := off + k
		if k == -d || (k != d && v[i-1] < v[i+1]) {
			x = v[i+1]
		} else {
			x = v[i-1] + 1
		}
		y = x - k
		if p.back {
			for x < n && y < m && a[n-x-1] == b[m-y-1] {
				x, y = x+1, y+1
			}
		} else {
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
		}
		v[i] = x
		switch {
		case x > n:
			p.kend += 2 // off the graph across a
		case y > m:
			p.kstart += 2 // off the graph across b
		case meet:
			j := off + delta - k
			if j >= 0 && j < len(v) && other.v[j] != -1 && x+other.v[j] >= n {
				if p.back {
					x = other.v[j]
					return x, off + x - j, true
				}
				return x, y, true
			}
		}
	}
	return 0, 0, false
}
