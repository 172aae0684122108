package audit

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// benchStreams is a feed of n frames cycling through a receiver's
// sentences without a fix (every cycle identical, as the worst case for
// the alignment: every shift by a cycle matches), and a topic made from it
// by edits scattered deletions, duplications and short moves.
func benchStreams(n, edits, period int) ([]ExpectedFrame, []TopicRecord) {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	feed := make([]ExpectedFrame, n)
	fates := []string{"delivered", "delivered"}
	for i := range feed {
		feed[i] = ExpectedFrame{Index: uint64(i), Data: fmt.Sprintf("$GPGSV,3,%d,11,,,,*%02X", i%period, i%period), Fates: fates}
	}
	topic := make([]TopicRecord, 0, n+edits)
	for i := range feed {
		topic = append(topic, TopicRecord{Value: feed[i].Data})
	}
	for range edits {
		p := rng.IntN(len(topic) - 10)
		switch rng.IntN(3) {
		case 0:
			topic = slices.Delete(topic, p, p+1)
		case 1:
			topic = slices.Insert(topic, p+2, TopicRecord{Value: topic[p].Value, PossibleDuplicate: true})
		case 2:
			x := topic[p]
			topic = slices.Delete(topic, p, p+1)
			topic = slices.Insert(topic, p+3, x)
		}
	}
	for j := range topic {
		topic[j].Offset = int64(j)
	}
	return feed, topic
}

// benchTakeovers is the receiver's feed without a fix, n frames, and a
// topic of it where members take over from each other takeovers times,
// each re-publishing back frames before where the other stopped (marked;
// whole cycles, so that a minimal alignment may take the extra records
// from anywhere in between), and where lost cycles, six frames each, are
// missing.
func benchTakeovers(n, takeovers, back, lost int) ([]ExpectedFrame, []TopicRecord) {
	rng := rand.New(rand.NewPCG(2, uint64(n)))
	feed := cycleFeed(n, noFix)
	missing := make(map[int]bool)
	for range lost {
		missing[rng.IntN(n/6)] = true
	}
	var topic []TopicRecord
	publish := func(from, to, marked int) {
		for i := from; i < to; i++ {
			if !missing[i/6] {
				topic = append(topic, TopicRecord{Offset: int64(len(topic)), Value: feed[i].Data, PossibleDuplicate: i-from < marked})
			}
		}
	}
	from, marked := 0, 0
	for t := 1; t <= takeovers; t++ {
		to := t * n / (takeovers + 1) / 6 * 6
		publish(from, to, marked)
		from, marked = to-back, back
	}
	publish(from, n, marked)
	return feed, topic
}

// BenchmarkCompareTakeovers weighs every minimal alignment of a feed whose
// cycle repeats exactly: the cost is rows times differences.
func BenchmarkCompareTakeovers(b *testing.B) {
	for _, c := range []struct{ n, takeovers, back, lost int }{
		{100_000, 8, 12, 1}, {1_000_000, 8, 12, 1}, {1_000_000, 20, 24, 10}, {1_000_000, 40, 24, 10},
	} {
		feed, topic := benchTakeovers(c.n, c.takeovers, c.back, c.lost)
		b.Run(fmt.Sprintf("n=%d/takeovers=%d/back=%d/lost=%d", c.n, c.takeovers, c.back, c.lost), func(b *testing.B) {
			for b.Loop() {
				r, err := Compare(feed, topic, ExpectOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if r.Totals.DuplicatesUnmarked != 0 {
					b.Fatalf("totals %+v, notes %q", r.Totals, r.Notes)
				}
			}
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	for _, c := range []struct{ n, edits, period int }{
		{100_000, 100, 12}, {1_000_000, 100, 12}, {1_000_000, 1000, 12}, {1_000_000, 1000, 1_000_000},
	} {
		feed, topic := benchStreams(c.n, c.edits, c.period)
		b.Run(fmt.Sprintf("n=%d/edits=%d/period=%d", c.n, c.edits, c.period), func(b *testing.B) {
			for b.Loop() {
				if _, err := Compare(feed, topic, ExpectOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
