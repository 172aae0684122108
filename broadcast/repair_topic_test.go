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
// its ring, and it asks its peer b. The frames the topic holds must not go
// out again; the rest of the run must, and the hole lacks nothing:
//   - cut off: b's echo never saw c's commits (b cut off from Kafka, here
//     reading another topic), so b answers with the whole run, unmarked;
//   - late: as cut off, and a's port delivered the run's first frame only
//     after its echo (a starved reader), so a's ring recognised it and
//     kept neither it nor its echo;
//   - trimmed: b's echo trimmed what c published, so its answer starts
//     after it, and the numbers it lacks are in the topic, not lost.
func TestRepairOnActivationSkipsWhatTheTopicHolds(t *testing.T) {
	const n, holeFrom, holeTo, published = 300, 100, 110, 103 // a loses 100..109; c publishes 1..103
	for _, mode := range []struct {
		name            string
		elsewhere, late bool
		inTopic         int
	}{
		{name: "cut off", elsewhere: true, inTopic: published - holeFrom + 1},
		{name: "late", elsewhere: true, late: true, inTopic: published - holeFrom + 1},
		{name: "trimmed", inTopic: 0},
	} {
		for _, tc := range frameIdentities {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				broker, cfg := startBrokerFor(t, "repair-in-topic")
				a, b := startRepairPair(t, cfg, repairLink{
					up: func() bool { return true },
					config: func(member string) Config {
						if member == "b" && mode.elsewhere {
							other := cfg
							other.Topic += "-elsewhere"
							return other
						}
						return cfg
					},
				})
				c := startMember(t, cfg, "c", backlog.Config{LineByteTime: 87 * time.Microsecond})
				c.activate(t, 30*time.Second)
				waitFor(t, "the echoes positioned", func() bool {
					return a.Status().EchoOffset >= 0 && b.Status().EchoOffset >= 0
				})

				var late *ingest.Frame
				var afterHole []*ingest.Frame
				for seq := uint64(1); seq <= n; seq++ {
					f := tc.build(seq, time.Now())
					if seq <= published {
						c.Accept(f)
					}
					switch {
					case seq == holeFrom && mode.late:
						late = f
					case seq >= holeFrom && seq < holeTo:
					case seq >= holeTo && mode.late:
						afterHole = append(afterHole, f)
					default:
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
				if mode.late {
					waitFor(t, "a to read c's records back", func() bool { return a.Status().Counters.EchoRecords >= published })
					a.Accept(late)
					afterHole[0].Hole = ingest.HoleDropped
					for _, f := range afterHole {
						a.Accept(f)
					}
				}
				bRingLen := n
				if !mode.elsewhere {
					bRingLen = n - published
				}
				waitFor(t, "a's ring to keep only the frames after the hole, b's what it cannot know published", func() bool {
					return a.Status().Ring.Len == n-holeTo+1 && b.Status().Ring.Len == bRingLen
				})

				a.activate(t, 30*time.Second)
				waitFor(t, "a to commit the rest of the feed", func() bool {
					return a.Status().Counters.CommittedFrames >= n-published
				})
				checkSequence(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
				st := a.Status()
				const repaired = holeTo - published - 1
				if k := st.Counters; k.RepairedFrames != repaired || k.RepairInTopic != uint64(mode.inTopic) || k.RepairedPossible != 0 {
					t.Fatalf("repaired %d (possible %d), in the topic %d; want %d, 0, %d; last hole %+v",
						k.RepairedFrames, k.RepairedPossible, k.RepairInTopic, repaired, mode.inTopic, st.LastHole)
				}
				if k := st.Counters; k.Holes != 1 || k.CrossCheckMissed != 0 {
					t.Fatalf("holes %d, cross-check missed %d; want 1 and 0; last hole %+v", k.Holes, k.CrossCheckMissed, st.LastHole)
				}
				if h := st.LastHole; h == nil || h.InTopic != mode.inTopic || h.Unrepaired != "" || h.MissingSeq != 0 {
					t.Fatalf("last hole %+v", h)
				}
			})
		}
	}
}
