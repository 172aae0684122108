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

// TestMissingSeqCountsWhatTheTopicHolds: the numbers between a hole's two
// sides that the topic's latest records hold are not missing, whoever
// published them; records of an earlier round of a counter that wraps are
// no evidence, nor is anything when the frame before the hole has no
// bounded window to tell the rounds apart, nor for the start of the stream.
func TestMissingSeqCountsWhatTheTopicHolds(t *testing.T) {
	const sec = int64(time.Second)
	num := func(id uint64, lo, hi int64) backlog.Sighting {
		return backlog.Sighting{ID: id, Exact: true, Win: backlog.Window{Lo: lo, Hi: hi}, Size: 5}
	}
	at := 100 * sec // the frame before the hole, 100, ended on the line then
	before, after := num(100, at-sec/100, at), num(110, at+sec/10, at+sec/10+sec/100)
	fill := []peerFrame{{s: num(106, 0, 0)}, {s: num(107, 0, 0)}}
	for _, tc := range []struct {
		name   string
		tail   []backlog.Sighting
		before backlog.Window
		start  bool
		want   uint64
	}{
		{"nothing published", nil, before.Win, false, 7},
		{"101..105 published", []backlog.Sighting{num(101, at, at+sec/100), num(103, at, at+sec/50), num(102, at, at+sec/100), num(104, at, at+sec/50), num(105, at, at+sec/50)}, before.Win, false, 2},
		{"an earlier round", []backlog.Sighting{num(101, at-30*sec, at-29*sec), num(102, backlog.NoLo, at-29*sec)}, before.Win, false, 7},
		{"no bound before the hole", []backlog.Sighting{num(101, at, at+sec/100)}, backlog.Window{Lo: backlog.NoLo, Hi: at}, false, 7},
		{"the start of the stream", []backlog.Sighting{num(101, at, at+sec/100)}, before.Win, true, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pipeline{ringLimits: backlog.Config{}.WithDefaults()}
			for _, s := range tc.tail {
				p.rep.seeTopic(s)
			}
			b := before
			b.Win = tc.before
			h := &hole{before: &b, after: after, start: tc.start, fill: fill}
			if got := p.missingSeq(h); got != tc.want {
				t.Fatalf("missing %d, want %d", got, tc.want)
			}
		})
	}
}
