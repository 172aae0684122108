package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/feedd/feedd/ftpair"
)

// session is one authenticated connection to a peer: a reader (the
// goroutine that runs runSession) and a writer goroutine.
type session struct {
	l    *Link
	p    *peer
	conn net.Conn // TLS or TCP
	seal *sealer  // writer only
	open *opener  // reader only
	dir  string   // "dialed" or "accepted"
	q    hbQueue
	// repairs holds repair messages to send, after any heartbeat.
	repairs chan []byte
	wake    chan struct{}
	start   time.Time

	stopCh     chan struct{}
	stopOnce   sync.Once
	dmu        sync.Mutex // orders stop's write deadline against the writer's
	stopped    bool       // guarded by dmu
	local      atomic.Bool
	notice     byte // close notice to send when stopping; set before stopCh closes
	writerDone chan struct{}

	lastRecv atomic.Int64 // Link.mono of the last message (or the handshake)
	// carried: the peer has sent a sealed message on this session. Only
	// such a session's end can be an obituary: a close right after the
	// handshake may be this member's own listener making room
	// (maxPendingHandshakes), or anyone who can reach the port.
	carried     atomic.Bool
	incarnation uint64 // reader only: the peer's, from its heartbeats
	clk         clockState
}

func newSession(l *Link, p *peer, conn net.Conn, s *sealer, o *opener, dir string) *session {
	return &session{
		l: l, p: p, conn: conn, seal: s, open: o, dir: dir,
		q:          hbQueue{buf: make([]ftpair.Heartbeat, l.cfg.SendQueue)},
		repairs:    make(chan []byte, repairQueue),
		wake:       make(chan struct{}, 1),
		start:      time.Now(),
		stopCh:     make(chan struct{}),
		writerDone: make(chan struct{}),
	}
}

// repairQueue bounds the repair messages queued on a session: an answer
// of a long hole takes a few hundred.
const repairQueue = 512

// hbQueue is a bounded FIFO that drops its oldest entry when full.
type hbQueue struct {
	mu      sync.Mutex
	buf     []ftpair.Heartbeat
	head, n int
}

// push appends hb and reports whether the oldest entry was dropped for it.
func (q *hbQueue) push(hb ftpair.Heartbeat) (dropped bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == len(q.buf) {
		q.head = (q.head + 1) % len(q.buf)
		q.n--
		dropped = true
	}
	q.buf[(q.head+q.n)%len(q.buf)] = hb
	q.n++
	return dropped
}

func (q *hbQueue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n > 0
}

func (q *hbQueue) pop() (ftpair.Heartbeat, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return ftpair.Heartbeat{}, false
	}
	hb := q.buf[q.head]
	q.buf[q.head] = ftpair.Heartbeat{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return hb, true
}

// peerNotice is a close message received from the peer.
type peerNotice struct{ reason byte }

func (n *peerNotice) Error() string {
	if n.reason == closeLeaving {
		return "the peer is shutting down"
	}
	return "the peer dropped the connection"
}

var errStopped = errors.New("session stopped by this member")

// isPeerClosed reports whether a read error means the peer's end closed:
// end of stream (possibly inside a frame) or a reset.
func isPeerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

func (s *session) touch() {
	s.lastRecv.Store(s.l.mono())
	wall := time.Now().UnixNano()
	s.p.lastRecvWall.Store(wall)
	s.p.heardAlive.Store(wall)
}

// stop ends the session from this side: whatever ends it afterwards is not
// an obituary. The writer sends the notice (0: none), if it can within the
// notice timeout, and closes the connection, which ends the reader.
func (s *session) stop(notice byte) {
	s.stopOnce.Do(func() {
		s.local.Store(true)
		s.notice = notice
		s.dmu.Lock()
		s.stopped = true
		close(s.stopCh)
		s.conn.SetWriteDeadline(time.Now().Add(s.l.noticeTimeout()))
		s.dmu.Unlock()
	})
}

// armWrite sets the deadline for the next write, unless the session is
// stopping.
func (s *session) armWrite() bool {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if s.stopped {
		return false
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.l.cfg.WriteTimeout))
	return true
}

