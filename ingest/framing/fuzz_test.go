package framing

import (
	"bytes"
	"fmt"
	"testing"
)

// modeFuzz says how to fuzz one mode.
type modeFuzz struct {
	// configs are the configurations a fuzz input chooses among; small
	// max_frame values make the size limits reachable.
	configs []Config
	// valid checks a delivered frame against the mode's rules, written
	// here independently of the decoder.
	valid func(s settings, f []byte) error
	// payload turns raw bytes into a payload AppendFrame must accept, or
	// nil when nothing is left.
	payload func(s settings, raw []byte) []byte
	// garbage turns raw bytes into line noise that, between frames,
	// yields no frame and disturbs none: at most one Noise and nothing
	// else. Nil when the configuration has no such noise.
	garbage func(s settings, raw []byte) []byte
	// lateOpen reports whether a decoder that starts at any offset of
	// wire must deliver only a suffix of its frames. Nil means always
	// for a mode that resyncs and never for one that does not.
	lateOpen func(s settings, wire []byte, frames int) bool
	// seeds are raw streams worth starting from, beyond the generated
	// scripts.
	seeds []string
}

func fuzzMode(f *testing.F, m modeFuzz) {
	for sel := range m.configs {
		f.Add(uint8(sel), []byte(""), uint64(1))
		// Scripts: control byte (length<<2 | repeat<<1 | garbage), raw.
		f.Add(uint8(sel), []byte("\x0cabc\x09zz\x10ABCD"), uint64(2))
		f.Add(uint8(sel), []byte("\xfe0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\x05$\x02\xc0\x00\x0b\xdb\xc0\x00\x0d\n\r"), uint64(3))
		f.Add(uint8(sel), []byte("\x12\x00\x00\x01\x02\x03\x13\xff\xfe\xaa\x55\x10\x7e\x7f\x80\x81"), uint64(4))
		for i, s := range m.seeds {
			f.Add(uint8(sel), []byte(s), uint64(5+i))
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, data []byte, seed uint64) {
		c := m.configs[int(sel)%len(m.configs)]
		s, err := c.resolve()
		if err != nil {
			t.Fatal(err)
		}
		checkArbitrary(t, m, c, s, data, seed)
		checkResetIsNew(t, c, data, seed)
		checkRoundTrip(t, m, c, s, data, seed)
	})
}

// checkArbitrary decodes any input: no panic, frames within max_frame and
// valid for the mode, the buffer never grows, and the frames and counts
// do not depend on how the input is split (at random, or into single
// bytes, which sends every frame through the partial-frame paths).
func checkArbitrary(t *testing.T, m modeFuzz, c Config, s settings, data []byte, seed uint64) {
	whole := mustNew(t, c)
	bufCap := cap(whole.(holder).hold())
	frames := feed(t, whole, data)
	for _, f := range frames {
		if len(f) == 0 || len(f) > s.maxFrame {
			t.Fatalf("%+v: frame of %d bytes, max_frame %d", c, len(f), s.maxFrame)
		}
		if err := m.valid(s, f); err != nil {
			t.Fatalf("%+v: invalid frame %q: %v", c, f, err)
		}
	}
	split := mustNew(t, c)
	if got := feed(t, split, randomChunks(data, seed)...); !equalFrames(got, frames) {
		t.Fatalf("%+v: split input gave frames\n%q\nwhole gave\n%q", c, got, frames)
	}
	bytewise := mustNew(t, c)
	var got [][]byte
	for i := range data {
		got = append(got, feed(t, bytewise, data[i:i+1])...)
	}
	if !equalFrames(got, frames) {
		t.Fatalf("%+v: input byte by byte gave frames\n%q\nwhole gave\n%q", c, got, frames)
	}
	whole.Reset()
	split.Reset()
	bytewise.Reset()
	if a, b, bb := countsOf(whole), countsOf(split), countsOf(bytewise); a != b || a != bb {
		t.Fatalf("%+v: whole input counted %v, split %v, byte by byte %v", c, a, b, bb)
	}
	if got := cap(whole.(holder).hold()); got != bufCap {
		t.Fatalf("%+v: buffer grew from %d to %d", c, bufCap, got)
	}
	// One New, and a final Reset with nothing after it: at most one
	// resync, whatever the input.
	if n := whole.Drops().Count(Resync); n > 1 {
		t.Fatalf("%+v: %d resyncs after one New", c, n)
	}
}

