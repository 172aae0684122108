package audit

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// noFix is the simulator's feed without a fix: the same six sentences
// every cycle, as the nmea framer returns them.
var noFix = []string{
	"$GPGGA,,,,,,0,00,99.99,,,,,,*48",
	"$GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99*30",
	"$GPGSV,1,1,00*79",
	"$GPRMC,,V,,,,,,,,,,N*53",
	"$GPVTG,,,,,,,,,N*30",
	"$GPGLL,,,,,,V,N*64",
}

// cycleFeed returns n frames cycling through the sentences.
func cycleFeed(n int, cycle []string) []ExpectedFrame {
	values := make([]string, n)
	for i := range values {
		values[i] = cycle[i%len(cycle)]
	}
	return feedOf(values...)
}

// takeover is a member publishing feed frames from to to, inclusive; the
// first marked of them carry the possible-duplicate mark.
type takeover struct {
	member   string
	from, to int
	marked   int
}

// topicFrom publishes the feed's frames as the takeovers say.
func topicFrom(feed []ExpectedFrame, parts ...takeover) []TopicRecord {
	var out []TopicRecord
	for _, p := range parts {
		for i := p.from; i <= p.to; i++ {
			out = append(out, TopicRecord{Offset: int64(len(out)), Value: feed[i].Data, Member: p.member, PossibleDuplicate: i-p.from < p.marked})
		}
	}
	return out
}

// noFixTakeovers is a feed whose cycle repeats exactly, and its topic in
// which two takeovers re-publish two cycles each, marked.
func noFixTakeovers() ([]ExpectedFrame, []TopicRecord) {
	feed := cycleFeed(1200, noFix)
	return feed, topicFrom(feed,
		takeover{"a", 0, 209, 0},
		takeover{"b", 198, 563, 12},
		takeover{"a", 552, 1199, 12})
}

// TestCompareNoFixTakeovers: the cycle repeats exactly and two takeovers
// re-publish two cycles each, marked. Myers' alignment takes the 24 extra
// records in one run past the second takeover, where half of them are
// unmarked; the best alignment takes exactly the marked ones.
func TestCompareNoFixTakeovers(t *testing.T) {
	feed, topic := noFixTakeovers()
	r := compare(t, feed, topic)
	tot := r.Totals
	if !r.Clean || tot.Matched != 1200 || tot.Duplicates != 24 || tot.DuplicatesMarked != 24 {
		t.Fatalf("problems %q, totals %+v", r.Problems, tot)
	}
	if len(r.Extra) != 2 || r.Extra[0].FirstOffset != 210 || r.Extra[0].LastOffset != 221 ||
		r.Extra[1].FirstOffset != 576 || r.Extra[1].LastOffset != 587 {
		t.Fatalf("extra %+v", r.Extra)
	}
}

// periodicTakeovers makes a feed of n frames cycling through k sentences
// (sometimes drawn from fewer, so that a cycle repeats one), some not
// received by one of two ports, and a topic of the whole feed published by
// two members taking over from each other, each first re-publishing,
// marked, some of the frames before where the other stopped (whole cycles
// a third of the time). It returns how many were re-published.
func periodicTakeovers(rng *rand.Rand, n, k int) ([]ExpectedFrame, []TopicRecord, int) {
	alphabet := k
	if rng.IntN(3) == 0 {
		alphabet = 1 + rng.IntN(k)
	}
	cycle := make([]string, k)
	for i := range cycle {
		if alphabet == k {
			cycle[i] = fmt.Sprintf("$S%d*00", i)
		} else {
			cycle[i] = fmt.Sprintf("$S%d*00", rng.IntN(alphabet))
		}
	}
	feed := cycleFeed(n, cycle)
	for i := range feed {
		if rng.IntN(10) == 0 {
			feed[i].Fates[rng.IntN(2)] = "dropped"
		}
	}
	var parts []takeover
	republished := 0
	for from, member, back := 0, 0, 0; ; member = 1 - member {
		to := min(n-1, from+back+rng.IntN(n/3+1))
		parts = append(parts, takeover{member: string(rune('a' + member)), from: from, to: to, marked: back})
		if to == n-1 {
			break
		}
		back = min(to+1, rng.IntN(3*k+1))
		if rng.IntN(3) == 0 {
			back = min(to+1, k*rng.IntN(4))
		}
		republished += back
		from = to + 1 - back
	}
	return feed, topicFrom(feed, parts...), republished
}

