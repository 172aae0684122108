package link

import (
	"encoding/hex"
	"time"

	"github.com/feedd/feedd/internal/metric"
	"github.com/prometheus/client_golang/prometheus"
)

// Status is a snapshot of the link for /status. It never contains
// credentials.
type Status struct {
	MemberID string `json:"member_id"`
	Listen   string `json:"listen"`
	Auth     string `json:"auth"`
	// Identity is this member's frame identity, as sent in handshakes.
	Identity IdentityStatus `json:"identity"`
	// Clock is the id of the clock heartbeats are stamped with.
	Clock uint64       `json:"clock"`
	Peers []PeerStatus `json:"peers"`
	// Rejected counts refused input by reason (every reason is present).
	Rejected map[RejectReason]uint64 `json:"rejected"`
	// MemberIDClash is the last refusal of another process that presented
	// this member's own id, once there was one.
	MemberIDClash *ClashStatus `json:"member_id_clash,omitempty"`
}

// ClashStatus is the last member id clash the link refused.
type ClashStatus struct {
	// Standing is set while the refusal stands (Config.RefusalHold).
	Standing bool      `json:"standing"`
	At       time.Time `json:"at"`
	// Error names the other process's address.
	Error string `json:"error"`
}

// IdentityStatus shows a frame identity: the description and the digest in
// hexadecimal.
type IdentityStatus struct {
	Description string `json:"description"`
	Digest      string `json:"digest"`
}

func identityStatus(id Identity) IdentityStatus {
	return IdentityStatus{Description: id.description(), Digest: hex.EncodeToString(id.Digest[:])}
}

// ClockStatus is the latest bound on the offset between this member's
// clock and the peer's (see ClockBound).
type ClockStatus struct {
	// PeerClock is the peer's clock id.
	PeerClock uint64 `json:"peer_clock"`
	// Lo and Hi bound local clock minus peer clock, exclusive, in
	// nanoseconds; Width is Hi - Lo.
	Lo    int64         `json:"lo_ns"`
	Hi    int64         `json:"hi_ns"`
	Width time.Duration `json:"width_ns"`
	// Age is how long ago the bound was measured.
	Age time.Duration `json:"age_ns"`
}

// PeerStatus is the state of the link to one peer.
type PeerStatus struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	// Dials is true when this member dials the peer (its id is lower);
	// otherwise it waits for the peer to dial.
	Dials     bool `json:"dials"`
	Connected bool `json:"connected"`
	// Since is when the link to the peer last went up or down.
	Since time.Time `json:"since"`
	// LastMessage is when the last authenticated message (or handshake)
	// arrived from the peer.
	LastMessage time.Time `json:"last_message,omitzero"`
	// Incarnation is the peer's, from its last heartbeat.
	Incarnation uint64 `json:"incarnation,omitempty"`
	// LastError says why the link is down, when it is.
	LastError string `json:"last_error,omitempty"`
	// IdentityRefused is set while the last refusal of the peer for its
	// frame identity stands (Config.RefusalHold; a session with the peer
	// ends it). RefusedAt is when it was, PeerIdentity what the peer said
	// its frame identity is.
	IdentityRefused bool            `json:"identity_refused,omitempty"`
	RefusedAt       time.Time       `json:"refused_at,omitzero"`
	PeerIdentity    *IdentityStatus `json:"peer_identity,omitempty"`
	// Clock is the latest bound on the clock offset, once one was
	// measured.
	Clock *ClockStatus `json:"clock,omitempty"`
	PeerCounters
}

// PeerCounters are monotonic counters of the link to one peer.
type PeerCounters struct {
	// Sent and Received count heartbeats written and accepted.
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
	// SendDropped counts heartbeats dropped because the peer's send queue
	// was full (the oldest goes); SendNotConnected those sent while the
	// peer was not connected.
	SendDropped      uint64 `json:"send_dropped"`
	SendNotConnected uint64 `json:"send_not_connected"`
	// Connects and Disconnects count authenticated sessions starting and
	// ending; Obituaries the ends reported as ftpair.PeerClosed.
	Connects    uint64 `json:"connects"`
	Disconnects uint64 `json:"disconnects"`
	Obituaries  uint64 `json:"obituaries"`
	// DialFailures counts failed dials and handshakes towards the peer.
	DialFailures uint64 `json:"dial_failures"`
	// Refusals counts handshakes refused because the peer's frame
	// identity differs from ours.
	Refusals uint64 `json:"refusals"`
	// ClockBounds counts clock bounds measured; ClockDiscarded those
	// dropped as impossible (Lo >= Hi).
	ClockBounds    uint64 `json:"clock_bounds"`
	ClockDiscarded uint64 `json:"clock_discarded"`
}

// Status returns a snapshot of the link.
func (l *Link) Status() Status {
	st := Status{
		MemberID: l.self,
		Listen:   l.ln.Addr().String(),
		Auth:     l.cfg.Auth,
		Identity: identityStatus(l.ident),
		Clock:    l.clockID,
		Peers:    make([]PeerStatus, 0, len(l.order)),
		Rejected: make(map[RejectReason]uint64, numRejectReasons),
	}
	for i, r := range RejectReasons {
		st.Rejected[r] = l.rejected[i].Load()
	}
	for _, p := range l.order {
		st.Peers = append(st.Peers, l.peerStatus(p))
	}
	now := l.mono()
	l.mu.Lock()
	if l.clashMono != 0 {
		st.MemberIDClash = &ClashStatus{Standing: now-l.clashMono < int64(l.cfg.RefusalHold()), At: l.clashWall, Error: l.clashErr}
	}
	l.mu.Unlock()
	return st
}

