package backlog

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

// ms is a millisecond on the host clock.
const ms = int64(time.Millisecond)

// seqFrame is a frame with a feed sequence number, read in the window
// [at-1ms, at].
func seqFrame(seq uint64, at int64, data string) *Frame {
	return &Frame{ID: seq, Exact: true, Win: Window{Lo: at - ms, Hi: at}, ReceivedAt: at, Data: []byte(data)}
}

// fpFrame is a frame identified by its bytes (the identity is the test's
// choice), read in [lo, hi].
func fpFrame(id uint64, lo, hi int64, data string) *Frame {
	return &Frame{ID: id, Win: Window{Lo: lo, Hi: hi}, ReceivedAt: hi, Data: []byte(data)}
}

func mustNew(t *testing.T, c Config) *Ring {
	t.Helper()
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustAppend(t *testing.T, r *Ring, f *Frame) uint64 {
	t.Helper()
	pos, stored, err := r.Append(f)
	if err != nil || !stored {
		t.Fatalf("Append(%+v) = %d, %v, %v", f.Win, pos, stored, err)
	}
	return pos
}

func held(r *Ring) []uint64 {
	var ids []uint64
	for e, ok := r.Oldest(); ok; e, ok = r.Next(e.Pos) {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestNextAcrossTrims(t *testing.T) {
	r := mustNew(t, Config{MaxFrames: 8, LookAhead: 4})
	if _, ok := r.Next(0); ok {
		t.Fatal("Next on an empty ring")
	}
	for id := uint64(1); id <= 6; id++ {
		r.Append(seqFrame(id, int64(id)*ms, string([]byte{byte(id)})))
	}
	cursor := uint64(0)
	next := func(wantPos uint64, wantOK bool) {
		t.Helper()
		e, ok := r.Next(cursor)
		if ok != wantOK || e.Pos != wantPos {
			t.Fatalf("Next(%d) = %d, %v; want %d, %v", cursor, e.Pos, ok, wantPos, wantOK)
		}
		if ok {
			if e.ID != e.Pos || !bytes.Equal(e.Data, []byte{byte(e.Pos)}) {
				t.Fatalf("Next(%d) = %+v", cursor, e)
			}
			cursor = e.Pos
		}
	}
	next(1, true)
	next(2, true)
	r.TrimThrough(1) // behind the cursor
	next(3, true)    // unaffected
	r.TrimThrough(5) // past the cursor: flushes resume after the trim
	next(6, true)    // oldest held
	next(0, false)   // caught up
	r.Append(seqFrame(7, 7*ms, "\x07"))
	next(7, true) // appends continue behind the cursor
	if res := r.TrimEcho(Echo{ID: 7, Exact: true, Win: Window{Lo: NoLo, Hi: 8 * ms}}); res.Kind != TrimMatched || res.Pos != 7 {
		t.Fatalf("TrimEcho(7) = %+v", res)
	}
	next(0, false)
	for id := uint64(8); id <= 20; id++ { // overflow: MaxFrames 8
		r.Append(seqFrame(id, int64(id)*ms, string([]byte{byte(id)})))
	}
	next(13, true) // the cursor fell behind the evicted; resume at the oldest
	if e, ok := r.Get(12); ok {
		t.Fatalf("Get(12) = %+v, evicted entry", e)
	}
	if e, ok := r.Get(20); !ok || e.ID != 20 {
		t.Fatalf("Get(20) = %+v, %v", e, ok)
	}
	if e, ok := r.Oldest(); !ok || e.Pos != 13 {
		t.Fatalf("Oldest = %+v, %v", e, ok)
	}
	if r.LastPos() != 20 {
		t.Fatalf("LastPos = %d", r.LastPos())
	}
}

func TestResetPositionsContinue(t *testing.T) {
	r := mustNew(t, Config{})
	r.Append(seqFrame(1, 1*ms, "a"))
	r.Append(seqFrame(2, 2*ms, "b"))
	r.TrimEcho(Echo{ID: 9, Exact: true, Win: Window{Lo: NoLo, Hi: 2 * ms}})
	r.Reset()
	if r.Len() != 0 || r.Bytes() != 0 || r.LastPos() != 2 || r.MemoryLen() != 0 {
		t.Fatalf("after Reset: Len %d Bytes %d LastPos %d memory %d", r.Len(), r.Bytes(), r.LastPos(), r.MemoryLen())
	}
	if s := r.Stats(); s.ResetFrames != 2 || s.ResetEchoes != 1 {
		t.Fatalf("after Reset: %+v", s)
	}
	if _, ok := r.Oldest(); ok {
		t.Fatal("Oldest after Reset")
	}
	if n := r.TrimThrough(2); n != 0 { // a stale commit position trims nothing new
		t.Fatalf("TrimThrough(2) after Reset = %d", n)
	}
	pos, stored, err := r.Append(seqFrame(3, 3*ms, "c"))
	if pos != 3 || !stored || err != nil {
		t.Fatalf("Append after Reset = %d, %v, %v", pos, stored, err)
	}
	if n := r.TrimThrough(2); n != 0 {
		t.Fatalf("stale TrimThrough(2) removed %d new entries", n)
	}
	if e, ok := r.Next(1); !ok || e.Pos != 3 || string(e.Data) != "c" {
		t.Fatalf("Next(1) = %+v, %v", e, ok)
	}
	if r.ar.n != 1 {
		t.Fatalf("%d chunks held after Reset and one append", r.ar.n)
	}
}

// TestArenaWrapAround runs many rounds of append and echo through a small
// arena: chunks are reused (no growth, no allocation after warm-up), holes at
// chunk ends never corrupt data, and frames are read back intact.
func TestArenaWrapAround(t *testing.T) {
	c := Config{MaxFrames: 1000, MaxBytes: 1 << 20, LookAhead: 4, EchoMemory: 4}
	r := newRing(c.WithDefaults(), 5) // 32-byte chunks
	frame := func(id uint64) string {
		n := 1 + int(id*7)%13 // 1..13 bytes: holes of varying size
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(id) + byte(i)
		}
		return string(b)
	}
	const lag = 6
	var next uint64 = 1 // oldest identity held
	for id := uint64(1); id <= 5000; id++ {
		mustAppend(t, r, seqFrame(id, int64(id)*ms, frame(id)))
		if id > lag {
			if res := r.TrimEcho(Echo{ID: next, Exact: true, Win: Window{Lo: NoLo, Hi: int64(id) * ms}}); res.Kind != TrimMatched || res.Passed != 0 {
				t.Fatalf("TrimEcho(%d) = %+v", next, res)
			}
			next++
		}
		i := next
		for e, ok := r.Oldest(); ok; e, ok = r.Next(e.Pos) {
			if e.ID != i || string(e.Data) != frame(i) {
				t.Fatalf("after id %d: entry %+v, want id %d data %v", id, e, i, frame(i))
			}
			i++
		}
		if id == 100 {
			r.ar.allocs = 0
		}
	}
	if r.ar.allocs != 0 {
		t.Errorf("%d chunk allocations in steady state", r.ar.allocs)
	}
	if r.ar.n > 3 || r.sl.held() > 2*blockSlots || r.sl.allocs > 2 {
		t.Errorf("ring grew: %d chunks, %d slots (%d blocks allocated) for %d entries", r.ar.n, r.sl.held(), r.sl.allocs, r.Len())
	}
}

// TestLargeFrameBufferNotRecycled checks that the pieces of a buffer made
// for a frame longer than a chunk are not kept as spare chunks, so that the
// large buffer is freed once the frame is trimmed.
func TestLargeFrameBufferNotRecycled(t *testing.T) {
	r := newRing(Config{MaxFrames: 100, MaxBytes: 10000}.WithDefaults(), 4) // 16-byte chunks
	big := string(bytes.Repeat([]byte("L"), 100))
	r.Append(seqFrame(1, 1*ms, big))
	r.Append(seqFrame(2, 2*ms, "after"))
	if r.ar.n != 7 {
		t.Fatalf("%d chunks for a 100-byte frame and a small one; want 7", r.ar.n)
	}
	if e, _ := r.Oldest(); string(e.Data) != big {
		t.Fatal("large frame corrupted")
	}
	r.TrimThrough(2)
	for _, b := range r.ar.spare {
		if cap(b) != int(r.ar.size) {
			t.Fatalf("a piece of the large buffer (cap %d) was kept as a spare", cap(b))
		}
	}
	if len(r.ar.spare) != 0 {
		t.Fatalf("%d spares; want 0", len(r.ar.spare))
	}
}

// TestFingerprintKeptWithEntry: an exact entry returns the fingerprint it
// was appended with, an entry identified by its bytes returns its identity,
// in a ring that holds both kinds, grows its columns and wraps around.
func TestFingerprintKeptWithEntry(t *testing.T) {
	r := mustNew(t, Config{MaxFrames: 200})
	fingerprint := func(id uint64) uint64 { return id*0x9e3779b97f4a7c15 + 1 }
	for i := uint64(1); i <= 500; i++ {
		var f *Frame
		if i%3 == 0 {
			f = fpFrame(fingerprint(i), int64(i)*ms-ms, int64(i)*ms, "fp")
			f.Fingerprint = 7 // ignored: the identity is the fingerprint
		} else {
			f = seqFrame(i, int64(i)*ms, "seq")
			f.Fingerprint = fingerprint(i)
		}
		mustAppend(t, r, f)
	}
	n := 0
	for e, ok := r.Oldest(); ok; e, ok = r.Next(e.Pos) {
		n++
		i := e.Pos
		if want := fingerprint(i); e.Fingerprint != want || e.Exact != (i%3 != 0) {
			t.Fatalf("entry %d: exact %v, fingerprint %x; want %v, %x", i, e.Exact, e.Fingerprint, i%3 != 0, want)
		}
	}
	if n != 200 {
		t.Fatalf("%d entries held; want 200", n)
	}
}

func TestDataDoesNotAliasCaller(t *testing.T) {
	r := mustNew(t, Config{})
	in := []byte("hello")
	r.Append(&Frame{ID: 1, Exact: true, Win: Window{Lo: 0, Hi: 1}, Data: in})
	r.Append(seqFrame(2, 2*ms, "world"))
	in[0] = 'J'
	e, _ := r.Oldest()
	if string(e.Data) != "hello" {
		t.Fatalf("Data = %q after the caller changed its buffer", e.Data)
	}
	_ = append(e.Data, '!') // capacity is limited: must not overwrite the next frame
	if e, _ := r.Next(1); string(e.Data) != "world" {
		t.Fatalf("next frame = %q after append to the previous Data", e.Data)
	}
}

func TestRejectsFrameLargerThanMaxBytes(t *testing.T) {
	r := mustNew(t, Config{MaxBytes: 8})
	_, stored, err := r.Append(seqFrame(1, ms, "123456789"))
	if stored || !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Append of 9 bytes with max_bytes 8 = %v, %v", stored, err)
	}
	if s := r.Stats(); s.Rejected != 1 || s.RejectedBytes != 9 || s.Appended != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGrowthIsGradual(t *testing.T) {
	r := mustNew(t, Config{})
	if fp := r.Footprint(); fp > 64<<10 {
		t.Fatalf("empty ring holds %d bytes", fp)
	}
	for id := uint64(1); id <= 1000; id++ {
		r.Append(&Frame{ID: id, Exact: true, Win: Window{Lo: int64(id), Hi: int64(id)}, Data: make([]byte, 100)})
	}
	// 100 KB of payload: two 64 KiB chunks and 1024 slots, not the bounds.
	if fp := r.Footprint(); fp > 200<<10 {
		t.Fatalf("1000 frames of 100 bytes hold %d bytes", fp)
	}
	if r.sl.held() != 1024 {
		t.Fatalf("%d slots for 1000 entries", r.sl.held())
	}
}

func TestTrimKindString(t *testing.T) {
	for k, want := range map[TrimKind]string{TrimMatched: "matched", TrimRemembered: "remembered", 9: "TrimKind(9)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q; want %q", k, k.String(), want)
		}
	}
}

