package broadcast

import (
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIdempotentProducer: with kafka.producer: idempotent the active member
// produces every frame in order with no transaction at all (the topic holds
// no commit marker and no transactional record), trims its ring on each
// flush, writes no control keepalive, and says so in its status.
func TestIdempotentProducer(t *testing.T) {
	b := startBroker(t, "")
	cfg := testConfig(b.Addr(), "feed")
	cfg.Producer = ProducerIdempotent
	a := startMember(t, cfg, "a", backlog.Config{})
	a.activate(t, 30*time.Second)
	const n = 300
	for i := uint64(1); i <= n; i++ {
		a.Accept(frame(i, time.Now()))
	}
	waitFor(t, "all frames flushed", func() bool {
		st := a.Status()
		return st.Counters.CommittedFrames == n && st.Ring.Len == 0
	})
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), n)

	markers, transactional := 0, 0
	eachRecord(t, b.Addr(), "feed", func(r *kgo.Record) {
		if r.Attrs.IsControl() {
			markers++
		}
		if r.Attrs.IsTransactional() {
			transactional++
		}
	})
	if markers != 0 || transactional != 0 {
		t.Fatalf("idempotent producer: %d commit markers and %d transactional records in the topic, want none", markers, transactional)
	}
	st := a.Status()
	if st.Producer != ProducerIdempotent || st.ControlTopic != "" || st.Counters.ControlKeepalives != 0 {
		t.Fatalf("status: producer %q, control topic %q, control commits %d; want idempotent, none, 0",
			st.Producer, st.ControlTopic, st.Counters.ControlKeepalives)
	}
}
