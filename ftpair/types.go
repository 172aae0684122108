package ftpair

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/feedd/feedd/internal/enum"
)

// Role is a member's part in its group.
type Role uint8

const (
	// RoleInactive: the member reads its feed into its ring and trims on
	// echo, but does not write to Kafka.
	RoleInactive Role = iota
	// RoleActivating: the member has been told to Activate and the edge is
	// fencing, catching up and flushing; it already counts as holding its
	// slot.
	RoleActivating
	// RoleActive: the member broadcasts every frame and commits.
	RoleActive
	// RoleDeactivating: the member stepped down at a commit boundary (a
	// planned Deactivate) and the edge is finishing its final commit. It
	// still holds its slot, and its heartbeats say so, until the edge
	// reports DeactivationFinished; only then is a hand-over announced.
	RoleDeactivating
)

var roleNames = enum.New("role", enum.Numbered[Role]("role"), "inactive", "activating", "active", "deactivating")

func (r Role) String() string { return roleNames.String(r) }

// MarshalText renders the role as its name (for /status JSON).
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads the name MarshalText writes.
func (r *Role) UnmarshalText(b []byte) (err error) { *r, err = ParseRole(string(b)); return err }

// ParseRole is the inverse of Role.String.
func ParseRole(s string) (Role, error) { return roleNames.Parse(s) }

// holdsSlot reports whether a member in this role holds (or is taking) a
// slot.
func (r Role) holdsSlot() bool { return r != RoleInactive }

// FeedState is the health of a member's serial feed as its ingest layer
// judges it (the ingest layer does its own debouncing).
type FeedState uint8

const (
	FeedOK    FeedState = iota // frames arriving and framing cleanly
	FeedQuiet                  // no bytes for longer than the ingest quiet threshold
	FeedNoisy                  // bytes arrive but do not frame (errors above threshold)
)

var feedNames = enum.New("feed state", enum.Numbered[FeedState]("feed"), "ok", "quiet", "noisy")

func (f FeedState) String() string { return feedNames.String(f) }

// MarshalText renders the state as its name.
func (f FeedState) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads the name MarshalText writes.
func (f *FeedState) UnmarshalText(b []byte) (err error) {
	*f, err = ParseFeedState(string(b))
	return err
}

// ParseFeedState is the inverse of FeedState.String.
func ParseFeedState(s string) (FeedState, error) { return feedNames.Parse(s) }

// KafkaState is whether a member can currently reach and commit to Kafka
// (active) or consume the topic (inactive).
type KafkaState uint8

const (
	KafkaOK KafkaState = iota
	KafkaFailing
)

var kafkaNames = enum.New("kafka state", enum.Numbered[KafkaState]("kafka"), "ok", "failing")

func (k KafkaState) String() string { return kafkaNames.String(k) }

// MarshalText renders the state as its name.
func (k KafkaState) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads the name MarshalText writes.
func (k *KafkaState) UnmarshalText(b []byte) (err error) {
	*k, err = ParseKafkaState(string(b))
	return err
}

// ParseKafkaState is the inverse of KafkaState.String.
func ParseKafkaState(s string) (KafkaState, error) { return kafkaNames.Parse(s) }

// Health is a member's own view of its feed and its Kafka connection. The
// zero value is healthy.
type Health struct {
	Feed  FeedState  `json:"feed"`
	Kafka KafkaState `json:"kafka"`
	// KafkaFailingSince is when Kafka started failing (commits, produce or
	// the echo consumer). Only meaningful when Kafka is KafkaFailing; if it
	// is zero the core uses the time the HealthChanged event arrived.
	KafkaFailingSince time.Time `json:"kafka_failing_since,omitzero"`
}

// feedScore ranks feed health for choosing whom to activate: a member with
// a clean feed is preferred over one whose port is quiet or noisy.
func feedScore(f FeedState) int {
	if f == FeedOK {
		return 1
	}
	return 0
}

