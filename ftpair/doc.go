// Package ftpair decides which member of a fault-tolerance group is active.
//
// Its core is deterministic: events in (heartbeats, obituaries, ticks of an
// injected clock, health changes, the Kafka witness, fencing, operator
// requests), actions out (send heartbeat, prepare to activate, activate,
// deactivate). It never opens a socket, starts a goroutine or reads the wall
// clock; the transport that carries heartbeats lives at the edge.
//
// # Driving the core
//
// One goroutine at the edge owns a [Node] and calls [Node.Step] with each
// [Event] and the current time of a monotonic clock; Step returns the
// [Action] values to perform, in order. [Node.Status] is a snapshot for
// /status and metrics. The events are [Tick], [HeartbeatReceived],
// [PeerConnected], [PeerClosed], [PeerRefused], [HealthChanged],
// [WitnessSeen], [Fenced], [ActivationFinished], [ActivationFailed] and
// [SwitchoverRequested] and [DeactivationFinished]; the
// actions are [SendHeartbeat], [PrepareToActivate], [CancelPrepare],
// [Activate], [Deactivate] and [RequestRefused]. The edge sends a Tick at
// least every half activation interval (a longer gap reads as a stall of
// this process), and also at [Node.NextWake], when time alone may change a
// decision, so that a silence is acted on when it ends rather than at the
// next tick.
//
// # Model
//
// The model follows TIBCO Rendezvous fault-tolerance groups, with QNX-style
// obituaries and the lock kept in Kafka.
//
// Members broadcast a [Heartbeat] every HeartbeatInterval (at the first
// step after nine tenths of one, so that the edge's ticks, each a little
// late by its own amount, do not hold one for the next tick) and at once
// when anything in it changes. Up to ActiveGoal members are active; each holds a
// slot 0..ActiveGoal-1, and each slot has its own lock in the resource (the
// Kafka transactional.id of the slot), so two members can never both commit
// for one slot: activating fences the previous holder. Every activation gets
// a term one above the highest term its member has seen, so of two members
// claiming a slot the later activation is recognisable. A member retrying
// after its own activation failed reuses that term while it has seen no
// later term and no other member holding a slot at it: a member that cannot
// reach Kafka retries for as long as the outage lasts, and its term must
// not grow with every attempt.
//
// Members are ranked for activation by feed health (a clean feed first),
// then weight (higher first), then member id (lower first). Only ready
// members are candidates: inactive, heard within the preparation interval,
// not holding off, and able to reach Kafka. Every member computes the same
// assignment from (nearly) the same view: slots handed over in a planned
// switchover go to their named successors; the other free slots go, in slot
// order, to the candidates in rank order. A member activates when the
// assignment gives it a slot.
//
// A slot is free when no member is seen holding it. A peer holds a slot if
// its last heartbeat, heard within ActivationInterval, says so, or if the
// Kafka witness showed it committing within ActivationInterval. So:
//
//   - Start-up: a new member listens for one activation interval before it
//     judges that nobody holds a slot; it therefore joins a running group
//     as inactive and never takes over a healthy active.
//   - Obituary: a closed connection ([PeerClosed]) means the peer process
//     died; its slot is free at once and its successor activates without
//     waiting. Late echoes of the dead process's commits are ignored.
//   - Restart: a heartbeat of another incarnation than the peer's run on
//     record is taken for the peer restarted once that run has ended (an
//     obituary, or silence for ActivationInterval), and discarded before,
//     as a late message of an earlier run. Incarnations are only compared
//     for equality: a clock stepped back between two runs gives the later
//     one the smaller.
//   - Silence: a holder not heard for ActivationInterval (hung, or cut off)
//     loses its slot, unless the witness shows it still committing (the
//     pair link is cut, the holder is alive): then nobody activates, for as
//     long as the witness continues. The next-ranked member gets
//     [PrepareToActivate] when the holder has shown no sign of life for the
//     preparation interval, and [CancelPrepare] if it shows one again.
//   - Own stalls: a gap between steps longer than ActivationInterval/2 means
//     this process was stopped; it does not count that time as the peers'
//     silence, and it relearns the group for one activation interval before
//     it activates again (even on an obituary or a handover: those may be
//     stale news still queued for it).
//   - Kafka view: the absence of a witness only counts once this member's
//     own Kafka connection has been sound for an activation interval.
//   - Refused peers: a peer the transport refused to pair with
//     ([PeerRefused]: its frames would carry other identities than ours)
//     is never heard, and may be active all the same. While a refusal
//     stands, no slot is free for lack of a holder (no-active), and the
//     refused peer's silence or obituary frees nothing; a member that is
//     active stays active. Both members of a misconfigured pair refuse
//     each other, so neither activates on the other's account: a member
//     publishing under other identities than its peer's would duplicate
//     every frame silently. The refusal ends when the peer connects, or
//     when the transport has not repeated it for its duration (the peer is
//     gone).
//   - Member id clash: another process running under this member's own id
//     (two members configured with one member_id) shows up as a refusal
//     of the transport naming our own id, or as records committed under
//     our id by another process ([WitnessSeen] naming us). It is reported
//     (Status.MemberIDClash) and never flaps the roles: the twin's commits
//     hold its slot like a peer's witness, so whichever of the two is
//     active keeps publishing and the other stands by. A clash alone keeps
//     nobody from activating: if neither is active, a topic with one
//     publisher is better than none, and should both activate, the lock
//     fences one, which then sees the other committing.
//
// An active member steps down ([Deactivate]):
//
//   - at once when its producer is fenced ([Fenced]), then holds off: for one
//     activation interval, doubling (up to 16 intervals) for each further
//     fencing by a member it can neither hear nor witness, so that a cut
//     link without the witness slows down instead of flapping; the hold ends
//     as soon as it sees who holds the slot;
//   - at once when it hears another active holding its slot with a later
//     term (superseded: it fenced us, or will at our next commit);
//   - at once, handing over, when Kafka has been failing for
//     ActivationInterval and a ready peer can reach Kafka;
//   - at a commit boundary (planned), handing over, when its feed has been
//     quiet or noisy for ActivationInterval while a ready peer reports a
//     clean feed (when every feed is quiet, the source is quiet: nobody
//     moves);
//   - at a commit boundary, handing over, on an operator switchover, or when
//     a strictly heavier member with Preempt on, at least as healthy, asks
//     for the slot after PreemptDelay ([Heartbeat].TakeoverFrom).
//
// The feed and preemption step-downs act on what a peer says of itself, so
// they hand over only to a peer heard without a break (no gap of more than
// two heartbeat intervals, no stall of this process) for the preparation
// interval: the heartbeats a cut link or a stall held back arrive in a
// burst, each looking fresh, and the first may report a clean feed, or a
// request for the slot, that the peer has since lost or withdrawn.
//
// A step-down at a commit boundary (planned) keeps the slot while the edge
// finishes the final commit: the member is deactivating, and its heartbeats
// go on claiming the slot (as active, on the wire), so that a final commit
// longer than the activation interval is not taken for a hang. When the
// edge reports [DeactivationFinished], the member is inactive and announces
// the handover. A fence or a later term on its slot meanwhile stops it at
// once, without a handover.
//
// A handover is announced in the heartbeats of the member that stepped down
// ([Heartbeat].HandoverTo, with the slot): the successor activates at once.
// The member that handed over holds off until the successor is seen holding
// the slot, or for one activation interval.
//
// # What the edge must do
//
//   - Step the core at least every HeartbeatInterval/2 with [Tick], and
//     deliver events as they happen, stamped with a monotonic clock.
//   - Perform the actions of one Step in order, each started before the
//     next. A planned [Deactivate] commits the open transaction first; the
//     edge keeps stepping the core (heartbeats go on) while it does, and
//     reports [DeactivationFinished] when the commit is done or, failing,
//     was aborted: the heartbeat announcing the handover follows it.
//   - Transport: carry every [Heartbeat] field (MarshalBinary is a
//     versioned encoding), authenticate it, check From against the
//     authenticated peer, keep per-connection order, send a [SendHeartbeat]
//     with To=="" to every connected peer. Report [PeerConnected] after the
//     handshake. Report [PeerClosed] only when the peer's end closed (EOF,
//     reset) — never for local timeouts, which must stay silences. Report
//     [PeerRefused], after authenticating the peer, at every attempt to
//     connect that fails because the members' frame identity settings
//     differ, or because the other side presents our own member id (Peer
//     is then our id).
//   - Broadcast: perform [Activate] (fence the slot's transactional.id, read
//     to the end, trim, flush, go live) and report [ActivationFinished] or
//     [ActivationFailed] with its Term, or [Fenced] if fenced meanwhile;
//     report [Fenced] on any fencing error; report [HealthChanged] for Kafka
//     (commits, produce or the echo consumer failing, and recovering).
//   - Witness: report [WitnessSeen] for fresh committed records (or control
//     keepalives written while the feed is quiet) of other members, read
//     back read_committed; records should carry the writer's member id,
//     incarnation and slot. Report records carrying our own member id
//     that this process did not write as a [WitnessSeen] naming us. While
//     active, ask [Node.WitnessNeeded] after each step whether the control
//     keepalives are needed: each heartbeat names the last one its sender
//     took from each peer ([Heartbeat].Heard), so they may be spared while
//     every configured peer hears this member.
//   - Ingest: report [HealthChanged] for the feed (ok, quiet, noisy), after
//     its own debouncing.
//   - Supply an incarnation that differs at every start of the process.
//
// All members of a group must share HeartbeatInterval, PreparationInterval,
// ActivationInterval and ActiveGoal; Preempt and PreemptDelay are read on
// the member that would preempt.
//
// node.go holds the Node, Step and the transitions it emits; handle.go takes
// each event into the Node's view of its peers; decide.go holds the rules
// evaluate applies after every event.
package ftpair
