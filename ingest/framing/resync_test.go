package framing

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// resyncModes are the configurations with a certain boundary, each with
// the rule for when a decoder that starts reading at offset o of a clean
// stream (frames back to back, no garbage) is sure to deliver frame f.
var resyncModes = []struct {
	cfg Config
	// sees reports whether a decoder starting at o delivers the frame
	// whose bytes are wire[start:end], and so every frame after it.
	sees func(wire []byte, start, o int) bool
}{
	// The boundary is the end of the frame before: its LF, 0x00 or END.
	{Config{Mode: ModeLines, MaxFrame: 24}, afterDelimiter},
	{Config{Mode: ModeCOBS, MaxFrame: 24}, afterDelimiter},
	// A SLIP frame as AppendFrame writes it starts with an END of its own.
	{Config{Mode: ModeSLIP, MaxFrame: 24}, atStart},
	// The frame's own first byte: '$' or '!', STX, the sync.
	{Config{Mode: ModeNMEA}, atStart},
	{Config{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumOptional}, atStart},
	{Config{Mode: ModeSTXETX, MaxFrame: 24}, atStart},
	{Config{Mode: "fixed:6", Sync: "AA55"}, atStart},
	{Config{Mode: "fixed:5", Sync: "ABABAC"}, atStart},
	{Config{Mode: "fixed:1", Sync: "00"}, atStart},
	// With a check byte, the STX and the byte before it, and when that
	// byte is an ETX (a check byte of that value) the real ETX before it.
	{Config{Mode: ModeSTXETX, Check: CheckXOR, MaxFrame: 24}, afterCheckByte},
	{Config{Mode: ModeSTXETX, Check: CheckLRC, MaxFrame: 24}, afterCheckByte},
}

func afterDelimiter(wire []byte, start, o int) bool { return o < start }

func atStart(wire []byte, start, o int) bool { return o <= start }

func afterCheckByte(wire []byte, start, o int) bool {
	return o < start && (wire[start-1] != etx || o < start-1)
}

// resyncStream is a clean stream: the mode's lead, then frames.
type resyncStream struct {
	wire   []byte
	frames [][]byte
	start  []int // where each frame's bytes begin on the wire
	done   []int // how far a decoder must read to deliver each frame
}

// TestResyncConverges is the property that lets two members of a pair,
// which open their ports at different moments, publish the same frames:
// decoders that start reading the same stream at different offsets
// deliver exactly the frames from the first one whose boundary they saw,
// so from the first frame both saw whole they deliver the same frames. A
// reconnect (Reset, with or without bytes lost) is a new start.
func TestResyncConverges(t *testing.T) {
	for _, m := range resyncModes {
		if !m.cfg.Resyncs() {
			t.Fatalf("%+v: Resyncs() = false", m.cfg)
		}
		for seed := range uint64(20) {
			r := rand.New(rand.NewPCG(seed, 0x5eed))
			st := newResyncStream(t, m.cfg, r)
			firstSeen := func(o int) int {
				for f, start := range st.start {
					if m.sees(st.wire, start, o) {
						return f
					}
				}
				return len(st.frames)
			}
			decode := func(d Decoder, p []byte) [][]byte {
				return feed(t, d, randomChunks(p, r.Uint64())...)
			}

			// Every starting offset delivers exactly the frames from the
			// first one whose boundary it saw.
			// Nothing is counted but the resync itself: a decoder never
			// takes a byte inside a frame for a boundary, not even one
			// that the next boundary would cut off as Truncated.
			outs := make([][][]byte, len(st.wire)+1)
			for o := range outs {
				d := mustNew(t, m.cfg)
				outs[o] = decode(d, st.wire[o:])
				if want := st.frames[firstSeen(o):]; !equalFrames(outs[o], want) {
					t.Fatalf("%+v, seed %d, wire %q from offset %d:\n got %q\nwant %q",
						m.cfg, seed, st.wire, o, outs[o], want)
				}
				if cs := countsOf(d); cs.minus(counts{Resync: cs[Resync]}) != (counts{}) || cs[Resync] > 1 {
					t.Fatalf("%+v, seed %d, wire %q from offset %d: drops %v", m.cfg, seed, st.wire, o, cs)
				}
			}

			// Any two starts agree from the first frame both saw whole.
			for range 200 {
				a := r.IntN(len(outs))
				b := a + r.IntN(len(outs)-a)
				k := firstSeen(b)
				early, late := outs[a], outs[b]
				if len(late) != len(st.frames)-k || len(early) < len(late) ||
					!equalFrames(early[len(early)-len(late):], late) {
					t.Fatalf("%+v, seed %d: from offsets %d and %d, first frame both saw whole %d:\n%q\n%q",
						m.cfg, seed, a, b, k, early, late)
				}
			}

			// A reconnect: read from o up to p, Reset, read again from
			// q >= p (bytes p:q were lost while the port was closed).
			for range 200 {
				o := r.IntN(len(st.wire) + 1)
				p := o + r.IntN(len(st.wire)+1-o)
				q := p + r.IntN(len(st.wire)+1-p)
				d := mustNew(t, m.cfg)
				got := decode(d, st.wire[o:p])
				d.Reset()
				got = append(got, decode(d, st.wire[q:])...)
				var want [][]byte
				for f := firstSeen(o); f < len(st.frames) && st.done[f] <= p; f++ {
					want = append(want, st.frames[f])
				}
				want = append(want, st.frames[firstSeen(q):]...)
				if !equalFrames(got, want) {
					t.Fatalf("%+v, seed %d, wire %q: from %d to %d, Reset, from %d:\n got %q\nwant %q",
						m.cfg, seed, st.wire, o, p, q, got, want)
				}
				if cs := countsOf(d); cs[BadChecksum]+cs[Oversize]+cs[Noise] != 0 || cs[Resync] > 2 {
					t.Fatalf("%+v, seed %d, wire %q: from %d to %d, Reset, from %d: drops %v",
						m.cfg, seed, st.wire, o, p, q, cs)
				}
			}
		}
	}
}

