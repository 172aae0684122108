package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/feedd/feedd/ingest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A record identifies its frame by the feed's sequence number (feedd-seq)
// when its member has a sequence extractor that matched the frame, and by
// the frame's fingerprint otherwise. Two members configured differently
// (one with an extractor, one without) publish the same frame under two
// identities, and neither the sequence numbers nor the fingerprints of the
// records without one show the copy. The audit therefore also looks up the
// fingerprint of every sequenced record among the fingerprints of the
// records without a sequence number, which it keeps anyway (8 bytes each,
// sorted, each distinct one once): a hit is a frame published under both
// identities, and its copies without a sequence number are duplicates.
// This takes a second reading of the topic when it holds both kinds, and a
// third to list where the copies without a sequence number are.
//
// Given the members' sequence extractor (Options.Sequence), the audit reads
// the sequence number of a record without one from its value, as a member
// with the extractor would have, and audits it by that number: the copies
// are then duplicates by sequence number and the frames only a member
// without the extractor published fill their gaps.

// IdentityReport says how the records read identify their frames.
type IdentityReport struct {
	// WithSeq counts the data records that carry a feed sequence number;
	// FingerprintOnly those identified by their fingerprint.
	WithSeq         int64 `json:"with_seq"`
	FingerprintOnly int64 `json:"fingerprint_only"`
	// SeqRead counts, among the FingerprintOnly records, those whose
	// sequence number the audit read from the value with the members'
	// sequence extractor (Options.Sequence): they are audited by it.
	SeqRead int64 `json:"seq_read"`
	// Mixed is set when both kinds were read. That is normal when the
	// sequence extractor does not match every frame of the feed (sentences
	// without the field); see MembersDiffer.
	Mixed bool `json:"mixed"`
	// MembersDiffer is set when some member wrote records with a sequence
	// number and another wrote none: they are configured differently.
	MembersDiffer bool `json:"members_differ"`
	// TwoIdentities lists frames found both with and without a sequence
	// number (by fingerprint); TwoIdentityFrames counts them all and
	// TwoIdentityRecords their copies without a sequence number, which are
	// duplicates.
	TwoIdentities      []TwoIdentities `json:"two_identities"`
	TwoIdentityFrames  int64           `json:"two_identity_frames"`
	TwoIdentityRecords int64           `json:"two_identity_records"`
}

// TwoIdentities is one frame published both with and without a sequence
// number.
type TwoIdentities struct {
	Fingerprint string `json:"fingerprint"`
	// Seq is the sequence number of its first copy that carries one.
	Seq uint64 `json:"seq"`
	// WithSeq and FingerprintOnly are its copies of either kind, in offset
	// order (at most MaxListed each); FingerprintOnlyCount counts the
	// latter.
	WithSeq              []Occurrence `json:"with_seq"`
	FingerprintOnly      []Occurrence `json:"fingerprint_only"`
	FingerprintOnlyCount int64        `json:"fingerprint_only_count"`
}

// identityAudit is the auditor's part for identity kinds.
type identityAudit struct {
	// fps are the distinct fingerprints of the records without a sequence
	// number, sorted, and counts how many records carry each; hit marks
	// those found on a sequenced record.
	fps    []uint64
	counts []int32
	hit    []bool
	listed map[uint64]int // fingerprint -> index in TwoIdentities
}

// keepFingerprints keeps the sorted fingerprints of the records without a
// sequence number when the topic also has sequenced records, and reports
// whether the second reading must look for frames under two identities.
func (a *auditor) keepFingerprints(sorted []uint64) bool {
	id := &a.r.Identity
	if id.WithSeq == 0 || id.FingerprintOnly == 0 {
		return false
	}
	ia := &a.identity
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		ia.fps = append(ia.fps, sorted[i])
		ia.counts = append(ia.counts, int32(j-i))
		i = j
	}
	ia.hit = make([]bool, len(ia.fps))
	ia.listed = make(map[uint64]int)
	return true
}

// fingerprintOf is the fingerprint a record identifies its frame by, had
// it no sequence number.
func fingerprintOf(in *recordInfo, rec *kgo.Record) uint64 {
	if in.fpHeader {
		return in.fp
	}
	return ingest.Fingerprint(rec.Value)
}