func TestEchoMemoryTableGrowsAndShrinks(t *testing.T) {
	r := mustNew(t, Config{EchoMemory: 1000})
	for id := uint64(0); id < 1000; id++ {
		r.TrimEcho(Echo{ID: id * 0x100000001, Exact: true, Win: Window{Lo: 0, Hi: 1}})
	}
	if r.MemoryLen() != 1000 || r.mem.used != 1000 || len(r.mem.tab) < 2000 {
		t.Fatalf("len %d used %d table %d", r.MemoryLen(), r.mem.used, len(r.mem.tab))
	}
	for id := uint64(999); id < 1000; id-- { // in reverse: deletes from the middle of probe runs
		if _, stored, _ := r.Append(&Frame{ID: id * 0x100000001, Exact: true, Win: Window{Lo: 0, Hi: 1}}); stored {
			t.Fatalf("id %d stored although its echo was remembered", id)
		}
		if _, ok := r.mem.find(id * 0x100000001); ok {
			t.Fatalf("id %d still indexed", id)
		}
		for j := uint64(0); j < id; j += 97 {
			if _, ok := r.mem.find(j * 0x100000001); !ok {
				t.Fatalf("id %d lost after deleting %d", j, id)
			}
		}
	}
	if r.MemoryLen() != 0 || r.mem.used != 0 {
		t.Fatalf("len %d used %d", r.MemoryLen(), r.mem.used)
	}
}

