package audit

// Which cells of the edit graph lie on a minimal alignment.
//
// The edit graph of a (the expected frames, rows x) and b (the records,
// columns j) has a cell (x, j) for every x <= n and j <= m; diagonal k =
// j - x. A path from (0, 0) to (n, m) steps down (a frame left out), right
// (a record left out) or, where a[x] == b[j], diagonally (a match). A
// minimal alignment is a path with the fewest edits, dist = n + m - 2L.
// Every prefix of a minimal path is a minimal path to where it ends (a
// shorter one would shorten the whole), and every suffix likewise, so a
// cell lies on some minimal path exactly when ef + eb = dist, ef being the
// fewest edits from the origin to it and eb from it to the end.
//
// Myers' furthest-reaching points give ef: if F_d[k] is the furthest row
// that a path with d edits reaches on diagonal k, then ef(x, k) <= d
// exactly when x <= F_d[k]. One way is plain: a path with d edits
// reaching row x on k gives x <= F_d[k]. The other: take a path P with d
// edits to (F_d[k], k); if P crosses row x on diagonal k, its prefix
// reaches (x, k). If it lies right of k at row x, it met column x+k at an
// earlier row i0; its prefix to (i0, x+k) followed by x-i0 steps down
// reaches (x, k), and those steps cost no more than the rest of P, which
// goes from diagonal x+k-i0 back to k. Left of k, the same with steps
// right. Likewise eb(x, k) <= dist-d exactly when x >= B_d[k], the least
// row on k from which the end is reached with dist-d edits. So the cells
// of diagonal k on minimal paths are the union over d of [B_d[k], F_d[k]].
//
// A d-edit prefix of a minimal path ends on a diagonal k with |k| <= d and
// |k - (m-n)| <= dist-d (the rest needs that many edits): the frontiers
// are computed only there (diamond), which keeps every minimal path and
// halves the work. F is computed forwards and read backwards, as B is
// computed: its rows are kept when they fit in memory, and otherwise
// recomputed in chunks from checkpoints.

import (
	"cmp"
	"math"
	"slices"
)

// minimalTableEntries bounds the forward frontier kept whole (16 MiB);
// beyond it one row in sqrt(dist) is kept and the rest recomputed.
const minimalTableEntries = 1 << 22

// noRow marks a diagonal no path reaches in a frontier.
const (
	noFront = int32(-1)
	noBack  = int32(math.MaxInt32)
)

type minimalCells struct {
	a, b        []int32
	n, m        int
	dist, delta int // dist = n+m-2L; delta = m-n
	// table bounds the forward frontier's entries kept whole.
	table int
}

// diamond returns the diagonals, every other one, on which a prefix of a
// minimal path with d edits can end.
func (mc *minimalCells) diamond(d int) (lo, hi int) {
	return max(-d, mc.delta-(mc.dist-d)), min(d, mc.delta+(mc.dist-d))
}

func (mc *minimalCells) size(d int) int {
	lo, hi := mc.diamond(d)
	return (hi-lo)/2 + 1
}

// forward computes F_d into cur from F_{d-1} in prev (d >= 1), or F_0.
func (mc *minimalCells) forward(d int, prev, cur []int32) {
	lo, hi := mc.diamond(d)
	plo, phi := mc.diamond(d - 1)
	a, b, n, m := mc.a, mc.b, mc.n, mc.m
	for k := lo; k <= hi; k += 2 {
		x := noFront
		if d == 0 {
			x = 0
		}
		if d > 0 && k+1 >= plo && k+1 <= phi { // a frame left out, from k+1
			if v := prev[(k+1-plo)/2]; v != noFront && int(v) < n {
				x = v + 1
			}
		}
		if d > 0 && k-1 >= plo && k-1 <= phi { // a record left out, from k-1
			if v := prev[(k-1-plo)/2]; v != noFront && int(v)+k <= m && v > x {
				x = v
			}
		}
		if x != noFront {
			for int(x) < n && int(x)+k < m && a[x] == b[int(x)+k] {
				x++
			}
		}
		cur[(k-lo)/2] = x
	}
}

// backward computes B_d into cur from B_{d+1} in next (d < dist), or
// B_dist.
func (mc *minimalCells) backward(d int, next, cur []int32) {
	lo, hi := mc.diamond(d)
	a, b := mc.a, mc.b
	var nlo, nhi int
	if d < mc.dist {
		nlo, nhi = mc.diamond(d + 1)
	}
	for k := lo; k <= hi; k += 2 {
		x := noBack
		if d == mc.dist {
			x = int32(mc.n)
		}
		if d < mc.dist && k-1 >= nlo && k-1 <= nhi { // a frame left out, to k-1
			if v := next[(k-1-nlo)/2]; v != noBack && v >= 1 && int(v)-1+k >= 0 {
				x = v - 1
			}
		}
		if d < mc.dist && k+1 >= nlo && k+1 <= nhi { // a record left out, to k+1
			if v := next[(k+1-nlo)/2]; v != noBack && int(v)+k >= 0 && v < x {
				x = v
			}
		}
		if x != noBack {
			for x > 0 && int(x)+k > 0 && a[x-1] == b[int(x)-1+k] {
				x--
			}
		}
		cur[(k-lo)/2] = x
	}
}

