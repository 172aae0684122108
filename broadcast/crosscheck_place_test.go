package broadcast

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
)

// TestCrossCheckHoleAfterOwnFramesThatCameFirst: the peer lost frames A
// that the active read, and the active lost the frames B that came next,
// read by the peer; C, read by both, follows. The peer's sightings of B
// come in one message with its watermark past all of them (a peer process
// starved of the processor, whose stream lagged), so the active still
// holds every A when it finds B missing. The hole goes after the A, which
// ended on the line more than the pass margin before B began: the topic
// gets A, B, C in line order. Placed before the first held frame, the fill
// published B ahead of A, unmarked. The loop is not run: the test drives
// the pipeline's handlers on its state directly.
func TestCrossCheckHoleAfterOwnFramesThatCameFirst(t *testing.T) {
	const peerRing = 7
	ms := int64(time.Millisecond)
	var watermark, requests atomic.Int64
	p := looplessPipeline(t, &watermark, &requests)

	base := hostclock.Now() - int64(time.Second)
	at := func(ms0 int64) backlog.Window {
		lo := base + ms0*ms
		return backlog.Window{Lo: lo, Hi: lo + int64(500*time.Microsecond)}
	}
	run := func(name string, n int, ms0 int64) []ownFrame {
		out := make([]ownFrame, n)
		for i := range out {
			out[i] = ownFrame{fmt.Sprintf("$%s,%d", name, i), ms0 + 2*int64(i)}
		}
		return out
	}
	earlier, a, b, c := run("E", 10, -500), run("A", 10, 0), run("B", 10, 150), run("C", 1, 200)
	accept := func(own []ownFrame) {
		for _, o := range own {
			data := []byte(o.data)
			p.Accept(&ingest.Frame{Data: data, ReceivedAt: time.Now(), Fingerprint: ingest.Fingerprint(data), Line: at(o.ms)})
		}
		p.in.drain(p.appendFn)
	}
	seq := uint64(0)
	from := at(-300).Hi
	take := func(through int64, seen []ownFrame) {
		t.Helper()
		var s []peerSighting
		for i, o := range seen {
			s = append(s, peerSighting{backlog.Sighting{ID: ingest.Fingerprint([]byte(o.data)), Win: at(o.ms), Size: len(o.data)}, uint64(1000 + i)})
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
	accept(earlier) // published before the peer's stream began
	take(from, nil)
	accept(a)
	accept(c)
	watermark.Store(hostclock.Now())
	take(hostclock.Now(), append(append([]ownFrame(nil), b...), c...))

	if k := p.c; k.CrossCheckMissed != uint64(len(b)) || requests.Load() != 1 || len(p.rep.holes) != 1 {
		t.Fatalf("missed %d, repair requests %d, holes %d; want %d, 1, 1", k.CrossCheckMissed, requests.Load(), len(p.rep.holes), len(b))
	}
	h := p.rep.holes[0]
	cPos := p.ring.LastPos()
	if h.pos != cPos {
		t.Fatalf("hole before ring position %d; want %d, C's, after every A", h.pos, cPos)
	}

	// The peer answers with what it read around the hole: B and C.
	var answer []peerFrame
	for i, o := range append(append([]ownFrame(nil), b...), c...) {
		answer = append(answer, peerFrame{s: backlog.Sighting{ID: ingest.Fingerprint([]byte(o.data)), Win: at(o.ms), Size: len(o.data)},
			pos: uint64(1000 + i), data: []byte(o.data), rx: time.Now().UnixNano()})
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

	// What produceMore would publish from the first A on, leaving out the
	// records marked as possible duplicates (the peer's copy of C: with no
	// line byte time configured here, nothing tells it for C certainly).
	var out, marked []string
	for pos := cPos - uint64(len(a)); pos <= cPos; {
		f, hold := p.repairHold(pos)
		if hold {
			t.Fatalf("held at ring position %d", pos)
		}
		if f != nil {
			if f.possible {
				marked = append(marked, string(f.data))
			} else {
				out = append(out, string(f.data))
			}
			continue
		}
		e, _ := p.ring.Get(pos)
		out = append(out, string(e.Data))
		pos++
	}
	var want []string
	for _, o := range append(append(append([]ownFrame(nil), a...), b...), c...) {
		want = append(want, o.data)
	}
	if got := strings.Join(out, " "); got != strings.Join(want, " ") {
		t.Fatalf("published unmarked\n  %s\nwant\n  %s", got, strings.Join(want, " "))
	}
	for _, m := range marked {
		if !slices.Contains(want, m) {
			t.Fatalf("published %q marked, which is no frame of the line", m)
		}
	}
}