func TestTimesNearTheLimits(t *testing.T) {
	r := mustNew(t, Config{EchoMemoryTTL: time.Hour})
	r.TrimEcho(Echo{ID: 1, Win: Window{Lo: NoLo, Hi: math.MinInt64}})
	if n := r.ForgetEchoes(math.MinInt64 + 5); n != 0 { // now - TTL would overflow
		t.Fatalf("forgot %d", n)
	}
	if n := r.ForgetEchoes(math.MaxInt64); n != 1 {
		t.Fatalf("forgot %d", n)
	}
}

// Regression tests: each reproduces a way the previous design, which matched
// echoes by identity alone within a look-ahead window and let an unmatched
// echo suppress the next frame with the same bytes, lost frames of feeds
// that repeat themselves.

// A 40-byte sentence at 4800 baud is on the line for 83 ms: two distinct
// copies end at least that far apart.
var nmeaLine = Config{LineByteTime: time.Second / 480, PassMargin: 500 * time.Millisecond}

// TestStartingMemberIsNotSuppressedByEchoesOfFramesItNeverRead: a member
// that starts reads echoes of frames committed before its port opened. The
// old ring kept them as early echoes, and each then suppressed the next new
// frame with the same bytes: a frame lost at every repeat.
func TestStartingMemberIsNotSuppressedByEchoesOfFramesItNeverRead(t *testing.T) {
	r := mustNew(t, nmeaLine)
	gsa := "$GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99*30"
	// Echoes of the last cycle before this member's port opened at 1 s.
	for i := int64(0); i < 3; i++ {
		at := 100*ms + i*300*ms
		if res := r.TrimEcho(Echo{ID: 7, Win: Window{Lo: at - 2*ms, Hi: at + 2*ms}}); res.Kind != TrimRemembered {
			t.Fatalf("echo of a frame read before the port opened: %+v", res)
		}
	}
	// The same sentence, read again after the port opened, is new.
	for i := int64(0); i < 3; i++ {
		at := time.Second.Nanoseconds() + i*300*ms
		mustAppend(t, r, fpFrame(7, at-ms, at, gsa))
	}
	if r.Len() != 3 {
		t.Fatalf("%d of 3 new frames kept", r.Len())
	}
}

