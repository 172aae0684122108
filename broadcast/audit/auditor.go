package audit

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ingest"
	"github.com/twmb/franz-go/pkg/kgo"
)

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
	m := broadcast.ParseRecordMeta(rec)
	in := recordInfo{
		seq: m.FeedSeq, hasSeq: m.HasFeedSeq, badSeq: m.BadFeedSeq,
		fp: m.Fingerprint, fpHeader: m.HasFingerprint, fpBad: m.BadFingerprint,
		member: string(m.Member), anyHeader: m.Format >= 0,
	}
	if m.ReceivedAt != 0 {
		in.rx = time.Unix(0, m.ReceivedAt).UTC()
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
	r.Problems = addProblem(r.Problems, s.GapCount > 0, "%d gap(s): %d sequence number(s) missing", s.GapCount, s.Missing)
	r.Problems = addProblem(r.Problems, s.DuplicatedSeqs > 0, "%d sequence number(s) duplicated: %d extra record(s)", s.DuplicatedSeqs, s.DuplicateRecords)
	r.Problems = addProblem(r.Problems, s.OutOfOrderCount > 0, "%d record(s) out of order", s.OutOfOrderCount)
	r.Problems = addProblem(r.Problems, u.RepeatedFingerprints > 0 && !r.RepeatedFramesAllowed,
		"%d fingerprint(s) repeated: %d extra record(s) without a sequence number", u.RepeatedFingerprints, u.RepeatedRecords)
	a.finishIdentity()
	r.Clean = len(r.Problems) == 0
	if r.NoSequenceNumbers() {
		r.Notes = append(r.Notes, "no record carries a feed sequence number (the seq= field of the feedd header): "+
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
