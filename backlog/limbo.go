package backlog

// limbo holds what is known of entries evicted by overflow until their fate
// is known: an echo or the pass rule shows they lie behind a committed frame
// (not a gap this member caused: resolved), or the member settles them as
// lost because it became the one to publish them. It is a bounded FIFO in
// position order; when full, the oldest is settled as lost (the member can
// no longer tell, and a reported gap that was not one is the safe error).
type limbo struct {
	buf     []limboEntry // a ring, grown by doubling up to max
	head, n int
	max     int
}

type limboEntry struct {
	pos, id uint64
	at      int64 // receive time, unix nanoseconds
	bytes   uint64
	win     Window
}

func newLimbo(max int) limbo { return limbo{max: max} }

func (l *limbo) at(i int) *limboEntry { return &l.buf[(l.head+i)%len(l.buf)] }

func (l *limbo) push(r *Ring, e limboEntry) {
	if l.n == len(l.buf) {
		if len(l.buf) < l.max {
			l.grow(min(max(2*len(l.buf), 64), l.max))
		} else {
			r.recordLost(l.pop())
		}
	}
	*l.at(l.n) = e
	l.n++
}

func (l *limbo) grow(size int) {
	if size <= len(l.buf) {
		return
	}
	nb := make([]limboEntry, size)
	for i := range l.n {
		nb[i] = *l.at(i)
	}
	l.buf, l.head = nb, 0
}

func (l *limbo) pop() limboEntry {
	e := *l.at(0)
	l.head = (l.head + 1) % len(l.buf)
	l.n--
	return e
}

func (l *limbo) resolveAll(st *Stats) {
	st.OverflowResolved += uint64(l.n)
	l.head, l.n = 0, 0
}

func (l *limbo) resolveBefore(t int64, st *Stats) {
	for l.n > 0 && l.at(0).win.Hi < t {
		l.pop()
		st.OverflowResolved++
	}
}

// matchCertain resolves the evicted entries up to the one that is certainly
// the echo's frame, if there is one.
func (l *limbo) matchCertain(r *Ring, e Echo) bool {
	for i := 0; i < l.n; i++ {
		le := l.at(i)
		if le.id != e.ID {
			continue
		}
		if e.Exact && sameNumber(le.win, e.Win, r.numberSlack, r.numbersCameBack) || !e.Exact && r.sameFrame(le.win, e.Win, int(le.bytes)) {
			for range i + 1 {
				l.pop()
			}
			r.stats.OverflowResolved += uint64(i + 1)
			return true
		}
	}
	return false
}

// settle declares every open entry lost.
func (l *limbo) settle(r *Ring) int {
	c := l.n
	for l.n > 0 {
		r.recordLost(l.pop())
	}
	return c
}

func (l *limbo) footprint() int64 { return int64(cap(l.buf)) * 56 }
