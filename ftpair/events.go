package ftpair

import (
	"fmt"
	"time"
)

// Event is an input to Node.Step. The concrete types are listed below; the
// set is closed.
type Event interface {
	isEvent()
	fmt.Stringer
}

// Tick tells the core that time has passed. The edge must tick at least
// every HeartbeatInterval/2 (every HeartbeatInterval/4 is better); the core
// sends heartbeats and notices silences and deadlines only when it is
// stepped. A gap between steps longer than ActivationInterval/2 is taken as a
// stall of this process (SIGSTOP, swapping): silences are then measured from
// the end of the stall, so that a member never acts on silence it caused
// itself.
type Tick struct{}

// HeartbeatReceived delivers a peer's heartbeat. The transport must have
// authenticated it and checked that From is the peer at the other end of the
// connection.
type HeartbeatReceived struct {
	Heartbeat Heartbeat
}

// PeerConnected says the pair link to a peer is up (after connecting or
// accepting and authenticating). The core answers with a heartbeat to that
// peer.
type PeerConnected struct {
	Peer string
}

// PeerClosed is an obituary: the peer's end of the connection closed (EOF or
// reset), which happens when its process dies and its kernel closes the
// socket. The core treats the peer as dead at once and, if it held a slot,
// the next-ranked ready member activates without waiting for the activation
// interval. The transport must NOT report its own timeouts or local errors
// as PeerClosed: a link that merely stops carrying data is a silence, and
// silence is judged by the core. Incarnation is the peer's incarnation on
// that connection (from its heartbeats), or 0 if unknown; an obituary for
// another incarnation than the one the core has on record (an earlier run,
// or one it has not taken) is ignored.
type PeerClosed struct {
	Peer        string
	Incarnation uint64
}

// PeerRefused reports that the transport authenticated Peer and refused to
// pair with it: the two members are configured so that they would publish
// the same frames under different identities (framing or sequence settings
// differ). Reason says why, for /status. No session comes up, so the core
// hears nothing from Peer; it must not take that silence for an empty or
// dead group, since Peer may be active and publishing under its own
// identities. While Peer has been refused within For (the transport
// repeats the report at every refused attempt to connect, and sets For to a
// few of its retry intervals; a For below the activation interval counts as
// the activation interval), this member does not activate for lack of an
// active member (no-active), nor on the silence or obituary of Peer; a
// member already active stays active. A later PeerConnected from Peer ends
// the refusal. Only the transport can report it, after authentication, or
// anyone could keep a member from ever activating.
type PeerRefused struct {
	Peer   string
	Reason string
	For    time.Duration
}

// HealthChanged reports this member's own health: the feed as judged by
// the ingest layer, Kafka as judged by the producer (active) or the echo
// consumer (inactive).
type HealthChanged struct {
	Health Health
}

// WitnessSeen reports that the echo consumer saw, through Kafka
// (read_committed), a committed record or control keepalive written by
// Member. Records carry the writer's member id, incarnation and slot in
// headers. The edge should report only records that are fresh: written in
// the current run of its consumer after it caught up, not backlog being
// replayed. Reporting every record is fine; once per HeartbeatInterval per
// member is enough. A witness proves the writer alive and holding its slot
// even when the pair link is silent.
//
// A witness naming this member's own id reports a record committed under
// our id by another process (the edge tells its own records apart, by
// their producer epoch): a member id clash (Status.MemberIDClash). That
// process holds the slot like any witnessed member, so this member does
// not contend for it while its commits keep coming: the one of two
// processes sharing an id that is active keeps the slot, the other stands
// by, and takes over only once the commits stop for the activation
// interval. If both activated at once, the Kafka lock fences one of them,
// which then sees the other's commits and stays inactive.
type WitnessSeen struct {
	Member      string
	Incarnation uint64 // 0 if unknown
	Slot        int
}

// Fenced reports that the producer was fenced (a produce or commit failed
// with a fencing error): someone else holds the lock. The core deactivates
// at once. Term is the term of the activation that was fenced (0 = the
// current one); a stale report for an earlier activation is ignored.
type Fenced struct {
	Term uint64
}

// ActivationFinished reports that the Activate action with this Term
// completed: fenced, caught up, ring flushed, live.
type ActivationFinished struct {
	Term uint64
}

// ActivationFailed reports that the Activate action with this Term could
// not complete. The edge has already released what it acquired. The core
// returns to inactive and holds off for RetryAfter, and at least one
// activation interval: the edge backs off its retries (exponentially, with
// jitter, as it sees fit) through RetryAfter, since it owns the randomness
// and knows what Kafka answered.
type ActivationFailed struct {
	Term       uint64
	Err        string
	RetryAfter time.Duration
}

// SwitchoverRequested is an operator's request for a planned switchover: the
// active member hands its slot to Target, or to the next-ranked ready member
// when Target is empty. Only an active member can honour it; the others
// answer with RequestRefused. (A planned handover request from the active
// reaches the target inside the active's heartbeat, as HandoverTo.)
type SwitchoverRequested struct {
	Target string
}

// DeactivationFinished reports that the edge has finished a planned
// Deactivate: the final commit is done (or, if it failed, the open
// transaction was aborted instead). Err says why the commit failed, if it
// did. Until this event the member keeps its slot, so that its heartbeats
// go on saying so while the final commit takes its time.
type DeactivationFinished struct {
	Err string
}

func (Tick) isEvent()                 {}
func (HeartbeatReceived) isEvent()    {}
func (PeerConnected) isEvent()        {}
func (PeerClosed) isEvent()           {}
func (PeerRefused) isEvent()          {}
func (HealthChanged) isEvent()        {}
func (WitnessSeen) isEvent()          {}
func (Fenced) isEvent()               {}
func (ActivationFinished) isEvent()   {}
func (ActivationFailed) isEvent()     {}
func (SwitchoverRequested) isEvent()  {}
func (DeactivationFinished) isEvent() {}

func (Tick) String() string                { return "tick" }
func (e HeartbeatReceived) String() string { return "recv " + e.Heartbeat.String() }
func (e PeerConnected) String() string     { return "connected " + e.Peer }
func (e PeerClosed) String() string        { return fmt.Sprintf("closed %s inc=%d", e.Peer, e.Incarnation) }
func (e PeerRefused) String() string {
	return fmt.Sprintf("refused %s for=%v reason=%q", e.Peer, e.For, e.Reason)
}
func (e WitnessSeen) String() string {
	return fmt.Sprintf("witness %s inc=%d slot=%d", e.Member, e.Incarnation, e.Slot)
}
func (e Fenced) String() string { return fmt.Sprintf("fenced term=%d", e.Term) }
func (e ActivationFinished) String() string {
	return fmt.Sprintf("activation-finished term=%d", e.Term)
}
func (e ActivationFailed) String() string {
	s := fmt.Sprintf("activation-failed term=%d err=%q", e.Term, e.Err)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" retry-after=%v", e.RetryAfter)
	}
	return s
}
func (e SwitchoverRequested) String() string { return "switchover to=" + e.Target }
func (e HealthChanged) String() string {
	s := fmt.Sprintf("health feed=%s kafka=%s", e.Health.Feed, e.Health.Kafka)
	return s
}
func (e DeactivationFinished) String() string {
	if e.Err != "" {
		return fmt.Sprintf("deactivation-finished err=%q", e.Err)
	}
	return "deactivation-finished"
}