// newResyncStream builds a stream of random frames for c, biased towards
// the bytes that matter to the mode: delimiters, escapes, and check bytes
// equal to STX or ETX.
func newResyncStream(t *testing.T, c Config, r *rand.Rand) resyncStream {
	s, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	var st resyncStream
	st.wire, _ = leadFor(t, c)
	st.wire = bytes.Clone(st.wire)
	for range 10 + r.IntN(20) {
		p := randomPayload(s, r)
		st.start = append(st.start, len(st.wire))
		if st.wire, err = c.AppendFrame(st.wire, p); err != nil {
			t.Fatalf("%+v: AppendFrame(%q): %v", c, p, err)
		}
		done := len(st.wire)
		if s.mode == ModeNMEA {
			done-- // delivered at CR, before the LF
		}
		st.frames = append(st.frames, p)
		st.done = append(st.done, done)
	}
	if s.mode == ModeFixed && occurrences(st.wire, s.sync[:s.syncLen]) != len(st.frames) {
		t.Fatalf("%+v: the sync occurs inside frames of %q", c, st.wire)
	}
	return st
}

func randomPayload(s settings, r *rand.Rand) []byte {
	n := 1 + r.IntN(s.maxFrame-4)
	if s.mode == ModeFixed {
		n = s.size
	}
	// A few bytes the mode cares about, and anything else.
	var special []byte
	switch s.mode {
	case ModeLines:
		special = []byte("\r \x00")
	case ModeNMEA:
		special = []byte(",*AZ09")
	case ModeSTXETX:
		special = []byte{0x00, 0x01, 0x04, 0x05}
	case ModeFixed:
		special = s.sync[1:s.syncLen]
	case ModeSLIP:
		special = []byte{slipEnd, slipEsc, slipEscEnd, slipEscEsc}
	case ModeCOBS:
		special = []byte{0, 0, 1, 0xff}
	}
	p := make([]byte, 0, n)
	for len(p) < n {
		c := byte(r.Uint32())
		if len(special) > 0 && r.IntN(2) == 0 {
			c = special[r.IntN(len(special))]
		}
		switch {
		case s.mode == ModeLines && c == '\n',
			s.mode == ModeNMEA && (c < 0x20 || c > 0x7e || c == '$' || c == '!' || c == '*'),
			s.mode == ModeSTXETX && isSTXOrETX(c),
			s.mode == ModeFixed && c == s.sync[0]:
			continue
		}
		p = append(p, c)
	}
	switch s.mode {
	case ModeSTXETX:
		// A third of the frames get a check byte equal to STX or ETX, by
		// adjusting the last payload byte.
		if s.check == checkNone || r.IntN(3) != 0 {
			break
		}
		want := byte(stx + r.IntN(2))
		for last := &p[len(p)-1]; ; p[0]++ {
			switch got := stxCheckByte(s.check, p); s.check {
			case checkXOR:
				*last ^= got ^ want
			case checkLRC:
				*last += got - want
			}
			if !isSTXOrETX(*last) && !isSTXOrETX(p[0]) {
				break
			}
		}
	case ModeLines:
		if p[len(p)-1] == '\r' {
			p[len(p)-1] = ' '
		}
	case ModeNMEA:
		start := byte('$')
		if r.IntN(2) == 0 {
			start = '!'
		}
		if s.nmeaOptional && r.IntN(3) == 0 {
			return append([]byte{start}, p...)
		}
		sentence := AppendNMEA(nil, p)
		sentence[0] = start
		return sentence[:len(sentence)-2]
	}
	return p
}