// TestComparePeriodicTakeoversAreClean: however the cycle repeats and
// wherever the members take over, a topic holding the feed once plus
// marked re-publications is clean, every re-published record a marked
// duplicate.
func TestComparePeriodicTakeoversAreClean(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 6))
	for round := range 1500 {
		k := 1 + rng.IntN(8)
		feed, topic, republished := periodicTakeovers(rng, 1+rng.IntN(600), k)
		r := compare(t, feed, topic)
		tot := r.Totals
		if !r.Clean || tot.Matched != int64(len(feed)) || tot.Duplicates != int64(republished) || tot.DuplicatesMarked != int64(republished) {
			t.Fatalf("round %d (cycle of %d, %d frames): %d re-published; problems %q, totals %+v", round, k, len(feed), republished, r.Problems, tot)
		}
	}
}

// TestComparePeriodicUnmarkedDuplicate: the same topics with one record
// published twice, unmarked: that one duplicate is reported, and no
// other.
func TestComparePeriodicUnmarkedDuplicate(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 7))
	for round := range 1500 {
		k := 1 + rng.IntN(8)
		feed, topic, republished := periodicTakeovers(rng, 1+rng.IntN(600), k)
		p := rng.IntN(len(topic))
		q := p + 1 + rng.IntN(min(len(topic)-p, 3*k))
		topic = slices.Insert(topic, q, TopicRecord{Value: topic[p].Value, Member: "c"})
		for j := range topic {
			topic[j].Offset = int64(j)
		}
		r := compare(t, feed, topic)
		tot := r.Totals
		if r.Clean || tot.Matched != int64(len(feed)) || tot.DuplicatesUnmarked != 1 || tot.DuplicatesMarked != int64(republished) ||
			!slices.Equal(r.Problems, []string{"1 duplicate record(s) not marked possible"}) {
			t.Fatalf("round %d (cycle of %d, %d frames): %d re-published, a copy of record %d at %d; problems %q, totals %+v",
				round, k, len(feed), republished, p, q, r.Problems, tot)
		}
	}
}

// bestWeighed is the textbook dynamic programme over the whole edit
// graph: the most matches, then the fewest marked records matched, then
// the fewest frames lost by a port matched.
func bestWeighed(a, b []int32, marked, lost []bool) (matches, markedMatched, lostMatched int) {
	type value struct{ matches, marked, lost int }
	better := func(x, y value) bool {
		if x.matches != y.matches {
			return x.matches > y.matches
		}
		if x.marked != y.marked {
			return x.marked < y.marked
		}
		return x.lost < y.lost
	}
	prev, cur := make([]value, len(b)+1), make([]value, len(b)+1)
	for i := range a {
		cur[0] = value{}
		for j := range b {
			best := prev[j+1]
			if better(cur[j], best) {
				best = cur[j]
			}
			if a[i] == b[j] {
				v := prev[j]
				v.matches++
				if marked[j] {
					v.marked++
				}
				if lost[i] {
					v.lost++
				}
				if better(v, best) {
					best = v
				}
			}
			cur[j+1] = best
		}
		prev, cur = cur, prev
	}
	v := prev[len(b)]
	return v.matches, v.marked, v.lost
}

