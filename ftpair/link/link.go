package link

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ingest/hostclock"
)

const (
	// EventBuffer is the capacity of the Events channel.
	EventBuffer = 64
	// maxPendingHandshakes bounds the accepted connections that have not
	// finished their handshake. One more closes the oldest of the busiest
	// host's (RejectBusy), so connections opened and left idle cannot keep
	// the peer out (its own handshake takes a round trip, theirs never
	// ends), nor can a flood from another host.
	maxPendingHandshakes = 8
	// rejectLogEvery rate-limits warnings about rejected input, per reason;
	// the rest are logged at debug level.
	rejectLogEvery = 10 * time.Second
	// dialLogEvery rate-limits warnings about a peer that cannot be dialed.
	dialLogEvery = 30 * time.Second
	// refusalLogEvery rate-limits the error about a peer refused for its
	// frame identity, per peer.
	refusalLogEvery = 30 * time.Second
)

// Link carries heartbeats between this member and its peers. Create it with
// New, run it with Run, feed its Events to the core and perform the core's
// SendHeartbeat actions with Send.
type Link struct {
	self   string
	cfg    Config
	mode   authMode
	secret []byte
	cert   *tls.Certificate
	cas    *x509.CertPool
	srvTLS *tls.Config
	log    *slog.Logger
	ln     net.Listener
	peers  map[string]*peer
	order  []*peer // as configured
	events chan ftpair.Event
	epoch  time.Time

	ident    Identity
	now      func() int64 // the clock heartbeats are stamped with
	clockID  uint64
	clockObs func(ClockBound)
	repairFn func(from string, payload []byte)

	rejected      [numRejectReasons]atomic.Uint64
	lastRejectLog [numRejectReasons]atomic.Int64
	// handshakesMu guards the handshakes under way, accepted and dialed.
	handshakesMu sync.Mutex
	pending      []*pendingHandshake // accepted, handshake in progress, oldest first
	// dialing holds the nonces of this member's own hellos whose
	// handshake is under way: a hello that arrives with one of them is our
	// own connection come back.
	dialing map[[nonceLen]byte]*ownHello
	started atomic.Bool

	mu      sync.Mutex
	conns   map[net.Conn]struct{} // every open TCP connection
	crashed atomic.Bool           // tests: imitate a process death
	// The last member id clash (guarded by mu): when (Link.mono, 0 if
	// none; and wall time), and the refusal, which names the address.
	clashMono int64
	clashWall time.Time
	clashErr  string
}

// peer is one configured peer and its current session.
type peer struct {
	id, addr string
	dial     bool // this member dials the peer (its id is lower)

	mu      sync.Mutex
	sess    *session
	since   time.Time // when the connection went up or down
	lastErr string

	// The last refusal for the peer's frame identity (guarded by mu):
	// when (Link.mono, 0 if none since the last session; and wall time),
	// what the peer said its identity is, when it was last logged.
	refusedMono    int64
	refusedWall    time.Time
	peerIdent      Identity
	lastRefusalLog int64

	// The latest clock bound (guarded by mu).
	bound     ClockBound
	haveBound bool

	lastRecvWall atomic.Int64 // unix nanoseconds of the last message
	// heardAlive is lastRecvWall until an obituary clears it: the peer,
	// and whatever it held, is gone (LastHeard).
	heardAlive  atomic.Int64
	incarnation atomic.Uint64
	sent, received, queueDropped, notConnected,
	connects, disconnects, obituaries, dialFailures,
	refusals, clockBounds, clockDiscarded,
	repairSent, repairReceived, repairDropped atomic.Uint64

	lastDialLog time.Time // dial goroutine only
}

// CheckMember reports what New refuses in memberID beside cfg's own
// validity: an id that is not a valid member id, and a peer that carries
// it.
func CheckMember(memberID string, cfg Config) error {
	var errs []error
	if err := checkMemberID(memberID); err != nil {
		errs = append(errs, fmt.Errorf("member_id: %w", err))
	}
	for i, p := range cfg.Peers {
		if p.ID == memberID {
			errs = append(errs, fmt.Errorf("pair.peers[%d].id: %q is this member's own member_id", i, p.ID))
		}
	}
	return errors.Join(errs...)
}