// checkResetIsNew checks that Reset leaves a decoder exactly as New does:
// the input decoded with a Reset at a random point gives the frames and
// counts of its two halves decoded by two new decoders.
func checkResetIsNew(t *testing.T, c Config, data []byte, seed uint64) {
	if len(data) == 0 {
		return
	}
	at := int(seed % uint64(len(data)+1))
	d := mustNew(t, c)
	got := feed(t, d, data[:at])
	d.Reset()
	got = append(got, feed(t, d, data[at:])...)

	first, second := mustNew(t, c), mustNew(t, c)
	want := feed(t, first, data[:at])
	first.Reset()
	want = append(want, feed(t, second, data[at:])...)
	if !equalFrames(got, want) {
		t.Fatalf("%+v: Reset after %d bytes gave frames\n%q\ntwo new decoders gave\n%q", c, at, got, want)
	}
	var sum counts
	for i, n := range countsOf(first) {
		sum[i] = n + countsOf(second)[i]
	}
	if cs := countsOf(d); cs != sum {
		t.Fatalf("%+v: Reset after %d bytes counted %v, two new decoders %v", c, at, cs, sum)
	}
}

// checkRoundTrip reads data as a script of payloads and garbage, encodes
// it with AppendFrame and checks that exactly the payloads come back, in
// order, with nothing dropped but the garbage.
func checkRoundTrip(t *testing.T, m modeFuzz, c Config, s settings, data []byte, seed uint64) {
	var (
		wire      []byte
		want      [][]byte
		noisy     uint64
		endsClean = true
		resyncs   uint64
		// garbage before the first frame of a stream without a lead is
		// what a new decoder resyncs past: at most one Resync instead of
		// a Noise.
		garbageFirst = false
	)
	wire, resyncs = leadFor(t, c)
	leadless := len(wire) == 0
	var ends []int // where each frame ends on the wire
	for i := 0; i < len(data); {
		ctl := data[i]
		end := min(len(data), i+1+int(ctl>>2))
		raw := data[i+1 : end]
		i = end
		if ctl&2 != 0 {
			raw = bytes.Repeat(raw, 5)
		}
		if ctl&1 != 0 && m.garbage != nil {
			g := m.garbage(s, raw)
			garbageFirst = garbageFirst || leadless && len(want) == 0 && len(g) > 0
			wire = append(wire, g...)
			noisy++
			endsClean = len(g) == 0
			continue
		}
		p := m.payload(s, raw)
		if p == nil {
			continue
		}
		var err error
		if wire, err = c.AppendFrame(wire, p); err != nil {
			t.Fatalf("%+v: AppendFrame(%q): %v", c, p, err)
		}
		want = append(want, p)
		ends = append(ends, len(wire))
		endsClean = true
	}
	d := mustNew(t, c)
	got := feed(t, d, randomChunks(wire, seed)...)
	if !equalFrames(got, want) {
		t.Fatalf("%+v: wire %q\ndecoded %q\n   want %q", c, wire, quoteFrames(got), quoteFrames(want))
	}
	cs := countsOf(d)
	maxResyncs := resyncs
	if garbageFirst {
		maxResyncs++
	}
	if cs[BadChecksum]+cs[Oversize]+cs[Truncated] != 0 || cs[Noise]+cs[Resync] > noisy+resyncs ||
		cs[Resync] < resyncs || cs[Resync] > maxResyncs {
		t.Fatalf("%+v: wire %q: drops %v with %d pieces of garbage and %d resyncs", c, wire, cs, noisy, resyncs)
	}
	if endsClean {
		d.Reset()
		if n := d.Drops().Count(Truncated); n != 0 {
			t.Fatalf("%+v: wire %q: Reset after a whole frame counted Truncated", c, wire)
		}
	}
	checkLateOpen(t, m, c, s, wire, want, seed)

	// A quiet line after a whole frame, the port staying open, changes
	// nothing.
	idle := mustNew(t, c)
	got, from := nil, 0
	for _, end := range ends {
		got = append(got, feed(t, idle, wire[from:end])...)
		idle.Idle()
		from = end
	}
	got = append(got, feed(t, idle, wire[from:])...)
	if !equalFrames(got, want) || countsOf(idle) != cs {
		t.Fatalf("%+v: wire %q with Idle after each frame:\ndecoded %q, drops %v\n   want %q, drops %v", c, wire, quoteFrames(got), countsOf(idle), quoteFrames(want), cs)
	}
}

