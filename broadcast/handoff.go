package broadcast

import (
	"sync/atomic"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
)

// handoff carries frames from the port reader's goroutine (Accept) to the
// goroutine that owns the ring. It is a single-producer single-consumer
// queue of reusable slots: a frame costs one copy into its slot's buffer and
// a few atomic loads and stores, with no lock and, once the slots' buffers
// have grown to the feed's frame size, no allocation.
//
// The consumer parks when the queue is empty; the producer wakes it only
// then. Both sides publish before they check the other (tail before parked,
// parked before tail), so a wake-up cannot be lost.
type handoff struct {
	slots []handoffSlot
	mask  uint64

	head   atomic.Uint64 // next slot the consumer reads
	tail   atomic.Uint64 // next slot the producer writes
	parked atomic.Bool   // the consumer is about to wait on wake
	closed atomic.Bool   // the consumer is gone: put refuses
	wake   chan struct{} // capacity 1

	// Counted by the producer.
	accepted atomic.Uint64 // frames queued
	stalls   atomic.Uint64 // puts that found the queue full and waited
	refused  atomic.Uint64 // frames refused because the pipeline was closed
}

type handoffSlot struct {
	f    backlog.Frame // f.Data is the slot's own buffer
	hole ingest.Hole
}

// newHandoff returns a queue of n slots, n a power of two.
func newHandoff(n int) *handoff {
	return &handoff{
		slots: make([]handoffSlot, n),
		mask:  uint64(n - 1),
		wake:  make(chan struct{}, 1),
	}
}

// put queues a copy of data. If the queue is full it waits for room (the
// owner goroutine never blocks on I/O, so this is a burst outrunning it) and
// counts the stall. It returns false only when the queue is closed.
func (h *handoff) put(f backlog.Frame, hole ingest.Hole) bool {
	t := h.tail.Load()
	if t-h.head.Load() == uint64(len(h.slots)) {
		h.stalls.Add(1)
		for wait := time.Microsecond; t-h.head.Load() == uint64(len(h.slots)); wait = min(2*wait, time.Millisecond) {
			if h.closed.Load() {
				h.refused.Add(1)
				return false
			}
			h.signal()
			time.Sleep(wait)
		}
	}
	if h.closed.Load() {
		h.refused.Add(1)
		return false
	}
	s := &h.slots[t&h.mask]
	buf := append(s.f.Data[:0], f.Data...)
	s.f = f
	s.f.Data = buf
	s.hole = hole
	h.tail.Store(t + 1)
	h.accepted.Add(1)
	if h.parked.Load() {
		h.signal()
	}
	return true
}

func (h *handoff) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// drain hands every queued frame to fn, in order, and frees its slot. The
// slot's data is valid only during fn. It returns how many it handled.
func (h *handoff) drain(fn func(*backlog.Frame, ingest.Hole)) int {
	hd, t := h.head.Load(), h.tail.Load()
	n := int(t - hd)
	for ; hd != t; hd++ {
		s := &h.slots[hd&h.mask]
		fn(&s.f, s.hole)
		// Free slots as we go so a stalled producer resumes early.
		if hd&63 == 63 {
			h.head.Store(hd + 1)
		}
	}
	h.head.Store(t)
	return n
}

// pending reports whether frames are queued.
func (h *handoff) pending() bool { return h.tail.Load() != h.head.Load() }

// park announces that the consumer is about to wait; it returns false if
// frames arrived meanwhile, in which case the consumer must not wait.
func (h *handoff) park() bool {
	h.parked.Store(true)
	if h.pending() {
		h.parked.Store(false)
		return false
	}
	return true
}

func (h *handoff) unpark() { h.parked.Store(false) }
