package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ingest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultMaxListed is how many gaps, duplicates, out-of-order points,
// repeated fingerprints and handovers a report lists, each, unless
// Options.MaxListed says otherwise. Counts are always exact.
const DefaultMaxListed = 100

// Options say what to audit and how to connect.
type Options struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// Topic is the pipeline's topic. Partition 0 is read (a pipeline's
	// topic has exactly one).
	Topic string
	// From is the first offset to read; below the log start offset (0
	// included) the audit starts at the log start offset.
	From int64
	// ClientOpts are added to the consumer's options, after the audit's
	// own: TLS, SASL, a logger.
	ClientOpts []kgo.Opt
	// MaxListed bounds each list of findings (default DefaultMaxListed).
	MaxListed int
	// AllowRepeatedFrames keeps repeated fingerprints (records without a
	// feed sequence whose bytes repeat) from making the report unclean: for
	// feeds whose frames can legitimately repeat byte for byte. They are
	// still counted and listed.
	AllowRepeatedFrames bool
	// FromEnd starts at the last stable offset instead of the log start:
	// the audit covers only what is committed after it began (with Follow).
	// From, when above it, still wins.
	FromEnd bool
	// Follow keeps reading what is committed after the audit began, until
	// Stop is closed; then the audit reads on to the last stable offset of
	// that moment and reports. Without Follow it stops at the last stable
	// offset found when it began. A cancelled ctx is an error either way.
	Follow bool
	Stop   <-chan struct{}
	// Monitor, when set, is kept up to date while the audit reads.
	Monitor *Monitor
	// Sequence, when set, is the members' sequence extractor: a record
	// without a feedd-seq header whose value yields a sequence number with
	// it is audited by that number, as a member with the extractor would
	// have identified it (counted in IdentityReport.SeqRead).
	Sequence *ingest.SequenceExtractor
}

// OptionsFor returns the options that audit the topic of a member's
// `kafka:` configuration.
func OptionsFor(c broadcast.Config) (Options, error) {
	// broadcast builds its clients' TLS and SASL options in an unexported
	// function; until it exports it, the audit refuses those settings
	// rather than keep a second copy of that code.
	if c.TLS.Enabled || c.SASL.Mechanism != "" {
		return Options{}, errors.New("kafka.tls / kafka.sasl: the audit cannot connect with TLS or SASL yet; use a plaintext listener (--kafka.brokers)")
	}
	return Options{Brokers: c.Brokers, Topic: c.Topic}, nil
}

// Report is what the audit found. Offsets are those of the topic's
// partition 0; sequence numbers are the feed's.
type Report struct {
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
	// FirstTimestamp and LastTimestamp are the records' own timestamps
	// (when they were produced), of the first and the last record read.
	FirstTimestamp time.Time `json:"first_timestamp,omitzero"`
	LastTimestamp  time.Time `json:"last_timestamp,omitzero"`

	Sequenced   SeqReport `json:"sequenced"`
	Unsequenced FPReport  `json:"unsequenced"`
	// Identity says how the records identify their frames, and lists
	// frames published both with and without a sequence number.
	Identity IdentityReport `json:"identity"`

	// Members counts records by the feedd-member header, in order of first
	// appearance; "" collects records without one.
	Members []MemberCount `json:"members"`
	// Handovers are the offsets where the producing member changes.
	Handovers     []Handover `json:"handovers"`
	HandoverCount int64      `json:"handover_count"`

	// FingerprintMismatches counts records whose feedd-fp header is not
	// the fingerprint of their value (damaged, or written by something
	// else).
	FingerprintMismatches int64 `json:"fingerprint_mismatches"`

	// Latency is the end-to-end latency of the records committed while the
	// audit followed the topic (see Latency); zero without Follow.
	Latency Latency `json:"end_to_end_latency"`
	// Followed says the audit followed the topic (Options.Follow).
	Followed bool `json:"followed"`

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

	// BadHeaders counts feedd-seq headers that are not a decimal number;
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
	// ReceivedAt is when the member read the frame (feedd-rx header).
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
// feedd-seq header (or an unreadable one).
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

// Run audits the topic and returns the report. It returns an error only
// when it could not read the topic (unreachable brokers, a missing topic, a
// cancelled ctx); findings are in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	o, base, cl, err := o.connect()
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	r := &Report{Topic: o.Topic, RepeatedFramesAllowed: o.AllowRepeatedFrames, Followed: o.Follow}
	adm := kadm.NewClient(cl)
	if err := r.bounds(ctx, adm, o.From, o.FromEnd); err != nil {
		return nil, err
	}
	mon := o.Monitor
	if mon == nil {
		mon = NewMonitor()
	}
	a := newAuditor(r, o.MaxListed, mon)
	a.sequence = o.Sequence
	mon.update(func(p *Progress) { p.Started, p.From, p.NextOffset = true, r.From, r.From })
	if o.Follow {
		a.liveFrom = r.End
	}
	if err := o.read(ctx, base, adm, r, a.first); err != nil {
		return nil, err
	}
	if o.Follow {
		r.Latency = mon.Progress().Latency
	}
	if a.prepareSecond() {
		if err := scan(ctx, base, o.Topic, r.From, r.End, a.second); err != nil {
			return nil, err
		}
	}
	if a.needThird() {
		if err := scan(ctx, base, o.Topic, r.From, r.End, a.third); err != nil {
			return nil, err
		}
	}
	a.finish()
	return r, nil
}

