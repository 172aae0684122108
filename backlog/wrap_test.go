package backlog

import (
	"slices"
	"testing"
	"time"
)

// A counter that wraps brings its numbers back as other frames. These
// tests use a counter of 0 to 9 with a frame every 300 ms: a round takes
// 3 s, longer than the pass margin plus NumberedLate (1.1 s by default), so
// line time tells the rounds apart (sameNumber).
const wrapEvery = 300 * ms

func wrapRing(t *testing.T) *Ring {
	return mustNew(t, Config{MaxFrames: 64, LookAhead: 4, LineByteTime: 86_806})
}

func echoOf(seq uint64, at int64) Echo {
	return Echo{ID: seq, Exact: true, Win: Window{Lo: at - ms, Hi: at}}
}

// The port lost frame 5 of the first round, so its echo was remembered; the
// next round's frame 5, not yet committed, must be kept, not taken for it.
func TestAWrappedNumberIsNotTakenForAnOldEcho(t *testing.T) {
	r := wrapRing(t)
	at := int64(0)
	for s := uint64(0); s < 10; s++ {
		at += wrapEvery
		if s != 5 {
			mustAppend(t, r, seqFrame(s, at, "x"))
		}
		r.TrimEcho(echoOf(s, at))
	}
	if r.Len() != 0 || r.MemoryLen() != 1 {
		t.Fatalf("after the first round: %d held, %d echoes remembered; want 0 and 1", r.Len(), r.MemoryLen())
	}
	for s := uint64(0); s < 5; s++ {
		at += wrapEvery
		mustAppend(t, r, seqFrame(s, at, "x"))
		r.TrimEcho(echoOf(s, at))
	}
	at += wrapEvery
	if _, stored, _ := r.Append(seqFrame(5, at, "x")); !stored {
		t.Fatal("the second round's frame 5 was taken for the first round's echo and not stored")
	}
	at += wrapEvery
	mustAppend(t, r, seqFrame(6, at, "x"))
	if got := held(r); !slices.Equal(got, []uint64{5, 6}) {
		t.Fatalf("held %v, want [5 6]: a take-over now would lose what is missing", got)
	}
}

// Kafka was down for two rounds and the port lost the first round's frame
// 5. When the active commits again, the echo of that frame 5 must not match
// the second round's and pass over the frames in between.
func TestAnEchoDoesNotPassARoundOfTheCounter(t *testing.T) {
	r := wrapRing(t)
	at := int64(0)
	for round := range 2 {
		for s := uint64(0); s < 10; s++ {
			at += wrapEvery
			if round > 0 || s != 5 {
				mustAppend(t, r, seqFrame(s, at, "x"))
			}
		}
	}
	for s := uint64(0); s < 6; s++ {
		res := r.TrimEcho(echoOf(s, int64(s+1)*wrapEvery))
		if s == 5 && res.Kind != TrimRemembered {
			t.Fatalf("the echo of the lost frame 5: %+v, want it remembered", res)
		}
	}
	if r.Len() != 14 {
		t.Fatalf("%d held (%v), want the first round's 6 to 9 and the second round's 10 frames", r.Len(), held(r))
	}
	// The second round's echo of 5 is its own frame's.
	for s := uint64(6); s < 16; s++ {
		r.TrimEcho(echoOf(s%10, int64(s+1)*wrapEvery))
	}
	if got := held(r); !slices.Equal(got, []uint64{6, 7, 8, 9}) {
		t.Fatalf("held %v after the echoes through the second round's 5, want [6 7 8 9]", got)
	}
}

// While the numbers have only grown, the number alone decides, whatever the
// windows cannot say: an inactive member that has no bound on its peer's
// clock yet still trims its ring.
func TestGrowingNumbersMatchWithoutWindows(t *testing.T) {
	r := wrapRing(t)
	for s := uint64(1); s <= 3; s++ {
		mustAppend(t, r, seqFrame(s, int64(s)*wrapEvery, "x"))
	}
	for s := uint64(1); s <= 3; s++ {
		if res := r.TrimEcho(Echo{ID: s, Exact: true, Win: Window{Lo: NoLo, Hi: 10 * wrapEvery}}); res.Kind != TrimMatched {
			t.Fatalf("echo %d without a start: %+v, want matched by its number", s, res)
		}
	}
	if r.NumbersCameBack() {
		t.Fatal("numbers came back, though they only grew")
	}
}

