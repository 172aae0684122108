package backlog

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The pair property: two members read one serial feed, each losing frames
// of its own, starting and restarting at different moments; one publishes,
// the other trims its ring on the echo of what was committed, and takes
// over when the active dies. Whatever the feed repeats, every frame the
// successor read after the last committed one must be in its flush (never a
// gap), and every frame it flushes that was already committed must be marked
// a possible duplicate (never a silent duplicate).
//
// The world is simulated on one "line" clock; each member's host clock is
// the line clock plus an offset, its port delivers each byte within a
// latency bound, and its read windows bound the line time as the ingest
// layer does. The successor converts the active's windows with bounds on the
// offset between the two clocks, as the pair link measures them.

// pairWorld is one generated scenario.
type pairWorld struct {
	byteTime int64 // line time of one character, ns
	latency  int64 // a port delivers a byte at most this long after its line time
	poll     int64 // a read window opens at most this long before the bytes' delivery
	jitter   int64 // a read returns at most this long after the delivery
	margin   int64 // the ring's pass margin
	exact    bool  // frames carry a feed sequence number
	// wrap: the sequence number counts 1 to wrap and starts again (0: it
	// does not wrap). A number comes back no sooner than numberedApart,
	// and every window is bounded: what sameNumber needs to tell the
	// counter's rounds apart before any number has come back.
	wrap int

	contents [][]byte // the alphabet
	feed     []feedFrame
	members  [2]*pairMember
	trace    []string // what happened, for a failure's message
}

func (w *pairWorld) logf(format string, args ...any) {
	w.trace = append(w.trace, fmt.Sprintf(format, args...))
}

func (w *pairWorld) fatalf(t *rapid.T, format string, args ...any) {
	t.Fatalf("%s\n%s", fmt.Sprintf(format, args...), strings.Join(w.trace, "\n"))
}

type feedFrame struct {
	content int
	end     int64 // line time of the last byte
}

type pairMember struct {
	name  string
	theta int64 // host clock minus line clock
	ring  *Ring
	// reads: for each feed index this member read (since its last start),
	// its window on the host clock.
	reads map[int]Window
	// readOrder lists them in line order.
	readOrder []int
	drop      float64 // probability to lose a frame silently
	lastRet   int64   // line time of the member's latest read return
	// byPos maps the ring positions of stored frames to feed indexes.
	byPos map[uint64]int
	// pending: frames read but not yet committed while active, in order.
	pending []int
}

// record is one committed record in the topic.
type record struct {
	index    int    // feed index of its frame
	producer int    // member index
	win      Window // in the producer's host clock
	possible bool   // marked as a possible duplicate
}

// echoEvent is a committed record arriving at the inactive member.
type echoEvent struct {
	at  int64 // line time of arrival
	rec record
}

func TestPairNeverLosesAFrame(t *testing.T) {
	rapid.Check(t, checkPair)
}

// FuzzPair runs the same property from the fuzzing engine (make fuzz).
func FuzzPair(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(checkPair))
}

func checkPair(t *rapid.T) {
	w := genWorld(t)
	w.run(t)
}

func genWorld(t *rapid.T) *pairWorld {
	w := &pairWorld{
		// 1200 to 460800 baud, 10 bits per character.
		byteTime: rapid.SampledFrom([]int64{8_333_333, 1_041_667, 260_417, 86_806, 21_701}).Draw(t, "byteTime"),
		latency:  rapid.Int64Range(0, 20_000_000).Draw(t, "latency"),
		poll:     rapid.Int64Range(0, 5_000_000).Draw(t, "poll"),
		jitter:   rapid.Int64Range(0, 30_000_000).Draw(t, "jitter"),
		margin:   rapid.Int64Range(0, 800_000_000).Draw(t, "margin"),
		exact:    rapid.Bool().Draw(t, "exact"),
	}
	// A tiny alphabet, so that repeats are the rule; lengths differ so that
	// some frames are long enough on the line to be told apart by time.
	n := rapid.IntRange(1, 4).Draw(t, "alphabet")
	for i := range n {
		l := rapid.IntRange(3, 90).Draw(t, fmt.Sprintf("len%d", i))
		w.contents = append(w.contents, []byte(fmt.Sprintf("%c%s", 'A'+i, string(make([]byte, l-1)))))
	}
	if w.exact {
		w.wrap = rapid.SampledFrom([]int{0, 2, 5, 16}).Draw(t, "wrap")
	}
	frames := rapid.IntRange(1, 400).Draw(t, "frames")
	var end int64 = 1e12
	runStyle := rapid.IntRange(0, 2).Draw(t, "runStyle") // 0 random, 1 long runs, 2 cycles
	cycle := rapid.SliceOfN(rapid.IntRange(0, n-1), 1, 8).Draw(t, "cycle")
	c := 0
	for i := range frames {
		switch runStyle {
		case 0:
			c = rapid.IntRange(0, n-1).Draw(t, "c")
		case 1:
			if rapid.IntRange(0, 9).Draw(t, "switch") == 0 {
				c = rapid.IntRange(0, n-1).Draw(t, "c")
			}
		case 2:
			c = cycle[i%len(cycle)]
		}
		idle := int64(0)
		if rapid.Bool().Draw(t, "idle") {
			idle = rapid.Int64Range(0, 200_000_000).Draw(t, "idleNs")
		}
		end += idle + int64(len(w.contents[c]))*w.byteTime
		if w.wrap > 0 && i >= w.wrap {
			end = max(end, w.feed[i-w.wrap].end+w.numberedApart())
		}
		w.feed = append(w.feed, feedFrame{content: c, end: end})
	}
	for i := range w.members {
		w.members[i] = &pairMember{
			name:  fmt.Sprintf("m%d", i),
			theta: rapid.Int64Range(-1e15, 1e15).Draw(t, "theta"),
			drop:  rapid.SampledFrom([]float64{0, 0.01, 0.1, 0.4}).Draw(t, "drop"),
		}
	}
	return w
}

