package audit

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// feedOf returns expected frames with indexes 0, 1, ... and the given
// values, delivered to both of two ports.
func feedOf(values ...string) []ExpectedFrame {
	out := make([]ExpectedFrame, len(values))
	for i, v := range values {
		out[i] = ExpectedFrame{Index: uint64(i), Data: v, Fates: []string{"delivered", "delivered"}}
	}
	return out
}

// topicOf returns records at offsets 0, 1, ...; a value ending in "*" is
// marked possible (the "*" is not part of it).
func topicOf(values ...string) []TopicRecord {
	out := make([]TopicRecord, len(values))
	for j, v := range values {
		v, marked := strings.CutSuffix(v, "*")
		out[j] = TopicRecord{Offset: int64(j), Value: v, Member: "a", PossibleDuplicate: marked}
	}
	return out
}

func compare(t *testing.T, feed []ExpectedFrame, topic []TopicRecord) *ExpectReport {
	t.Helper()
	end := int64(0)
	if len(topic) > 0 {
		end = topic[len(topic)-1].Offset + 1
	}
	r, err := Compare(feed, topic, ExpectOptions{End: end, MaxFramesPerRun: 1 << 30, MaxListed: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	checkExpectReport(t, feed, topic, r)
	return r
}

func TestCompareTable(t *testing.T) {
	type missing struct {
		first, last   uint64
		after, before int64
	}
	type extra struct {
		first, last int64
		kinds       string // one letter per record: d duplicate, f foreign
	}
	type moved struct {
		first, last   uint64
		at            int64
		shift         int64
		after, before int64
	}
	for _, tc := range []struct {
		name    string
		feed    []string
		topic   []string
		missing []missing
		extra   []extra
		moved   []moved
		clean   bool
	}{
		{name: "identical", feed: []string{"A", "B", "A", "B"}, topic: []string{"A", "B", "A", "B"}, clean: true},
		{name: "empty topic", feed: []string{"A", "B"}, topic: nil,
			missing: []missing{{0, 1, -1, 0}}},
		{name: "one lost in a repeated cycle", feed: []string{"A", "B", "C", "A", "B", "C"}, topic: []string{"A", "B", "C", "A", "C"},
			missing: []missing{{4, 4, 3, 4}}},
		{name: "lost at the end", feed: []string{"A", "B", "C"}, topic: []string{"A", "B"},
			missing: []missing{{2, 2, 1, 2}}},
		{name: "takeover re-publishes marked", feed: []string{"A", "B", "C", "D"}, topic: []string{"A", "B", "C", "B*", "C*", "D"},
			extra: []extra{{3, 4, "dd"}}, clean: true},
		{name: "takeover re-publishes unmarked", feed: []string{"A", "B", "C", "D"}, topic: []string{"A", "B", "C", "B", "C", "D"},
			extra: []extra{{3, 4, "dd"}}},
		{name: "the marked copy is the extra one", feed: []string{"A", "A", "A", "A"}, topic: []string{"A", "A", "A*", "A", "A"},
			extra: []extra{{2, 2, "d"}}, clean: true},
		{name: "otherwise the later copy", feed: []string{"A", "A"}, topic: []string{"A", "A", "A"},
			extra: []extra{{2, 2, "d"}}},
		{name: "foreign", feed: []string{"A", "B"}, topic: []string{"A", "X*", "B"},
			extra: []extra{{1, 1, "f"}}},
		{name: "moved later", feed: []string{"A", "B", "C", "D", "E", "F"}, topic: []string{"A", "D", "E", "B", "C", "F"},
			moved: []moved{{first: 1, last: 2, at: 3, shift: 2, after: 0, before: 1}}},
		{name: "moved earlier", feed: []string{"A", "B", "C", "D", "E", "F", "G"}, topic: []string{"A", "F", "B", "C", "D", "E", "G"},
			moved: []moved{{first: 5, last: 5, at: 1, shift: -4, after: 5, before: 6}}},
		{name: "lost and duplicated", feed: []string{"A", "B", "C", "D", "E"}, topic: []string{"A", "C", "D", "D", "E"},
			missing: []missing{{1, 1, 0, 1}}, extra: []extra{{3, 3, "d"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := compare(t, feedOf(tc.feed...), topicOf(tc.topic...))
			var gotMissing []missing
			for _, m := range r.Missing {
				gotMissing = append(gotMissing, missing{m.FirstIndex, m.LastIndex, m.AfterOffset, m.BeforeOffset})
			}
			var gotExtra []extra
			for _, x := range r.Extra {
				var kinds strings.Builder
				for _, rec := range x.Records {
					kinds.WriteByte(rec.Kind[0])
				}
				gotExtra = append(gotExtra, extra{x.FirstOffset, x.LastOffset, kinds.String()})
			}
			var gotMoved []moved
			for _, m := range r.Moved {
				gotMoved = append(gotMoved, moved{m.FirstIndex, m.LastIndex, m.FirstOffset, m.Shift, m.AfterOffset, m.BeforeOffset})
			}
			if !slices.Equal(gotMissing, tc.missing) || !slices.Equal(gotExtra, tc.extra) || !slices.Equal(gotMoved, tc.moved) || r.Clean != tc.clean {
				t.Fatalf("missing %+v (want %+v)\nextra %+v (want %+v)\nmoved %+v (want %+v)\nclean %v, problems %q",
					gotMissing, tc.missing, gotExtra, tc.extra, gotMoved, tc.moved, r.Clean, r.Problems)
			}
		})
	}
}

// TestCompareLostWhereAPortLostIt: among equal frames, the missing one is
// placed where a port did not receive it.
func TestCompareLostWhereAPortLostIt(t *testing.T) {
	feed := feedOf("A", "A", "A", "A")
	feed[2].Fates = []string{"delivered", "dropped"}
	r := compare(t, feed, topicOf("A", "A", "A"))
	if len(r.Missing) != 1 || r.Missing[0].FirstIndex != 2 || r.Missing[0].Frames[0].Ports[1] != "dropped" {
		t.Fatalf("missing %+v", r.Missing)
	}
}

func TestCompareTooDifferent(t *testing.T) {
	feed := make([]string, 100)
	topic := make([]string, 100)
	for i := range feed {
		feed[i], topic[i] = fmt.Sprint("F", i), fmt.Sprint("T", i)
	}
	_, err := Compare(feedOf(feed...), topicOf(topic...), ExpectOptions{MaxDifferences: 50})
	if err == nil || !strings.Contains(err.Error(), "more than 50 frames") {
		t.Fatalf("err = %v", err)
	}
}

// checkExpectReport checks a report against its inputs: the counts add
// up; the expected frames minus the missing and moved ones are, in order,
// the records minus the extra and moved ones (applying the report's edits
// to the feed gives the topic); every listed record and frame is what the
// inputs hold there; duplicates repeat a record kept elsewhere and
// foreign records no expected frame. The report must list everything.
func checkExpectReport(t *testing.T, feed []ExpectedFrame, topic []TopicRecord, r *ExpectReport) {
	t.Helper()
	tot := r.Totals
	if tot.Expected != int64(len(feed)) || tot.InTopic != int64(len(topic)) ||
		tot.Expected != tot.Matched+tot.Missing+tot.Reordered ||
		tot.InTopic != tot.Matched+tot.Reordered+tot.Duplicates+tot.Foreign ||
		tot.Duplicates != tot.DuplicatesMarked+tot.DuplicatesUnmarked {
		t.Fatalf("totals do not add up: %+v", tot)
	}
	if r.Truncated {
		t.Fatal("the report is truncated")
	}
	byIndex := make(map[uint64]int)
	for i, f := range feed {
		byIndex[f.Index] = i
	}
	byOffset := make(map[int64]int)
	for j, x := range topic {
		byOffset[x.Offset] = j
	}
	inFeed := make(map[string]bool)
	for _, f := range feed {
		inFeed[f.Data] = true
	}
	droppedFeed := make([]bool, len(feed))
	droppedTopic := make([]bool, len(topic))
	drop := func(marks []bool, i int, what string) {
		if marks[i] {
			t.Fatalf("%s %d reported twice", what, i)
		}
		marks[i] = true
	}
	frames := func(fs []FrameBrief, first int, n int64) {
		if int64(len(fs)) != n {
			t.Fatalf("%d frames listed of %d", len(fs), n)
		}
		for k, f := range fs {
			want, _ := abbreviate(feed[first+k].Data)
			if f.Index != feed[first+k].Index || f.Data != want {
				t.Fatalf("frame %d listed as %+v, is %+v", first+k, f, feed[first+k])
			}
		}
	}
	var missing, moved int64
	for _, m := range r.Missing {
		s := byIndex[m.FirstIndex]
		if e := byIndex[m.LastIndex]; int64(e-s+1) != m.Count {
			t.Fatalf("missing run %+v: count", m)
		}
		frames(m.Frames, s, m.Count)
		for i := s; i < s+int(m.Count); i++ {
			drop(droppedFeed, i, "frame")
		}
		missing += m.Count
	}
	for _, m := range r.Moved {
		s, p := byIndex[m.FirstIndex], byOffset[m.FirstOffset]
		frames(m.Frames, s, m.Count)
		for k := range int(m.Count) {
			drop(droppedFeed, s+k, "frame")
			drop(droppedTopic, p+k, "record")
			if feed[s+k].Data != topic[p+k].Value {
				t.Fatalf("move %+v: frame %d is not record %d", m, s+k, p+k)
			}
		}
		moved += m.Count
	}
	var dups, foreign int64
	var extras []int
	for _, x := range r.Extra {
		s := byOffset[x.FirstOffset]
		if int64(len(x.Records)) != x.Count || byOffset[x.LastOffset]-s+1 != int(x.Count) {
			t.Fatalf("extra run %+v: count", x)
		}
		for k, rec := range x.Records {
			j := s + k
			want, _ := abbreviate(topic[j].Value)
			if rec.Offset != topic[j].Offset || rec.Data != want || rec.MarkedPossible != topic[j].PossibleDuplicate {
				t.Fatalf("extra record %+v is not record %d %+v", rec, j, topic[j])
			}
			drop(droppedTopic, j, "record")
			extras = append(extras, j)
			switch rec.Kind {
			case KindDuplicate:
				dups++
			case KindForeign:
				foreign++
				if inFeed[topic[j].Value] {
					t.Fatalf("record %d %q called foreign", j, topic[j].Value)
				}
			}
		}
	}
	if missing != tot.Missing || moved != tot.Reordered || dups != tot.Duplicates || foreign != tot.Foreign {
		t.Fatalf("listed: %d missing, %d moved, %d duplicates, %d foreign; totals %+v", missing, moved, dups, foreign, tot)
	}
	var kept, keptTopic []string
	var keptOffsets []int64
	for i, f := range feed {
		if !droppedFeed[i] {
			kept = append(kept, f.Data)
		}
	}
	for j, x := range topic {
		if !droppedTopic[j] {
			keptTopic = append(keptTopic, x.Value)
			keptOffsets = append(keptOffsets, x.Offset)
		}
	}
	if !slices.Equal(kept, keptTopic) || int64(len(kept)) != tot.Matched {
		t.Fatalf("the feed without what is missing or moved is not the topic without what is extra or moved:\n%q\n%q", kept, keptTopic)
	}
	// A frame missing here and extra there is a move, not two findings,
	// unless the extra record is marked possible and its frame kept.
	keptBytes := make(map[string]bool)
	for j, x := range topic {
		if !droppedTopic[j] {
			keptBytes[x.Value] = true
		}
	}
	missingBytes := make(map[string]bool)
	for _, m := range r.Missing {
		for k := range int(m.Count) {
			missingBytes[feed[byIndex[m.FirstIndex]+k].Data] = true
		}
	}
	for _, j := range extras {
		if missingBytes[topic[j].Value] && !(topic[j].PossibleDuplicate && keptBytes[topic[j].Value]) {
			t.Fatalf("record %d %q is extra while a frame with its bytes is missing", j, topic[j].Value)
		}
	}
	// Each duplicate's copy is kept or moved, and holds its bytes.
	for _, x := range r.Extra {
		for _, rec := range x.Records {
			if rec.Kind != KindDuplicate {
				continue
			}
			c := rec.DuplicateOf
			j, ok := byOffset[c.Offset]
			if !ok || slices.Contains(extras, j) || topic[j].Value != topic[byOffset[rec.Offset]].Value || feed[byIndex[c.Index]].Data != topic[j].Value {
				t.Fatalf("duplicate %+v: its copy %+v is not kept", rec, c)
			}
		}
	}
	// Missing runs lie between the kept records at AfterOffset and
	// BeforeOffset: the kept frames just before and after them.
	keptAt := make(map[int]int64) // feed position of a kept frame -> its offset
	k := 0
	for i := range feed {
		if !droppedFeed[i] {
			keptAt[i] = keptOffsets[k]
			k++
		}
	}
	for _, m := range r.Missing {
		s := byIndex[m.FirstIndex]
		after, before := int64(-1), r.End
		for i := s - 1; i >= 0; i-- {
			if o, ok := keptAt[i]; ok {
				after = o
				break
			}
		}
		for i := s + int(m.Count); i < len(feed); i++ {
			if o, ok := keptAt[i]; ok {
				before = o
				break
			}
		}
		if m.AfterOffset != after || m.BeforeOffset != before {
			t.Fatalf("missing run %+v: belongs between offsets %d and %d", m, after, before)
		}
	}
}

// edit is one change made to a feed to make a topic.
type edit struct {
	kind string // "delete", "duplicate", "move", "foreign"
	n    int
}

// mutate makes a topic from a feed by random deletions, duplications
// (some marked possible), moves and foreign records, and returns it with
// what it did.
func mutate(rng *rand.Rand, feed []ExpectedFrame, edits int, kinds []string) ([]TopicRecord, []edit) {
	type item struct {
		v      string
		marked bool
	}
	items := make([]item, len(feed))
	for i, f := range feed {
		items[i] = item{v: f.Data}
	}
	var done []edit
	for range edits {
		if len(items) == 0 {
			break
		}
		switch k := kinds[rng.IntN(len(kinds))]; k {
		case "delete":
			p := rng.IntN(len(items))
			items = slices.Delete(items, p, p+1)
			done = append(done, edit{k, 1})
		case "duplicate", "marked duplicate":
			p := rng.IntN(len(items))
			q := min(len(items), p+1+rng.IntN(4)) // re-published a little later
			marked := k == "marked duplicate" || rng.IntN(2) == 0
			items = slices.Insert(items, q, item{v: items[p].v, marked: marked})
			done = append(done, edit{k, 1})
		case "move":
			n := 1 + rng.IntN(3)
			p := rng.IntN(len(items))
			n = min(n, len(items)-p)
			block := slices.Clone(items[p : p+n])
			items = slices.Delete(items, p, p+n)
			q := rng.IntN(len(items) + 1)
			items = slices.Insert(items, q, block...)
			done = append(done, edit{k, n})
		case "foreign":
			p := rng.IntN(len(items) + 1)
			items = slices.Insert(items, p, item{v: fmt.Sprint("X", rng.IntN(3))})
			done = append(done, edit{k, 1})
		}
	}
	topic := make([]TopicRecord, len(items))
	off := int64(rng.IntN(5))
	for j, x := range items {
		topic[j] = TopicRecord{Offset: off, Value: x.v, Member: "m", PossibleDuplicate: x.marked}
		off += 1 + int64(rng.IntN(2)) // transaction markers between some records
	}
	return topic, done
}

// randomFeed draws n frames over an alphabet of k sentences (so that
// repeats are the rule), some not received by one of two ports.
func randomFeed(rng *rand.Rand, n, k int) []ExpectedFrame {
	feed := make([]ExpectedFrame, n)
	for i := range feed {
		fates := []string{"delivered", "delivered"}
		if rng.IntN(8) == 0 {
			fates[rng.IntN(2)] = "dropped"
		}
		feed[i] = ExpectedFrame{Index: uint64(i), Data: fmt.Sprintf("$S%d*00", rng.IntN(k)), Fates: fates}
	}
	return feed
}

func TestCompareRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 2000 {
		kinds := [][]string{
			{"delete"}, {"duplicate"}, {"foreign"}, {"move"},
			{"delete", "duplicate", "move", "foreign"},
		}[round%5]
		feed := randomFeed(rng, rng.IntN(60), 1+rng.IntN(3))
		topic, done := mutate(rng, feed, rng.IntN(6), kinds)
		r := compare(t, feed, topic)
		a, b := make([]int32, len(feed)), make([]int32, len(topic))
		ids := map[string]int32{}
		for i, f := range feed {
			if _, ok := ids[f.Data]; !ok {
				ids[f.Data] = int32(len(ids))
			}
			a[i] = ids[f.Data]
		}
		for j, x := range topic {
			if _, ok := ids[x.Value]; !ok {
				ids[x.Value] = int32(len(ids))
			}
			b[j] = ids[x.Value]
		}
		tot := r.Totals
		if lcs := lcsLen(a, b); int64(lcs) != tot.Matched {
			t.Fatalf("round %d: matched %d, the longest common subsequence is %d", round, tot.Matched, lcs)
		}
		cost := 0
		count := map[string]int{}
		for _, e := range done {
			count[e.kind] += e.n
			if e.kind == "move" {
				cost += 2 * e.n
			} else {
				cost += e.n
			}
		}
		unmatched := tot.Missing + 2*tot.Reordered + tot.Duplicates + tot.Foreign
		if unmatched > int64(cost) {
			t.Fatalf("round %d: %d edits found, %d made: %+v", round, unmatched, cost, done)
		}
		switch {
		case len(done) == 0:
			if !r.Clean || tot.Matched != tot.Expected {
				t.Fatalf("round %d: nothing done, report %+v", round, r)
			}
		case kinds[0] == "delete" && len(kinds) == 1:
			if tot.Missing != int64(count["delete"]) || unmatched != tot.Missing {
				t.Fatalf("round %d: %d deleted, totals %+v", round, count["delete"], tot)
			}
		case kinds[0] == "duplicate" && len(kinds) == 1:
			if tot.Duplicates != int64(count["duplicate"]) || unmatched != tot.Duplicates {
				t.Fatalf("round %d: %d duplicated, totals %+v", round, count["duplicate"], tot)
			}
		case kinds[0] == "foreign" && len(kinds) == 1:
			if tot.Foreign != int64(count["foreign"]) || unmatched != tot.Foreign {
				t.Fatalf("round %d: %d foreign, totals %+v", round, count["foreign"], tot)
			}
		}
	}
}

// TestCompareMarkedDuplicatesAreClean: a topic that is the feed plus
// copies marked possible, re-published a little after their original (as
// a member taking over does), is clean however the frames repeat.
func TestCompareMarkedDuplicatesAreClean(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	for round := range 3000 {
		feed := randomFeed(rng, rng.IntN(40), 1+rng.IntN(3))
		topic, done := mutate(rng, feed, rng.IntN(6), []string{"marked duplicate"})
		r := compare(t, feed, topic)
		if !r.Clean || r.Totals.DuplicatesMarked != int64(len(done)) {
			t.Fatalf("round %d: %d marked copies added; problems %q, totals %+v\nfeed %v\ntopic %v", round, len(done), r.Problems, r.Totals, feed, topic)
		}
	}
}

// TestCompareRandomUniqueFrames: when no two frames are alike, the report
// is exactly what was done, moves included.
func TestCompareRandomUniqueFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for round := range 500 {
		n := 50 + rng.IntN(50)
		values := make([]string, n)
		for i := range values {
			values[i] = fmt.Sprintf("$U%d*00", i)
		}
		feed := feedOf(values...)
		// One deletion, one duplication, one move, far apart: cut the
		// feed in thirds.
		topic := topicOf(values...)
		third := n / 3
		del := rng.IntN(third)
		dup := third + rng.IntN(third-4)
		topic = slices.Insert(topic, dup+2, TopicRecord{Value: values[dup], PossibleDuplicate: true})
		// Move frames [mv, mv+size) of the last third five records later.
		size := 1 + rng.IntN(3)
		mv := 2*third + rng.IntN(third-size-12)
		block := slices.Clone(topic[mv+1 : mv+1+size])
		topic = slices.Delete(topic, mv+1, mv+1+size)
		topic = slices.Insert(topic, mv+1+5, block...)
		topic = slices.Delete(topic, del, del+1)
		for j := range topic {
			topic[j].Offset = int64(j)
		}
		r := compare(t, feed, topic)
		if len(r.Missing) != 1 || r.Missing[0].FirstIndex != uint64(del) || r.Missing[0].Count != 1 {
			t.Fatalf("round %d: deleted %d; missing %+v", round, del, r.Missing)
		}
		if len(r.Extra) != 1 || r.Extra[0].Count != 1 || r.Extra[0].Records[0].DuplicateOf.Index != uint64(dup) || !r.Extra[0].Records[0].MarkedPossible {
			t.Fatalf("round %d: duplicated %d; extra %+v", round, dup, r.Extra)
		}
		if len(r.Moved) != 1 || r.Moved[0].Count != int64(size) || r.Moved[0].FirstIndex != uint64(mv) || r.Moved[0].Shift != 5 {
			t.Fatalf("round %d: moved %d frames from %d 5 records later; moved %+v", round, size, mv, r.Moved)
		}
		if r.Clean || len(r.Problems) != 2 {
			t.Fatalf("round %d: problems %q", round, r.Problems)
		}
	}
}
