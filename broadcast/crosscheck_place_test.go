package broadcast

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
)

// TestCrossCheckHolePlace: the hole of frames the cross-check finds
// missing goes before the first own frame held after the previous anchor,
// even where own frames held there came before the lost ones on the line.
// Moving it past them was tried; each case below is one in which a form of
// that move lost a frame, published a repeat unmarked or put a numbered
// frame after a higher one. Each is judged by what the active publishes
// once the peer's answer is decided. The peer's sightings come in one
// message with its watermark past all of them (a peer process starved of
// the processor, whose stream lagged), so the active still holds every
// frame of its own when it finds the peer's missing. The loop is not run:
// the test drives the pipeline's handlers on its state directly.
func TestCrossCheckHolePlace(t *testing.T) {
	run := func(name string, n int, ms0 int64) []ownFrame {
		out := make([]ownFrame, n)
		for i := range out {
			out[i] = ownFrame{fmt.Sprintf("$%s,%d", name, i), ms0 + 2*int64(i)}
		}
		return out
	}
	cat := func(runs ...[]ownFrame) (out []ownFrame) {
		for _, r := range runs {
			out = append(out, r...)
		}
		return out
	}
	a, b, c := run("A", 10, 0), run("B", 10, 150), run("C", 1, 200)
	cases := []struct {
		name string
		// earlier: own frames published before the peer's stream began;
		// own: those read after it, held; seen: the peer's sightings,
		// which its answer holds too; line: what the line carried after
		// the earlier frames, in order.
		earlier, own, seen, line []ownFrame
		byteTime                 time.Duration
		// numbered: each frame's feed sequence number follows the comma.
		numbered bool
		// inOrder: the line must be the topic's records in order, those
		// left out all marked; otherwise every frame of the line must be
		// there and no frame unmarked more often than the line has it.
		inOrder bool
		// holeAt: the held own frame the hole goes before.
		holeAt string
	}{
		{
			// The peer lost A, the active the B that came next, more
			// than the pass margin after the last A. The fill goes out
			// ahead of A, unmarked: out of place, nothing lost (the
			// open finding in docs/testing.md).
			name:    "own frames the peer lacks before the lost ones",
			earlier: run("E", 10, -500), own: cat(a, c), seen: cat(b, c), line: cat(a, b, c),
			holeAt: "$A,0",
		},
		{
			// The active lost the first X. The matching pairs the
			// peer's X copies with the own ones in order, so the last
			// X is the sighting found missing; the hole is for the
			// first. After the own frames before that last X, the
			// fill would leave the first X out.
			name:     "a repeated sentence's copies shift in the matching",
			earlier:  []ownFrame{{"$E,0", -500}, {"$E,1", -480}},
			own:      []ownFrame{{"$Y", 40}, {"$Y", 75}, {"$X", 90}, {"$X", 180}, {"$C,1", 250}},
			seen:     []ownFrame{{"$X", 0}, {"$Y", 40}, {"$Y", 75}, {"$X", 90}, {"$X", 180}, {"$C,1", 250}},
			line:     []ownFrame{{"$X", 0}, {"$Y", 40}, {"$Y", 75}, {"$X", 90}, {"$X", 180}, {"$C,1", 250}},
			byteTime: time.Millisecond, inOrder: true, holeAt: "$Y",
		},
		{
			// The active lost the first X and U, the peer the last X.
			// The matching pairs the peer's two X with the own two, so
			// only U is missing. After the own X, the request would no
			// longer reach the first X.
			name:     "a lost copy hidden by the matching, then a frame lost",
			earlier:  []ownFrame{{"$E,0", -500}, {"$E,1", -480}},
			own:      []ownFrame{{"$X", 60}, {"$X", 120}, {"$C,1", 400}},
			seen:     []ownFrame{{"$X", 0}, {"$X", 60}, {"$U,1", 300}, {"$C,1", 400}},
			line:     []ownFrame{{"$X", 0}, {"$X", 60}, {"$X", 120}, {"$U,1", 300}, {"$C,1", 400}},
			byteTime: time.Millisecond, holeAt: "$X",
		},
		{
			// The same shift across a pause in the peer's stream: its
			// port handed the two later X over 160 ms late, so the first
			// X and the two B make a segment of their own, the peer's
			// first X is matched with the own X at 90, and the X found
			// missing are the later ones. After the two B, the hole's
			// fill would leave the first X out and the own X would go
			// out unmarked beside the fill's.
			name:     "a repeated sentence's copies shift across a pause",
			earlier:  []ownFrame{{"$E,0", -500}, {"$E,1", -480}},
			own:      []ownFrame{{"$B", 20}, {"$B", 40}, {"$X", 90}, {"$X", 100}, {"$Z,1", 400}},
			seen:     []ownFrame{{"$X", 0}, {"$B", 20}, {"$B", 40}, {"$X", 250}, {"$X", 260}, {"$Z,1", 400}},
			line:     []ownFrame{{"$X", 0}, {"$B", 20}, {"$B", 40}, {"$X", 90}, {"$X", 100}, {"$Z,1", 400}},
			byteTime: time.Millisecond, inOrder: true, holeAt: "$B",
		},
		{
			// The peer's port was 200 ms late: none of its sightings
			// is matched, and the own frames lie more than the margin
			// before them. D repeats, so no mark comes from the fills
			// holding it once; with the hole moved past the own frames,
			// the own D and the fill's D both went out unmarked. The
			// early hole puts the peer's copies first (out of place,
			// decision 0012), the own ones after them marked where
			// they may repeat them.
			name:    "the peer's port late",
			earlier: []ownFrame{{"$D", -700}, {"$E,1", -650}},
			own:     []ownFrame{{"$F,1", 0}, {"$D", 20}, {"$G,1", 40}, {"$Z,1", 450}},
			seen:    []ownFrame{{"$F,1", 200}, {"$D", 220}, {"$G,1", 240}},
			line:    []ownFrame{{"$F,1", 0}, {"$D", 20}, {"$G,1", 40}, {"$Z,1", 450}},
			holeAt:  "$F,1",
		},
		{
			// Numbered frames, all held (backlog.cross_check: on): the
			// active lost 2 and the peer 3, and the peer's port was
			// 200 ms late with 2. By time the own 3 came first; by
			// number 2 did, and the early hole keeps that order.
			name:     "numbered frames",
			numbered: true,
			earlier:  []ownFrame{{"$N,0", -500}},
			own:      []ownFrame{{"$N,1", 0}, {"$N,3", 40}, {"$N,4", 300}},
			seen:     []ownFrame{{"$N,1", 0}, {"$N,2", 220}, {"$N,4", 300}},
			line:     []ownFrame{{"$N,1", 0}, {"$N,2", 20}, {"$N,3", 40}, {"$N,4", 300}},
			inOrder:  true, holeAt: "$N,3",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const peerRing = 7
			ms := int64(time.Millisecond)
			var watermark, requests atomic.Int64
			p := looplessPipeline(t, &watermark, &requests)
			p.ringLimits.LineByteTime = tc.byteTime
			if tc.numbered {
				p.ringLimits.CrossCheck = backlog.CrossCheckOn
			}
			number := func(o ownFrame) (uint64, bool) {
				if !tc.numbered {
					return 0, false
				}
				var n uint64
				_, err := fmt.Sscanf(o.data[strings.IndexByte(o.data, ',')+1:], "%d", &n)
				return n, err == nil
			}

			base := hostclock.Now() - 2*int64(time.Second)
			at := func(ms0 int64) backlog.Window {
				lo := base + ms0*ms
				return backlog.Window{Lo: lo, Hi: lo + int64(500*time.Microsecond)}
			}
			sighting := func(o ownFrame) backlog.Sighting {
				if n, ok := number(o); ok {
					return backlog.Sighting{ID: n, Exact: true, Win: at(o.ms), Size: len(o.data)}
				}
				return backlog.Sighting{ID: ingest.Fingerprint([]byte(o.data)), Win: at(o.ms), Size: len(o.data)}
			}
			accept := func(own []ownFrame) {
				for _, o := range own {
					data := []byte(o.data)
					f := &ingest.Frame{Data: data, ReceivedAt: time.Now(), Fingerprint: ingest.Fingerprint(data), Line: at(o.ms)}
					f.FeedSeq, f.HasFeedSeq = number(o)
					p.Accept(f)
				}
				p.in.drain(p.appendFn)
			}
			seq := uint64(0)
			from := at(-300).Hi
			take := func(through int64, seen []ownFrame) {
				t.Helper()
				var s []peerSighting
				for i, o := range seen {
					s = append(s, peerSighting{sighting(o), uint64(1000 + i)})
				}
				seq++
				msg := appendSightings(nil, sightingsMsg{clock: hostclock.ID(), seq: seq, ring: peerRing, from: from, through: through, seen: s})
				if err := p.handleRepair("b", msg); err != nil {
					t.Fatal(err)
				}
				from = through
			}

			p.act = &activation{activationMachine: activationMachine{phase: phaseProducing, live: true}}
			p.crossCheckLive(0)
			accept(tc.earlier)
			take(from, nil)
			firstHeld := p.ring.LastPos() + 1
			accept(tc.own)
			watermark.Store(hostclock.Now())
			take(hostclock.Now(), tc.seen)
			if requests.Load() != 1 || len(p.rep.holes) != 1 {
				t.Fatalf("repair requests %d, holes %d; want 1 and 1 (missed %d)", requests.Load(), len(p.rep.holes), p.c.CrossCheckMissed)
			}
			h := p.rep.holes[0]

			var answer []peerFrame
			for i, o := range tc.seen {
				answer = append(answer, peerFrame{s: sighting(o), pos: uint64(1000 + i), data: []byte(o.data), rx: time.Now().UnixNano()})
			}
			for _, msg := range encodeAnswer(h.id, peerRing, answer, false, false, p.repairMax()) {
				if err := p.handleRepair("b", msg); err != nil {
					t.Fatal(err)
				}
			}
			p.repairTick()
			if !h.decided {
				t.Fatal("the hole was not decided on the peer's whole answer")
			}

			// What produceMore would publish from the first held frame
			// on, with the marks it would set.
			var pub []published
			for pos := firstHeld; pos <= p.ring.LastPos(); {
				f, hold := p.repairHold(pos)
				if hold {
					t.Fatalf("held at ring position %d", pos)
				}
				if f != nil {
					pub = append(pub, published{string(f.data), f.possible})
					continue
				}
				e, _ := p.ring.Get(pos)
				pub = append(pub, published{string(e.Data), p.rep.mayRepeatFill(e, int64(p.ringLimits.PassMargin))})
				pos++
			}
			var line []string
			for _, o := range tc.line {
				line = append(line, o.data)
			}
			if tc.inOrder && !lineInOrder(line, pub) {
				t.Fatalf("published %v: not the line %v in order with the rest marked", pub, line)
			}
			if !tc.inOrder {
				if why := lineWhole(line, pub); why != "" {
					t.Fatalf("published %v for the line %v: %s", pub, line, why)
				}
			}
			if e, _ := p.ring.Get(h.pos); string(e.Data) != tc.holeAt {
				t.Fatalf("hole before %q; want it before %q", e.Data, tc.holeAt)
			}
		})
	}
}

