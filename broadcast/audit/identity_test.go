package audit

import (
	"strings"
	"testing"

	"github.com/feedd/feedd/ingest"
)

// TestTwoIdentities: member a has a sequence extractor, member b, which
// takes over, has none, and re-publishes frames a had committed: the copies
// carry only a fingerprint, yet they are duplicates.
func TestTwoIdentities(t *testing.T) {
	r := newRig(t)
	r.txn(true, seqs("a", 1, 20)...) // offsets 0-19, marker 20
	var b []rec
	for s := uint64(15); s <= 25; s++ {
		b = append(b, rec{seq: s, noSeq: true, member: "b"})
	}
	r.txn(true, b...) // offsets 21-31: 15-20 again, then 21-25
	// A copy without a sequence number before its sequenced copy counts
	// too, and twice is two extra records.
	r.txn(true, rec{seq: 26, noSeq: true, member: "b"}, rec{seq: 26, noSeq: true, member: "b"}, rec{seq: 26, member: "a"}) // 33-35

	rep := r.audit(Options{MaxListed: 3})
	s, id := rep.Sequenced, rep.Identity
	if s.GapCount != 1 || s.DuplicatedSeqs != 0 {
		t.Fatalf("sequenced %+v", s)
	}
	if !id.Mixed || !id.MembersDiffer || id.WithSeq != 21 || id.FingerprintOnly != 13 ||
		id.TwoIdentityFrames != 7 || id.TwoIdentityRecords != 8 || len(id.TwoIdentities) != 3 {
		t.Fatalf("identity %+v", id)
	}
	first := id.TwoIdentities[0]
	if first.Seq != 15 || len(first.WithSeq) != 1 || first.WithSeq[0].Offset != 14 || first.WithSeq[0].Member != "a" ||
		len(first.FingerprintOnly) != 1 || first.FingerprintOnly[0].Offset != 21 || first.FingerprintOnly[0].Member != "b" {
		t.Fatalf("first frame under two identities: %+v", first)
	}
	if rep.Clean || !slicesContain(rep.Problems, "7 frame(s) published both with and without a feed sequence number: 8 extra record(s)") {
		t.Fatalf("problems %q", rep.Problems)
	}
	if !rep.Truncated || !strings.Contains(strings.Join(rep.Notes, "\n"), "members identify frames differently: a by feed sequence number, b by fingerprint only") {
		t.Fatalf("truncated %v, notes %q", rep.Truncated, rep.Notes)
	}
	if m := rep.Members; len(m) != 2 || m[0].WithSeq != 21 || m[0].FingerprintOnly != 0 || m[1].WithSeq != 0 || m[1].FingerprintOnly != 13 {
		t.Fatalf("members %+v", m)
	}

	// Listing everything finds the copy that came first.
	rep = r.audit(Options{})
	var last TwoIdentities
	for _, x := range rep.Identity.TwoIdentities {
		if x.Seq == 26 {
			last = x
		}
	}
	if len(rep.Identity.TwoIdentities) != 7 || last.FingerprintOnlyCount != 2 || len(last.FingerprintOnly) != 2 ||
		last.FingerprintOnly[0].Offset != 33 || last.WithSeq[0].Offset != 35 {
		t.Fatalf("two identities %+v", rep.Identity.TwoIdentities)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "records without a sequence number may hold frames of the gaps") {
		t.Fatalf("notes %q", rep.Notes)
	}

	// With the members' sequence extractor, the audit reads the numbers b
	// did not: the copies are duplicates by number, and 21-25 no gap.
	x, err := ingest.NewSequenceExtractor(ingest.SequenceConfig{NMEAField: 1})
	if err != nil {
		t.Fatal(err)
	}
	rep = r.audit(Options{Sequence: x})
	s, id = rep.Sequenced, rep.Identity
	if s.GapCount != 0 || s.DuplicatedSeqs != 7 || s.DuplicateRecords != 8 || s.Records != 34 || s.Last != 26 ||
		id.SeqRead != 13 || id.FingerprintOnly != 13 || id.TwoIdentityFrames != 0 || rep.Unsequenced.Records != 0 {
		t.Fatalf("with the extractor: sequenced %+v, identity %+v", s, id)
	}
	if rep.Clean || !id.MembersDiffer {
		t.Fatalf("clean %v, identity %+v", rep.Clean, id)
	}
}

// TestMixedIdentitiesOfOneMember: a sequence extractor that matches only
// some sentences gives a member records of both kinds; that alone is no
// problem.
func TestMixedIdentitiesOfOneMember(t *testing.T) {
	r := newRig(t)
	var recs []rec
	for s := uint64(1); s <= 10; s++ {
		recs = append(recs, rec{seq: s, member: "a"}, rec{noSeq: true, member: "a", value: "$GPGSA,A,1*32"})
	}
	r.txn(true, recs...)
	rep := r.audit(Options{AllowRepeatedFrames: true})
	id := rep.Identity
	if !rep.Clean || !id.Mixed || id.MembersDiffer || id.TwoIdentityFrames != 0 || id.WithSeq != 10 || id.FingerprintOnly != 10 {
		t.Fatalf("clean %v (%q), identity %+v", rep.Clean, rep.Problems, id)
	}
}

func slicesContain(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