// Heartbeat is the message members broadcast over the pair link every
// HeartbeatInterval, and at once whenever any field but Seq changes. The
// transport must carry every field, authenticate it (the core trusts From),
// and deliver the heartbeats of one connection in order. Heartbeats of one
// incarnation are ordered by Seq; the core discards older ones. A heartbeat
// of another incarnation than the one on record is taken for the member
// restarted once the run on record has ended (an obituary, or silence for
// the activation interval), and discarded before.
//
// MarshalBinary/UnmarshalBinary give a compact, versioned encoding the
// transport may use as the authenticated payload.
type Heartbeat struct {
	// From is the sender's MemberID.
	From string `json:"from"`
	// Incarnation distinguishes runs of the same member: it must differ
	// at every process start (the edge supplies it, e.g. the start time in
	// nanoseconds). Its order does not matter: a clock stepped back between
	// two runs gives the later run the smaller one.
	Incarnation uint64 `json:"incarnation"`
	// Seq grows by one for every heartbeat the incarnation sends.
	Seq uint64 `json:"seq"`
	// Weight is the sender's configured weight.
	Weight int `json:"weight"`
	// Role is the sender's role.
	Role Role `json:"role"`
	// Slot is the slot the sender holds when Role is activating or active;
	// when the sender is inactive and HandoverTo is set, it is the slot it
	// is handing over. Otherwise zero.
	Slot int `json:"slot"`
	// Term is the term of the sender's activation when it is activating or
	// active; otherwise the highest term it knows. A member that activates
	// takes the highest term it knows plus one, so of two members claiming
	// one slot the one with the higher term activated (and fenced) last.
	Term uint64 `json:"term"`
	// Feed and Kafka are the sender's health.
	Feed  FeedState  `json:"feed"`
	Kafka KafkaState `json:"kafka"`
	// HoldOff is set while the sender must not be chosen to activate (just
	// fenced, activation failed, handing over).
	HoldOff bool `json:"hold_off,omitempty"`
	// HandoverTo names the member the sender is handing its slot over to in
	// a planned switchover or step-down. The sender has already deactivated
	// at a commit boundary; the named member activates at once.
	HandoverTo string `json:"handover_to,omitempty"`
	// TakeoverFrom names the active member the (heavier, preempting) sender
	// asks to hand over to it.
	TakeoverFrom string `json:"takeover_from,omitempty"`
	// Heard names, for each peer the sender has heard, the last heartbeat
	// it took from it: how an active member learns that its peers hear it
	// (Node.WitnessNeeded). Senders before it was added leave it empty.
	Heard []HeardHeartbeat `json:"heard,omitempty"`
}

// HeardHeartbeat names a heartbeat: its sender, the sender's incarnation
// and the heartbeat's sequence number.
type HeardHeartbeat struct {
	From        string `json:"from"`
	Incarnation uint64 `json:"incarnation"`
	Seq         uint64 `json:"seq"`
}

// sameAdvert reports whether two heartbeats say the same to peers, apart
// from what changes with every heartbeat (the sequence number and Heard).
func sameAdvert(a, b Heartbeat) bool {
	a.Seq, b.Seq, a.Heard, b.Heard = 0, 0, nil, nil
	return reflect.DeepEqual(a, b)
}

func (h Heartbeat) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hb from=%s inc=%d seq=%d weight=%d role=%s", h.From, h.Incarnation, h.Seq, h.Weight, h.Role)
	h.appendFlags(&b)
	return b.String()
}

// appendFlags writes the fields other than identity and sequence.
func (h Heartbeat) appendFlags(b *strings.Builder) {
	if h.Role.holdsSlot() || h.HandoverTo != "" {
		fmt.Fprintf(b, " slot=%d", h.Slot)
	}
	fmt.Fprintf(b, " term=%d feed=%s kafka=%s", h.Term, h.Feed, h.Kafka)
	if h.HoldOff {
		b.WriteString(" holdoff")
	}
	if h.HandoverTo != "" {
		fmt.Fprintf(b, " handover=%s", h.HandoverTo)
	}
	if h.TakeoverFrom != "" {
		fmt.Fprintf(b, " takeover=%s", h.TakeoverFrom)
	}
}

// Reason says why a transition, action or refusal happened.
type Reason string

// Reasons for activating.
const (
	// ReasonNoActive: a slot had no holder (start-up, or its holder stepped
	// down without naming a successor).
	ReasonNoActive Reason = "no-active"
	// ReasonObituary: the holder's connection closed (its process died).
	ReasonObituary Reason = "obituary"
	// ReasonSilence: the holder was silent for the activation interval and
	// the Kafka witness did not show it committing.
	ReasonSilence Reason = "silence"
	// ReasonHandover: the holder handed its slot to this member.
	ReasonHandover Reason = "handover"
)

// Reasons for deactivating (step-downs) and hold-offs.
const (
	// ReasonFenced: the producer was fenced; someone else holds the lock.
	ReasonFenced Reason = "fenced"
	// ReasonSuperseded: a peer heard over the link holds the same slot with
	// a later term; it fenced (or will fence) us.
	ReasonSuperseded Reason = "superseded"
	// ReasonKafka: commits to Kafka failed for the activation interval while
	// a peer that can reach Kafka was ready.
	ReasonKafka Reason = "kafka"
	// ReasonFeed: our port went quiet or noisy while a ready peer reports a
	// clean feed.
	ReasonFeed Reason = "feed"
	// ReasonSwitchover: operator-requested planned switchover.
	ReasonSwitchover Reason = "switchover"
	// ReasonPreempted: a heavier member asked for the slot (Preempt on).
	ReasonPreempted Reason = "preempted"
	// ReasonActivationFailed: the edge could not complete an activation.
	ReasonActivationFailed Reason = "activation-failed"
)
