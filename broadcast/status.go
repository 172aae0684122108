package broadcast

import (
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/internal/enum"
)

// State is where a member stands in its pipeline.
type State uint8

const (
	// StateInactive: the member keeps its ring and trims it on every
	// committed record echoed back from the topic.
	StateInactive State = iota
	// StateActivating: fencing the transactional id, then reading the topic
	// to its last stable offset and trimming.
	StateActivating
	// StateActive: producing ring entries in transactions, trimming its own
	// ring on each commit.
	StateActive
	// StateDeactivating: finishing (planned) or aborting (immediate) the open
	// transaction and closing the producer.
	StateDeactivating
)

var stateNames = enum.New("state", enum.Numbered[State]("State"), "inactive", "activating", "active", "deactivating")

func (r State) String() string { return stateNames.String(r) }

// MarshalText makes the role read as its name in JSON status.
func (r State) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads the name MarshalText writes.
func (r *State) UnmarshalText(b []byte) error { return stateNames.Set(r, b) }

// Witness is the latest committed record from another member read back
// from Kafka: a data record (by the echo consumer) or, while the feed is
// quiet, a control keepalive (by the control consumer). It is evidence,
// through Kafka, that an active member is alive and holding the
// transactional id, since only the holder can commit. The pair protocol
// consults it before activating on silence.
type Witness struct {
	// Member is the member the record's header names.
	Member string `json:"member"`
	// ReceivedAt is when that member read the frame (the receive time in its header), or,
	// for a control keepalive, when it produced the keepalive (feedd-ts).
	ReceivedAt time.Time `json:"received_at,omitzero"`
	// SeenAt is when this member took the record in. It only grows.
	SeenAt time.Time `json:"seen_at,omitzero"`
	// Offset is the record's offset in its topic: the pipeline's topic, or
	// the control topic when Control is set.
	Offset int64 `json:"offset"`
	// Control is set when the record was a control keepalive.
	Control bool `json:"control,omitempty"`
	// ProducerID and ProducerEpoch are the record's, set on Status.Twin.
	ProducerID    int64 `json:"producer_id,omitempty"`
	ProducerEpoch int16 `json:"producer_epoch,omitempty"`
}