// published is a record as produceMore would publish it.
type published struct {
	data   string
	marked bool // a possible duplicate
}

func (r published) String() string {
	if r.marked {
		return r.data + "(marked)"
	}
	return r.data
}

// lineInOrder reports whether line is a subsequence of pub that takes in
// every unmarked record: nothing lost, nothing out of place, and every
// record beyond the line marked.
func lineInOrder(line []string, pub []published) bool {
	memo := map[[2]int]bool{}
	var can func(i, j int) bool
	can = func(i, j int) bool {
		if j == len(pub) {
			return i == len(line)
		}
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		v := pub[j].marked && can(i, j+1) || i < len(line) && pub[j].data == line[i] && can(i+1, j+1)
		memo[k] = v
		return v
	}
	return can(0, 0)
}

// lineWhole returns why pub does not hold every frame of line as often as
// line has it, or holds one unmarked more often; "" if it does.
func lineWhole(line []string, pub []published) string {
	want, all, unmarked := map[string]int{}, map[string]int{}, map[string]int{}
	for _, l := range line {
		want[l]++
	}
	for _, r := range pub {
		all[r.data]++
		if !r.marked {
			unmarked[r.data]++
		}
	}
	var why []string
	for d, n := range want {
		if all[d] < n {
			why = append(why, fmt.Sprintf("%s %d times of %d", d, all[d], n))
		}
		if unmarked[d] > n {
			why = append(why, fmt.Sprintf("%s unmarked %d times, %d on the line", d, unmarked[d], n))
		}
	}
	return strings.Join(why, "; ")
}
