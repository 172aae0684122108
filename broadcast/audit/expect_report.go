package audit

import (
	"fmt"
	"slices"
	"strconv"
)

// report builds the report from the alignment and the moves.
func (c *comparison) report() *ExpectReport {
	r := &ExpectReport{Span: Span{End: c.o.End}, Feed: c.o.Feed}
	t := &r.Totals
	t.Expected, t.InTopic = int64(len(c.a)), int64(len(c.b))
	for _, x := range c.topic {
		if x.PossibleDuplicate {
			t.MarkedPossible++
		}
	}
	for i := range c.a {
		if c.ma[i] >= 0 {
			t.Matched++
		}
	}
	atStart, atEnd := c.reportMissing(r)
	c.reportMoves(r)
	c.reportExtra(r)
	c.verdict(r, atStart, atEnd)
	return r
}

// due returns the offsets of the records between which expected frames
// [s, e) were due: those matched to the nearest matched frames before and
// after them (-1 and the end offset: none).
func (c *comparison) due(s, e int) (after, before int64) {
	after, before = -1, c.o.End
	if p := c.prevB[s]; p >= 0 {
		after = c.topic[p].Offset
	}
	if e < len(c.a) && int(c.nextB[e]) < len(c.b) {
		before = c.topic[c.nextB[e]].Offset
	}
	return after, before
}

// reportMissing lists the runs of missing frames, and says whether one
// opens or closes the expected feed.
func (c *comparison) reportMissing(r *ExpectReport) (atStart, atEnd bool) {
	missing := func(i int) bool { return c.ma[i] < 0 && c.moveA[i] < 0 }
	for s, e := range runs(len(c.a), missing) {
		r.Totals.Missing += int64(e - s)
		r.MissingRuns++
		run := MissingRun{FirstIndex: c.exp[s].Index, LastIndex: c.exp[e-1].Index, Count: int64(e - s)}
		run.AfterOffset, run.BeforeOffset = c.due(s, e)
		run.AtStart = c.prevB[s] < 0
		run.AtEnd = e == len(c.a) || int(c.nextB[e]) == len(c.b)
		atStart, atEnd = atStart || run.AtStart, atEnd || run.AtEnd
		if len(r.Missing) >= c.o.MaxListed {
			r.Truncated = true
			continue
		}
		run.Frames = c.briefs(s, e, &r.Truncated)
		r.Missing = append(r.Missing, run)
	}
	return atStart, atEnd
}

// reportMoves lists the moves in feed order.
func (c *comparison) reportMoves(r *ExpectReport) {
	moves := slices.Clone(c.moves)
	slices.SortFunc(moves, func(x, y moveSpan) int { return x.a - y.a })
	r.MovedRuns = int64(len(moves))
	for _, m := range moves {
		r.Totals.Reordered += int64(m.n)
		if len(r.Moved) >= c.o.MaxListed {
			r.Truncated = true
			continue
		}
		mv := Move{
			FirstIndex: c.exp[m.a].Index, LastIndex: c.exp[m.a+m.n-1].Index, Count: int64(m.n),
			FirstOffset: c.topic[m.b].Offset, LastOffset: c.topic[m.b+m.n-1].Offset,
		}
		mv.AfterOffset, mv.BeforeOffset = c.due(m.a, m.a+m.n)
		if ins := c.insertionB(m.a); m.b >= ins {
			mv.Shift = int64(m.b - ins)
		} else {
			mv.Shift = -int64(ins - (m.b + m.n))
		}
		for k := range m.n {
			if c.topic[m.b+k].PossibleDuplicate {
				mv.MarkedPossible++
			}
		}
		mv.Frames = c.briefs(m.a, m.a+m.n, &r.Truncated)
		r.Moved = append(r.Moved, mv)
	}
}

// reportExtra lists the runs of extra records, each a duplicate or
// foreign.
func (c *comparison) reportExtra(r *ExpectReport) {
	t := &r.Totals
	extra := func(j int) bool { return c.mb[j] < 0 && c.moveB[j] < 0 }
	copies := c.copiesOfExtras(extra)
	for s, e := range runs(len(c.b), extra) {
		r.ExtraRuns++
		listed := len(r.Extra) < c.o.MaxListed
		if !listed {
			r.Truncated = true
		}
		run := ExtraRun{FirstOffset: c.topic[s].Offset, LastOffset: c.topic[e-1].Offset, Count: int64(e - s), AfterIndex: -1}
		if i := c.insertionA(s); i > 0 {
			run.AfterIndex = int64(c.exp[i-1].Index)
		}
		for j := s; j < e; j++ {
			rec := c.extraRecord(j, copies)
			switch {
			case rec.Kind == KindForeign:
				t.Foreign++
			case rec.MarkedPossible:
				t.Duplicates++
				t.DuplicatesMarked++
			default:
				t.Duplicates++
				t.DuplicatesUnmarked++
			}
			if !listed {
				continue
			}
			if len(run.Records) >= c.o.MaxFramesPerRun {
				r.Truncated = true
				continue
			}
			run.Records = append(run.Records, rec)
		}
		if listed {
			r.Extra = append(r.Extra, run)
		}
	}
}

