package backlog

// arena holds payload bytes in a virtual, ever-increasing byte address space
// cut into chunks of 1<<shift bytes. Only the chunks that may hold live bytes
// are backed by memory; they form a ring (a deque indexed by chunk number).
//
// Placement rule: a frame of length l goes at the current tail t unless t is
// inside a chunk and the frame would cross that chunk's end; then it goes at
// the start of the next chunk, leaving a hole. So a frame never crosses a
// chunk boundary, except a frame longer than a chunk, which always starts on a
// boundary and is given one contiguous buffer of as many chunks as it needs.
// Either way an entry's bytes are contiguous in memory.
//
// The rule makes a frame's start derivable from the previous frame's end and
// its own end (see startFor), so each entry stores only its end offset.
type arena struct {
	shift uint
	size  uint64 // chunk size, 1<<shift
	mask  uint64 // size-1

	chunks []chunk // ring of live chunks, power-of-two length
	head   int     // slot of chunk number base
	n      int     // chunks in the ring
	base   uint64  // chunk number of the oldest chunk held

	spare  [][]byte // single chunks kept for reuse, at most maxSpare
	allocs uint64   // chunk buffers allocated (for tests)
}

type chunk struct {
	b []byte
	// solo marks a chunk allocated on its own (not a piece of a multi-chunk
	// buffer); only those are recycled, so a large buffer is never kept alive
	// by a spare piece of it.
	solo bool
}

// maxSpare is how many freed chunks are kept for reuse. One is enough for
// steady append/trim churn; the rest is returned to the garbage collector so
// that a ring that once filled up gives its memory back when it drains.
const maxSpare = 2

func newArena(shift uint) arena {
	return arena{
		shift:  shift,
		size:   1 << shift,
		mask:   1<<shift - 1,
		chunks: make([]chunk, 8),
		spare:  make([][]byte, 0, maxSpare),
	}
}

// place returns where a frame of length l goes when the tail is at t.
func (a *arena) place(t uint64, l int) uint64 {
	if off := t & a.mask; off != 0 && off+uint64(l) > a.size {
		return (t | a.mask) + 1
	}
	return t
}

// startFor returns the start of the frame that ends at end and was placed
// when the tail was at prevEnd (the end of the frame before it).
//
// If prevEnd is inside a chunk, the frame was placed at prevEnd exactly when
// it fitted in that chunk, which is when end does not pass the chunk's end;
// otherwise it starts at the next boundary. A zero-length frame has
// end == prevEnd and starts there.
func (a *arena) startFor(prevEnd, end uint64) uint64 {
	if prevEnd&a.mask != 0 {
		if nb := (prevEnd | a.mask) + 1; end > nb {
			return nb
		}
	}
	return prevEnd
}

// slot returns the ring slot of chunk number cn, which must be held.
func (a *arena) slot(cn uint64) int {
	return (a.head + int(cn-a.base)) & (len(a.chunks) - 1)
}

// ensure backs the bytes [start, end) (end > start) with memory. Chunks are
// only ever needed in increasing order, right after the newest one held.
func (a *arena) ensure(start, end uint64) {
	first, last := start>>a.shift, (end-1)>>a.shift
	if a.n > 0 {
		top := a.base + uint64(a.n) - 1
		if last <= top {
			return
		}
		first = top + 1
	} else {
		a.base = first
	}
	m := int(last - first + 1)
	for a.n+m > len(a.chunks) {
		a.grow()
	}
	if m == 1 {
		var b []byte
		if k := len(a.spare); k > 0 {
			b = a.spare[k-1]
			a.spare[k-1] = nil
			a.spare = a.spare[:k-1]
		} else {
			b = make([]byte, a.size)
			a.allocs++
		}
		a.push(chunk{b: b, solo: true})
		return
	}
	// One buffer for a frame longer than a chunk. Each piece keeps the
	// capacity to the end of the buffer, so the frame can be sliced from
	// its first piece.
	big := make([]byte, uint64(m)<<a.shift)
	a.allocs++
	for j := uint64(0); j < uint64(m); j++ {
		a.push(chunk{b: big[j<<a.shift : (j+1)<<a.shift]})
	}
}

func (a *arena) push(c chunk) {
	a.chunks[(a.head+a.n)&(len(a.chunks)-1)] = c
	a.n++
}

func (a *arena) grow() {
	nc := make([]chunk, 2*len(a.chunks))
	for i := 0; i < a.n; i++ {
		nc[i] = a.chunks[(a.head+i)&(len(a.chunks)-1)]
	}
	a.chunks = nc
	a.head = 0
}

// bytes returns the stored bytes [start, end), capacity-limited so that an
// append by the caller cannot write into the arena.
func (a *arena) bytes(start, end uint64) []byte {
	if start == end {
		return emptyData[:]
	}
	b := a.chunks[a.slot(start>>a.shift)].b
	off := start & a.mask
	lim := off + (end - start)
	return b[off:lim:lim]
}

var emptyData [0]byte

// write copies data to [start, start+len(data)), which ensure has backed.
func (a *arena) write(start uint64, data []byte) {
	b := a.chunks[a.slot(start>>a.shift)].b
	off := start & a.mask
	copy(b[off:off+uint64(len(data))], data)
}

// release drops the chunks wholly before the chunk holding offset from.
func (a *arena) release(from uint64) {
	keep := from >> a.shift
	for a.n > 0 && a.base < keep {
		a.popFront()
	}
}

func (a *arena) releaseAll() {
	for a.n > 0 {
		a.popFront()
	}
}

func (a *arena) popFront() {
	c := a.chunks[a.head]
	a.chunks[a.head] = chunk{}
	a.head = (a.head + 1) & (len(a.chunks) - 1)
	a.n--
	a.base++
	if c.solo && len(a.spare) < maxSpare {
		a.spare = append(a.spare, c.b)
	}
}

// footprint returns the payload memory held, spare chunks included.
func (a *arena) footprint() int64 {
	const chunkRefSize = 32 // a slice header and a bool, padded
	return int64(a.n+len(a.spare))<<a.shift + int64(len(a.chunks))*chunkRefSize
}
