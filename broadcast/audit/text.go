package audit

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the report for a person: what was read, the sequence
// numbers with every listed gap, duplicate and out-of-order point, the
// records without a sequence number, the members and handovers, and the
// verdict on the last line.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }

	p("%s", r.Span.describe())
	if r.Records == 0 {
		p("records: none committed (%d transaction markers)", r.ControlRecords)
	} else {
		p("records: %d committed, %d transaction markers; produced %s to %s",
			r.Records, r.ControlRecords, stamp(r.FirstTimestamp), stamp(r.LastTimestamp))
	}

	writeSequenced(p, b, &r.Sequenced)
	writeUnsequenced(p, b, r)
	if r.FingerprintMismatches > 0 {
		p("fingerprint mismatches: %d records whose header's fingerprint is not that of their value", r.FingerprintMismatches)
	}

	if len(r.Members) > 0 {
		parts := make([]string, len(r.Members))
		for i, m := range r.Members {
			kinds := ""
			if r.Identity.Mixed {
				kinds = fmt.Sprintf(", %d with a feed sequence number, %d fingerprint only", m.WithSeq, m.FingerprintOnly)
			}
			parts[i] = fmt.Sprintf("%s %d (offsets %d to %d%s)", name(m.Member), m.Records, m.FirstOffset, m.LastOffset, kinds)
		}
		p("members: %s", strings.Join(parts, "; "))
	}
	if r.HandoverCount > 0 {
		p("handovers: %d", r.HandoverCount)
		for _, h := range r.Handovers {
			seq := ""
			if h.HasSeq {
				seq = fmt.Sprintf(" at seq %d", h.Seq)
			}
			p("  offset %d: %s -> %s%s", h.Offset, name(h.From), name(h.To), seq)
		}
		more(b, len(r.Handovers), r.HandoverCount)
	}
	if r.Followed {
		if l := r.Latency; l.Count == 0 {
			p("end-to-end latency: no record was committed while the audit followed the topic")
		} else {
			p("end-to-end latency of %d records committed while followed: p50 %s, p99 %s, p99.9 %s, max %s",
				l.Count, seconds(l.P50), seconds(l.P99), seconds(l.P999), seconds(l.Max))
		}
	}
	writeEnd(p, r.Partitions, r.Truncated, r.Notes, r.Clean, "no gap, no duplicate, nothing out of order", r.Problems)
	return b.Flush()
}

// writeSequenced writes what the audit found of the records that carry a
// feed sequence number: gaps, duplicates, disorder.
func writeSequenced(p func(string, ...any), b *bufio.Writer, s *SeqReport) {
	if s.Records == 0 {
		p("sequenced: none")
	} else {
		p("sequenced: %d records, %d distinct sequence numbers, %d to %d", s.Records, s.Distinct, s.First, s.Last)
		if s.GapCount == 0 {
			p("  gaps: none")
		} else {
			p("  gaps: %d, %d sequence numbers missing", s.GapCount, s.Missing)
			for _, g := range s.Gaps {
				p("    [%d, %d] %d missing: after %s, before %s", g.From, g.To, g.Size,
					occ(g.Before, g.From-1), occ(g.After, g.To+1))
			}
			more(b, len(s.Gaps), s.GapCount)
		}
		if s.DuplicatedSeqs == 0 {
			p("  duplicates: none")
		} else {
			p("  duplicates: %d sequence numbers, %d extra records", s.DuplicatedSeqs, s.DuplicateRecords)
			for _, d := range s.Duplicates {
				p("    seq %d, %d copies: %s", d.Seq, d.Count, copies(d))
			}
			more(b, len(s.Duplicates), s.DuplicatedSeqs)
		}
		if s.OutOfOrderCount == 0 {
			p("  out of order: none")
		} else {
			p("  out of order: %d records", s.OutOfOrderCount)
			for _, d := range s.OutOfOrder {
				p("    seq %d at offset %d (%s) after seq %d at offset %d (%s)",
					d.Seq, d.At.Offset, name(d.At.Member), d.AfterSeq, d.After.Offset, name(d.After.Member))
			}
			more(b, len(s.OutOfOrder), s.OutOfOrderCount)
		}
		if s.BadHeaders > 0 {
			p("  unreadable feed sequence numbers: %d (audited by fingerprint)", s.BadHeaders)
		}
	}
}

