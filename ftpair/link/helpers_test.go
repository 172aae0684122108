package link

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/internal/testsupport"
)

// Generous bounds: these only matter when something is broken.
const (
	waitLimit  = 30 * time.Second
	pollPeriod = 5 * time.Millisecond
	hbPeriod   = 20 * time.Millisecond
)

var testSecret = []byte("correct horse battery staple 42!")

func hmacCreds() Credentials { return Credentials{Secret: testSecret} }

// testConfig is a configuration for a member on 127.0.0.1 with fast
// reconnects and an obituary window no loaded machine can exceed.
func testConfig(listen string, peers ...PeerConfig) Config {
	return Config{
		Listen:         listen,
		Peers:          peers,
		SecretEnv:      "FEEDD_LINK_TEST_UNUSED",
		ReconnectMin:   10 * time.Millisecond,
		ReconnectMax:   200 * time.Millisecond,
		WriteTimeout:   2 * time.Minute,
		ObituaryWindow: time.Minute,
	}
}

// nowhere is a peer address that is never dialed (the peer dials us).
const nowhere = "127.0.0.1:1"

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var incarnations atomic.Uint64

// member runs a Link as its owner would: it records every event and
// broadcasts a heartbeat every hbPeriod.
type member struct {
	t      *testing.T
	id     string
	inc    uint64
	l      *Link
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	events []ftpair.Event
}

func startMember(t *testing.T, id string, cfg Config, creds Credentials, opts ...Option) *member {
	return startMemberLog(t, id, cfg, creds, testLogger(t), opts...)
}

func startMemberLog(t *testing.T, id string, cfg Config, creds Credentials, log *slog.Logger, opts ...Option) *member {
	return startMemberObs(t, id, cfg, creds, log, nil, opts...)
}

// startMemberObs starts a member whose link reports clock bounds to obs
// (if not nil).
func startMemberObs(t *testing.T, id string, cfg Config, creds Credentials, log *slog.Logger, obs func(ClockBound), opts ...Option) *member {
	t.Helper()
	l, err := New(id, cfg, creds, log, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", id, err)
	}
	if obs != nil {
		l.SetClockObserver(obs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{t: t, id: id, inc: incarnations.Add(1), l: l, cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.Run(ctx); err != nil {
			t.Errorf("%s: Run: %v", id, err)
		}
	})
	wg.Go(func() {
		for ev := range l.Events() {
			m.mu.Lock()
			m.events = append(m.events, ev)
			m.mu.Unlock()
		}
	})
	wg.Go(func() {
		tick := time.NewTicker(hbPeriod)
		defer tick.Stop()
		for seq := uint64(1); ; seq++ {
			l.Send("", ftpair.Heartbeat{From: id, Incarnation: m.inc, Seq: seq, Weight: 1})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	go func() {
		wg.Wait()
		close(m.done)
	}()
	t.Cleanup(m.stop)
	return m
}

func (m *member) addr() string { return m.l.Addr().String() }

// stop shuts the member down as its owner would (Run's context cancelled).
func (m *member) stop() {
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(waitLimit):
		m.t.Errorf("%s: Run did not return after cancellation", m.id)
	}
}

// crash imitates the death of the member's process.
func (m *member) crash() {
	m.l.crash()
	m.stop()
}

func (m *member) count(f func(ftpair.Event) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ev := range m.events {
		if f(ev) {
			n++
		}
	}
	return n
}

func (m *member) connected(peer string) int {
	return m.count(func(ev ftpair.Event) bool {
		e, ok := ev.(ftpair.PeerConnected)
		return ok && e.Peer == peer
	})
}

func (m *member) closed(peer string) int {
	return m.count(func(ev ftpair.Event) bool {
		e, ok := ev.(ftpair.PeerClosed)
		return ok && e.Peer == peer
	})
}

func (m *member) closedEvents() []ftpair.PeerClosed {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ftpair.PeerClosed
	for _, ev := range m.events {
		if e, ok := ev.(ftpair.PeerClosed); ok {
			out = append(out, e)
		}
	}
	return out
}

// heartbeats counts heartbeats received from peer (of incarnation inc, if
// not zero).
func (m *member) heartbeats(peer string, inc uint64) int {
	return m.count(func(ev ftpair.Event) bool {
		e, ok := ev.(ftpair.HeartbeatReceived)
		return ok && e.Heartbeat.From == peer && (inc == 0 || e.Heartbeat.Incarnation == inc)
	})
}

func (m *member) rejected(r RejectReason) uint64 { return m.l.Status().Rejected[r] }

func (m *member) refusedEvents(peer string) []ftpair.PeerRefused {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ftpair.PeerRefused
	for _, ev := range m.events {
		if e, ok := ev.(ftpair.PeerRefused); ok && e.Peer == peer {
			out = append(out, e)
		}
	}
	return out
}

func (m *member) peerStatus(id string) PeerStatus {
	for _, p := range m.l.Status().Peers {
		if p.ID == id {
			return p
		}
	}
	m.t.Fatalf("%s: no peer %s in status", m.id, id)
	return PeerStatus{}
}

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, waitLimit, pollPeriod, what, cond)
}

// startPair starts b (the acceptor) and a (the dialer) and waits until
// heartbeats flow both ways.
func startPair(t *testing.T) (a, b *member) {
	t.Helper()
	b = startMember(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), hmacCreds())
	a = startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}), hmacCreds())
	waitFlowing(t, a, b)
	return a, b
}

// waitFlowing waits until a and b each receive fresh heartbeats from the
// other, counting from now.
func waitFlowing(t *testing.T, a, b *member) {
	t.Helper()
	na, nb := a.heartbeats(b.id, b.inc), b.heartbeats(a.id, a.inc)
	waitFor(t, a.id+" hears "+b.id, func() bool { return a.heartbeats(b.id, b.inc) >= na+3 })
	waitFor(t, b.id+" hears "+a.id, func() bool { return b.heartbeats(a.id, a.inc) >= nb+3 })
}