// connect checks o, applies its defaults and returns it with the client
// options the readers share and a client for the admin requests.
func (o Options) connect() (Options, []kgo.Opt, *kgo.Client, error) {
	if len(o.Brokers) == 0 {
		return o, nil, nil, errors.New("audit: no brokers")
	}
	if o.Topic == "" {
		return o, nil, nil, errors.New("audit: no topic")
	}
	if o.MaxListed <= 0 {
		o.MaxListed = DefaultMaxListed
	}
	base := append([]kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID("feedd-audit"),
		kgo.DisableClientMetrics(),
	}, o.ClientOpts...)
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return o, nil, nil, err
	}
	return o, base, cl, nil
}

// read reads the offsets r.From on, to r.End or, with o.Follow, until
// o.Stop and then to the last stable offset of that moment (which becomes
// r.End), and calls fn for each record.
func (o Options) read(ctx context.Context, base []kgo.Opt, adm *kadm.Client, r *Report, fn func(*kgo.Record)) error {
	if !o.Follow {
		return scan(ctx, base, o.Topic, r.From, r.End, fn)
	}
	end, err := follow(ctx, base, adm, o.Topic, r.From, o.Stop, fn)
	if err != nil {
		return err
	}
	r.End = end
	return nil
}

// bounds finds the partition count, the log start and the last stable
// offset, and where to start.
func (r *Report) bounds(ctx context.Context, adm *kadm.Client, from int64, fromEnd bool) error {
	end, partitions, err := lastStable(ctx, adm, r.Topic)
	if err != nil {
		return err
	}
	r.Partitions = partitions
	starts, err := adm.ListStartOffsets(ctx, r.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("listing the log start offset of %s: %w", r.Topic, err)
	}
	start, ok := starts.Lookup(r.Topic, 0)
	if !ok {
		return fmt.Errorf("topic %s has no partition 0", r.Topic)
	}
	r.LogStart, r.End = start.Offset, end
	r.From = max(from, r.LogStart)
	if fromEnd {
		r.From = max(from, r.End)
	}
	if r.From > r.End {
		return fmt.Errorf("offset %d is beyond the last stable offset %d of %s", from, r.End, r.Topic)
	}
	return nil
}

// lastStable returns the last stable offset of the topic's partition 0,
// and the topic's partition count.
func lastStable(ctx context.Context, adm *kadm.Client, topic string) (int64, int, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return 0, 0, fmt.Errorf("topic %s does not exist", topic)
		}
		return 0, 0, fmt.Errorf("listing the last stable offset of %s: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok {
		return 0, 0, fmt.Errorf("topic %s has no partition 0", topic)
	}
	return end.Offset, len(ends[topic]), nil
}

// partitionReader reads partition 0 of a topic with read_committed from an
// offset on, keeping transaction markers so that it knows when it has
// reached an end offset even if the last records before it were aborted.
type partitionReader struct {
	cl    *kgo.Client
	topic string
	next  int64 // the offset to read next
}

