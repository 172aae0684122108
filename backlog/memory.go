package backlog

// echoMemory is the bounded multiset of echoes that no entry was certainly
// the frame of, in arrival order, each with its line-time window.
//
// Nodes leave it from the front (expiry, eviction) or from anywhere (an
// Append found to be the echoed frame). Nodes live in columns indexed by
// int32; a doubly linked list keeps the arrival order, a doubly linked list
// per identity (oldest to newest) chains echoes of the same bytes, and an
// open-addressing hash table maps an identity to its list. After warm-up
// nothing allocates.
type echoMemory struct {
	max int

	// Node columns. newer also links the free list.
	id    []uint64
	win   []Window
	exact []bool
	older []int32
	newer []int32
	same  []int32 // next newer node with the same identity
	prev  []int32 // next older node with the same identity

	oldest, newest int32 // -1 when empty
	free           int32 // -1 when none
	n              int

	tab   []bucket // linear probing, power-of-two length, at most half full
	shift uint     // 64 - log2(len(tab))
	used  int
}

type bucket struct {
	key   uint64
	first int32 // first node + 1; 0 marks an empty bucket
	last  int32 // last node
}

const memoryInitialBuckets = 16

func newEchoMemory(max int) echoMemory {
	e := echoMemory{max: max}
	e.reset()
	return e
}

func (e *echoMemory) reset() {
	e.id, e.win, e.exact = e.id[:0], e.win[:0], e.exact[:0]
	e.older, e.newer, e.same, e.prev = e.older[:0], e.newer[:0], e.same[:0], e.prev[:0]
	e.oldest, e.newest, e.free = -1, -1, -1
	e.n = 0
	if e.tab == nil {
		e.tab = make([]bucket, memoryInitialBuckets)
		e.shift = 64 - 4
	} else {
		clear(e.tab)
	}
	e.used = 0
}

func (e *echoMemory) home(key uint64) int {
	return int((key * 0x9e3779b97f4a7c15) >> e.shift)
}

// find returns the bucket holding key, or the empty bucket where it would go.
func (e *echoMemory) find(key uint64) (int, bool) {
	mask := len(e.tab) - 1
	for i := e.home(key); ; i = (i + 1) & mask {
		b := &e.tab[i]
		if b.first == 0 {
			return i, false
		}
		if b.key == key {
			return i, true
		}
	}
}

// push remembers an echo, evicting the oldest if the memory is full. It
// returns the evicted echo's window, if it evicted one.
func (e *echoMemory) push(id uint64, w Window, exact bool) (evicted bool, ew Window) {
	if e.n >= e.max {
		ew = e.win[e.oldest]
		e.remove(e.oldest)
		evicted = true
	}
	node := e.alloc()
	e.id[node], e.win[node], e.exact[node], e.same[node], e.prev[node] = id, w, exact, -1, -1
	e.older[node], e.newer[node] = e.newest, -1
	if e.newest >= 0 {
		e.newer[e.newest] = node
	} else {
		e.oldest = node
	}
	e.newest = node
	e.n++

	i, ok := e.find(id)
	if ok {
		b := &e.tab[i]
		e.same[b.last] = node
		e.prev[node] = b.last
		b.last = node
		return evicted, ew
	}
	if 2*(e.used+1) > len(e.tab) {
		e.growTable()
		i, _ = e.find(id)
	}
	e.tab[i] = bucket{key: id, first: node + 1, last: node}
	e.used++
	return evicted, ew
}

func (e *echoMemory) alloc() int32 {
	if node := e.free; node >= 0 {
		e.free = e.newer[node]
		return node
	}
	e.id = append(e.id, 0)
	e.win = append(e.win, Window{})
	e.exact = append(e.exact, false)
	e.older = append(e.older, 0)
	e.newer = append(e.newer, 0)
	e.same = append(e.same, 0)
	e.prev = append(e.prev, 0)
	return int32(len(e.id) - 1)
}

// first returns the oldest echo of id, or -1.
func (e *echoMemory) first(id uint64) int32 {
	if e.n == 0 {
		return -1
	}
	i, ok := e.find(id)
	if !ok {
		return -1
	}
	return e.tab[i].first - 1
}

// remove takes node out of the memory.
func (e *echoMemory) remove(node int32) {
	i, _ := e.find(e.id[node])
	b := &e.tab[i]
	p, nx := e.prev[node], e.same[node]
	switch {
	case p < 0 && nx < 0:
		e.deleteBucket(i)
	case p < 0:
		b.first = nx + 1
		e.prev[nx] = -1
	case nx < 0:
		b.last = p
		e.same[p] = -1
	default:
		e.same[p], e.prev[nx] = nx, p
	}
	o, w := e.older[node], e.newer[node]
	if o >= 0 {
		e.newer[o] = w
	} else {
		e.oldest = w
	}
	if w >= 0 {
		e.older[w] = o
	} else {
		e.newest = o
	}
	e.newer[node] = e.free
	e.free = node
	e.n--
}

// deleteBucket empties bucket i, shifting back later entries of its probe
// run so that lookups need no tombstones.
func (e *echoMemory) deleteBucket(i int) {
	mask := len(e.tab) - 1
	j := i
	for {
		j = (j + 1) & mask
		if e.tab[j].first == 0 {
			break
		}
		h := e.home(e.tab[j].key)
		// The entry at j may stay unless its home lies cyclically outside
		// (i, j], in which case the hole at i would break its probe run.
		if i <= j {
			if i < h && h <= j {
				continue
			}
		} else if i < h || h <= j {
			continue
		}
		e.tab[i] = e.tab[j]
		i = j
	}
	e.tab[i] = bucket{}
	e.used--
}

func (e *echoMemory) growTable() {
	old := e.tab
	e.tab = make([]bucket, 2*len(old))
	e.shift--
	mask := len(e.tab) - 1
	for _, b := range old {
		if b.first == 0 {
			continue
		}
		i := e.home(b.key)
		for e.tab[i].first != 0 {
			i = (i + 1) & mask
		}
		e.tab[i] = b
	}
}

// each calls f for every echo, oldest first.
func (e *echoMemory) each(f func(id uint64, w Window, exact bool)) {
	for node := e.oldest; node >= 0; node = e.newer[node] {
		f(e.id[node], e.win[node], e.exact[node])
	}
}

func (e *echoMemory) footprint() int64 {
	return int64(cap(e.id))*(8+16+1+4+4+4+4) + int64(len(e.tab))*16
}
