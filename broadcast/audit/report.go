package audit

import (
	"fmt"
	"time"
)

// Span is what an audit read: the topic's shape and the offsets of
// partition 0 it covered, with what it found there.
type Span struct {
	Topic string `json:"topic"`
	// Partitions is the topic's partition count (a pipeline's topic has
	// one; only partition 0 is read).
	Partitions int `json:"partitions"`
	// LogStart is the partition's log start offset: records before it were
	// deleted by retention.
	LogStart int64 `json:"log_start_offset"`
	// From and End bound what was read: offsets [From, End), End being the
	// last stable offset when the audit began.
	From int64 `json:"from_offset"`
	End  int64 `json:"end_offset"`

	// Records counts committed data records; ControlRecords the
	// transaction markers among the offsets read.
	Records        int64 `json:"records"`
	ControlRecords int64 `json:"control_records"`
	// Followed says the audit followed the topic (Options.Follow).
	Followed bool `json:"followed"`
}

// describe says what was read, for the text reports.
func (s *Span) describe() string {
	return fmt.Sprintf("topic %s, partition 0 (of %d): offsets %d to %d read (log start %d, last stable offset %d)",
		s.Topic, s.Partitions, s.From, s.End-1, s.LogStart, s.End)
}

// Report is what the audit found. Offsets are those of the topic's
// partition 0; sequence numbers are the feed's.
type Report struct {
	Span

	// FirstTimestamp and LastTimestamp are the records' own timestamps
	// (when they were produced), of the first and the last record read.
	FirstTimestamp time.Time `json:"first_timestamp,omitzero"`
	LastTimestamp  time.Time `json:"last_timestamp,omitzero"`

	Sequenced   SeqReport `json:"sequenced"`
	Unsequenced FPReport  `json:"unsequenced"`
	// Identity says how the records identify their frames, and lists
	// frames published both with and without a sequence number.
	Identity IdentityReport `json:"identity"`

	// Members counts records by the member the header names, in order of first
	// appearance; "" collects records without one.
	Members []MemberCount `json:"members"`
	// Handovers are the offsets where the producing member changes.
	Handovers     []Handover `json:"handovers"`
	HandoverCount int64      `json:"handover_count"`

	// FingerprintMismatches counts records whose header's fingerprint is not
	// the fingerprint of their value (damaged, or written by something
	// else).
	FingerprintMismatches int64 `json:"fingerprint_mismatches"`

	// Latency is the end-to-end latency of the records committed while the
	// audit followed the topic (see Latency); zero without Follow.
	Latency Latency `json:"end_to_end_latency"`
	// Truncated is set when some list was cut at Options.MaxListed.
	Truncated bool `json:"truncated"`
	// RepeatedFramesAllowed echoes Options.AllowRepeatedFrames.
	RepeatedFramesAllowed bool `json:"repeated_frames_allowed"`
	// Clean is true when there is no gap, no duplicate (frames published
	// under two identities included) and nothing out of order (and no
	// repeated fingerprint, unless allowed); Problems
	// describes what made it false, one line each.
	Clean    bool     `json:"clean"`
	Problems []string `json:"problems"`
	// Notes are what a reader must know to trust the verdict, such as a
	// topic whose records carry no sequence number, where no gap can be
	// seen.
	Notes []string `json:"notes"`
}

// NoSequenceNumbers reports whether the audit read records but none of them
// carried a feed sequence number: it could then find repeated frames but
// neither gaps nor disorder.
func (r *Report) NoSequenceNumbers() bool {
	return r.Records > 0 && r.Sequenced.Records == 0
}

// SeqReport covers the records that carry a feed sequence number.
type SeqReport struct {
	Records  int64  `json:"records"`
	Distinct uint64 `json:"distinct"`
	// First and Last are the lowest and highest sequence numbers found.
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`

	Gaps     []Gap  `json:"gaps"`
	GapCount int64  `json:"gap_count"`
	Missing  uint64 `json:"missing"` // sequence numbers in all gaps

	Duplicates []Duplicate `json:"duplicates"`
	// DuplicatedSeqs counts sequence numbers found more than once;
	// DuplicateRecords the copies beyond the first.
	DuplicatedSeqs   int64 `json:"duplicated_seqs"`
	DuplicateRecords int64 `json:"duplicate_records"`

	OutOfOrder      []Disorder `json:"out_of_order"`
	OutOfOrderCount int64      `json:"out_of_order_count"`

	// BadHeaders counts feed sequence numbers in headers that are not decimal numbers;
	// those records are audited by fingerprint.
	BadHeaders int64 `json:"bad_headers"`
}

// Gap is a range of sequence numbers missing between two present ones.
type Gap struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	Size uint64 `json:"size"`
	// Before is the record holding From-1, After the one holding To+1
	// (their first copies).
	Before Occurrence `json:"before"`
	After  Occurrence `json:"after"`
}

// Occurrence is one record: where it is and who produced it when.
type Occurrence struct {
	Offset int64  `json:"offset"`
	Member string `json:"member"`
	// ReceivedAt is when the member read the frame (the receive time in its header).
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

// Duplicate is a sequence number (or, in FPReport, a fingerprint) found in
// more than one record.
type Duplicate struct {
	Seq         uint64 `json:"seq,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Count is how many records carry it (at least 2).
	Count int64 `json:"count"`
	// Copies are those records in offset order (at most MaxListed).
	Copies []Occurrence `json:"copies"`
}

// Disorder is a record whose sequence number is lower than one read before
// it: the first copy of Seq came after the record After, which holds the
// higher AfterSeq (the highest sequence number read until then).
type Disorder struct {
	Seq      uint64     `json:"seq"`
	At       Occurrence `json:"at"`
	AfterSeq uint64     `json:"after_seq"`
	After    Occurrence `json:"after"`
}

// FPReport covers the records identified by their fingerprint: no
// feed sequence number in its header (or an unreadable one).
type FPReport struct {
	Records  int64 `json:"records"`
	Distinct int64 `json:"distinct"`
	// Repeated lists fingerprints found in more than one record.
	Repeated []Duplicate `json:"repeated"`
	// RepeatedFingerprints counts fingerprints found more than once;
	// RepeatedRecords the copies beyond the first.
	RepeatedFingerprints int64 `json:"repeated_fingerprints"`
	RepeatedRecords      int64 `json:"repeated_records"`
	// Foreign counts records without any feedd header (not written by a
	// feedd member); they are identified by the fingerprint of their value.
	Foreign int64 `json:"foreign"`
}

// MemberCount is what one member produced among the records read.
type MemberCount struct {
	Member      string `json:"member"`
	Records     int64  `json:"records"`
	FirstOffset int64  `json:"first_offset"`
	LastOffset  int64  `json:"last_offset"`
	// WithSeq counts its records that carry a feed sequence number,
	// FingerprintOnly the others.
	WithSeq         int64 `json:"with_seq"`
	FingerprintOnly int64 `json:"fingerprint_only"`
}

// Handover is a change of producing member between consecutive records.
type Handover struct {
	Offset int64  `json:"offset"` // the first record of the new member
	From   string `json:"from"`
	To     string `json:"to"`
	// Seq is that record's sequence number, if it has one.
	Seq    uint64 `json:"seq,omitempty"`
	HasSeq bool   `json:"has_seq"`
}

// addProblem appends the finding format describes to problems when found:
// a report lists only what went wrong.
func addProblem(problems []string, found bool, format string, args ...any) []string {
	if !found {
		return problems
	}
	return append(problems, fmt.Sprintf(format, args...))
}