func openReader(base []kgo.Opt, topic string, from int64) (*partitionReader, error) {
	opts := append(slices.Clone(base),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(from)}}),
		// Records deleted by retention while the audit reads are not
		// skipped silently: the error ends the audit.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &partitionReader{cl: cl, topic: topic, next: from}, nil
}

func (p *partitionReader) close() { p.cl.Close() }

// poll waits for one fetch (until pollCtx ends) and passes its records
// from p.next up to end (end < 0: no bound) to fn. Context errors are left
// to the caller, which knows which context ended.
func (p *partitionReader) poll(pollCtx context.Context, end int64, fn func(*kgo.Record)) error {
	fs := p.cl.PollFetches(pollCtx)
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
			continue
		}
		return fmt.Errorf("reading %s at offset %d: %w", p.topic, p.next, fe.Err)
	}
	fs.EachRecord(func(rec *kgo.Record) {
		if rec.Offset < p.next || (end >= 0 && rec.Offset >= end) {
			return
		}
		p.next = rec.Offset + 1
		fn(rec)
	})
	return nil
}

// scan reads offsets [from, end) and calls fn for each record.
func scan(ctx context.Context, base []kgo.Opt, topic string, from, end int64, fn func(*kgo.Record)) error {
	if from >= end {
		return nil
	}
	p, err := openReader(base, topic, from)
	if err != nil {
		return err
	}
	defer p.close()
	for p.next < end {
		if err := p.poll(ctx, end, fn); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %s: at offset %d of [%d, %d): %w", topic, p.next, from, end, err)
		}
	}
	return nil
}

// follow reads from offset from on, calling fn for each record, until stop
// is closed; then it reads on to the last stable offset of that moment and
// returns it.
func follow(ctx context.Context, base []kgo.Opt, adm *kadm.Client, topic string, from int64, stop <-chan struct{}, fn func(*kgo.Record)) (int64, error) {
	p, err := openReader(base, topic, from)
	if err != nil {
		return 0, err
	}
	defer p.close()
	following, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		select {
		case <-stop:
			stopFollowing()
		case <-following.Done():
		}
	}()
	defer func() { stopFollowing(); <-watching }()

	for following.Err() == nil {
		if err := p.poll(following, -1, fn); err != nil {
			return 0, err
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("following %s: at offset %d: %w", topic, p.next, err)
	}
	end, _, err := lastStable(ctx, adm, topic)
	if err != nil {
		return 0, err
	}
	end = max(end, p.next)
	for p.next < end {
		if err := p.poll(ctx, end, fn); err != nil {
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("reading %s to its end: at offset %d of %d: %w", topic, p.next, end, err)
		}
	}
	return end, nil
}

// auditor accumulates a report over one or two readings.
type auditor struct {
	r   *Report
	max int
	mon *Monitor
	// liveFrom is the first offset committed after the audit began (when
	// following): the records whose end-to-end latency is measured. -1:
	// none.
	liveFrom int64
	// gaps and missing follow the holes between the lowest and highest
	// sequence numbers as records arrive, for the Monitor; the final
	// report recounts them from the set.
	gaps    int64
	missing uint64

	seqs    *seqSet
	dups    *seqSet // sequence numbers seen at least twice
	fps     []uint64
	members map[string]int // index in r.Members

	lastMember  string
	haveLast    bool
	prevSeq     uint64 // highest sequence number so far, and where
	prevSeqOcc  Occurrence
	haveSeq     bool
	dupListed   map[uint64]int // seq -> index in r.Sequenced.Duplicates
	fpRepeated  map[uint64]int // fingerprint -> index in r.Unsequenced.Repeated
	gapBefore   map[uint64]int // seq -> index of the gap it precedes (seq == From-1)
	gapAfter    map[uint64]int // seq -> index of the gap it follows (seq == To+1)
	bordersDone map[uint64]bool
	identity    identityAudit
	sequence    *ingest.SequenceExtractor
}

func newAuditor(r *Report, maxListed int, mon *Monitor) *auditor {
	return &auditor{
		r: r, max: maxListed, mon: mon, liveFrom: -1,
		seqs:      newSeqSet(),
		dups:      newSeqSet(),
		members:   make(map[string]int),
		dupListed: make(map[uint64]int),
	}
}

