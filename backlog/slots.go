package backlog

import "math"

// slots holds the entries' columns in blocks of 1<<shift slots, addressed by
// ring position: position p is slot p&mask of block p>>shift. Blocks are
// allocated as positions reach them and released as the oldest entries go,
// one kept for reuse so that steady append/trim churn allocates nothing.
//
// Columns that doubled by copying would leave each old copy to the garbage
// collector: as much memory again as the columns, resident until a
// collection runs and the freed pages are reused or returned. Blocks are
// never copied, and a drained ring gives them back.
type slots struct {
	shift uint
	mask  uint64 // 1<<shift - 1

	blocks []slotBlock // ring indexed by block number, power-of-two length
	lo, hi uint64      // block numbers held: [lo, hi)
	spare  slotBlock   // a released block kept for reuse; ids nil if none
	allocs uint64      // blocks allocated (for tests)
}

// slotBlock is one block of the columns: per slot 18 bytes, 26 with a
// fingerprint.
type slotBlock struct {
	ids []uint64
	// his holds each window's end as nanoseconds after hiBase, the end of
	// the window of the block's first entry (ends only grow). A block that
	// spans more than 2^32 ns (4.3 s: a feed slower than 240 frames/s)
	// keeps them in wide instead, allocated when an entry does not fit.
	his    []uint32
	hiBase int64
	wide   []int64
	ends   []uint32 // the low 32 bits of the payload's end offset (see Ring.end)
	meta   []uint16 // the window's width and whether ids[i] is exact (see packMeta)
	// fps holds the fingerprints of exact entries (the others' ids are
	// their fingerprints). It is allocated with the block's first exact
	// entry, so a ring of frames identified by their bytes pays nothing
	// for it.
	fps []uint64
}

// slotBlockBytes is a block's size without fingerprints.
const slotBlockBytes = 8 + 4 + 4 + 2

// maxSlotShift makes blocks of 1024 slots: 22 KiB, each column an exact Go
// size class, small enough that a ring of a few frames does not pay for
// many more.
const maxSlotShift = 10

// slotShiftFor picks the block size: 1024 slots, smaller for a small frame
// bound (at most an eighth of it), never below 16.
func slotShiftFor(maxFrames int) uint {
	shift := uint(maxSlotShift)
	for shift > 4 && 1<<shift > maxFrames/8 {
		shift--
	}
	return shift
}

func newSlots(shift uint) slots {
	return slots{shift: shift, mask: 1<<shift - 1, blocks: make([]slotBlock, 4)}
}

// block returns the block holding position p, which must be held.
func (s *slots) block(p uint64) *slotBlock {
	return &s.blocks[(p>>s.shift)&uint64(len(s.blocks)-1)]
}

// ensure backs position p, the one after the newest held (or any position
// when none is held), whose window ends at hi.
func (s *slots) ensure(p uint64, hi int64) {
	bn := p >> s.shift
	if bn < s.hi && s.lo < s.hi {
		return
	}
	if s.lo == s.hi {
		s.lo, s.hi = bn, bn
	}
	if int(s.hi-s.lo) == len(s.blocks) {
		s.grow()
	}
	b := s.spare
	s.spare = slotBlock{}
	if b.ids == nil {
		n := 1 << s.shift
		b = slotBlock{ids: make([]uint64, n), his: make([]uint32, n), ends: make([]uint32, n), meta: make([]uint16, n)}
		s.allocs++
	}
	b.hiBase, b.wide = hi, nil
	*s.block(p) = b
	s.hi++
}

// hi returns the end of the window of the entry in slot o.
func (b *slotBlock) hi(o uint64) int64 {
	if b.wide != nil {
		return b.wide[o]
	}
	return b.hiBase + int64(b.his[o])
}

// setHi stores the end of the window of the entry in slot o, which is no
// earlier than those of the slots before it.
func (b *slotBlock) setHi(o uint64, hi int64) {
	if b.wide == nil {
		if d := uint64(hi - b.hiBase); d <= math.MaxUint32 && hi >= b.hiBase {
			b.his[o] = uint32(d)
			return
		}
		b.wide = make([]int64, len(b.his))
		for i := range o {
			b.wide[i] = b.hiBase + int64(b.his[i])
		}
	}
	b.wide[o] = hi
}

// fingerprints returns the fingerprint column of p's block, allocating it
// if needed.
func (s *slots) fingerprints(p uint64) []uint64 {
	b := s.block(p)
	if b.fps == nil {
		b.fps = make([]uint64, 1<<s.shift)
	}
	return b.fps
}

// release drops the blocks wholly before position p.
func (s *slots) release(p uint64) {
	for keep := p >> s.shift; s.lo < s.hi && s.lo < keep; s.lo++ {
		b := &s.blocks[s.lo&uint64(len(s.blocks)-1)]
		if s.spare.ids == nil {
			s.spare = *b
		}
		*b = slotBlock{}
	}
}

func (s *slots) grow() {
	nb := make([]slotBlock, 2*len(s.blocks))
	for bn := s.lo; bn < s.hi; bn++ {
		nb[bn&uint64(len(nb)-1)] = s.blocks[bn&uint64(len(s.blocks)-1)]
	}
	s.blocks = nb
}

// held returns the number of slots held, the spare included.
func (s *slots) held() int {
	n := int(s.hi - s.lo)
	if s.spare.ids != nil {
		n++
	}
	return n << s.shift
}

// footprint returns the memory the blocks hold.
func (s *slots) footprint() int64 {
	const blockRefSize = 6*24 + 8 // six slice headers and hiBase
	b := int64(s.held()) * slotBlockBytes
	for bn := s.lo; bn < s.hi; bn++ {
		blk := &s.blocks[bn&uint64(len(s.blocks)-1)]
		b += int64(len(blk.fps)+len(blk.wide)) * 8
	}
	return b + int64(len(s.spare.fps))*8 + int64(len(s.blocks))*blockRefSize
}
