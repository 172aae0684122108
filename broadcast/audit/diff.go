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
	v1, v2 := df.v1[:size], df.v2[:size]
	for i := range v1 {
		v1[i], v2[i] = -1, -1
	}
	v1[off+1], v2[off+1] = 0, 0
	delta := n - m
	front := delta%2 != 0 // the forward path meets the backward one on odd deltas
	var k1start, k1end, k2start, k2end int
	for d := range dEnd {
		for k1 := -d + k1start; k1 <= d-k1end; k1 += 2 {
			i := off + k1
			var x1 int
			if k1 == -d || (k1 != d && v1[i-1] < v1[i+1]) {
				x1 = v1[i+1]
			} else {
				x1 = v1[i-1] + 1
			}
			y1 := x1 - k1
			for x1 < n && y1 < m && a[x1] == b[y1] {
				x1, y1 = x1+1, y1+1
			}
			v1[i] = x1
			switch {
			case x1 > n:
				k1end += 2 // off the right of the graph
			case y1 > m:
				k1start += 2 // off the bottom
			case front:
				j := off + delta - k1
				if j >= 0 && j < size && v2[j] != -1 && x1 >= n-v2[j] {
					return aLo + x1, bLo + y1, true, nil
				}
			}
		}
		for k2 := -d + k2start; k2 <= d-k2end; k2 += 2 {
			i := off + k2
			var x2 int
			if k2 == -d || (k2 != d && v2[i-1] < v2[i+1]) {
				x2 = v2[i+1]
			} else {
				x2 = v2[i-1] + 1
			}
			y2 := x2 - k2
			for x2 < n && y2 < m && a[n-x2-1] == b[m-y2-1] {
				x2, y2 = x2+1, y2+1
			}
			v2[i] = x2
			switch {
			case x2 > n:
				k2end += 2
			case y2 > m:
				k2start += 2
			case !front:
				j := off + delta - k2
				if j >= 0 && j < size && v1[j] != -1 {
					x1 := v1[j]
					y1 := off + x1 - j
					if x1 >= n-x2 {
						return aLo + x1, bLo + y1, true, nil
					}
				}
			}
		}
	}
	if dEnd < maxD {
		return 0, 0, false, errTooDifferent
	}
	return 0, 0, false, nil // nothing in common
}
