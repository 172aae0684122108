package audit

import (
	"math/bits"
	"slices"
)

// seqSet is a set of feed sequence numbers: a sparse bitmap of 64 Ki-number
// chunks (8 KiB each), so that a dense feed costs one bit per number and a
// stray huge number costs one chunk, not a bitmap up to it. Membership and
// insertion are O(1) whatever the order of arrival.
type seqSet struct {
	chunks map[uint64]*seqChunk
	n      uint64 // distinct numbers
	min    uint64
	max    uint64

	lastKey   uint64 // cache of the last chunk used: feeds arrive in order
	lastChunk *seqChunk
}

const (
	chunkShift = 16
	chunkBits  = 1 << chunkShift
	chunkMask  = chunkBits - 1
)

type seqChunk [chunkBits / 64]uint64

func newSeqSet() *seqSet {
	return &seqSet{chunks: make(map[uint64]*seqChunk)}
}

func (s *seqSet) chunk(key uint64, create bool) *seqChunk {
	if s.lastChunk != nil && s.lastKey == key {
		return s.lastChunk
	}
	c := s.chunks[key]
	if c == nil {
		if !create {
			return nil
		}
		c = new(seqChunk)
		s.chunks[key] = c
	}
	s.lastKey, s.lastChunk = key, c
	return c
}

// add inserts v and reports whether it was new.
func (s *seqSet) add(v uint64) bool {
	c := s.chunk(v>>chunkShift, true)
	i, bit := (v&chunkMask)/64, uint64(1)<<(v%64)
	if c[i]&bit != 0 {
		return false
	}
	c[i] |= bit
	if s.n == 0 || v < s.min {
		s.min = v
	}
	if s.n == 0 || v > s.max {
		s.max = v
	}
	s.n++
	return true
}

func (s *seqSet) has(v uint64) bool {
	c := s.chunk(v>>chunkShift, false)
	return c != nil && c[(v&chunkMask)/64]&(uint64(1)<<(v%64)) != 0
}

// gaps calls yield with every maximal range [from, to] of numbers between
// min and max that are not in the set, in increasing order, until yield
// returns false.
func (s *seqSet) gaps(yield func(from, to uint64) bool) {
	if s.n == 0 {
		return
	}
	keys := make([]uint64, 0, len(s.chunks))
	for k := range s.chunks {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	next := s.min // the lowest number not yet accounted for
	for _, k := range keys {
		c := s.chunks[k]
		base := k << chunkShift
		for wi, w := range c {
			if w == 0 {
				continue
			}
			wbase := base + uint64(wi)*64
			if w == ^uint64(0) && wbase == next { // a full word continuing the run
				next = wbase + 64
				continue
			}
			for w != 0 {
				v := wbase + uint64(bits.TrailingZeros64(w))
				w &= w - 1
				if v > next && !yield(next, v-1) {
					return
				}
				next = v + 1
			}
		}
	}
}
