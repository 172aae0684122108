package backlog

import "math"

// slots holds the entries' columns in blocks of blockSlots slots, addressed
// by ring position: position p is slot p%blockSlots of block p/blockSlots.
// Blocks are allocated as positions reach them and released as the oldest
// entries go, one kept for reuse so that steady append/trim churn allocates
// nothing.
//
// Columns that doubled by copying would leave each old copy to the garbage
// collector: as much memory again as the columns, resident until a
// collection runs and the freed pages are reused or returned. Blocks are
// never copied, and a drained ring gives them back.
type slots struct {
	blocks []*slotBlock // ring indexed by block number, power-of-two length
	lo, hi uint64       // block numbers held: [lo, hi)
	last   *slotBlock   // block hi-1, the newest entry's; nil if not held
	spare  *slotBlock   // a released block kept for reuse
	allocs uint64       // blocks allocated (for tests)
}

// blockShift makes blocks of 1024 slots: 18 KiB, few enough that the
// pointers to them cost nothing per entry, small enough that a ring of a
// few frames does not pay for many more. Fixed-size columns keep a slot's
// address one step from its block's, with no bounds to check.
const (
	blockShift = 10
	blockSlots = 1 << blockShift
	blockMask  = blockSlots - 1
)

// slotBlock is one block of the columns: per slot 18 bytes, 26 with a
// fingerprint.
type slotBlock struct {
	ids [blockSlots]uint64
	// his holds each window's end as nanoseconds after hiBase, the end of
	// the window of the block's first entry (ends only grow). A block that
	// spans more than 2^32 ns (4.3 s: a feed slower than 240 frames/s)
	// keeps them in wide instead, allocated when an entry does not fit.
	his  [blockSlots]uint32
	ends [blockSlots]uint32 // the low 32 bits of the payload's end offset (see Ring.end)
	meta [blockSlots]uint16 // the window's width and whether ids[i] is exact (see packMeta)

	hiBase int64
	wide   *[blockSlots]int64
	// fps holds the fingerprints of exact entries (the others' ids are
	// their fingerprints). It is allocated with the block's first exact
	// entry, so a ring of frames identified by their bytes pays nothing
	// for it.
	fps *[blockSlots]uint64
}

// slotBytes is a slot's size without a fingerprint.
const slotBytes = 8 + 4 + 4 + 2

func newSlots() slots { return slots{blocks: make([]*slotBlock, 4)} }

// block returns the block holding position p, which must be held.
func (s *slots) block(p uint64) *slotBlock {
	return s.blocks[(p>>blockShift)&uint64(len(s.blocks)-1)]
}

// ensure returns the block of position p, the one after the newest entry's,
// whose window ends at hi; it backs p first if needed. Within a block, p's
// is the newest entry's, kept at hand.
func (s *slots) ensure(p uint64, hi int64) *slotBlock {
	if p&blockMask != 0 && s.last != nil {
		return s.last
	}
	return s.add(p, hi)
}

// add backs position p with a block, taken from the spare or allocated.
func (s *slots) add(p uint64, hi int64) *slotBlock {
	bn := p >> blockShift
	if s.lo == s.hi {
		s.lo, s.hi = bn, bn
	}
	if int(s.hi-s.lo) == len(s.blocks) {
		s.grow()
	}
	b := s.spare
	s.spare = nil
	if b == nil {
		b = new(slotBlock)
		s.allocs++
	}
	b.hiBase, b.wide = hi, nil
	s.blocks[bn&uint64(len(s.blocks)-1)] = b
	s.hi++
	s.last = b
	return b
}

// hi returns the end of the window of the entry in slot o.
func (b *slotBlock) hi(o uint64) int64 {
	if b.wide != nil {
		return b.wide[o&blockMask]
	}
	return b.hiBase + int64(b.his[o&blockMask])
}

func (b *slotBlock) window(o uint64) Window {
	hi := b.hi(o)
	u := b.meta[o&blockMask] &^ exactBit
	if u == widthUnbounded {
		return Window{Lo: NoLo, Hi: hi}
	}
	return Window{Lo: hi - int64(u)<<widthShift, Hi: hi}
}

func (b *slotBlock) exact(o uint64) bool { return b.meta[o&blockMask]&exactBit != 0 }

// setHi stores the end of the window of the entry in slot o, which is no
// earlier than those of the slots before it.
func (b *slotBlock) setHi(o uint64, hi int64) {
	o &= blockMask
	if b.wide == nil {
		if d := uint64(hi - b.hiBase); d <= math.MaxUint32 && hi >= b.hiBase {
			b.his[o] = uint32(d)
			return
		}
		b.wide = new([blockSlots]int64)
		for i := range o {
			b.wide[i] = b.hiBase + int64(b.his[i])
		}
	}
	b.wide[o] = hi
}

// fingerprints returns the block's fingerprint column, allocating it if
// needed.
func (b *slotBlock) fingerprints() *[blockSlots]uint64 {
	if b.fps == nil {
		b.fps = new([blockSlots]uint64)
	}
	return b.fps
}

// release drops the blocks wholly before position p.
func (s *slots) release(p uint64) {
	if keep := p >> blockShift; s.lo < keep && s.lo < s.hi {
		s.releaseBefore(keep)
	}
}

func (s *slots) releaseBefore(keep uint64) {
	for ; s.lo < s.hi && s.lo < keep; s.lo++ {
		i := s.lo & uint64(len(s.blocks)-1)
		b := s.blocks[i]
		s.blocks[i] = nil
		if b == s.last {
			s.last = nil
		}
		if s.spare == nil {
			s.spare = b
		}
	}
}

func (s *slots) grow() {
	nb := make([]*slotBlock, 2*len(s.blocks))
	for bn := s.lo; bn < s.hi; bn++ {
		nb[bn&uint64(len(nb)-1)] = s.blocks[bn&uint64(len(s.blocks)-1)]
	}
	s.blocks = nb
}

// held returns the number of slots held, the spare included.
func (s *slots) held() int {
	n := int(s.hi - s.lo)
	if s.spare != nil {
		n++
	}
	return n << blockShift
}

// footprint returns the memory the blocks hold.
func (s *slots) footprint() int64 {
	const perBlock = slotBytes*blockSlots + 3*8
	const column = 8 * blockSlots
	b := int64(len(s.blocks)) * 8
	each := func(blk *slotBlock) {
		b += perBlock
		if blk.wide != nil {
			b += column
		}
		if blk.fps != nil {
			b += column
		}
	}
	for bn := s.lo; bn < s.hi; bn++ {
		each(s.blocks[bn&uint64(len(s.blocks)-1)])
	}
	if s.spare != nil {
		each(s.spare)
	}
	return b
}