// checkLateOpen starts a decoder at a random offset of wire, as a member
// that opens its port late: once in step it must deliver exactly what a
// decoder reading from the start delivers, and before that nothing, so
// its frames are a suffix of want. Which frames it loses, at most, is for
// TestResyncConverges, on streams without garbage.
func checkLateOpen(t *testing.T, m modeFuzz, c Config, s settings, wire []byte, want [][]byte, seed uint64) {
	if m.lateOpen != nil && !m.lateOpen(s, wire, len(want)) || m.lateOpen == nil && !c.Resyncs() {
		return
	}
	at := int(seed>>8) % (len(wire) + 1)
	got := feed(t, mustNew(t, c), randomChunks(wire[at:], seed)...)
	if len(got) > len(want) || !equalFrames(got, want[len(want)-len(got):]) {
		t.Fatalf("%+v: wire %q from offset %d:\ndecoded %q\nnot a suffix of %q", c, wire, at, quoteFrames(got), quoteFrames(want))
	}
}

// occurrences counts the places where sub occurs in b, overlapping ones
// included.
func occurrences(b, sub []byte) int {
	n := 0
	for i := range b {
		if bytes.HasPrefix(b[i:], sub) {
			n++
		}
	}
	return n
}

func cut(b []byte, n int) []byte { return b[:min(len(b), max(n, 0))] }

