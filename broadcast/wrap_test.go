package broadcast

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/ingest"
)

// TestAWrappedCounterAtATakeOver: the feed's counter counts 0 to 9 and
// starts again, a frame every 150 ms (a round takes 1.5 s, longer than the
// 1.1 s two sightings of one frame may lie apart). b's port loses round
// one's 5, whose echo b then remembers; a stops publishing (hung) while b
// reads round two's 0 to 7; b takes over. Round two's 5 is another frame
// than the echo's: taking it for that one kept it out of b's ring with
// every frame before it, and the take-over lost round two's 0 to 5.
func TestAWrappedCounterAtATakeOver(t *testing.T) {
	const wrap, every = 10, 150 * time.Millisecond
	broker, cfg := startBrokerFor(t, "wrapped-counter")
	a, b := startPositionedPair(t, cfg)
	a.activate(t, 30*time.Second)
	// Frame i carries number i mod wrap; its bytes tell it from the
	// other rounds' (payload-i).
	numbered := func(i uint64) *ingest.Frame {
		f := fpFrame(i%wrap, time.Now())
		f.Data = fmt.Appendf(nil, "$TEST,%d,payload-%08d*", i%wrap, i)
		f.Fingerprint = ingest.Fingerprint(f.Data)
		f.FeedSeq, f.HasFeedSeq = i%wrap, true
		return f
	}
	for i := range uint64(wrap) {
		f := numbered(i)
		a.Accept(f)
		if i != 5 {
			b.Accept(f)
		}
		time.Sleep(every)
	}
	waitFor(t, "b to trim the first round, remembering the echo of its lost 5", func() bool {
		st := b.Status()
		return st.Ring.Len == 0 && st.Ring.MemoryLen == 1
	})
	const last = wrap + 7
	for i := uint64(wrap); i <= last; i++ {
		b.Accept(numbered(i))
		time.Sleep(every)
	}
	waitFor(t, "b to take the second round's frames", func() bool { return b.Status().Counters.Accepted == last })
	b.activate(t, 30*time.Second)
	waitFor(t, "b to commit its ring", func() bool { return b.Status().Ring.Len == 0 })
	seen := map[uint64]int{}
	for _, r := range readCommitted(t, broker.Addr(), cfg.Topic) {
		_, payload, _ := strings.Cut(r.value, ",payload-")
		var i uint64
		if _, err := fmt.Sscanf(payload, "%d*", &i); err != nil {
			t.Fatalf("record %q: %v", r.value, err)
		}
		seen[i]++
	}
	for i := range uint64(last + 1) {
		if seen[i] == 0 {
			t.Errorf("frame %d (number %d) is not in the topic", i, i%wrap)
		}
	}
}
