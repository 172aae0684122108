package audit

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the comparison for a person: the feed and the topic
// read, the totals, every listed missing run, extra run and move, and the
// verdict on the last line.
func (r *ExpectReport) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }

	f := &r.Feed
	source := f.Source
	if source == "" {
		source = "the record"
	}
	p("feed: %s (feed %s, seed %d, %d ports, started %s): %d frames, %d received intact by no port, %d undecodable with framing %s: %d expected",
		source, orUnknown(f.Generator), f.Seed, f.Ports, stamp(f.Started), f.Frames, f.Undelivered, f.Undecodable, f.Framing, r.Totals.Expected)
	if r.Topic != "" {
		p("%s: %s, %s", r.Span.describe(), plural(r.Records, "record"), plural(r.ControlRecords, "transaction marker"))
	}
	t := &r.Totals
	p("totals: %d expected, %d in the topic: %d matched, %d missing, %s (%d marked possible, %d not marked), %d reordered, %d foreign",
		t.Expected, t.InTopic, t.Matched, t.Missing, plural(t.Duplicates, "duplicate"), t.DuplicatesMarked, t.DuplicatesUnmarked, t.Reordered, t.Foreign)

	if r.MissingRuns == 0 {
		p("missing: none")
	} else {
		p("missing: %s in %s", plural(t.Missing, "frame"), plural(r.MissingRuns, "run"))
		for _, m := range r.Missing {
			p("  feed %s (%s), %s:", indexes(m.FirstIndex, m.LastIndex), plural(m.Count, "frame"), r.between(m.AfterOffset, m.BeforeOffset))
			frameLines(b, m.Frames, m.Count)
		}
		more(b, len(r.Missing), r.MissingRuns)
	}

	extra := t.Duplicates + t.Foreign
	if r.ExtraRuns == 0 {
		p("extra: none")
	} else {
		p("extra: %s in %s", plural(extra, "record"), plural(r.ExtraRuns, "run"))
		for _, x := range r.Extra {
			after := "before the first expected frame"
			if x.AfterIndex >= 0 {
				after = fmt.Sprintf("after feed #%d", x.AfterIndex)
			}
			p("  %s (%s), %s:", offsets(x.FirstOffset, x.LastOffset), plural(x.Count, "record"), after)
			for _, rec := range x.Records {
				what := "foreign"
				if rec.Kind == KindDuplicate {
					what = fmt.Sprintf("duplicate of #%d (offset %d)", rec.DuplicateOf.Index, rec.DuplicateOf.Offset)
				}
				if rec.MarkedPossible {
					what += ", marked possible"
				} else {
					what += ", not marked"
				}
				p("    offset %d %s, from %s: %s", rec.Offset, what, name(rec.Member), quoted(rec.Data, rec.Cut, rec.Size))
			}
			if n := x.Count - int64(len(x.Records)); n > 0 {
				p("    ... and %s more", plural(n, "record"))
			}
		}
		more(b, len(r.Extra), r.ExtraRuns)
	}

	if r.MovedRuns == 0 {
		p("reordered: none")
	} else {
		p("reordered: %s in %s", plural(t.Reordered, "frame"), plural(r.MovedRuns, "move"))
		for _, m := range r.Moved {
			dir := plural(m.Shift, "record") + " later"
			if m.Shift < 0 {
				dir = plural(-m.Shift, "record") + " earlier"
			}
			marked := ""
			if m.MarkedPossible > 0 {
				marked = fmt.Sprintf(", %d marked possible", m.MarkedPossible)
			}
			p("  feed %s (%s), %s, found at %s (%s%s):",
				indexes(m.FirstIndex, m.LastIndex), plural(m.Count, "frame"), r.between(m.AfterOffset, m.BeforeOffset),
				offsets(m.FirstOffset, m.LastOffset), dir, marked)
			frameLines(b, m.Frames, m.Count)
		}
		more(b, len(r.Moved), r.MovedRuns)
	}
	writeEnd(p, r.Partitions, r.Truncated, r.Notes, r.Clean, "every expected frame is in the topic once and in feed order", r.Problems)
	return b.Flush()
}

// between says where frames belong, from the records around them.
func (r *ExpectReport) between(after, before int64) string {
	switch {
	case after < 0 && before >= r.End:
		return "due anywhere (the topic holds no expected frame)"
	case after < 0:
		return fmt.Sprintf("due before offset %d", before)
	case before >= r.End:
		return fmt.Sprintf("due after offset %d", after)
	}
	return fmt.Sprintf("due between offsets %d and %d", after, before)
}

func frameLines(b *bufio.Writer, frames []FrameBrief, count int64) {
	for _, f := range frames {
		ports := make([]string, len(f.Ports))
		for i, fate := range f.Ports {
			ports[i] = fmt.Sprintf("port %d %s", i, fate)
		}
		fmt.Fprintf(b, "    #%d %s (%s)\n", f.Index, quoted(f.Data, f.Cut, f.Size), strings.Join(ports, ", "))
	}
	if n := count - int64(len(frames)); n > 0 {
		fmt.Fprintf(b, "    ... and %s more\n", plural(n, "frame"))
	}
}

// quoted shows an abbreviated frame.
func quoted(data string, cut bool, size int) string {
	if cut {
		return fmt.Sprintf("\"%s\"... (%d bytes)", data, size)
	}
	return "\"" + data + "\""
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func indexes(first, last uint64) string {
	if first == last {
		return fmt.Sprintf("#%d", first)
	}
	return fmt.Sprintf("#%d to #%d", first, last)
}

func offsets(first, last int64) string {
	if first == last {
		return fmt.Sprintf("offset %d", first)
	}
	return fmt.Sprintf("offsets %d to %d", first, last)
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