// Counters are cumulative since the pipeline was created.
type Counters struct {
	Accepted      uint64 `json:"accepted"`       // frames handed in by Accept
	HandoffStalls uint64 `json:"handoff_stalls"` // Accept calls that waited for the owner goroutine
	Refused       uint64 `json:"refused"`        // frames refused after the pipeline closed

	Produced        uint64 `json:"produced"`         // records handed to the producer
	Oversize        uint64 `json:"oversize"`         // frames too large for one Kafka record, skipped
	Commits         uint64 `json:"commits"`          // transactions committed
	CommittedFrames uint64 `json:"committed_frames"` // frames in them
	CommitFailures  uint64 `json:"commit_failures"`  // commits that failed (then aborted and replayed)
	Aborts          uint64 `json:"aborts"`           // transactions aborted by this member
	// CommitNanos is the time spent committing (flush and EndTxn), during
	// which the active produces nothing; EndTxnNanos is the part of it spent
	// in EndTxn: what transactions cost over a merely idempotent producer.
	// MarkersNanos is the part spent after EndTxn waiting for the
	// coordinator to finish writing the commit markers, so that the next
	// transaction's first record is not held behind them.
	CommitNanos  uint64 `json:"commit_nanos"`
	EndTxnNanos  uint64 `json:"end_txn_nanos"`
	MarkersNanos uint64 `json:"markers_wait_nanos"`

	Activations        uint64 `json:"activations"`         // times the member went live
	ActivationFailures uint64 `json:"activation_failures"` // activations that failed or were abandoned
	Deactivations      uint64 `json:"deactivations"`       // times the member stopped being active
	Fenced             uint64 `json:"fenced"`              // deactivations because another member fenced this one

	EchoRecords    uint64 `json:"echo_records"`    // committed data records read back
	EchoMatched    uint64 `json:"echo_matched"`    // of those, ones that were certainly a ring entry's frame
	EchoRemembered uint64 `json:"echo_remembered"` // of those, ones no entry was certainly (remembered)
	EchoOwn        uint64 `json:"echo_own"`        // of those, this member's own commits, already trimmed
	// EchoUntimed counts echoed records whose line time this member could
	// not place on its own clock (no line window in its header, or no bound yet on
	// the producing host's clock): such a record can be matched only by a
	// feed sequence number.
	EchoUntimed  uint64 `json:"echo_untimed"`
	CatchUpTrims uint64 `json:"catch_up_trims"` // echo matches while activating (reading to the last stable offset)
	// PossibleDuplicates counts committed records this member marked as
	// possible duplicates (marked dup in RecordHeader): frames it published
	// on taking over without being sure the previous active had not.
	PossibleDuplicates uint64 `json:"possible_duplicates"`

	// Control keepalives (kafka.control_interval).
	ControlKeepalives uint64 `json:"control_keepalives"` // committed by this member while its feed was quiet
	ControlSkipped    uint64 `json:"control_skipped"`    // due but not written: the control topic is missing or unfit
	ControlSeen       uint64 `json:"control_seen"`       // committed keepalives of other members read back
	ControlStale      uint64 `json:"control_stale"`      // of those, read while behind the topic's end: not taken as a witness

	// TopicRecreated counts the times this member found the topic deleted
	// and created again (a new topic id); TopicRecreatedDropped the frames
	// its ring held then, read before it knew of the new topic and dropped
	// rather than published into it.
	TopicRecreated        uint64 `json:"topic_recreated"`
	TopicRecreatedDropped uint64 `json:"topic_recreated_dropped"`

	// Repair from the peer (repair.go). Holes: frames that followed a hole
	// in this member's own stream while it was active; RepairRequests: of
	// those, the ones it asked its peer about; RepairedFrames: the peer's
	// frames it published in holes, RepairedPossible of them marked as
	// possible duplicates; RepairInTopic: the peer's frames of holes not
	// published because this member had read their echoes (the topic held
	// them already); Unrepaired*: holes the peer's frames could not
	// be had for, by reason. RepairStartChecks: activations that asked
	// the peer for what it read before this member's own stream began
	// (checkStart; the frames it supplied count as RepairedFrames, and a
	// hole of kind start as unrepaired if its answer failed). As the peer:
	// RepairAsked requests taken, RepairAnswers answered with
	// RepairFramesSent frames; RepairRejected: malformed repair messages
	// dropped.
	Holes               uint64 `json:"holes"`
	RepairRequests      uint64 `json:"repair_requests"`
	RepairRequestsAgain uint64 `json:"repair_requests_again"`
	RepairStartChecks   uint64 `json:"repair_start_checks"`
	RepairedFrames      uint64 `json:"repaired_frames"`
	RepairedPossible    uint64 `json:"repaired_possible"`
	RepairInTopic       uint64 `json:"repair_in_topic"`
	UnrepairedNoPeer    uint64 `json:"unrepaired_no_peer"`
	UnrepairedTimeout   uint64 `json:"unrepaired_timeout"`
	UnrepairedTruncated uint64 `json:"unrepaired_truncated"`
	UnrepairedBusy      uint64 `json:"unrepaired_busy"`
	UnrepairedPeerLacks uint64 `json:"unrepaired_peer_lacks"`
	// HoleMissingSeq sums, on a feed with sequence numbers, the numbers
	// the holes still lacked after their repair: frames lost by both
	// ports, or that the peer could not supply.
	HoleMissingSeq   uint64 `json:"hole_missing_seq"`
	RepairAsked      uint64 `json:"repair_asked"`
	RepairAnswers    uint64 `json:"repair_answers"`
	RepairFramesSent uint64 `json:"repair_frames_sent"`
	RepairRejected   uint64 `json:"repair_rejected"`

	// HangingEnded counts the hanging transactions activations ended
	// with a commit marker (hanging.go).
	HangingEnded uint64 `json:"hanging_transactions_ended"`

	// Cross-check (crosscheck.go). As the active: CrossCheckMissed, the
	// peer's sightings no frame of this member's may be (each a hole
	// repaired from the peer); CrossCheckUnchecked, frames it read live
	// and published without the peer's sightings (none came, or not in
	// time); CrossCheckRestarts, streams of sightings taken from the
	// start (a new peer stream, or one that lost a message);
	// SightingsTaken; SightingsLate, the peer's sightings that came after
	// the frames they may be had gone out unchecked (or were no longer
	// remembered), left unchecked. As the inactive: SightingsSent.
	CrossCheckMissed    uint64 `json:"cross_check_missed"`
	CrossCheckUnchecked uint64 `json:"cross_check_unchecked"`
	CrossCheckRestarts  uint64 `json:"cross_check_restarts"`
	SightingsTaken      uint64 `json:"sightings_taken"`
	SightingsLate       uint64 `json:"sightings_late"`
	SightingsSent       uint64 `json:"sightings_sent"`
}