// extraRecord describes extra record j: a duplicate of the nearest copy of
// its frame that is not extra, or foreign.
func (c *comparison) extraRecord(j int, copies map[int32][]int) ExtraRecord {
	x := &c.topic[j]
	rec := ExtraRecord{Offset: x.Offset, Member: x.Member, MarkedPossible: x.PossibleDuplicate, Kind: KindForeign, Size: len(x.Value)}
	rec.Data, rec.Cut = abbreviate(x.Value)
	p, ok := nearest(copies[c.b[j]], j, func(int) bool { return true })
	if !ok {
		return rec
	}
	rec.Kind = KindDuplicate
	i := c.mb[p]
	if i < 0 { // the copy is moved
		m := c.moves[c.moveB[p]]
		i = int32(m.a + p - m.b)
	}
	rec.DuplicateOf = &FrameAt{Index: c.exp[i].Index, Offset: c.topic[p].Offset}
	return rec
}

// copiesOfExtras lists, for the frame id of every extra record, the topic
// positions of its copies that are not extra: matched or moved.
func (c *comparison) copiesOfExtras(extra func(int) bool) map[int32][]int {
	want := make(map[int32][]int)
	for j, id := range c.b {
		if extra(j) {
			want[id] = nil
		}
	}
	for j, id := range c.b {
		if ps, ok := want[id]; ok && !extra(j) {
			want[id] = append(ps, j)
		}
	}
	return want
}

func (c *comparison) briefs(s, e int, truncated *bool) []FrameBrief {
	var out []FrameBrief
	for i := s; i < e; i++ {
		if len(out) >= c.o.MaxFramesPerRun {
			*truncated = true
			break
		}
		f := &c.exp[i]
		data, cut := abbreviate(f.Data)
		out = append(out, FrameBrief{Index: f.Index, Data: data, Cut: cut, Size: len(f.Data), Ports: nonNil(f.Fates)})
	}
	return nonNil(out)
}

func (c *comparison) verdict(r *ExpectReport, atStart, atEnd bool) {
	t := &r.Totals
	r.Problems = addProblem(r.Problems, t.Missing > 0, "%d expected frame(s) missing in %d run(s)", t.Missing, r.MissingRuns)
	r.Problems = addProblem(r.Problems, t.Reordered > 0, "%d frame(s) out of place in %d move(s)", t.Reordered, r.MovedRuns)
	r.Problems = addProblem(r.Problems, t.DuplicatesUnmarked > 0, "%d duplicate record(s) not marked possible", t.DuplicatesUnmarked)
	r.Problems = addProblem(r.Problems, t.Foreign > 0, "%d foreign record(s): no expected frame has their bytes", t.Foreign)
	r.Clean = len(r.Problems) == 0
	if t.DuplicatesMarked > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d duplicate(s) marked possible (dup): a member published them "+
			"without being sure they were not in the topic yet; allowed", t.DuplicatesMarked))
	}
	if c.weighedNear > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the topic and the feed differ by %d frames along a stretch where the frames repeat "+
			"in step with the differences: too many equally minimal alignments to weigh them all, so records marked possible "+
			"were preferred as the extra ones only near each difference; a duplicate reported as not marked may have a marked "+
			"copy elsewhere that could be the extra one instead", c.weighedNear))
	}
	if atStart {
		r.Notes = append(r.Notes, "frames are missing before the first expected frame found: "+
			"if the audit started after the feed (--from, --start end) or retention deleted them, that is expected")
	}
	if atEnd {
		r.Notes = append(r.Notes, "frames are missing after the last expected frame found: "+
			"the members may not have committed them yet (audit again once the feed has stopped)")
	}
	if r.Feed.Undecodable > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d delivered frame(s) yield no frame with framing %s: the members drop them too, "+
			"so the topic does not owe them; if that is many, the framing does not match the feed", r.Feed.Undecodable, r.Feed.Framing))
	}
	r.Problems, r.Notes = nonNil(r.Problems), nonNil(r.Notes)
	r.Missing, r.Extra, r.Moved = nonNil(r.Missing), nonNil(r.Extra), nonNil(r.Moved)
	for i := range r.Extra {
		r.Extra[i].Records = nonNil(r.Extra[i].Records)
	}
}

// abbreviatedBytes is how much of a frame a report shows.
const abbreviatedBytes = 64

// abbreviate returns the start of s escaped as a Go string literal without
// its quotes, and whether it was cut.
func abbreviate(s string) (string, bool) {
	cut := len(s) > abbreviatedBytes
	if cut {
		s = s[:abbreviatedBytes]
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1], cut
}