// writeUnsequenced writes what the audit found of the records known by
// fingerprint only, and of records under two identities.
func writeUnsequenced(p func(string, ...any), b *bufio.Writer, r *Report) {
	u := &r.Unsequenced
	if u.Records == 0 {
		p("unsequenced: none")
	} else {
		p("unsequenced: %d records, %d distinct fingerprints, %d without feedd headers", u.Records, u.Distinct, u.Foreign)
		if u.RepeatedFingerprints == 0 {
			p("  repeated fingerprints: none")
		} else {
			allowed := ""
			if r.RepeatedFramesAllowed {
				allowed = " (allowed)"
			}
			p("  repeated fingerprints: %d, %d extra records%s", u.RepeatedFingerprints, u.RepeatedRecords, allowed)
			for _, d := range u.Repeated {
				p("    %s, %d copies: %s", d.Fingerprint, d.Count, copies(d))
			}
			more(b, len(u.Repeated), u.RepeatedFingerprints)
		}
	}
	if id := &r.Identity; id.Mixed {
		read := ""
		if id.SeqRead > 0 {
			read = fmt.Sprintf(" (%d of them audited by the sequence number the extractor reads in them)", id.SeqRead)
		}
		p("identity: mixed: %d records carry a feed sequence number (seq=), %d only a fingerprint%s",
			id.WithSeq, id.FingerprintOnly, read)
		if id.TwoIdentityFrames == 0 {
			p("  frames under two identities: none")
		} else {
			p("  frames under two identities: %d, %d extra records without a sequence number", id.TwoIdentityFrames, id.TwoIdentityRecords)
			for _, t := range id.TwoIdentities {
				p("    %s, seq %d: with it at %s; fingerprint only at %s", t.Fingerprint, t.Seq,
					occurrences(t.WithSeq, -1), occurrences(t.FingerprintOnly, t.FingerprintOnlyCount))
			}
			more(b, len(id.TwoIdentities), id.TwoIdentityFrames)
		}
	}
}

// writeEnd writes what every text report ends with, so that the reports
// end alike: the warnings and notes that qualify the verdict, then the
// verdict on the last line; clean says what a clean verdict means for the
// report.
func writeEnd(p func(format string, args ...any), partitions int, truncated bool, notes []string, ok bool, clean string, problems []string) {
	if partitions > 1 {
		p("warning: the topic has %d partitions; a feedd pipeline's topic has one, and only partition 0 was read", partitions)
	}
	if truncated {
		p("note: some lists are cut short; the counts are exact (raise --max-listed or use --json)")
	}
	for _, n := range notes {
		p("note: %s", n)
	}
	if ok {
		p("verdict: clean: %s", clean)
	} else {
		p("verdict: NOT CLEAN: %s", strings.Join(problems, "; "))
	}
}

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(10 * time.Microsecond).String()
}

func more(b *bufio.Writer, listed int, total int64) {
	if int64(listed) < total {
		fmt.Fprintf(b, "    ... and %d more\n", total-int64(listed))
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func name(member string) string {
	if member == "" {
		return "(no member)"
	}
	return member
}

// occ describes the record holding seq around a gap.
func occ(o Occurrence, seq uint64) string {
	if o.Offset < 0 {
		return fmt.Sprintf("seq %d", seq)
	}
	return fmt.Sprintf("seq %d at offset %d (%s, read %s)", seq, o.Offset, name(o.Member), stamp(o.ReceivedAt))
}

// occurrences lists records by offset and member; count, when above the
// number listed, says more exist.
func occurrences(os []Occurrence, count int64) string {
	parts := make([]string, len(os))
	for i, o := range os {
		parts[i] = fmt.Sprintf("offset %d (%s)", o.Offset, name(o.Member))
	}
	s := strings.Join(parts, ", ")
	if count > int64(len(os)) {
		s += ", ..."
	}
	return s
}

func copies(d Duplicate) string {
	parts := make([]string, len(d.Copies))
	for i, c := range d.Copies {
		parts[i] = fmt.Sprintf("offset %d (%s)", c.Offset, name(c.Member))
	}
	s := strings.Join(parts, ", ")
	if int64(len(d.Copies)) < d.Count {
		s += ", ..."
	}
	return s
}