// recordInfo is what the audit reads from one record's headers.
type recordInfo struct {
	seq       uint64
	hasSeq    bool
	badSeq    bool
	fp        uint64
	fpHeader  bool
	fpBad     bool
	member    string
	rx        time.Time
	anyHeader bool
	// seqRead: the sequence number was read from the value with
	// Options.Sequence, not from a header.
	seqRead bool
}

// parse reads a record's headers and, for a record without a sequence
// number, reads one from its value with the sequence extractor if the
// audit has one.
func (a *auditor) parse(rec *kgo.Record) recordInfo {
	in := parse(rec)
	if !in.hasSeq && a.sequence != nil {
		if v, ok := a.sequence.Extract(rec.Value); ok {
			in.seq, in.hasSeq, in.seqRead = v, true, true
		}
	}
	return in
}

func parse(rec *kgo.Record) recordInfo {
	var in recordInfo
	for _, h := range rec.Headers {
		switch h.Key {
		case broadcast.HeaderFeedSeq:
			in.anyHeader = true
			v, err := strconv.ParseUint(string(h.Value), 10, 64)
			if err != nil {
				in.badSeq = true
				continue
			}
			in.seq, in.hasSeq = v, true
		case broadcast.HeaderFingerprint:
			in.anyHeader = true
			v, err := strconv.ParseUint(string(h.Value), 16, 64)
			if err != nil || len(h.Value) != 16 {
				in.fpBad = true
				continue
			}
			in.fp, in.fpHeader = v, true
		case broadcast.HeaderMember:
			in.anyHeader = true
			in.member = string(h.Value)
		case broadcast.HeaderReceivedAt:
			in.anyHeader = true
			in.rx, _ = time.Parse(time.RFC3339Nano, string(h.Value))
		}
	}
	return in
}

func (in *recordInfo) occurrence(offset int64) Occurrence {
	return Occurrence{Offset: offset, Member: in.member, ReceivedAt: in.rx}
}

// first is the first reading: counts, the set of sequence numbers,
// duplicates and disorder as they come, fingerprints for later.
func (a *auditor) first(rec *kgo.Record) {
	r := a.r
	if rec.Attrs.IsControl() {
		r.ControlRecords++
		a.mon.update(func(p *Progress) { p.NextOffset = rec.Offset + 1 })
		return
	}
	in := a.parse(rec)
	if a.liveFrom >= 0 && rec.Offset >= a.liveFrom && !in.rx.IsZero() {
		a.mon.observeLatency(time.Since(in.rx))
	}
	defer a.publish(rec)
	if r.Records == 0 {
		r.FirstTimestamp = rec.Timestamp
	}
	r.LastTimestamp = rec.Timestamp
	r.Records++

	value := ingest.Fingerprint(rec.Value)
	if (in.fpHeader && in.fp != value) || in.fpBad {
		r.FingerprintMismatches++
	}

	mi, ok := a.members[in.member]
	if !ok {
		mi = len(r.Members)
		a.members[in.member] = mi
		r.Members = append(r.Members, MemberCount{Member: in.member, FirstOffset: rec.Offset})
	}
	r.Members[mi].Records++
	r.Members[mi].LastOffset = rec.Offset
	if in.hasSeq && !in.seqRead {
		r.Members[mi].WithSeq++
		r.Identity.WithSeq++
	} else {
		r.Members[mi].FingerprintOnly++
		r.Identity.FingerprintOnly++
	}
	if in.seqRead {
		r.Identity.SeqRead++
	}
	if a.haveLast && in.member != a.lastMember {
		r.HandoverCount++
		if len(r.Handovers) < a.max {
			r.Handovers = append(r.Handovers, Handover{Offset: rec.Offset, From: a.lastMember, To: in.member, Seq: in.seq, HasSeq: in.hasSeq})
		} else {
			r.Truncated = true
		}
	}
	a.lastMember, a.haveLast = in.member, true

	if in.badSeq {
		r.Sequenced.BadHeaders++
	}
	if !in.hasSeq {
		u := &r.Unsequenced
		u.Records++
		if !in.anyHeader {
			u.Foreign++
		}
		fp := value
		if in.fpHeader {
			fp = in.fp
		}
		a.fps = append(a.fps, fp)
		return
	}

	s := &r.Sequenced
	s.Records++
	occ := in.occurrence(rec.Offset)
	a.trackHoles(in.seq)
	if !a.seqs.add(in.seq) {
		s.DuplicateRecords++
		if a.dups.add(in.seq) { // its second copy
			s.DuplicatedSeqs++
			if len(s.Duplicates) < a.max {
				a.dupListed[in.seq] = len(s.Duplicates)
				s.Duplicates = append(s.Duplicates, Duplicate{Seq: in.seq, Count: 2})
			} else {
				r.Truncated = true
			}
		} else if i, ok := a.dupListed[in.seq]; ok {
			s.Duplicates[i].Count++
		}
	} else if a.haveSeq && in.seq < a.prevSeq {
		s.OutOfOrderCount++
		if len(s.OutOfOrder) < a.max {
			s.OutOfOrder = append(s.OutOfOrder, Disorder{Seq: in.seq, At: occ, AfterSeq: a.prevSeq, After: a.prevSeqOcc})
		} else {
			r.Truncated = true
		}
	}
	if !a.haveSeq || in.seq > a.prevSeq {
		a.prevSeq, a.prevSeqOcc, a.haveSeq = in.seq, occ, true
	}
}