// TestWeighIsBest: on random inputs, periodic or not, the alignment is as
// good as the best over all alignments, whether the forward frontier is
// kept whole or not.
func TestWeighIsBest(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for round := range 4000 {
		var feed []ExpectedFrame
		var topic []TopicRecord
		switch round % 3 {
		case 0:
			feed = randomFeed(rng, rng.IntN(60), 1+rng.IntN(3))
			topic, _ = mutate(rng, feed, rng.IntN(8), []string{"delete", "duplicate", "move", "foreign"})
		case 1:
			feed, topic, _ = periodicTakeovers(rng, 1+rng.IntN(80), 1+rng.IntN(6))
			topic, _ = mutate(rng, feed, rng.IntN(5), []string{"delete", "duplicate", "marked duplicate"})
		default:
			feed, topic, _ = periodicTakeovers(rng, 1+rng.IntN(80), 1+rng.IntN(6))
			for j := range topic { // marks anywhere
				topic[j].PossibleDuplicate = rng.IntN(4) == 0
			}
			if len(topic) > 0 {
				p := rng.IntN(len(topic))
				topic = slices.Delete(topic, p, min(len(topic), p+1+rng.IntN(4)))
			}
		}
		c := &comparison{exp: feed, topic: topic, o: ExpectOptions{MaxDifferences: 1 << 20}}
		if round%2 == 0 {
			c.frontTable = rng.IntN(4)
		}
		if err := c.alignWeighed(); err != nil {
			t.Fatal(err)
		}
		marked := make([]bool, len(topic))
		for j := range topic {
			marked[j] = topic[j].PossibleDuplicate
		}
		checkAlignment(t, c.a, c.b, c.ma, c.mb, lcsLen(c.a, c.b))
		var markedMatched, lostMatched int
		for i, j := range c.ma {
			if j >= 0 && marked[j] {
				markedMatched++
			}
			if j >= 0 && c.lost[i] {
				lostMatched++
			}
		}
		_, wantMarked, wantLost := bestWeighed(c.a, c.b, marked, c.lost)
		if markedMatched != wantMarked || lostMatched != wantLost {
			t.Fatalf("round %d: %d marked and %d lost matched, the best alignment matches %d and %d\nfeed %v\ntopic %v",
				round, markedMatched, lostMatched, wantMarked, wantLost, feed, topic)
		}
	}
}

// TestWeighSkipsOnlyRepeats: skipping the rows that repeat changes
// nothing: the alignment is the one computed row by row.
func TestWeighSkipsOnlyRepeats(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	for round := range 1500 {
		k := 1 + rng.IntN(8)
		cycle := make([]string, k)
		for i := range cycle { // sentences may repeat within the cycle
			cycle[i] = fmt.Sprintf("$S%d*00", rng.IntN(1+rng.IntN(k)))
		}
		feed := cycleFeed(50+rng.IntN(250), cycle)
		for i := range feed {
			if rng.IntN(20) == 0 {
				feed[i].Fates[0] = "dropped"
			}
		}
		topic, _ := mutate(rng, feed, rng.IntN(8), []string{"delete", "duplicate", "marked duplicate", "foreign"})
		var got [2][]int32
		for pass, everyRow := range []bool{false, true} {
			c := &comparison{exp: feed, topic: topic, o: ExpectOptions{MaxDifferences: 1 << 20}, everyRow: everyRow}
			if err := c.alignWeighed(); err != nil {
				t.Fatal(err)
			}
			got[pass] = c.ma
		}
		if !slices.Equal(got[0], got[1]) {
			t.Fatalf("round %d: skipping repeated rows changed the alignment\n%v\n%v\nfeed %v\ntopic %v", round, got[0], got[1], feed, topic)
		}
	}
}

// TestCompareWeighsNearBeyondBound: past the bound on cells weighed, the
// alignment is refined near each difference only, stays minimal, and the
// report says so.
func TestCompareWeighsNearBeyondBound(t *testing.T) {
	feed, topic := noFixTakeovers()
	c := &comparison{exp: feed, topic: topic, maxWeighedCells: 10,
		o: ExpectOptions{MaxDifferences: DefaultMaxDifferences, MaxListed: 1 << 30, MaxFramesPerRun: 1 << 30, End: int64(len(topic))}}
	r, err := c.compare()
	if err != nil {
		t.Fatal(err)
	}
	checkExpectReport(t, feed, topic, r)
	if r.Totals.Matched != 1200 || r.Totals.Duplicates != 24 || !strings.Contains(strings.Join(r.Notes, "\n"), "differ by 24 frames") {
		t.Fatalf("totals %+v, notes %q", r.Totals, r.Notes)
	}
}
