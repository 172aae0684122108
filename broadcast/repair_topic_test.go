package broadcast

import (
	"context"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
)

// TestRepairOnActivationSkipsWhatTheTopicHolds: a member's port lost a run
// of frames while it was inactive, and the active of the moment (c) published
// the first few of them before it stopped. The member reads their echoes
// but holds nothing they trim, so at its activation the hole is still in
// its ring, and the peer it asks (b, whose own echo never saw those commits:
// cut off from Kafka, here reading another topic) answers with the whole
// run, unmarked. The frames whose echoes the member read are in the topic
// already and must not go out again; the rest of the run must.
func TestRepairOnActivationSkipsWhatTheTopicHolds(t *testing.T) {
	const n, holeFrom, holeTo, published = 300, 100, 110, 103 // a loses 100..109; c publishes 1..103
	for _, tc := range frameIdentities {
		t.Run(tc.name, func(t *testing.T) {
			broker, cfg := startBrokerFor(t, "repair-in-topic-"+tc.name)
			a, b := startRepairPair(t, cfg, repairLink{
				up: func() bool { return true },
				// b reads another topic: nothing it holds is ever trimmed.
				config: func(member string) Config {
					if member == "b" {
						other := cfg
						other.Topic += "-elsewhere"
						return other
					}
					return cfg
				},
			})
			c := startMember(t, cfg, "c", backlog.Config{LineByteTime: 87 * time.Microsecond})
			c.activate(t, 30*time.Second)
			waitFor(t, "a's echo positioned", func() bool { return a.Status().EchoOffset >= 0 })

			for seq := uint64(1); seq <= n; seq++ {
				f := tc.build(seq, time.Now())
				if seq <= published {
					c.Accept(f)
				}
				if seq < holeFrom || seq >= holeTo {
					if seq == holeTo {
						f.Hole = ingest.HoleDropped
					}
					a.Accept(f)
					f.Hole = ingest.NoHole
				}
				b.Accept(f)
				time.Sleep(time.Millisecond)
			}
			waitFor(t, "c to commit its part", func() bool { return c.Status().Counters.CommittedFrames >= published })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c.mustDeactivate(t, ctx, Planned)
			waitFor(t, "a's ring to keep only the frames after the hole, b's the whole feed", func() bool {
				return a.Status().Ring.Len == n-holeTo+1 && b.Status().Ring.Len == n
			})

			a.activate(t, 30*time.Second)
			waitFor(t, "a to commit the rest of the feed", func() bool {
				return a.Status().Counters.CommittedFrames >= n-published
			})
			checkSequence(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
			st := a.Status()
			if k := st.Counters; k.RepairedFrames != holeTo-published-1 || k.RepairInTopic != published-holeFrom+1 || k.RepairedPossible != 0 {
				t.Fatalf("repaired %d (possible %d), in the topic %d; want %d, 0, %d; last hole %+v",
					k.RepairedFrames, k.RepairedPossible, k.RepairInTopic, holeTo-published-1, published-holeFrom+1, st.LastHole)
			}
			// The frames left out are not taken for frames the port
			// missed when the peer's sightings of them come.
			if k := st.Counters; k.Holes != 1 || k.CrossCheckMissed != 0 {
				t.Fatalf("holes %d, cross-check missed %d; want 1 and 0; last hole %+v", k.Holes, k.CrossCheckMissed, st.LastHole)
			}
			if h := st.LastHole; h == nil || h.InTopic != published-holeFrom+1 || h.Unrepaired != "" || h.MissingSeq != 0 {
				t.Fatalf("last hole %+v", h)
			}
		})
	}
}