// trackHoles updates the running gap and missing counts for seq, before it
// is added to the set.
func (a *auditor) trackHoles(seq uint64) {
	s := a.seqs
	switch {
	case s.n == 0 || s.has(seq):
	case seq > s.max:
		if seq > s.max+1 {
			a.gaps++
			a.missing += seq - s.max - 1
		}
	case seq < s.min:
		if seq < s.min-1 {
			a.gaps++
			a.missing += s.min - seq - 1
		}
	default: // it fills a hole, wholly, at one end, or in the middle
		a.missing--
		below, above := s.has(seq-1), s.has(seq+1)
		switch {
		case below && above:
			a.gaps--
		case !below && !above:
			a.gaps++
		}
	}
}

// publish brings the Monitor up to date after rec.
func (a *auditor) publish(rec *kgo.Record) {
	r := a.r
	a.mon.update(func(p *Progress) {
		p.Records = r.Records
		p.Sequenced, p.Unsequenced = r.Sequenced.Records, r.Unsequenced.Records
		p.NextOffset = rec.Offset + 1
		if a.seqs.n > 0 {
			p.FirstSeq, p.LastSeq = a.seqs.min, a.seqs.max
		}
		p.Gaps, p.Missing = a.gaps, a.missing
		p.DuplicateRecords = r.Sequenced.DuplicateRecords
		p.OutOfOrder = r.Sequenced.OutOfOrderCount
		p.LastRecordTime = rec.Timestamp
	})
}

// prepareSecond computes gaps and repeated fingerprints from the first
// reading and reports whether a second reading is needed to fill in the
// records around them.
func (a *auditor) prepareSecond() bool {
	r := a.r
	s := &r.Sequenced
	s.Distinct = a.seqs.n
	if a.seqs.n > 0 {
		s.First, s.Last = a.seqs.min, a.seqs.max
	}
	a.gapBefore = make(map[uint64]int)
	a.gapAfter = make(map[uint64]int)
	a.seqs.gaps(func(from, to uint64) bool {
		s.GapCount++
		s.Missing += to - from + 1
		if len(s.Gaps) < a.max {
			a.gapBefore[from-1] = len(s.Gaps)
			a.gapAfter[to+1] = len(s.Gaps)
			s.Gaps = append(s.Gaps, Gap{From: from, To: to, Size: to - from + 1,
				Before: Occurrence{Offset: -1}, After: Occurrence{Offset: -1}})
		} else {
			r.Truncated = true
		}
		return true
	})

	u := &r.Unsequenced
	sorted := a.fps
	slices.Sort(sorted)
	a.fpRepeated = make(map[uint64]int)
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		u.Distinct++
		if n := j - i; n > 1 {
			u.RepeatedFingerprints++
			u.RepeatedRecords += int64(n - 1)
			if len(u.Repeated) < a.max {
				a.fpRepeated[sorted[i]] = len(u.Repeated)
				u.Repeated = append(u.Repeated, Duplicate{Fingerprint: fmt.Sprintf("%016x", sorted[i]), Count: int64(n)})
			} else {
				r.Truncated = true
			}
		}
		i = j
	}
	twoKinds := a.keepFingerprints(sorted)
	a.fps = nil
	a.bordersDone = make(map[uint64]bool)
	return len(s.Gaps) > 0 || len(s.Duplicates) > 0 || len(u.Repeated) > 0 || twoKinds
}