// TestEchoDoesNotMatchALaterCopy: with a feed X U U U X, the echo of the
// first X (which this member lost) matched the later X in the old ring and
// passed over the three U as "skipped by the active" although nobody had
// published them.
func TestEchoDoesNotMatchALaterCopy(t *testing.T) {
	r := mustNew(t, nmeaLine)
	const x, u = 1, 2
	line := func(i int64) int64 { return int64(i) * 100 * ms } // one sentence per 100 ms
	// This member lost the first X; it read U U U X.
	for i, id := range []uint64{u, u, u, x} {
		at := line(int64(i + 1))
		mustAppend(t, r, fpFrame(id, at-2*ms, at+3*ms, "s"+string(rune('0'+id))+"________________________________________"))
	}
	// The echo of the first X: its frame ended at 0.
	res := r.TrimEcho(Echo{ID: x, Win: Window{Lo: line(0) - 3*ms, Hi: line(0) + 4*ms}})
	if res.Kind != TrimRemembered || r.Len() != 4 {
		t.Fatalf("echo of the first X: %+v, %d entries left (want all 4)", res, r.Len())
	}
	// The echoes of the three U follow and match them one by one.
	for i := int64(1); i <= 3; i++ {
		res := r.TrimEcho(Echo{ID: u, Win: Window{Lo: line(i) - 3*ms, Hi: line(i) + 4*ms}})
		if res.Kind != TrimMatched || res.Passed != 0 {
			t.Fatalf("echo of U %d: %+v", i, res)
		}
	}
	if got := held(r); len(got) != 1 || got[0] != x {
		t.Fatalf("held %v, want the second X only", got)
	}
}