// numberedApart is how far apart on the line a wrapping counter's frames
// of one number are at least: more than the ring's slack for one numbered
// frame (the pass margin plus NumberedLate) beyond what the windows and the
// echo's delays (under 0.8 s in this world) can make of them.
func (w *pairWorld) numberedApart() int64 {
	return w.margin + int64(NumberedLate) + 2*int64(time.Second)
}

// id is the identity a member gives feed frame i.
func (w *pairWorld) id(i int) uint64 {
	if w.exact && w.wrap > 0 {
		return uint64(i%w.wrap) + 1
	}
	if w.exact {
		return uint64(i) + 1
	}
	return uint64(w.feed[i].content) + 1000
}

func (w *pairWorld) newRing(t *rapid.T) *Ring {
	r, err := New(Config{
		MaxFrames:    1 << 12,
		MaxBytes:     1 << 22,
		LookAhead:    4,
		EchoMemory:   1 << 12,
		PassMargin:   maxDur(w.margin),
		LineByteTime: maxDur(w.byteTime),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// maxDur keeps a zero margin distinct from "unset" (which takes the
// default) by using one nanosecond.
func maxDur(ns int64) time.Duration {
	if ns <= 0 {
		return 1
	}
	return time.Duration(ns)
}

// readWindow is what member m, reading feed frame i, knows of its line time:
// the port delivers it within the latency bound, the read that returns it
// began at most poll before the delivery less the bound and returns at most
// jitter after.
func (w *pairWorld) readWindow(t *rapid.T, m *pairMember, i int) (Window, int64) {
	line := w.feed[i].end
	delivered := line + rapid.Int64Range(0, w.latency).Draw(t, "delivery")
	lo := delivered - w.latency - rapid.Int64Range(0, w.poll).Draw(t, "pollStart")
	ret := delivered + rapid.Int64Range(0, w.jitter).Draw(t, "ret")
	if rapid.IntRange(0, 30).Draw(t, "stall") == 0 {
		// The reader was not reading: the read returns late and its window
		// opened long before.
		ret += rapid.Int64Range(0, 2_000_000_000).Draw(t, "stallNs")
		lo -= rapid.Int64Range(0, 2_000_000_000).Draw(t, "stallOpen")
	}
	// A wrapping counter's rounds are told apart by time only where the
	// windows bound it (sameNumber): its worlds keep every read bounded.
	if w.wrap == 0 && rapid.IntRange(0, 40).Draw(t, "unboundedLo") == 0 {
		return Window{Lo: NoLo, Hi: ret + m.theta}, ret
	}
	return Window{Lo: lo + m.theta, Hi: ret + m.theta}, ret
}

type clockBound struct {
	known    bool
	lo, hi   int64 // bounds on succ.theta - prod.theta
	maxWidth int64
}

// run plays rounds: the active publishes until it dies (or is fenced), the
// other member takes over and is checked, the old active restarts later
// with a fresh ring (or, fenced, goes on with its ring as the inactive).
func (w *pairWorld) run(t *rapid.T) {
	var topic []record
	active := 0
	// The first active reads from the start; the other starts later, or at
	// the same moment.
	starts := [2]int{0, rapid.IntRange(0, len(w.feed)/2).Draw(t, "start1")}
	for _, m := range w.members {
		m.reset(w, t)
	}
	// ... and the successor always knows the producer's clock.
	knownClocks := w.wrap > 0 || rapid.Bool().Draw(t, "knownClocks")
	next := 0 // next feed frame
	var carried []echoEvent
	rounds := rapid.IntRange(1, 4).Draw(t, "rounds")
	for round := 0; round < rounds && next < len(w.feed); round++ {
		act, inact := w.members[active], w.members[1-active]
		death := min(len(w.feed), next+rapid.IntRange(0, len(w.feed)).Draw(t, "deathAfter"))
		bound := w.genBound(t, inact, act, knownClocks)
		var events []event
		for i := next; i < death; i++ {
			for k, m := range w.members {
				if i < starts[k] || rapid.Float64Range(0, 1).Draw(t, "u") < m.drop {
					continue // not reading yet, or lost silently on this port
				}
				win, ret := w.readWindow(t, m, i)
				// A port delivers in line order: a read cannot return a
				// frame before the one ahead of it.
				ret = max(ret, m.lastRet)
				win.Hi = max(win.Hi, ret+m.theta)
				m.lastRet = ret
				events = append(events, event{at: ret, member: k, index: i, win: win})
			}
		}
		slices.SortStableFunc(events, func(a, b event) int { return cmpInt64(a.at, b.at) })
		// The active appends what it reads and commits it in transactions
		// that end at random moments, trimming its own ring; each committed
		// record reaches the inactive after a random delay.
		echoes := carried
		carried = nil
		lastCommit := int64(math.MinInt64)
		for _, ev := range events {
			if ev.member != active {
				continue
			}
			pos := act.append(w, t, ev)
			if pos != 0 {
				act.pending = append(act.pending, ev.index)
			}
			if rapid.IntRange(0, 3).Draw(t, "commitNow") == 0 && len(act.pending) > 0 {
				commitAt := max(ev.at+rapid.Int64Range(0, 50_000_000).Draw(t, "commitDelay"), lastCommit)
				lastCommit = commitAt
				// A consumer reads the topic in order: an echo never
				// arrives before the one committed ahead of it.
				arrive := commitAt + rapid.Int64Range(1, 300_000_000).Draw(t, "echoDelay")
				for _, idx := range act.pending {
					rec := record{index: idx, producer: active, win: act.reads[idx]}
					topic = append(topic, rec)
					if n := len(echoes); n > 0 {
						arrive = max(arrive, echoes[n-1].at)
					}
					echoes = append(echoes, echoEvent{at: arrive, rec: rec})
					arrive += rapid.Int64Range(0, 1_000_000).Draw(t, "echoSpacing")
				}
				act.pending = act.pending[:0]
				act.ring.TrimThrough(act.ring.LastPos())
			}
		}
		// The active dies or is fenced: its open transaction is aborted.
		act.pending = act.pending[:0]
		// The inactive appends what it read and applies echoes in the order
		// they happen on its host; the rest of the committed echoes arrive
		// during its catch-up.
		slices.SortStableFunc(echoes, func(a, b echoEvent) int { return cmpInt64(a.at, b.at) })
		ei := 0
		for _, ev := range events {
			if ev.member == active {
				continue
			}
			for ei < len(echoes) && echoes[ei].at <= ev.at {
				w.applyEcho(inact, echoes[ei], bound)
				ei++
			}
			inact.append(w, t, ev)
		}
		for ; ei < len(echoes); ei++ {
			w.applyEcho(inact, echoes[ei], bound)
		}
		w.logf("%s dies after frame %d; %s takes over (clock bound known %v)", act.name, death-1, inact.name, bound.known)
		flushed := w.activate(t, inact, topic)
		// The new active commits its flush first; the old active sees those
		// records after it comes back.
		fenced := rapid.Bool().Draw(t, "fenced")
		var flushAt int64
		if death > 0 {
			flushAt = w.feed[death-1].end + rapid.Int64Range(0, 100_000_000).Draw(t, "flushAt")
		}
		for _, f := range flushed {
			f.producer = 1 - active
			topic = append(topic, f)
			carried = append(carried, echoEvent{at: flushAt, rec: f})
		}
		inact.ring.TrimThrough(inact.ring.LastPos())
		next = death
		if !fenced {
			// It died: it restarts after a while with a fresh ring.
			act.reset(w, t)
			starts[active] = min(len(w.feed), next+rapid.IntRange(0, 20).Draw(t, "restartAfter"))
		}
		active = 1 - active
	}
	w.checkTopic(t, topic)
}

// reset gives the member a fresh ring, as a restarted process has.
func (m *pairMember) reset(w *pairWorld, t *rapid.T) {
	m.ring = w.newRing(t)
	m.reads = map[int]Window{}
	m.byPos = map[uint64]int{}
	m.readOrder = nil
	m.pending = nil
}

// append hands a read frame to the member's ring and returns its position
// (0 if the ring did not store it).
func (m *pairMember) append(w *pairWorld, t *rapid.T, ev event) uint64 {
	m.reads[ev.index] = ev.win
	m.readOrder = append(m.readOrder, ev.index)
	pos, _, err := m.ring.Append(&Frame{ID: w.id(ev.index), Exact: w.exact, Win: ev.win, Data: w.contents[w.feed[ev.index].content]})
	if err != nil {
		t.Fatal(err)
	}
	w.logf("%s reads frame %d (%c, line %d) at %d, window %s: pos %d", m.name, ev.index, w.contents[w.feed[ev.index].content][0],
		w.feed[ev.index].end, ev.at, w.rel(m, ev.win), pos)
	if pos != 0 {
		m.byPos[pos] = ev.index
	}
	return pos
}

type event struct {
	at     int64 // line time of the read's return
	member int
	index  int
	win    Window
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// genBound draws what the successor knows of the offset between its clock
// and the active's: bounds that contain the truth, or nothing.
func (w *pairWorld) genBound(t *rapid.T, succ, prod *pairMember, knownClocks bool) clockBound {
	if !knownClocks && rapid.Bool().Draw(t, "unknownThisRound") {
		return clockBound{}
	}
	truth := succ.theta - prod.theta
	below := rapid.Int64Range(1, 2_000_000).Draw(t, "rttBelow")
	above := rapid.Int64Range(1, 2_000_000).Draw(t, "rttAbove")
	return clockBound{known: true, lo: truth - below, hi: truth + above, maxWidth: below + above}
}

// applyEcho hands one committed record to the inactive member, its window
// converted to the member's clock as the pipeline does.
func (w *pairWorld) applyEcho(m *pairMember, ev echoEvent, b clockBound) {
	arrival := ev.at + m.theta // the echo arrives after its frame was on the line
	win := Window{Lo: NoLo, Hi: arrival}
	if b.known && ev.rec.win.Lo != NoLo {
		win.Lo = ev.rec.win.Lo + b.lo
	}
	if b.known {
		win.Hi = min(ev.rec.win.Hi+b.hi, arrival)
	}
	res := m.ring.TrimEcho(Echo{ID: w.id(ev.rec.index), Exact: w.exact, Win: win})
	w.logf("%s echo of frame %d (line %d) at %d, window %s: %v pos %d passed %d", m.name, ev.rec.index, w.feed[ev.rec.index].end,
		ev.at, w.rel(m, win), res.Kind, res.Pos, res.Passed)
}

// rel shows a window of member m on the line clock.
func (w *pairWorld) rel(m *pairMember, win Window) string {
	lo := "-inf"
	if win.Lo != NoLo {
		lo = fmt.Sprint(win.Lo - m.theta)
	}
	return fmt.Sprintf("[%s, %d]", lo, win.Hi-m.theta)
}

// activate makes m active after its catch-up: what its ring holds is
// flushed, each entry marked if it may already be in the topic. It checks
// the pair property for this take-over and returns the flushed records.
func (w *pairWorld) activate(t *rapid.T, m *pairMember, topic []record) []record {
	m.ring.Settle()
	inTopic := map[int]bool{}
	last := -1
	for _, r := range topic {
		inTopic[r.index] = true
		last = max(last, r.index)
	}
	var flushed []record
	held := map[int]bool{}
	// The ring holds entries in the order they were read; map them back
	// to feed indexes by walking the reads in the same order.
	for after := uint64(0); ; {
		e, ok := m.ring.Next(after)
		if !ok {
			break
		}
		after = e.Pos
		idx, ok := m.byPos[e.Pos]
		if !ok {
			t.Fatalf("ring entry at %d was never appended", e.Pos)
		}
		held[idx] = true
		flushed = append(flushed, record{index: idx, producer: -1, win: e.Win, possible: m.ring.PossiblyPublished(e)})
	}
	for _, idx := range m.readOrder {
		if idx > last && !held[idx] {
			w.fatalf(t, "%s took over after frame %d was committed, but its ring no longer holds frame %d, which it read (a gap); ring: %v; stats %+v",
				m.name, last, idx, indexes(flushed), m.ring.Stats())
		}
	}
	for _, f := range flushed {
		if inTopic[f.index] && !f.possible {
			w.fatalf(t, "%s flushed frame %d, already committed, without marking it a possible duplicate; stats %+v", m.name, f.index, m.ring.Stats())
		}
	}
	return flushed
}

func indexes(rs []record) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.index
	}
	return out
}

// checkTopic checks the whole topic: a frame that appears again is always
// marked as a possible duplicate.
func (w *pairWorld) checkTopic(t *rapid.T, topic []record) {
	w.logf("topic: %v", indexes(topic))
	seen := map[int]bool{}
	for i, r := range topic {
		if seen[r.index] && !r.possible {
			w.fatalf(t, "record %d repeats frame %d unmarked", i, r.index)
		}
		seen[r.index] = true
	}
}