func (l *Link) peerStatus(p *peer) PeerStatus {
	now, clockNow := l.mono(), l.now()
	p.mu.Lock()
	ps := PeerStatus{
		ID: p.id, Address: p.addr, Dials: p.dial,
		Connected: p.sess != nil, Since: p.since, LastError: p.lastErr,
	}
	if p.refusedMono != 0 {
		ps.IdentityRefused = now-p.refusedMono < int64(l.cfg.RefusalHold())
		ps.RefusedAt = p.refusedWall
		is := identityStatus(p.peerIdent)
		ps.PeerIdentity = &is
	}
	if p.haveBound {
		b := p.bound
		ps.Clock = &ClockStatus{PeerClock: b.Clock, Lo: b.Lo, Hi: b.Hi,
			Width: time.Duration(b.Width()), Age: time.Duration(clockNow - b.At)}
	}
	p.mu.Unlock()
	if ns := p.lastRecvWall.Load(); ns != 0 {
		ps.LastMessage = time.Unix(0, ns)
	}
	ps.Incarnation = p.incarnation.Load()
	ps.PeerCounters = p.counters()
	return ps
}

func (p *peer) counters() PeerCounters {
	return PeerCounters{
		Sent: p.sent.Load(), Received: p.received.Load(),
		SendDropped: p.queueDropped.Load(), SendNotConnected: p.notConnected.Load(),
		Connects: p.connects.Load(), Disconnects: p.disconnects.Load(),
		Obituaries: p.obituaries.Load(), DialFailures: p.dialFailures.Load(),
		Refusals: p.refusals.Load(), ClockBounds: p.clockBounds.Load(), ClockDiscarded: p.clockDiscarded.Load(),
	}
}

// Metrics. The prefix feedd_pair_link_ keeps them apart from the core's
// feedd_pair_ metrics.
var (
	metrics = metric.NewSet("feedd_pair_link_")

	descSent            = metrics.Counter("messages_sent_total", "Heartbeats written to a peer.", "peer")
	descReceived        = metrics.Counter("messages_received_total", "Authenticated heartbeats accepted from a peer.", "peer")
	descSendDropped     = metrics.Counter("send_dropped_total", "Heartbeats not sent: queue_full (the oldest queued was dropped) or not_connected.", "peer", "reason")
	descRejected        = metrics.Counter("rejected_total", "Input refused by the pair link, by reason.", "reason")
	descConnects        = metrics.Counter("connects_total", "Authenticated connections to a peer that came up.", "peer")
	descDisconnects     = metrics.Counter("disconnects_total", "Authenticated connections to a peer that ended, for any reason.", "peer")
	descObituaries      = metrics.Counter("obituaries_total", "Connections the peer closed while alive on the link, reported to the core as PeerClosed.", "peer")
	descDialFailures    = metrics.Counter("dial_failures_total", "Failed dials or handshakes towards a peer.", "peer")
	descConnected       = metrics.Gauge("connected", "1 while an authenticated connection to the peer is up.", "peer")
	descLastMessage     = metrics.Gauge("last_message_timestamp_seconds", "Unix time of the last authenticated message from the peer.", "peer")
	descIdentityRefused = metrics.Gauge("identity_refused", "1 while this member refuses the peer because their frame identity settings (framing, sequence) differ.", "peer")
	descClockWidth      = metrics.Gauge("clock_bound_width_seconds", "Width of the latest bound on the offset between this member's clock and the peer's, from the heartbeats' timing.", "peer")
	descClockAge        = metrics.Gauge("clock_bound_age_seconds", "How long ago the latest clock bound was measured.", "peer")
	descClockBounds     = metrics.Counter("clock_bounds_total", "Clock bounds measured from the peer's heartbeats: accepted, or discarded as impossible (lower bound not below upper).", "peer", "result")
)

// Describe implements prometheus.Collector.
func (l *Link) Describe(ch chan<- *prometheus.Desc) { metrics.Describe(ch) }

// Collect implements prometheus.Collector: the link's own counters are the
// metrics, so /status and /metrics agree.
func (l *Link) Collect(ch chan<- prometheus.Metric) {
	for i, r := range RejectReasons {
		descRejected.Uint(ch, l.rejected[i].Load(), string(r))
	}
	for _, p := range l.order {
		ps := l.peerStatus(p)
		descSent.Uint(ch, ps.Sent, p.id)
		descReceived.Uint(ch, ps.Received, p.id)
		descSendDropped.Uint(ch, ps.SendDropped, p.id, "queue_full")
		descSendDropped.Uint(ch, ps.SendNotConnected, p.id, "not_connected")
		descConnects.Uint(ch, ps.Connects, p.id)
		descDisconnects.Uint(ch, ps.Disconnects, p.id)
		descObituaries.Uint(ch, ps.Obituaries, p.id)
		descDialFailures.Uint(ch, ps.DialFailures, p.id)
		descConnected.Bool(ch, ps.Connected, p.id)
		descLastMessage.Time(ch, ps.LastMessage, p.id)
		descIdentityRefused.Bool(ch, ps.IdentityRefused, p.id)
		descClockBounds.Uint(ch, ps.ClockBounds, p.id, "accepted")
		descClockBounds.Uint(ch, ps.ClockDiscarded, p.id, "discarded")
		if c := ps.Clock; c != nil {
			descClockWidth.Float(ch, c.Width.Seconds(), p.id)
			descClockAge.Float(ch, c.Age.Seconds(), p.id)
		}
	}
}