func without(raw []byte, drop ...byte) []byte {
	out := make([]byte, 0, len(raw))
	for _, c := range raw {
		if bytes.IndexByte(drop, c) < 0 {
			out = append(out, c)
		}
	}
	return out
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func lenOK(s settings, f []byte) error { return nil }

func FuzzLines(f *testing.F) {
	fuzzMode(f, modeFuzz{
		configs: []Config{{Mode: ModeLines}, {Mode: ModeLines, MaxFrame: 8}},
		valid: func(s settings, f []byte) error {
			// Only one trailing CR is stripped: "a\r\r\n" is "a\r".
			if bytes.IndexByte(f, '\n') >= 0 {
				return fmt.Errorf("LF inside")
			}
			return nil
		},
		payload: func(s settings, raw []byte) []byte {
			p := cut(without(raw, '\n'), s.maxFrame)
			return nonEmpty(bytes.TrimRight(p, "\r"))
		},
		garbage: func(s settings, raw []byte) []byte {
			// Blank lines are the only input lines mode never delivers.
			g := []byte("\n")
			for _, c := range raw {
				if c&1 != 0 {
					g = append(g, '\r')
				}
				g = append(g, '\n')
			}
			return g
		},
		seeds: []string{"a\nb\r\n\n\r\nccccccccccccccccc\nd", "\r\r\n\r", "12345678\r\n123456789\n1234567\r\r\n"},
	})
}

func FuzzNMEA(f *testing.F) {
	fuzzMode(f, modeFuzz{
		configs: []Config{
			{Mode: ModeNMEA},
			{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumOptional},
			{Mode: ModeNMEA, MaxFrame: 12},
			{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumOptional, MaxFrame: 300},
		},
		valid: func(s settings, f []byte) error {
			if f[0] != '$' && f[0] != '!' {
				return fmt.Errorf("no start character")
			}
			star := -1
			for i, c := range f[1:] {
				if c < 0x20 || c > 0x7e || c == '$' || c == '!' {
					return fmt.Errorf("byte %q inside", c)
				}
				if c == '*' && star < 0 {
					star = i + 1
				}
			}
			if star < 0 {
				if !s.nmeaOptional || len(f) < 2 {
					return fmt.Errorf("no checksum")
				}
				return nil
			}
			if star == 1 || star != len(f)-3 {
				return fmt.Errorf("'*' at %d", star)
			}
			var x byte
			for _, c := range f[1:star] {
				x ^= c
			}
			var v byte
			if _, err := fmt.Sscanf(string(f[star+1:]), "%02x", &v); err != nil || v != x {
				return fmt.Errorf("checksum %s, computed %02X", f[star+1:], x)
			}
			return nil
		},
		payload: func(s settings, raw []byte) []byte {
			if len(raw) == 0 {
				return nil
			}
			flags := raw[0]
			var body []byte
			for _, c := range raw[1:] {
				if c >= 0x20 && c <= 0x7e && c != '$' && c != '!' && c != '*' {
					body = append(body, c)
				}
			}
			start := byte('$')
			if flags&2 != 0 {
				start = '!'
			}
			if s.nmeaOptional && flags&1 != 0 {
				body = cut(body, s.maxFrame-1)
			} else {
				body = cut(body, s.maxFrame-4)
			}
			if len(body) == 0 {
				return nil // an empty sentence is noise
			}
			if s.nmeaOptional && flags&1 != 0 {
				return append([]byte{start}, body...)
			}
			var x byte
			for _, c := range body {
				x ^= c
			}
			digits := "0123456789ABCDEF"
			if flags&4 != 0 {
				digits = "0123456789abcdef"
			}
			p := append([]byte{start}, body...)
			return append(p, '*', digits[x>>4], digits[x&15])
		},
		garbage: func(s settings, raw []byte) []byte { return without(raw, '$', '!') },
		seeds: []string{
			gga + "\r\n" + vdm + "\r\n",
			"junk$GP" + gga + "\r\n$\r\n$*00\r\n$A*41 \r\n",
			gga[:len(gga)-1] + "\r\n" + gga + "\x01\r\n",
			sentence("GPABCDEF") + "\r\n" + sentence("GPABCDEFG") + "\n", // max 12, max+1
		},
	})
}

func FuzzSTXETX(f *testing.F) {
	fuzzMode(f, modeFuzz{
		configs: []Config{
			{Mode: ModeSTXETX},
			{Mode: ModeSTXETX, Check: CheckXOR},
			{Mode: ModeSTXETX, Check: CheckLRC, MaxFrame: 8},
			{Mode: ModeSTXETX, MaxFrame: 8},
		},
		valid: func(s settings, f []byte) error {
			if bytes.IndexByte(f, stx) >= 0 || bytes.IndexByte(f, etx) >= 0 {
				return fmt.Errorf("STX or ETX inside")
			}
			return nil
		},
		payload: func(s settings, raw []byte) []byte {
			return nonEmpty(cut(without(raw, stx, etx), s.maxFrame))
		},
		garbage: func(s settings, raw []byte) []byte { return without(raw, stx) },
		seeds: []string{
			"\x02AB\x03\x00\x02AB\x03\x7a", "z\x02\x01\x03\x02\x02\x03\x03\x02ab\x02",
			"\x0212345678\x03\x0b\x02123456789\x03\x0b", // max 8, max+1
		},
	})
}

func FuzzFixed(f *testing.F) {
	fuzzMode(f, modeFuzz{
		configs: []Config{
			{Mode: "fixed:4"},
			{Mode: "fixed:3", Sync: "AA55"},
			{Mode: "fixed:5", Sync: "ABABAC"},
			{Mode: "fixed:1", Sync: "00"},
		},
		valid: func(s settings, f []byte) error {
			if len(f) != s.size {
				return fmt.Errorf("%d bytes, size %d", len(f), s.size)
			}
			return nil
		},
		payload: func(s settings, raw []byte) []byte {
			if len(raw) == 0 {
				return nil
			}
			p := make([]byte, s.size)
			for i := range p {
				p[i] = raw[i%len(raw)]
			}
			return p
		},
		garbage: func(s settings, raw []byte) []byte {
			if s.syncLen == 0 {
				return nil
			}
			return without(raw, s.sync[0])
		},
		// The sync is a certain boundary only in a stream where it occurs
		// nowhere but before frames.
		lateOpen: func(s settings, wire []byte, frames int) bool {
			return s.syncLen > 0 && occurrences(wire, s.sync[:s.syncLen]) == frames
		},
		seeds: []string{"\xaa\x55abc\xaa\xaa\x55abc", "\xab\xab\xab\xab\xac12345"},
	})
}

func FuzzLengthPrefix(f *testing.F) {
	fuzzMode(f, modeFuzz{
		configs: []Config{
			{Mode: ModeLengthPrefix, LengthBytes: 1},
			{Mode: ModeLengthPrefix, LengthBytes: 2, MaxFrame: 8},
			{Mode: ModeLengthPrefix, LengthBytes: 4},
			{Mode: ModeLengthPrefix, LengthBytes: 2},
		},
		valid: lenOK,
		payload: func(s settings, raw []byte) []byte {
			// Under 256 bytes, so that a run of zeros before a header can
			// never borrow its high byte.
			return nonEmpty(cut(raw, min(s.maxFrame, 255)))
		},
		garbage: func(s settings, raw []byte) []byte {
			// Zero lengths: the one garbage a length prefix can detect.
			return make([]byte, 1+len(raw)%9)
		},
		seeds: []string{"\x00\x03abc\x00\x00\x00\x01z", "\xff\xff\x00\x02ab", "\x00\x0812345678\x00\x09123456789"},
	})
}

func FuzzSLIP(f *testing.F) {
	fuzzMode(f, modeFuzz{
		configs: []Config{{Mode: ModeSLIP}, {Mode: ModeSLIP, MaxFrame: 8}},
		valid:   lenOK,
		payload: func(s settings, raw []byte) []byte { return nonEmpty(cut(raw, s.maxFrame)) },
		garbage: func(s settings, raw []byte) []byte {
			if len(raw) == 0 {
				return []byte{slipEnd} // an empty frame
			}
			bad := raw[0]
			if bad == slipEscEnd || bad == slipEscEsc || bad == slipEnd {
				bad = 'x'
			}
			g := append([]byte{slipEsc, bad}, without(raw[1:], slipEnd)...)
			return append(g, slipEnd)
		},
		seeds: []string{"\xc0a\xdb\xdcb\xc0\xdbx\xc0", "\xdb\xc0ab\xdb", "12345678\xc0123456789\xc01234567\xdb\xdc\xc012345678\xdb\xdc\xc0"},
	})
}

func FuzzCOBS(f *testing.F) {
	fuzzMode(f, modeFuzz{
		configs: []Config{{Mode: ModeCOBS}, {Mode: ModeCOBS, MaxFrame: 8}, {Mode: ModeCOBS, MaxFrame: 300}},
		valid:   lenOK,
		payload: func(s settings, raw []byte) []byte { return nonEmpty(cut(raw, s.maxFrame)) },
		garbage: func(s settings, raw []byte) []byte {
			if len(raw) == 0 {
				return []byte{0}
			}
			// A block that claims one byte more than arrives.
			rest := cut(without(raw, 0), min(253, s.maxFrame))
			g := append([]byte{byte(len(rest) + 2)}, rest...)
			return append(g, 0)
		},
		seeds: []string{
			"\x03\x11\x22\x02\x33\x00\x01\x01\x00", "\xff" + seq(1, 254) + "\x01\x00\x05ab\x00",
			"\x0912345678\x00\x0a123456789\x00\x05abcd\x05efgh\x00\x05abcd\x04efg\x00", // max 8, max+1
		},
	})
}