// frontRows hands out the forward frontier's rows, in any order.
type frontRows struct {
	mc    *minimalCells
	every int       // rows kept: one in every
	kept  [][]int32 // kept[c] is F_{c*every}
	chunk [][]int32 // F_{from} .. F_{from+every-1}, recomputed
	from  int
}

func newFrontRows(mc *minimalCells) *frontRows {
	f := &frontRows{mc: mc, every: 1, from: -1}
	entries := 0
	for d := 0; d <= mc.dist; d++ {
		entries += mc.size(d)
	}
	if entries > mc.table {
		f.every = int(math.Ceil(math.Sqrt(float64(mc.dist + 1))))
	}
	width := mc.dist/2 + 1 // no diamond row is wider
	prev, cur := make([]int32, width), make([]int32, width)
	for d := 0; d <= mc.dist; d++ {
		mc.forward(d, prev, cur[:mc.size(d)])
		if d%f.every == 0 {
			f.kept = append(f.kept, append([]int32(nil), cur[:mc.size(d)]...))
		}
		prev, cur = cur, prev
	}
	if f.every > 1 {
		f.chunk = make([][]int32, f.every)
		for i := range f.chunk {
			f.chunk[i] = make([]int32, width)
		}
	}
	return f
}

// row returns F_d, valid until the next call.
func (f *frontRows) row(d int) []int32 {
	if f.every == 1 {
		return f.kept[d]
	}
	c := d / f.every
	if from := c * f.every; f.from != from {
		f.from = from
		copy(f.chunk[0], f.kept[c])
		for i := 1; i < f.every && from+i <= f.mc.dist; i++ {
			f.mc.forward(from+i, f.chunk[i-1], f.chunk[i][:f.mc.size(from+i)])
		}
	}
	return f.chunk[d-f.from][:f.mc.size(d)]
}

// diagonalRun is a run of cells on minimal paths: rows s to e of diagonal
// k.
type diagonalRun struct{ k, s, e int32 }

// minimalRuns lists the cells on minimal paths as runs along diagonals
// (runs of one diagonal may overlap). It stops, returning ok false, once
// they take more than maxRuns runs.
func minimalRuns(a, b []int32, dist, table int, maxRuns int) (runs []diagonalRun, ok bool) {
	mc := &minimalCells{a: a, b: b, n: len(a), m: len(b), dist: dist, delta: len(b) - len(a), table: table}
	front := newFrontRows(mc)
	del := (dist - mc.delta) / 2
	// pending[k+del] is the run of diagonal k being extended.
	pending := make([]diagonalRun, dist+1)
	for i := range pending {
		pending[i] = diagonalRun{k: int32(i - del), s: -1}
	}
	flush := func(p *diagonalRun) bool {
		if p.s < 0 {
			return true
		}
		runs = append(runs, *p)
		p.s = -1
		return len(runs) <= maxRuns
	}
	width := dist/2 + 1
	next, cur := make([]int32, width), make([]int32, width)
	for d := dist; d >= 0; d-- {
		lo, _ := mc.diamond(d)
		back := cur[:mc.size(d)]
		mc.backward(d, next, back)
		fr := front.row(d)
		for i, bx := range back {
			fx := fr[i]
			if fx == noFront || bx == noBack || bx > fx {
				continue
			}
			p := &pending[lo+2*i+del]
			switch {
			case p.s < 0:
				p.s, p.e = bx, fx
			case bx <= p.e+1 && fx >= p.s-1:
				p.s, p.e = min(p.s, bx), max(p.e, fx)
			default:
				if !flush(p) {
					return nil, false
				}
				p.s, p.e = bx, fx
			}
		}
		next, cur = cur, next
	}
	for i := range pending {
		if !flush(&pending[i]) {
			return nil, false
		}
	}
	return runs, true
}

// minimalHull returns, for every row x in [0, n], the least and the
// greatest diagonal of a cell on a minimal path in that row; ok is false
// when the cells on minimal paths take more than maxRuns runs to list. The
// forward frontier is kept whole up to table entries.
func minimalHull(a, b []int32, dist, table int, maxRuns int) (lo, hi []int32, ok bool) {
	runs, ok := minimalRuns(a, b, dist, table, maxRuns)
	if !ok {
		return nil, nil, false
	}
	n := len(a)
	lo, hi = make([]int32, n+1), make([]int32, n+1)
	// Paint each row once: runs by diagonal, the least first for lo;
	// skip[x] leads to a row not painted yet at or after x.
	skip := make([]int32, n+2)
	paint := func(out []int32) {
		for x := range skip {
			skip[x] = int32(x)
		}
		find := func(x int32) int32 {
			r := x
			for skip[r] != r {
				r = skip[r]
			}
			for skip[x] != r {
				skip[x], x = r, skip[x]
			}
			return r
		}
		for _, r := range runs {
			for x := find(r.s); x <= r.e; x = find(x) {
				out[x] = r.k
				skip[x] = x + 1
			}
		}
		if find(0) != int32(n+1) {
			panic("audit: a row of the edit graph that no minimal path crosses")
		}
	}
	slices.SortFunc(runs, func(p, q diagonalRun) int { return cmp.Compare(p.k, q.k) })
	paint(lo)
	slices.Reverse(runs)
	paint(hi)
	return lo, hi, true
}