func (s *session) writeLoop() {
	defer close(s.writerDone)
	buf := make([]byte, 0, MaxFrame)
	body := make([]byte, 0, MaxFrame)
	finish := func() {
		if s.notice != 0 && !s.l.crashed.Load() {
			if frame, err := s.seal.seal(buf[:0], msgClose, []byte{s.notice}); err == nil {
				s.conn.Write(frame)
			}
		}
		s.conn.Close()
	}
	for {
		select {
		case <-s.stopCh:
			finish()
			return
		default:
		}
		select {
		case <-s.stopCh:
			finish()
			return
		case <-s.wake:
		}
		for {
			hb, ok := s.q.pop()
			if !ok {
				break
			}
			payload, err := hb.MarshalBinary()
			if err != nil {
				s.l.log.Error("pair link: heartbeat cannot be encoded; dropped", "peer", s.p.id, "err", err.Error())
				continue
			}
			if !s.armWrite() {
				break // stopping: the loop above sends the notice
			}
			// The send stamp is taken last before sealing and writing.
			body = appendTiming(body[:0], s.clk.stampOut(s.l.now, s.l.clockID))
			body = append(body, payload...)
			sent, connOK := s.writeSealed(buf, msgHeartbeat, body, "pair link: heartbeat too large; dropped")
			if !connOK {
				return
			}
			if sent {
				s.p.sent.Add(1)
			}
		}
		if !s.writeRepairs(buf) {
			return
		}
	}
}

// writeRepairs writes the queued repair messages, stopping early for a
// heartbeat waiting. It returns false when the connection failed.
func (s *session) writeRepairs(buf []byte) bool {
	for {
		var payload []byte
		select {
		case payload = <-s.repairs:
		default:
			return true
		}
		if !s.armWrite() {
			return true
		}
		sent, connOK := s.writeSealed(buf, msgRepair, payload, "pair link: repair message cannot be sealed; dropped")
		if !connOK {
			return false
		}
		if !sent {
			continue
		}
		s.p.repairSent.Add(1)
		if s.q.pending() {
			// A heartbeat goes first; the loop comes back for the rest.
			select {
			case s.wake <- struct{}{}:
			default:
			}
			return true
		}
	}
}

// writeSealed seals payload as one message of type t and writes it. A
// message that cannot be sealed is logged as dropped and the connection
// goes on: sent is false, connOK true. A failed write is left to
// writeFailed: connOK is false.
func (s *session) writeSealed(buf []byte, t msgType, payload []byte, dropped string) (sent, connOK bool) {
	frame, err := s.seal.seal(buf[:0], t, payload)
	if err != nil {
		s.l.log.Error(dropped, "peer", s.p.id, "err", err.Error())
		return false, true
	}
	if _, err := s.conn.Write(frame); err != nil {
		s.writeFailed(err)
		return false, false
	}
	return true, true
}

// writeFailed handles a failed write. If the peer's end closed, the reader
// sees it too and decides whether it is an obituary; the writer just stops.
// Anything else (a timeout: the peer or the path is stuck) drops the
// connection from this side, which is not an obituary.
func (s *session) writeFailed(err error) {
	if isPeerClosed(err) || errors.Is(err, syscall.EPIPE) {
		return
	}
	select {
	case <-s.stopCh:
		return // stopping anyway
	default:
	}
	s.l.log.Warn("pair link: write failed; dropping the connection", "peer", s.p.id, "err", err.Error())
	s.stop(0)
	s.conn.Close()
}

func (s *session) readLoop(ctx context.Context) error {
	buf := make([]byte, MaxFrame)
	for {
		frame, err := readFrame(s.conn, buf)
		if err != nil {
			return err
		}
		r := s.l.now() // the receive stamp, first thing after the read
		t, payload, err := s.open.open(frame)
		if err != nil {
			return err
		}
		s.touch()
		s.carried.Store(true)
		if t == msgClose {
			return &peerNotice{reason: payload[0]}
		}
		if t == msgRepair {
			s.p.repairReceived.Add(1)
			if f := s.l.repairFn; f != nil {
				f(s.p.id, payload)
			}
			continue
		}
		tb, encoded, err := parseTiming(payload)
		if err != nil {
			return err
		}
		var hb ftpair.Heartbeat
		if err := decodeHeartbeat(encoded, &hb); err != nil {
			return err
		}
		if hb.From != s.p.id {
			return rejectf(RejectWrongPeer, "heartbeat from %q on the connection of %q", hb.From, s.p.id)
		}
		s.measure(tb, r)
		s.p.received.Add(1)
		s.incarnation = hb.Incarnation
		s.p.incarnation.Store(hb.Incarnation)
		if !s.l.emit(ctx, s.stopCh, ftpair.HeartbeatReceived{Heartbeat: hb}) {
			return errStopped
		}
	}
}

