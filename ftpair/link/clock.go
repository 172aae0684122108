package link

import "sync"

// ClockBound is one measurement of the offset between this member's clock
// and a peer's, from one heartbeat: local minus peer lies strictly between
// Lo and Hi. It assumes nothing about the two clocks but that each is
// monotonic and that their rates agree over one heartbeat round trip.
type ClockBound struct {
	// Peer is the peer's member id.
	Peer string
	// Clock is the peer's clock id (hostclock.ID on its host).
	Clock uint64
	// Lo and Hi are exclusive bounds on local clock minus peer clock, in
	// nanoseconds.
	Lo, Hi int64
	// At is the local clock's stamp of the heartbeat's arrival.
	At int64
}

// Width is Hi - Lo, in nanoseconds.
func (b ClockBound) Width() int64 { return b.Hi - b.Lo }

// SetClockObserver sets a function that receives every clock bound the
// link measures. It must be called before Run. The function is called from
// the link's reader goroutines, one per peer; it must not block.
func (l *Link) SetClockObserver(f func(ClockBound)) { l.clockObs = f }

// sentStamps is how many of its own recent send stamps a session
// remembers, to check the reflections the peer sends back. The peer
// reflects the last heartbeat it received, which is at most a send queue
// behind our latest.
const sentStamps = 64

// clockState is a session's part of the clock measurement: the stamps of
// the heartbeats it sent (writer) and the last one it received (reader).
type clockState struct {
	mu    sync.Mutex
	sent  [sentStamps]int64
	nsent int
	// The last authenticated heartbeat received: its send stamp (the
	// peer's clock) and our receive stamp.
	haveRecv       bool
	recvSent, recv int64
}

// stampOut builds the timing block of a heartbeat about to be written:
// the reflection of the last heartbeat received, and the send stamp y,
// taken last and remembered.
func (c *clockState) stampOut(now func() int64, clock uint64) timing {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := timing{clock: clock, refl: c.haveRecv, reflSent: c.recvSent, reflRecvd: c.recv}
	t.sent = now()
	c.sent[c.nsent%sentStamps] = t.sent
	c.nsent++
	return t
}

// stampedHere reports whether s is the send stamp of one of the recent
// heartbeats of this session.
func (c *clockState) stampedHere(s int64) bool {
	for i := range min(c.nsent, sentStamps) {
		if c.sent[i] == s {
			return true
		}
	}
	return false
}

// received takes the timing block of an authenticated heartbeat that
// arrived at local stamp r, remembers it for reflection, and returns the
// bounds it gives: theta = local - peer satisfies theta < r - y (the
// message left the peer at y on its clock and arrived at r on ours, later),
// and, when it reflects one of our heartbeats, theta > s - x (ours left at
// s on our clock, reached the peer at x on its clock, later). ok is false
// when there is no reflection of ours to bound theta from below.
func (c *clockState) received(t timing, r int64) (lo, hi int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.haveRecv, c.recvSent, c.recv = true, t.sent, r
	if !t.refl || !c.stampedHere(t.reflSent) {
		return 0, 0, false
	}
	return t.reflSent - t.reflRecvd, r - t.sent, true
}
