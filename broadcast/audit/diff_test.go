package audit

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// lcsLen is the textbook dynamic programme, for checking align on small
// inputs.
func lcsLen(a, b []int32) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			switch {
			case a[i] == b[j]:
				cur[j+1] = prev[j] + 1
			case prev[j+1] >= cur[j]:
				cur[j+1] = prev[j+1]
			default:
				cur[j+1] = cur[j]
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkAlignment checks that ma and mb describe the same increasing
// matching of equal elements, of the given size.
func checkAlignment(t *testing.T, a, b, ma, mb []int32, want int) {
	t.Helper()
	matched, last := 0, int32(-1)
	for i, j := range ma {
		if j < 0 {
			continue
		}
		if j <= last || a[i] != b[j] || mb[j] != int32(i) {
			t.Fatalf("a[%d] matched to b[%d]: not an increasing matching of equal elements\na %v\nb %v\nma %v", i, j, a, b, ma)
		}
		last = j
		matched++
	}
	for j, i := range mb {
		if i >= 0 && ma[i] != int32(j) {
			t.Fatalf("mb[%d] = %d but ma[%d] = %d", j, i, i, ma[i])
		}
	}
	if matched != want {
		t.Fatalf("matched %d, the longest common subsequence has %d\na %v\nb %v", matched, want, a, b)
	}
}

func TestAlignIsMinimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		alphabet := 1 + rng.IntN(4)
		a := make([]int32, rng.IntN(40))
		for i := range a {
			a[i] = int32(rng.IntN(alphabet))
		}
		var b []int32
		if rng.IntN(2) == 0 {
			b = make([]int32, rng.IntN(40))
			for i := range b {
				b[i] = int32(rng.IntN(alphabet))
			}
		} else { // a few edits of a
			b = append(b, a...)
			for range rng.IntN(5) {
				p := rng.IntN(len(b) + 1)
				if rng.IntN(2) == 0 && p < len(b) {
					b = append(b[:p], b[p+1:]...)
				} else {
					b = append(b[:p], append([]int32{int32(rng.IntN(alphabet + 1))}, b[p:]...)...)
				}
			}
		}
		ma, mb, err := align(a, b, len(a)+len(b))
		if err != nil {
			t.Fatal(err)
		}
		checkAlignment(t, a, b, ma, mb, lcsLen(a, b))
	}
}

func TestAlignBound(t *testing.T) {
	a := []int32{1, 2, 3, 4, 5, 6, 7, 8}
	b := []int32{1, 9, 3, 9, 5, 9, 7, 9}
	// 4 substitutions: 8 edits.
	if _, _, err := align(a, b, 8); err != nil {
		t.Fatalf("bound 8: %v", err)
	}
	var tooDifferent *TooDifferentError
	if _, _, err := align(a, b, 7); !errors.As(err, &tooDifferent) || tooDifferent.Max != 7 {
		t.Fatalf("bound 7: %v", err)
	}
	// Long inputs with few differences stay well inside a small bound.
	long := make([]int32, 200000)
	for i := range long {
		long[i] = int32(i % 7)
	}
	other := append(append([]int32{}, long[:1000]...), long[1003:]...)
	other = append(other[:150000], append([]int32{42}, other[150000:]...)...)
	ma, mb, err := align(long, other, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkAlignment(t, long, other, ma, mb, len(other)-1)
}