// dialRaw opens a plain TCP connection for hand-made input.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(waitLimit))
	t.Cleanup(func() { c.Close() })
	return c
}

// drain reads until the other side closes (or the deadline passes).
func drain(c net.Conn) { io.Copy(io.Discard, c) }

// rogueHello sends a hello and reads the welcome.
func rogueHello(t *testing.T, c net.Conn, from, to string) (hello, [nonceLen]byte) {
	t.Helper()
	var nd [nonceLen]byte
	nd[0] = 7
	if _, err := c.Write(appendHello(nil, msgHello, hello{mode: modeHMAC, from: from, to: to, nonce: nd})); err != nil {
		t.Fatal(err)
	}
	frame, err := readFrame(c, make([]byte, MaxFrame))
	if err != nil {
		t.Fatalf("reading welcome: %v", err)
	}
	w, err := parseHello(frame, msgWelcome)
	if err != nil {
		t.Fatal(err)
	}
	return w, nd
}

// rogueSession completes a handshake as from with the given secret (as
// anyone holding the secret can) and returns the session's sealer.
func rogueSession(t *testing.T, addr, from, to string, secret []byte) (net.Conn, *sealer) {
	t.Helper()
	c := dialRaw(t, addr)
	s, _, err := clientHandshake(c, modeHMAC, from, to, secret, Identity{}, newNonce())
	if err != nil {
		t.Fatalf("rogue handshake: %v", err)
	}
	return c, s
}

func sealHB(t *testing.T, s *sealer, hb ftpair.Heartbeat) []byte {
	t.Helper()
	payload, err := hb.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	frame, err := s.seal(nil, msgHeartbeat, withTiming(payload))
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

// pipeHandshake runs a dialer's handshake, as dialAs towards dialTo with
// the identity dialIdent, against an acceptor's, as acceptAs with
// acceptIdent, over an in-memory pipe, and returns the acceptor's error and
// the dialer's.
func pipeHandshake(mode authMode, dialAs, dialTo string, dialIdent Identity, acceptAs string, acceptIdent Identity) (acceptErr, dialErr error) {
	c1, c2 := pipe()
	done := make(chan error, 1)
	go func() {
		_, _, err := clientHandshake(c1, mode, dialAs, dialTo, testSecret, dialIdent, newNonce())
		done <- err
	}()
	_, _, _, acceptErr = serverHandshake(c2, mode, acceptAs, testSecret, func(string, [nonceLen]byte) error { return nil }, acceptIdent)
	return acceptErr, <-done
}

// withTiming prefixes an encoded heartbeat with a timing block (without
// a reflection), as a heartbeat message carries it.
func withTiming(encoded []byte) []byte {
	return append(appendTiming(nil, timing{clock: 1, sent: 1}), encoded...)
}

// tcpRelay accepts connections on a local port and dials target for each;
// what passes between the two connections is up to the pipe its owner
// starts it with. The test's end closes the listener and every connection
// and waits for the pipes.
type tcpRelay struct {
	ln     net.Listener
	wg     sync.WaitGroup
	connMu sync.Mutex
	conns  []net.Conn
}

func (r *tcpRelay) start(t *testing.T, target string, pipe func(down, up net.Conn)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.ln = ln
	r.wg.Go(func() { r.serve(target, pipe) })
	t.Cleanup(func() {
		ln.Close()
		r.connMu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.connMu.Unlock()
		r.wg.Wait()
	})
}

func (r *tcpRelay) addr() string { return r.ln.Addr().String() }

func (r *tcpRelay) serve(target string, pipe func(down, up net.Conn)) {
	for {
		down, err := r.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			down.Close()
			continue
		}
		r.connMu.Lock()
		r.conns = append(r.conns, down, up)
		r.connMu.Unlock()
		pipe(down, up)
	}
}

// proxy relays TCP connections to target, recording the frames the dialer
// sends on the current connection, and can inject into or reorder that
// stream at frame boundaries.
type proxy struct {
	tcpRelay

	mu     sync.Mutex
	up     net.Conn // current upstream connection
	frames [][]byte // sent by the dialer on the current connection
	swap   bool     // swap the next two frames
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{}
	p.start(t, target, p.pipe)
	return p
}

func (p *proxy) pipe(down, up net.Conn) {
	p.mu.Lock()
	p.up, p.frames = up, nil
	p.mu.Unlock()
	p.wg.Go(func() {
		io.Copy(down, up)
		down.Close()
	})
	p.wg.Go(func() { p.relay(down, up) })
}

func (p *proxy) relay(down, up net.Conn) {
	defer up.Close()
	buf := make([]byte, MaxFrame)
	var held []byte
	for {
		frame, err := readFrame(down, buf)
		if err != nil {
			return
		}
		f := bytes.Clone(frame)
		p.mu.Lock()
		if up == p.up && len(p.frames) < 256 {
			p.frames = append(p.frames, f)
		}
		switch {
		case p.swap && held == nil:
			held = f
		case held != nil:
			up.Write(f)
			up.Write(held)
			held, p.swap = nil, false
		default:
			up.Write(f)
		}
		p.mu.Unlock()
	}
}

// captured returns the frames the dialer has sent on the current
// connection.
func (p *proxy) captured() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.frames...)
}

// inject writes b into the current upstream stream between two frames.
func (p *proxy) inject(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up.Write(b)
}

func (p *proxy) swapNext() {
	p.mu.Lock()
	p.swap = true
	p.mu.Unlock()
}