// second is the second reading: the records around each listed gap and
// the copies of each listed duplicate.
func (a *auditor) second(rec *kgo.Record) {
	if rec.Attrs.IsControl() {
		return
	}
	in := a.parse(rec)
	a.secondIdentity(&in, rec)
	s := &a.r.Sequenced
	if !in.hasSeq {
		fp := ingest.Fingerprint(rec.Value)
		if in.fpHeader {
			fp = in.fp
		}
		if i, ok := a.fpRepeated[fp]; ok {
			d := &a.r.Unsequenced.Repeated[i]
			if len(d.Copies) < a.max {
				d.Copies = append(d.Copies, in.occurrence(rec.Offset))
			}
		}
		return
	}
	if !a.bordersDone[in.seq] {
		occ := in.occurrence(rec.Offset)
		i, before := a.gapBefore[in.seq]
		if before {
			s.Gaps[i].Before = occ
		}
		j, after := a.gapAfter[in.seq]
		if after {
			s.Gaps[j].After = occ
		}
		if before || after {
			a.bordersDone[in.seq] = true
		}
	}
	if i, ok := a.dupListed[in.seq]; ok {
		d := &s.Duplicates[i]
		if len(d.Copies) < a.max {
			d.Copies = append(d.Copies, in.occurrence(rec.Offset))
		}
	}
}

// finish orders the lists and gives the verdict.
func (a *auditor) finish() {
	r := a.r
	s, u := &r.Sequenced, &r.Unsequenced
	slices.SortFunc(s.Duplicates, cmpFirstCopy)
	slices.SortFunc(u.Repeated, cmpFirstCopy)
	for _, d := range s.Duplicates {
		if int64(len(d.Copies)) < d.Count {
			r.Truncated = true
		}
	}
	for _, d := range u.Repeated {
		if int64(len(d.Copies)) < d.Count {
			r.Truncated = true
		}
	}
	if s.GapCount > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d gap(s): %d sequence number(s) missing", s.GapCount, s.Missing))
	}
	if s.DuplicatedSeqs > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d sequence number(s) duplicated: %d extra record(s)", s.DuplicatedSeqs, s.DuplicateRecords))
	}
	if s.OutOfOrderCount > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d record(s) out of order", s.OutOfOrderCount))
	}
	if u.RepeatedFingerprints > 0 && !r.RepeatedFramesAllowed {
		r.Problems = append(r.Problems, fmt.Sprintf("%d fingerprint(s) repeated: %d extra record(s) without a sequence number", u.RepeatedFingerprints, u.RepeatedRecords))
	}
	a.finishIdentity()
	r.Clean = len(r.Problems) == 0
	if r.NoSequenceNumbers() {
		r.Notes = append(r.Notes, "no record carries a feed sequence number (feedd-seq header): "+
			"gaps and disorder cannot be seen, only repeated frames; configure a sequence extractor "+
			"(sequence.nmea_field or sequence.regex) on the members")
	}
	// Empty lists, not nulls, for JSON readers.
	r.Problems, r.Notes = nonNil(r.Problems), nonNil(r.Notes)
	r.Members, r.Handovers = nonNil(r.Members), nonNil(r.Handovers)
	s.Gaps, s.Duplicates, s.OutOfOrder = nonNil(s.Gaps), nonNil(s.Duplicates), nonNil(s.OutOfOrder)
	u.Repeated = nonNil(u.Repeated)
	for i := range s.Duplicates {
		s.Duplicates[i].Copies = nonNil(s.Duplicates[i].Copies)
	}
	for i := range u.Repeated {
		u.Repeated[i].Copies = nonNil(u.Repeated[i].Copies)
	}
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func cmpFirstCopy(x, y Duplicate) int {
	switch {
	case len(x.Copies) == 0 && len(y.Copies) == 0:
		return 0
	case len(x.Copies) == 0:
		return 1
	case len(y.Copies) == 0:
		return -1
	}
	return cmp.Compare(x.Copies[0].Offset, y.Copies[0].Offset)
}