// TestIdenticalRunKeepsWhatItCannotTellApart: in a run of identical frames
// closer together than the windows can separate, an echo matches none of
// them for certain. They stay until a committed frame is certainly later,
// and a flush then marks them as possible duplicates: counted, not lost.
func TestIdenticalRunKeepsWhatItCannotTellApart(t *testing.T) {
	r := mustNew(t, Config{LineByteTime: 100 * time.Microsecond, PassMargin: 50 * time.Millisecond})
	for i := int64(0); i < 10; i++ { // 10-byte frames, 1 ms on the line, windows 5 ms wide
		at := i * 2 * ms
		mustAppend(t, r, fpFrame(5, at-4*ms, at+ms, "XXXXXXXXXX"))
	}
	res := r.TrimEcho(Echo{ID: 5, Win: Window{Lo: 2*ms - 3*ms, Hi: 2*ms + 2*ms}})
	if res.Kind != TrimRemembered || r.Len() != 10 {
		t.Fatalf("echo in the middle of a run: %+v, %d left", res, r.Len())
	}
	possible := 0
	for e, ok := r.Oldest(); ok; e, ok = r.Next(e.Pos) {
		if r.PossiblyPublished(e) {
			possible++
		}
	}
	if possible == 0 || possible == 10 {
		t.Fatalf("%d of 10 entries possibly published; the echo overlaps only some", possible)
	}
	// A committed frame well after the run passes all of it.
	r.TrimEcho(Echo{ID: 6, Win: Window{Lo: time.Second.Nanoseconds(), Hi: time.Second.Nanoseconds() + ms}})
	if s := r.Stats(); r.Len() != 0 || s.Passed+s.Skipped != 10 || s.Passed == 0 || s.Skipped == 0 {
		t.Fatalf("after a later commit: %d left, stats %+v", r.Len(), r.Stats())
	}
}

// TestOverflowIsLostOnlyIfNeverPublished: the old ring reported every
// evicted frame as a gap, even one that reached the topic.
func TestOverflowIsLostOnlyIfNeverPublished(t *testing.T) {
	r := mustNew(t, Config{MaxFrames: 2})
	for seq := uint64(1); seq <= 5; seq++ {
		mustAppend(t, r, seqFrame(seq, int64(seq)*ms, "f"))
	}
	if s := r.Stats(); s.OverflowFrames != 3 || s.LimboLen != 3 || s.OverflowLost != 0 {
		t.Fatalf("after evicting 1..3: %+v", s)
	}
	// Frame 2 was committed by the active: 1 and 2 are not gaps.
	if res := r.TrimEcho(Echo{ID: 2, Exact: true, Win: Window{Lo: NoLo, Hi: 6 * ms}}); res.Kind != TrimMatched {
		t.Fatalf("echo of an evicted frame: %+v", res)
	}
	if s := r.Stats(); s.OverflowResolved != 2 || s.LimboLen != 1 {
		t.Fatalf("after the echo of 2: %+v", s)
	}
	// This member takes over: frame 3 is lost, exactly.
	if n := r.Settle(); n != 1 {
		t.Fatalf("Settle = %d, want 1", n)
	}
	g := r.Gaps(nil)
	if s := r.Stats(); s.OverflowLost != 1 || s.OverflowGaps != 1 || len(g) != 1 || g[0].FirstPos != 3 || g[0].LastPos != 3 || g[0].FirstID != 3 {
		t.Fatalf("after Settle: stats %+v gaps %+v", s, g)
	}
}