// Status is a snapshot of a pipeline for status output, metrics and the pair
// protocol. It holds no secret.
type Status struct {
	Pipeline string `json:"pipeline"`
	Member   string `json:"member"`
	Topic    string `json:"topic"`
	// TopicID is the id of the topic instance the member follows, as
	// kafka-topics.sh --describe prints it; empty until known (or on a
	// broker without topic ids). It changes when the topic is deleted and
	// created again (Counters.TopicRecreated).
	TopicID         string `json:"topic_id,omitempty"`
	ControlTopic    string `json:"control_topic,omitempty"` // empty when control keepalives are off
	TransactionalID string `json:"transactional_id"`
	// Producer is kafka.producer: transactional, or idempotent (no
	// transactions, no fencing: unsafe across a failover).
	Producer string `json:"producer"`

	State      State     `json:"role"`
	StateSince time.Time `json:"role_since"`

	// Ring is the backlog ring's counters and gauges (Len and Bytes are its
	// depth).
	Ring backlog.Stats `json:"ring"`

	LastCommitAt     time.Time `json:"last_commit_at,omitzero"`
	LastCommitOffset int64     `json:"last_commit_offset"` // offset of the last record of the last commit, -1 if none
	// LastControlAt is when this member last committed a control keepalive.
	LastControlAt time.Time `json:"last_control_at,omitzero"`
	// ProducerID and ProducerEpoch are those of the current (or last)
	// activation; -1 before the first.
	ProducerID    int64 `json:"producer_id"`
	ProducerEpoch int16 `json:"producer_epoch"`
	// CommitFailingSince is set while commits fail or take longer than
	// kafka.commit_timeout: when the oldest unsuccessful commit began.
	CommitFailingSince time.Time `json:"commit_failing_since,omitzero"`

	// Kafka is how the echo consumer finds Kafka: reachable, or failing
	// with the last error.
	Kafka KafkaStatus `json:"kafka"`

	// EchoOffset is the next offset the echo consumer will hand over, -1
	// until it is positioned.
	EchoOffset int64   `json:"echo_offset"`
	Witness    Witness `json:"witness"`
	// Twin is the latest committed record (data or control keepalive) that
	// carries this member's own id but was written under a producer epoch
	// this process never held: another process runs under the same
	// member_id. Records read while this member is activating or active
	// are not judged (one of its own may carry an epoch it has not learnt
	// yet). Zero if none.
	Twin Witness `json:"twin,omitzero"`

	// Cause is why the member last stopped being active (or failed to
	// activate) without being asked to: errors.Is(Cause, ErrFenced) after a
	// fence. Nil after a requested deactivation.
	Cause     error  `json:"-"`
	LastError string `json:"last_error,omitempty"`

	// LastHole is the latest hole in this member's own stream while it was
	// active, and what became of it; nil if none.
	LastHole *HoleReport `json:"last_hole,omitempty"`
	// CrossCheck is whether this member takes its peer's sightings (as
	// the active) or streams its own (as the inactive).
	CrossCheck CrossCheckStatus `json:"cross_check"`

	Counters Counters `json:"counters"`
}

func (p *Pipeline) status() Status {
	st := Status{
		Pipeline:           p.opt.Pipeline,
		Member:             p.opt.Member,
		Topic:              p.cfg.Topic,
		TopicID:            formatTopicID(p.topicID),
		TransactionalID:    p.txnID,
		Producer:           p.cfg.Producer,
		State:              p.state,
		StateSince:         p.stateSince,
		Ring:               p.ring.Stats(),
		LastCommitAt:       p.lastCommit,
		LastCommitOffset:   p.lastOffset,
		LastControlAt:      p.lastControl,
		ProducerID:         p.pid,
		ProducerEpoch:      p.epoch,
		CommitFailingSince: p.failSince,
		Kafka:              p.kafka.status(),
		EchoOffset:         p.echoNext,
		Witness:            p.witness,
		Twin:               p.twin,
		Cause:              p.cause,
		LastError:          p.lastErr,
		LastHole:           p.rep.last,
		CrossCheck:         p.crossCheckStatus(),
		Counters:           p.c,
	}
	if p.controlEnabled() {
		st.ControlTopic = p.cfg.ControlTopic
	}
	st.Counters.Accepted = p.in.accepted.Load()
	st.Counters.HandoffStalls = p.in.stalls.Load()
	st.Counters.Refused = p.in.refused.Load()
	return st
}
