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