func TestGapsKeepTheMostRecent(t *testing.T) {
	r := mustNew(t, Config{MaxFrames: 1})
	// Each round: append two frames (the first is evicted), settle, and
	// commit the second: one single-frame gap per round, never contiguous.
	for i := uint64(0); i < MaxGaps+10; i++ {
		r.Append(seqFrame(2*i+1, int64(2*i+1), "a"))
		r.Append(seqFrame(2*i+2, int64(2*i+2), "b"))
		r.Settle()
		r.TrimThrough(r.LastPos())
	}
	gaps := r.Gaps(nil)
	if len(gaps) != MaxGaps {
		t.Fatalf("%d gaps; want %d", len(gaps), MaxGaps)
	}
	for j, g := range gaps {
		i := uint64(10 + j)
		if g.FirstPos != 2*i+1 || g.LastPos != 2*i+1 || g.FirstID != 2*i+1 || g.Frames() != 1 || g.Bytes != 1 {
			t.Fatalf("gap %d = %+v", j, g)
		}
	}
	s := r.Stats()
	if s.OverflowGaps != MaxGaps+10 || s.FirstLostPos != 1 || s.LastLostPos != 2*(MaxGaps+9)+1 {
		t.Fatalf("Stats %+v", s)
	}
}

// TestOffsetsPast32Bits runs the ring's payload offsets across 2^32: only
// their low 32 bits are stored, and entries on both sides must read back
// intact.
func TestOffsetsPast32Bits(t *testing.T) {
	r := newRing(Config{MaxFrames: 64, MaxBytes: 1 << 10}.WithDefaults(), 5) // 32-byte chunks
	r.tail = 1<<32 - 1<<9
	r.headPrev = r.tail
	frame := func(id uint64) []byte {
		b := make([]byte, 1+int(id*7)%40) // some longer than a chunk
		for i := range b {
			b[i] = byte(id) + byte(i)
		}
		return b
	}
	var next uint64 = 1
	for id := uint64(1); id <= 3*blockSlots; id++ {
		if _, _, err := r.Append(&Frame{ID: id, Exact: true, Win: Window{Lo: int64(id), Hi: int64(id)}, Data: frame(id)}); err != nil {
			t.Fatal(err)
		}
		if id%5 == 0 {
			r.TrimThrough(r.LastPos() - 3)
		}
		for e, ok := r.Oldest(); ok; e, ok = r.Next(e.Pos) {
			if e.Pos < next {
				t.Fatalf("entry %d after entry %d", e.Pos, next)
			}
			if !bytes.Equal(e.Data, frame(e.ID)) || e.ID != e.Pos {
				t.Fatalf("after id %d: entry %+v, want data %v", id, e, frame(e.Pos))
			}
		}
		next = r.Stats().Appended - uint64(r.Len()) + 1
	}
	if r.tail < 1<<32+1<<10 {
		t.Fatalf("tail %#x did not pass 2^32", r.tail)
	}
}

// TestSlowFeedLineTimes checks that windows and receive times read back
// exactly when a block of slots spans more than the 4.3 s its 32-bit line
// times reach, from its first entry or from one in its middle.
func TestSlowFeedLineTimes(t *testing.T) {
	r := mustNew(t, Config{MaxFrames: 4000})
	const wall = 1_700_000_000_000_000_000
	want := map[uint64]Window{}
	hi := int64(0)
	for i := 1; i <= 3000; i++ {
		switch {
		case i == 600:
			hi += 10_000 * ms // the first block's times stop fitting here
		case i > 2*blockSlots:
			hi += 5 * ms // the third block's do after 4.3 s
		default:
			hi += ms
		}
		w := Window{Lo: hi - 3*ms, Hi: hi}
		pos, _, err := r.Append(&Frame{ID: uint64(i), Exact: true, Win: w, ReceivedAt: hi + wall, Data: []byte{byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		want[pos] = widen(w)
	}
	for e, ok := r.Oldest(); ok; e, ok = r.Next(e.Pos) {
		if e.Win != want[e.Pos] || e.ReceivedAt != e.Win.Hi+wall {
			t.Fatalf("entry %d: window %+v received at %d; want %+v, %d", e.Pos, e.Win, e.ReceivedAt, want[e.Pos], want[e.Pos].Hi+wall)
		}
	}
	var wide []bool
	for bn := r.sl.lo; bn < r.sl.hi; bn++ {
		wide = append(wide, r.sl.blocks[bn&uint64(len(r.sl.blocks)-1)].wide != nil)
	}
	if len(wide) != 3 || !wide[0] || wide[1] || !wide[2] {
		t.Errorf("blocks with 64-bit line times: %v; want [true false true]", wide)
	}
}
