package audit

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// minimalCellsByTable is the set of cells on minimal paths by the
// textbook programme: those whose fewest edits from the origin and to the
// end add up to the distance.
func minimalCellsByTable(a, b []int32) map[[2]int]bool {
	n, m := len(a), len(b)
	edits := func(a, b []int32) [][]int {
		e := make([][]int, len(a)+1)
		for i := range e {
			e[i] = make([]int, len(b)+1)
			for j := range e[i] {
				switch {
				case i == 0:
					e[i][j] = j
				case j == 0:
					e[i][j] = i
				default:
					e[i][j] = min(e[i-1][j], e[i][j-1]) + 1
					if a[i-1] == b[j-1] {
						e[i][j] = min(e[i][j], e[i-1][j-1])
					}
				}
			}
		}
		return e
	}
	ra, rb := slices.Clone(a), slices.Clone(b)
	slices.Reverse(ra)
	slices.Reverse(rb)
	ef, eb := edits(a, b), edits(ra, rb)
	out := make(map[[2]int]bool)
	for x := 0; x <= n; x++ {
		for j := 0; j <= m; j++ {
			if ef[x][j]+eb[n-x][m-j] == ef[n][m] {
				out[[2]int{x, j}] = true
			}
		}
	}
	return out
}

// TestMinimalRuns: the runs list exactly the cells on minimal paths,
// whether the forward frontier is kept whole or recomputed.
func TestMinimalRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for round := range 3000 {
		alphabet := 1 + rng.IntN(4)
		a := make([]int32, rng.IntN(30))
		for i := range a {
			a[i] = int32(rng.IntN(alphabet))
			if round%2 == 0 && i >= alphabet { // periodic
				a[i] = a[i-alphabet]
			}
		}
		b := slices.Clone(a)
		for range rng.IntN(6) {
			p := rng.IntN(len(b) + 1)
			if rng.IntN(2) == 0 && p < len(b) {
				b = slices.Delete(b, p, p+1)
			} else {
				b = slices.Insert(b, p, int32(rng.IntN(alphabet+1)))
			}
		}
		want := minimalCellsByTable(a, b)
		dist := len(a) + len(b) - 2*lcsLen(a, b)
		for _, table := range []int{1 << 20, 0} {
			runs, ok := minimalRuns(a, b, dist, table, 1<<20)
			if !ok {
				t.Fatal("bound reached")
			}
			got := make(map[[2]int]bool)
			for _, r := range runs {
				for x := r.s; x <= r.e; x++ {
					got[[2]int{int(x), int(x + r.k)}] = true
				}
			}
			if len(got) != len(want) {
				t.Fatalf("round %d, table %d: %d cells listed, %d on minimal paths\na %v\nb %v", round, table, len(got), len(want), a, b)
			}
			for cell := range want {
				if !got[cell] {
					t.Fatalf("round %d, table %d: cell %v missing\na %v\nb %v", round, table, cell, a, b)
				}
			}
		}
	}
}