// secondIdentity looks a sequenced record's fingerprint up among those of
// the records without a sequence number.
func (a *auditor) secondIdentity(in *recordInfo, rec *kgo.Record) {
	ia := &a.identity
	if !in.hasSeq || len(ia.fps) == 0 {
		return
	}
	fp := fingerprintOf(in, rec)
	k, found := slices.BinarySearch(ia.fps, fp)
	if !found {
		return
	}
	id := &a.r.Identity
	if !ia.hit[k] {
		ia.hit[k] = true
		id.TwoIdentityFrames++
		id.TwoIdentityRecords += int64(ia.counts[k])
		if len(id.TwoIdentities) >= a.max {
			a.r.Truncated = true
			return
		}
		ia.listed[fp] = len(id.TwoIdentities)
		id.TwoIdentities = append(id.TwoIdentities, TwoIdentities{
			Fingerprint: fmt.Sprintf("%016x", fp), Seq: in.seq, FingerprintOnlyCount: int64(ia.counts[k])})
	}
	if i, ok := ia.listed[fp]; ok {
		t := &id.TwoIdentities[i]
		if len(t.WithSeq) < a.max {
			t.WithSeq = append(t.WithSeq, in.occurrence(rec.Offset))
		}
	}
}

// needThird reports whether a third reading must list the copies without
// a sequence number of the frames found under two identities.
func (a *auditor) needThird() bool { return len(a.identity.listed) > 0 }

// third is the third reading: where the listed frames found under two
// identities have their copies without a sequence number.
func (a *auditor) third(rec *kgo.Record) {
	if rec.Attrs.IsControl() {
		return
	}
	in := a.parse(rec)
	if in.hasSeq {
		return
	}
	if i, ok := a.identity.listed[fingerprintOf(&in, rec)]; ok {
		t := &a.r.Identity.TwoIdentities[i]
		if len(t.FingerprintOnly) < a.max {
			t.FingerprintOnly = append(t.FingerprintOnly, in.occurrence(rec.Offset))
		}
	}
}

// finishIdentity gives the identity kinds their part of the verdict.
func (a *auditor) finishIdentity() {
	r := a.r
	id := &r.Identity
	id.Mixed = id.WithSeq > 0 && id.FingerprintOnly > 0
	var with, without []string
	for _, m := range r.Members {
		if m.Member == "" {
			continue // records without feedd headers: no member's setting
		}
		if m.WithSeq > 0 {
			with = append(with, m.Member)
		} else {
			without = append(without, m.Member)
		}
	}
	id.MembersDiffer = len(with) > 0 && len(without) > 0
	if s := &r.Sequenced; id.MembersDiffer && s.GapCount > 0 && a.sequence == nil {
		r.Notes = append(r.Notes, "records without a sequence number may hold frames of the gaps: give the audit "+
			"the members' sequence settings (--config with a sequence section) to read their numbers")
	}
	r.Problems = addProblem(r.Problems, id.TwoIdentityFrames > 0,
		"%d frame(s) published both with and without a feed sequence number: %d extra record(s)", id.TwoIdentityFrames, id.TwoIdentityRecords)
	if id.MembersDiffer {
		r.Notes = append(r.Notes, fmt.Sprintf("members identify frames differently: %s by feed sequence number, %s by fingerprint only; "+
			"their sequence settings differ (both members must be configured alike), so a frame both published is in the topic under two identities",
			strings.Join(with, ", "), strings.Join(without, ", ")))
	}
	slices.SortFunc(id.TwoIdentities, func(x, y TwoIdentities) int { return firstOffset(x) - firstOffset(y) })
	for i := range id.TwoIdentities {
		t := &id.TwoIdentities[i]
		t.WithSeq, t.FingerprintOnly = nonNil(t.WithSeq), nonNil(t.FingerprintOnly)
		if int64(len(t.FingerprintOnly)) < t.FingerprintOnlyCount {
			r.Truncated = true
		}
	}
	id.TwoIdentities = nonNil(id.TwoIdentities)
}

func firstOffset(t TwoIdentities) int {
	first := int64(1<<63 - 1)
	for _, o := range t.WithSeq {
		first = min(first, o.Offset)
	}
	for _, o := range t.FingerprintOnly {
		first = min(first, o.Offset)
	}
	return int(first)
}
