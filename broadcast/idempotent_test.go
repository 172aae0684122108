package broadcast

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIdempotentProducer: with kafka.producer: idempotent the active member
// produces every frame in order with no transaction at all (the topic holds
// no commit marker and no transactional record), trims its ring on each
// flush, writes no control keepalive, and says so in its status.
func TestIdempotentProducer(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	cfg.Producer = ProducerIdempotent
	a := startActive(t, cfg)
	publishInOrder(t, a, b.Addr(), 300)

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
