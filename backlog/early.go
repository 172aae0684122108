package backlog

// earlyEchoes is the bounded multiset of identities echoed back from Kafka
// before the local port delivered the frame, in arrival order.
//
// Entries leave it in two ways only: the oldest one (expiry, eviction) or the
// oldest one with a given identity (an Append that it suppresses). The oldest
// entry overall is also the oldest with its identity, so both are "remove the
// first node of that identity's list". Nodes live in columns indexed by int32;
// a doubly linked list keeps the arrival order, a singly linked list per
// identity (oldest to newest) chains duplicates, and an open-addressing hash
// table maps an identity to its list. After warm-up nothing allocates.
type earlyEchoes struct {
	max int

	// Node columns. newer also links the free list.
	id    []uint64
	at    []int64
	older []int32
	newer []int32
	same  []int32 // next newer node with the same identity

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

const earlyInitialBuckets = 16

func newEarlyEchoes(max int) earlyEchoes {
	e := earlyEchoes{max: max}
	e.reset()
	return e
}

func (e *earlyEchoes) reset() {
	e.id, e.at = e.id[:0], e.at[:0]
	e.older, e.newer, e.same = e.older[:0], e.newer[:0], e.same[:0]
	e.oldest, e.newest, e.free = -1, -1, -1
	e.n = 0
	if e.tab == nil {
		e.tab = make([]bucket, earlyInitialBuckets)
		e.shift = 64 - 4
	} else {
		clear(e.tab)
	}
	e.used = 0
}

func (e *earlyEchoes) home(key uint64) int {
	return int((key * 0x9e3779b97f4a7c15) >> e.shift)
}

// find returns the bucket holding key, or the empty bucket where it would go.
func (e *earlyEchoes) find(key uint64) (int, bool) {
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

// push adds an echo of id seen at time at, evicting the oldest if the set is
// full. It reports whether it evicted.
func (e *earlyEchoes) push(id uint64, at int64) (evicted bool) {
	if e.n >= e.max {
		e.popOldest()
		evicted = true
	}
	node := e.alloc()
	e.id[node], e.at[node], e.same[node] = id, at, -1
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
		b.last = node
		return evicted
	}
	if 2*(e.used+1) > len(e.tab) {
		e.growTable()
		i, _ = e.find(id)
	}
	e.tab[i] = bucket{key: id, first: node + 1, last: node}
	e.used++
	return evicted
}

func (e *earlyEchoes) alloc() int32 {
	if node := e.free; node >= 0 {
		e.free = e.newer[node]
		return node
	}
	e.id = append(e.id, 0)
	e.at = append(e.at, 0)
	e.older = append(e.older, 0)
	e.newer = append(e.newer, 0)
	e.same = append(e.same, 0)
	return int32(len(e.id) - 1)
}

// take removes the oldest echo of id and reports whether there was one.
func (e *earlyEchoes) take(id uint64) bool {
	i, ok := e.find(id)
	if !ok {
		return false
	}
	e.removeFirst(i)
	return true
}

func (e *earlyEchoes) popOldest() {
	i, _ := e.find(e.id[e.oldest])
	e.removeFirst(i)
}

// expire removes the echoes older than cutoff from the front (arrival
// order) and returns how many.
func (e *earlyEchoes) expire(cutoff int64) int {
	c := 0
	for e.n > 0 && e.at[e.oldest] < cutoff {
		e.popOldest()
		c++
	}
	return c
}

// removeFirst removes the first node of the identity in bucket i.
func (e *earlyEchoes) removeFirst(i int) {
	b := &e.tab[i]
	node := b.first - 1
	if nx := e.same[node]; nx >= 0 {
		b.first = nx + 1
	} else {
		e.deleteBucket(i)
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
func (e *earlyEchoes) deleteBucket(i int) {
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

func (e *earlyEchoes) growTable() {
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
func (e *earlyEchoes) each(f func(id uint64, at int64)) {
	for node := e.oldest; node >= 0; node = e.newer[node] {
		f(e.id[node], e.at[node])
	}
}

func (e *earlyEchoes) footprint() int64 {
	return int64(cap(e.id))*(8+8+4+4+4) + int64(len(e.tab))*16
}