// New checks the configuration, binds the listener (so Addr is known at
// once) and returns a Link ready to Run. memberID is this member's
// member_id (ftpair.Config.MemberID); creds come from
// Config.LoadCredentials or the owner. A nil logger means slog.Default().
// opts set the frame identity (WithIdentity) and the clock (WithClock).
// If Run is never called, Close releases the listener.
func New(memberID string, cfg Config, creds Credentials, logger *slog.Logger, opts ...Option) (*Link, error) {
	cfg = cfg.WithDefaults()
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := CheckMember(memberID, cfg); err != nil {
		errs = append(errs, err)
	}
	l := &Link{
		self:    memberID,
		cfg:     cfg,
		log:     logger,
		peers:   map[string]*peer{},
		events:  make(chan ftpair.Event, EventBuffer),
		epoch:   time.Now(),
		conns:   map[net.Conn]struct{}{},
		dialing: map[[nonceLen]byte]*ownHello{},
		now:     hostclock.Now,
	}
	for _, o := range opts {
		o.apply(l)
	}
	if l.clockID == 0 && l.now != nil {
		l.clockID = hostclock.ID()
	}
	if l.now == nil {
		errs = append(errs, errors.New("link.WithClock: nil clock"))
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	switch cfg.Auth {
	case AuthHMAC:
		l.mode = modeHMAC
		if len(creds.Secret) < MinSecretLen {
			field := "secret_file"
			if cfg.SecretEnv != "" {
				field = "secret_env"
			}
			errs = append(errs, fmt.Errorf("pair.%s: the secret is %d bytes; at least %d are required", field, len(creds.Secret), MinSecretLen))
		}
		l.secret = bytes.Clone(creds.Secret)
	case AuthMTLS:
		l.mode = modeMTLS
		if creds.Certificate == nil || creds.CAs == nil {
			errs = append(errs, errors.New("pair.tls: no certificate or CA pool given (see Config.LoadCredentials)"))
		} else {
			l.cert, l.cas = creds.Certificate, creds.CAs
			l.srvTLS = serverTLS(l.cert, l.cas)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, pc := range cfg.Peers {
		p := &peer{id: pc.ID, addr: pc.Address, dial: memberID < pc.ID, since: time.Now()}
		l.peers[p.id] = p
		l.order = append(l.order, p)
	}
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("pair.listen: %w", err)
	}
	l.ln = ln
	return l, nil
}

// Addr is the address the listener is bound to.
func (l *Link) Addr() net.Addr { return l.ln.Addr() }

// Events delivers ftpair.PeerConnected (after a handshake),
// ftpair.HeartbeatReceived (authenticated, From checked, in order per
// connection) and ftpair.PeerClosed (obituaries only). The owner must keep
// receiving: a full channel holds up the connections' readers (never the
// Send side). It is closed when Run returns.
func (l *Link) Events() <-chan ftpair.Event { return l.events }

// Run accepts and dials peers until ctx is cancelled, then closes every
// connection (telling peers this member is leaving), waits for all its
// goroutines and closes Events. It returns nil after cancellation; it may be
// called once.
func (l *Link) Run(ctx context.Context) error {
	if !l.started.CompareAndSwap(false, true) {
		return errors.New("link: Run called more than once")
	}
	defer close(l.events)
	var wg sync.WaitGroup
	wg.Go(func() { l.acceptLoop(ctx, &wg) })
	for _, p := range l.order {
		if p.dial {
			wg.Go(func() { l.dialLoop(ctx, p) })
		}
	}
	l.log.Info("pair link listening", "addr", l.ln.Addr().String(), "auth", l.cfg.Auth)
	<-ctx.Done()
	l.ln.Close()
	wg.Wait()
	return nil
}

// Close releases the listener of a Link whose Run will not be called (Run
// closes it itself).
func (l *Link) Close() error { return l.ln.Close() }

// Send queues hb for peer to, or for every connected peer when to is empty
// (as ftpair.SendHeartbeat.To says). It never blocks: a heartbeat for a peer
// that is not connected is dropped, and a full queue drops its oldest
// heartbeat; both are counted.
func (l *Link) Send(to string, hb ftpair.Heartbeat) {
	if to == "" {
		for _, p := range l.order {
			p.send(hb)
		}
		return
	}
	if p := l.peers[to]; p != nil {
		p.send(hb)
		return
	}
	l.log.Debug("pair link: heartbeat for an unknown peer dropped", "peer", to)
}

// SendRepair queues a repair message for peer to, or for every connected
// peer when to is empty. It never blocks; it reports whether the message
// was queued for at least one peer (false: none connected, the queue is
// full, or payload is longer than MaxRepairPayload).
func (l *Link) SendRepair(to string, payload []byte) bool {
	if len(payload) > MaxRepairPayload {
		return false
	}
	if to != "" {
		p := l.peers[to]
		return p != nil && p.sendRepair(payload)
	}
	sent := false
	for _, p := range l.order {
		sent = p.sendRepair(payload) || sent
	}
	return sent
}

// LastHeard is when the last authenticated message came from a peer, the
// zero time if none ever did, and whether that peer has died or left since
// (an obituary). A repair waits on a peer heard lately, for a link that
// may come back or a process that starts again (broadcast.Options.PeerHeard).
func (l *Link) LastHeard() (at time.Time, gone bool) {
	var latest int64
	for _, p := range l.order {
		if w := p.lastRecvWall.Load(); w > latest {
			latest, gone = w, p.heardAlive.Load() == 0
		}
	}
	if latest == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, latest), gone
}

func (p *peer) sendRepair(payload []byte) bool {
	p.mu.Lock()
	s := p.sess
	p.mu.Unlock()
	if s == nil {
		return false
	}
	select {
	case s.repairs <- payload:
	default:
		p.repairDropped.Add(1)
		return false
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

func (p *peer) send(hb ftpair.Heartbeat) {
	p.mu.Lock()
	s := p.sess
	p.mu.Unlock()
	if s == nil {
		p.notConnected.Add(1)
		return
	}
	if s.q.push(hb) {
		p.queueDropped.Add(1)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// attach makes s the peer's session and returns the one it replaces.
func (p *peer) attach(s *session) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.sess
	p.sess, p.since, p.lastErr = s, time.Now(), ""
	p.refusedMono, p.refusedWall, p.peerIdent = 0, time.Time{}, Identity{}
	return old
}

// detach removes s if it is still the peer's session.
func (p *peer) detach(s *session, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sess == s {
		p.sess, p.since, p.lastErr = nil, time.Now(), why
	}
}

func (p *peer) setError(err error) {
	p.mu.Lock()
	p.lastErr = err.Error()
	p.mu.Unlock()
}

// emit delivers an event unless ctx is cancelled or stop is closed first.
func (l *Link) emit(ctx context.Context, stop <-chan struct{}, ev ftpair.Event) bool {
	select {
	case l.events <- ev:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

// mono is a monotonic clock reading in nanoseconds.
func (l *Link) mono() int64 { return int64(time.Since(l.epoch)) }

func (l *Link) noticeTimeout() time.Duration { return min(l.cfg.WriteTimeout, time.Second) }

// rejectHandshake counts a failed handshake: a refusal for the frame
// identity (the peer is authenticated: it is reported to the core), or any
// other rejection.
func (l *Link) rejectHandshake(ctx context.Context, err error, remote net.Addr, p *peer) {
	var m *identityMismatch
	if p != nil && errors.As(err, &m) {
		l.refuse(ctx, p, m, remote)
		return
	}
	var clash *memberIDClash
	if errors.As(err, &clash) {
		switch {
		case p != nil: // we dialed it: the configured address says more
			clash.remote = p.addr
		case remote != nil:
			clash.remote = remote.String()
		}
		l.refuseClash(ctx, clash)
		return
	}
	id := ""
	if p != nil {
		id = p.id
	}
	l.countReject(err, remote, id)
}

// refuse records that the authenticated peer p was refused for its frame
// identity, logs it as an error (at most once per peer per
// refusalLogEvery; debug otherwise) and reports ftpair.PeerRefused, which
// keeps the core from taking the peer's silence for an empty group.
func (l *Link) refuse(ctx context.Context, p *peer, m *identityMismatch, remote net.Addr) {
	l.rejected[reasonIndex(RejectIdentity)].Add(1)
	p.refusals.Add(1)
	now := l.mono()
	p.mu.Lock()
	p.refusedMono, p.refusedWall, p.peerIdent = now, time.Now(), m.theirs
	if p.sess == nil {
		p.lastErr = m.Error()
	}
	level := slog.LevelDebug
	if p.lastRefusalLog == 0 || now-p.lastRefusalLog >= int64(refusalLogEvery) {
		p.lastRefusalLog, level = now, slog.LevelError
	}
	p.mu.Unlock()
	attrs := []any{"peer", p.id, "peer_identity_digest", m.theirs.short(), "identity_digest", m.ours.short()}
	if remote != nil {
		attrs = append(attrs, "remote", remote.String())
	}
	l.log.Log(ctx, level, "pair link: "+m.Error(), attrs...)
	l.emit(ctx, nil, ftpair.PeerRefused{Peer: p.id, Reason: m.Error(), For: l.cfg.RefusalHold()})
}

// refuseClash records that the other side of an authenticated handshake
// presented our own member id, logs it as an error once per episode (a
// clash that has not stood for Config.RefusalHold starts a new one; debug
// otherwise) and reports ftpair.PeerRefused naming our own id, which the
// core shows as a member id clash.
func (l *Link) refuseClash(ctx context.Context, c *memberIDClash) {
	l.rejected[reasonIndex(RejectDuplicateID)].Add(1)
	now := l.mono()
	l.mu.Lock()
	episode := l.clashMono == 0 || now-l.clashMono >= int64(l.cfg.RefusalHold())
	l.clashMono, l.clashWall, l.clashErr = now, time.Now(), c.Error()
	l.mu.Unlock()
	level := slog.LevelDebug
	if episode {
		level = slog.LevelError
	}
	l.log.Log(ctx, level, "pair link: "+c.Error(), "member_id", l.self, "remote", c.remote)
	l.emit(ctx, nil, ftpair.PeerRefused{Peer: l.self, Reason: c.Error(), For: l.cfg.RefusalHold()})
}

// countReject counts a rejection and logs it, at warning level at most once
// per reason per rejectLogEvery.
func (l *Link) countReject(err error, remote net.Addr, peerID string) {
	r, ok := reasonOf(err)
	if !ok {
		return
	}
	i := reasonIndex(r)
	if i < 0 {
		return
	}
	l.rejected[i].Add(1)
	level := slog.LevelDebug
	now, last := l.mono(), l.lastRejectLog[i].Load()
	if (last == 0 || now-last >= int64(rejectLogEvery)) && l.lastRejectLog[i].CompareAndSwap(last, now) {
		level = slog.LevelWarn
	}
	attrs := []any{"reason", string(r), "err", err.Error()}
	if remote != nil {
		attrs = append(attrs, "remote", remote.String())
	}
	if peerID != "" {
		attrs = append(attrs, "peer", peerID)
	}
	l.log.Log(context.Background(), level, "pair link: input rejected", attrs...)
}

func (l *Link) track(c net.Conn) {
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
}

func (l *Link) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// crash imitates the death of this member's process, for tests: the
// listener and every connection close at once, with no close notice, and
// nothing is dialed again. The caller still cancels Run.
func (l *Link) crash() {
	l.crashed.Store(true)
	l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
}

// tuneTCP sets TCP_NODELAY and turns keepalive off: silence is the core's
// to judge, from missing heartbeats.
func tuneTCP(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tc.SetKeepAlive(false)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter spreads a backoff over [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func (l *Link) acceptLoop(ctx context.Context, wg *sync.WaitGroup) {
	var delay time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.log.Warn("pair link: accept failed; retrying", "err", err.Error(), "retry", delay)
			if !sleepCtx(ctx, delay) {
				return
			}
			continue
		}
		delay = 0
		h := l.admit(conn)
		wg.Go(func() { l.serveAccepted(ctx, h) })
	}
}

// pendingHandshake is an accepted connection whose handshake is under way.
type pendingHandshake struct {
	conn    net.Conn
	host    string      // the remote address without its port
	evicted atomic.Bool // closed to make room: counted as RejectBusy
}

// admit adds conn to the handshakes in progress; when there are
// maxPendingHandshakes already, one is closed to make room: the oldest of
// those from the address with the most. An address that floods the port
// then closes its own connections, not the peer's handshake (from another
// address) under way among them.
func (l *Link) admit(conn net.Conn) *pendingHandshake {
	h := &pendingHandshake{conn: conn, host: remoteHost(conn)}
	l.handshakesMu.Lock()
	var victim *pendingHandshake
	if len(l.pending) >= maxPendingHandshakes {
		i := l.evictionIndex(h.host)
		victim = l.pending[i]
		victim.evicted.Store(true)
		l.pending = slices.Delete(l.pending, i, i+1)
	}
	l.pending = append(l.pending, h)
	l.handshakesMu.Unlock()
	if victim != nil {
		l.countReject(rejectf(RejectBusy, "%d handshakes in progress; the oldest from the busiest address closed for a new connection", maxPendingHandshakes),
			victim.conn.RemoteAddr(), "")
		victim.conn.Close()
	}
	return h
}

// evictionIndex picks the pending handshake to close for a new connection
// from host: the oldest from the host with the most pending, counting the
// new one; among hosts with as many, the one whose oldest is oldest.
func (l *Link) evictionIndex(host string) int {
	count := map[string]int{host: 1}
	most := 1
	for _, p := range l.pending {
		count[p.host]++
		most = max(most, count[p.host])
	}
	for i, p := range l.pending {
		if count[p.host] == most {
			return i
		}
	}
	return 0 // not reached: a host with pending handshakes has the most
}

// remoteHost is the address conn comes from, without the port.
func remoteHost(conn net.Conn) string {
	addr := conn.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// release removes h from the handshakes in progress, if it is still there.
func (l *Link) release(h *pendingHandshake) {
	l.handshakesMu.Lock()
	defer l.handshakesMu.Unlock()
	if i := slices.Index(l.pending, h); i >= 0 {
		l.pending = slices.Delete(l.pending, i, i+1)
	}
}

// ownHello is a hello this member sends to peer p. cameBack is set when
// the listener reads it: the dialer then reports why its handshake failed
// (the listener has logged and counted the refusal).
type ownHello struct {
	p        *peer
	cameBack atomic.Bool
}

// cameBackErr is the refusal of our own connection come back.
func (h *ownHello) cameBackErr() error {
	return rejectf(RejectWrongPeer, "this member's own connection came back to it: the address it dials for peer %s (%s) leads here", h.p.id, h.p.addr)
}

// dialingHello records nd as the nonce of a hello this member sends to p,
// until the returned function is called.
func (l *Link) dialingHello(nd [nonceLen]byte, p *peer) (h *ownHello, done func()) {
	h = &ownHello{p: p}
	l.handshakesMu.Lock()
	l.dialing[nd] = h
	l.handshakesMu.Unlock()
	return h, func() {
		l.handshakesMu.Lock()
		delete(l.dialing, nd)
		l.handshakesMu.Unlock()
	}
}

// cameBack returns this member's own hello with this nonce, marked as come
// back, or nil if the nonce is not one of ours.
func (l *Link) cameBack(nonce [nonceLen]byte) *ownHello {
	l.handshakesMu.Lock()
	defer l.handshakesMu.Unlock()
	h := l.dialing[nonce]
	if h != nil {
		h.cameBack.Store(true)
	}
	return h
}

// serveAccepted authenticates an accepted connection and runs its session.
func (l *Link) serveAccepted(ctx context.Context, h *pendingHandshake) {
	raw := h.conn
	l.track(raw)
	defer l.untrack(raw)
	tuneTCP(raw)
	var p *peer
	conn, s, o, err := l.handshake(ctx, raw, func() (net.Conn, *sealer, *opener, error) {
		var conn net.Conn = raw
		var tc *tls.Conn
		if l.mode == modeMTLS {
			tc = tls.Server(raw, l.srvTLS)
			if err := tc.Handshake(); err != nil {
				return nil, nil, nil, tlsErr(err)
			}
			conn = tc
		}
		_, s, o, err := serverHandshake(conn, l.mode, l.self, l.secret, func(from string, nonce [nonceLen]byte) error {
			if own := l.cameBack(nonce); own != nil {
				return own.cameBackErr()
			}
			if from == l.self {
				// A member id clash, refused once authenticated: the
				// certificate must name the id all the same.
				if tc != nil && !certNames(tc.ConnectionState().PeerCertificates[0], from) {
					return rejectf(RejectWrongPeer, "the peer claims to be %q, its certificate names %s",
						from, certName(tc.ConnectionState().PeerCertificates[0]))
				}
				return nil
			}
			p = l.peers[from]
			switch {
			case p == nil:
				return rejectf(RejectUnknownPeer, "%q is not in pair.peers", from)
			case p.dial:
				return rejectf(RejectWrongPeer, "%q dialed, but the lower id dials: %q dials %q", from, l.self, from)
			}
			if tc != nil {
				leaf := tc.ConnectionState().PeerCertificates[0]
				if !certNames(leaf, from) {
					return rejectf(RejectWrongPeer, "the peer claims to be %q, its certificate names %s", from, certName(leaf))
				}
			}
			return nil
		}, l.ident)
		return conn, s, o, err
	})
	if err != nil {
		raw.Close()
		l.release(h)
		// A handshake closed for room was counted as busy; one that
		// failed on its own first keeps its reason.
		if ctx.Err() == nil && !(h.evicted.Load() && errors.Is(err, net.ErrClosed)) {
			l.rejectHandshake(ctx, err, raw.RemoteAddr(), p)
		}
		return
	}
	l.release(h)
	if h.evicted.Load() {
		// Closed to make room as its handshake ended; the peer dials again.
		conn.Close()
		return
	}
	l.runSession(ctx, newSession(l, p, conn, s, o, "accepted"))
}

// handshake runs fn (TLS if any, then the link handshake) on raw within
// the handshake timeout, aborting if ctx is cancelled.
func (l *Link) handshake(ctx context.Context, raw net.Conn, fn func() (net.Conn, *sealer, *opener, error)) (net.Conn, *sealer, *opener, error) {
	raw.SetDeadline(time.Now().Add(l.cfg.HandshakeTimeout))
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	conn, s, o, err := fn()
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, nil, nil, err
	}
	raw.SetDeadline(time.Time{})
	return conn, s, o, nil
}

func (l *Link) dialLoop(ctx context.Context, p *peer) {
	backoff := l.cfg.ReconnectMin
	for ctx.Err() == nil && !l.crashed.Load() {
		up, lasted := l.dialOnce(ctx, p)
		if ctx.Err() != nil || l.crashed.Load() {
			return
		}
		if up && lasted >= l.cfg.ReconnectMax {
			backoff = l.cfg.ReconnectMin
		}
		if !sleepCtx(ctx, jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, l.cfg.ReconnectMax)
	}
}

// dialOnce dials the peer, authenticates and runs the session to its end.
// It reports whether a session came up and how long it lasted.
func (l *Link) dialOnce(ctx context.Context, p *peer) (bool, time.Duration) {
	d := net.Dialer{Timeout: l.cfg.DialTimeout, KeepAlive: -1}
	raw, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		if ctx.Err() == nil {
			p.dialFailures.Add(1)
			p.setError(err)
			if now := time.Now(); now.Sub(p.lastDialLog) >= dialLogEvery {
				p.lastDialLog = now
				l.log.Warn("pair link: cannot reach peer; retrying", "peer", p.id, "addr", p.addr, "err", err.Error())
			} else {
				l.log.Debug("pair link: cannot reach peer", "peer", p.id, "addr", p.addr, "err", err.Error())
			}
		}
		return false, 0
	}
	l.track(raw)
	defer l.untrack(raw)
	tuneTCP(raw)
	cameBack := false
	conn, s, o, err := l.handshake(ctx, raw, func() (net.Conn, *sealer, *opener, error) {
		var conn net.Conn = raw
		var leaf *x509.Certificate
		if l.mode == modeMTLS {
			tc := tls.Client(raw, clientTLS(l.cert, l.cas, l.self, p.id))
			if err := tc.Handshake(); err != nil {
				return nil, nil, nil, tlsErr(err)
			}
			conn, leaf = tc, tc.ConnectionState().PeerCertificates[0]
		}
		nd := newNonce()
		hello, done := l.dialingHello(nd, p)
		defer done()
		s, o, err := clientHandshake(conn, l.mode, l.self, p.id, l.secret, l.ident, nd)
		switch {
		case err != nil && hello.cameBack.Load():
			// Our listener refused it, logged and counted that; the dial
			// itself only saw the connection close.
			cameBack = true
			err = hello.cameBackErr()
		case err == nil && leaf != nil && !certNames(leaf, p.id):
			// Its certificate names our own id, yet it answered as the peer.
			err = rejectf(RejectWrongPeer, "dialed %q, its certificate names %s", p.id, certName(leaf))
		}
		return conn, s, o, err
	})
	if err != nil {
		raw.Close()
		if ctx.Err() == nil {
			p.dialFailures.Add(1)
			p.setError(err)
			if !cameBack {
				l.rejectHandshake(ctx, err, raw.RemoteAddr(), p)
			}
		}
		return false, 0
	}
	p.lastDialLog = time.Time{}
	start := time.Now()
	l.runSession(ctx, newSession(l, p, conn, s, o, "dialed"))
	return true, time.Since(start)
}