// measure takes the timing block of an authenticated heartbeat that
// arrived at local stamp r: it keeps it for reflection and, when it bounds
// the clock offset from both sides, records and reports the bound. A
// bound with Lo >= Hi cannot hold (a clock that stepped, or a rate far
// off) and is counted and dropped.
func (s *session) measure(tb timing, r int64) {
	lo, hi, ok := s.clk.received(tb, r)
	if !ok {
		return
	}
	p := s.p
	if lo >= hi {
		p.clockDiscarded.Add(1)
		return
	}
	b := ClockBound{Peer: p.id, Clock: tb.clock, Lo: lo, Hi: hi, At: r}
	p.clockBounds.Add(1)
	p.mu.Lock()
	p.bound, p.haveBound = b, true
	p.mu.Unlock()
	if f := s.l.clockObs; f != nil {
		f(b)
	}
}

// classify decides what the end of a session means, from the reader's
// error: an obituary or not, why, and the close notice to send the peer.
func (s *session) classify(err error) (obituary bool, why string, notice byte) {
	var pn *peerNotice
	switch {
	case s.local.Load():
		return false, "closed by this member", 0
	case errors.As(err, &pn):
		return pn.reason == closeLeaving, pn.Error(), 0
	case isPeerClosed(err):
		if !s.carried.Load() {
			return false, "closed by the peer before it sent a message: not an obituary", 0
		}
		silence := time.Duration(s.l.mono() - s.lastRecv.Load())
		if silence > s.l.cfg.ObituaryWindow {
			return false, fmt.Sprintf("closed by the peer after %v of silence (more than pair.obituary_window): not an obituary", silence.Round(time.Millisecond)), 0
		}
		return true, "closed by the peer", 0
	}
	if _, ok := reasonOf(err); ok {
		return false, "dropped by this member: " + err.Error(), closeDropping
	}
	return false, "dropped by this member: read failed: " + err.Error(), closeDropping
}

// runSession runs an authenticated session to its end and reports it.
func (l *Link) runSession(ctx context.Context, s *session) {
	p := s.p
	s.touch()
	if old := p.attach(s); old != nil {
		l.log.Info("pair link: a newer connection replaces the current one", "peer", p.id)
		old.stop(closeDropping)
	}
	p.connects.Add(1)
	l.log.Info("pair link up", "peer", p.id, "remote", s.conn.RemoteAddr().String(), "dir", s.dir)
	go s.writeLoop()
	unwatch := context.AfterFunc(ctx, func() { s.stop(closeLeaving) })
	err := errStopped
	if l.emit(ctx, s.stopCh, ftpair.PeerConnected{Peer: p.id}) {
		err = s.readLoop(ctx)
	}
	unwatch()
	obituary, why, notice := s.classify(err)
	s.stop(notice)
	<-s.writerDone
	s.conn.Close()
	p.detach(s, why)
	p.disconnects.Add(1)
	if _, ok := reasonOf(err); ok {
		l.countReject(err, s.conn.RemoteAddr(), p.id)
	}
	up := time.Since(s.start).Round(time.Millisecond)
	if !obituary {
		l.log.Info("pair link down", "peer", p.id, "why", why, "up", up)
		return
	}
	p.obituaries.Add(1)
	p.heardAlive.Store(0)
	l.log.Warn("pair link closed by the peer: obituary", "peer", p.id, "incarnation", s.incarnation, "why", why, "up", up)
	l.emit(ctx, nil, ftpair.PeerClosed{Peer: p.id, Incarnation: s.incarnation})
}