// Once a number has come back, a number decides only with both windows
// known and within the slack: an echo whose window has no start may be
// another round's frame, and is remembered instead.
func TestAfterANumberCameBackWindowsMustAgree(t *testing.T) {
	r := wrapRing(t)
	at := int64(0)
	for _, s := range []uint64{8, 9, 0, 1, 2} {
		at += wrapEvery
		mustAppend(t, r, seqFrame(s, at, "x"))
	}
	if !r.NumbersCameBack() {
		t.Fatal("the port's 9 then 0 is a counter that wrapped")
	}
	if res := r.TrimEcho(Echo{ID: 8, Exact: true, Win: Window{Lo: NoLo, Hi: at}}); res.Kind != TrimRemembered {
		t.Fatalf("echo of 8 without a start: %+v, want remembered", res)
	}
	// Within the slack, end to end (a port that read it a second late).
	if res := r.TrimEcho(echoOf(9, 2*wrapEvery+NumberedLate.Nanoseconds())); res.Kind != TrimMatched || res.Passed != 1 {
		t.Fatalf("echo of 9 a second late: %+v, want matched, passing 8", res)
	}
	if !r.PossiblyPublished(Entry{ID: 8, Exact: true, Win: Window{Lo: wrapEvery - ms, Hi: wrapEvery}}) {
		t.Fatal("an 8 the remembered echo may be is not possibly published")
	}
	// A committed frame that came after 0, 1 and 2, but not by the pass
	// margin plus NumberedLate: a numbered frame read late may still be
	// that far off, so they stay.
	if res := r.TrimEcho(echoOf(7, 3*wrapEvery+1100*ms)); res.Kind != TrimRemembered || res.Passed != 0 {
		t.Fatalf("echo of a 7 1.1 s after the 0: %+v, want remembered, passing nothing", res)
	}
	if got := held(r); !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Fatalf("held %v, want [0 1 2]", got)
	}
	// Further off than the slack: another round's 0, which does not trim
	// this one; but it came after 0, 1 and 2 by more than the margin and
	// NumberedLate, so they are behind a committed frame and passed over.
	if res := r.TrimEcho(echoOf(0, 3*wrapEvery+3*NumberedLate.Nanoseconds())); res.Kind != TrimRemembered || res.Passed != 3 {
		t.Fatalf("echo of a 0 three seconds off: %+v, want remembered, passing the three", res)
	}
}

// While the numbers grow, a numbered frame is never passed by time: its
// echo, or a later number's, removes it exactly, even read late.
func TestGrowingNumbersAreNotPassedByTime(t *testing.T) {
	r := wrapRing(t)
	for s := uint64(1); s <= 3; s++ {
		mustAppend(t, r, seqFrame(s, int64(s)*wrapEvery, "x"))
	}
	if res := r.TrimEcho(echoOf(9, 10*time.Second.Nanoseconds())); res.Kind != TrimRemembered || res.Passed != 0 {
		t.Fatalf("echo of a later number 10 s on: %+v, want remembered, passing nothing", res)
	}
	if r.Len() != 3 {
		t.Fatalf("%d held, want 3", r.Len())
	}
}

// A record marked as a possible duplicate repeats a number without any
// counter wrapping: it does not make the numbers come back.
func TestAPossibleDuplicateIsNoWrap(t *testing.T) {
	r := wrapRing(t)
	for _, e := range []Echo{echoOf(4, 1), echoOf(5, 2), {ID: 4, Exact: true, Win: Window{Lo: 0, Hi: 3}, Possible: true}, echoOf(6, 4)} {
		r.TrimEcho(e)
	}
	if r.NumbersCameBack() {
		t.Fatal("a possible duplicate's number was taken for a wrap")
	}
	r.TrimEcho(echoOf(5, 5))
	if !r.NumbersCameBack() {
		t.Fatal("an unmarked 5 after 6 is a number come back")
	}
}

// A fill for a hole on a wrapping counter: the peer's frames 5 and 6 of the
// third round have numbers the local stream holds from the second round,
// 3 s before. They fill the hole; they are not the local frames.
func TestAFillKeepsAWrappedNumber(t *testing.T) {
	sight := func(i int) Sighting {
		at := int64(i+1) * wrapEvery
		return Sighting{ID: uint64(i % 10), Exact: true, Win: Window{Lo: at - ms, Hi: at}, Size: 10}
	}
	var before, after, peer []Sighting
	for i := range 30 { // the local port lost i = 25 and 26
		switch {
		case i < 25:
			before = append(before, sight(i))
		case i > 26:
			after = append(after, sight(i))
		}
		if i >= 23 {
			peer = append(peer, sight(i))
		}
	}
	for _, cameBack := range []bool{false, true} {
		rules := HoleRules{ByteTime: 86_806, Margin: 100 * ms, Late: NumberedLate.Nanoseconds(), NumbersCameBack: cameBack}
		fill := FillHole(before, after, peer, rules)
		var got []uint64
		for _, f := range fill {
			got = append(got, peer[f.Index].ID)
		}
		if !slices.Equal(got, []uint64{5, 6}) {
			t.Errorf("numbers came back %v: the fill holds %v, want the lost [5 6]", cameBack, got)
		}
	}
}

// The port's numbers that come back are counted, and so are those that
// come back within the slack, which line time cannot tell apart: a counter
// whose round is that short, or one number twice in a row.
func TestNumbersBackAreCounted(t *testing.T) {
	for _, c := range []struct {
		name     string
		seqs     []uint64
		every    int64
		back     uint64
		backSoon uint64
		cameBack bool
	}{
		{"growing", []uint64{1, 2, 3, 4}, wrapEvery, 0, 0, false},
		{"a round of 3 s", []uint64{0, 5, 9, 0, 5, 9, 0}, 1000 * ms, 2, 0, true},
		{"a round of 0.6 s", []uint64{0, 5, 9, 0, 5, 9, 0}, 200 * ms, 2, 1, true},
		{"one number twice", []uint64{7, 7, 8}, 10 * ms, 1, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := wrapRing(t)
			for i, s := range c.seqs {
				mustAppend(t, r, seqFrame(s, int64(i+1)*c.every, "x"))
			}
			st := r.Stats()
			if st.NumbersBack != c.back || st.NumbersBackSoon != c.backSoon || r.NumbersCameBack() != c.cameBack {
				t.Fatalf("numbers back %d, soon %d, came back %v; want %d, %d, %v",
					st.NumbersBack, st.NumbersBackSoon, r.NumbersCameBack(), c.back, c.backSoon, c.cameBack)
			}
		})
	}
}
