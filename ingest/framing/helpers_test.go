package framing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// counts is a snapshot of a decoder's drops, comparable with ==.
type counts [numReasons]uint64

func countsOf(d Decoder) counts {
	var c counts
	for _, r := range Reasons {
		c[r] = d.Drops().Count(r)
	}
	return c
}

// minus returns the drops counted since b was taken.
func (c counts) minus(b counts) counts {
	for i := range c {
		c[i] -= b[i]
	}
	return c
}

func (c counts) String() string {
	s := ""
	for _, r := range Reasons {
		if c[r] != 0 {
			s += fmt.Sprintf(" %s=%d", r, c[r])
		}
	}
	if s == "" {
		return "none"
	}
	return s[1:]
}

func countsFrom(m map[Reason]uint64) counts {
	var c counts
	for r, n := range m {
		c[r] = n
	}
	return c
}

func mustNew(t testing.TB, c Config) Decoder {
	t.Helper()
	d, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return d
}

// leadFor returns bytes that bring a new decoder for c into step with the
// stream of frames that follows, as the end of an earlier frame would,
// and how many Resync drops they count. Nil for a mode whose new decoder
// keeps the first frame of a stream that starts with one.
func leadFor(t testing.TB, c Config) ([]byte, uint64) {
	t.Helper()
	s, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	switch s.mode {
	case ModeLines:
		return []byte("\n"), 0
	case ModeSTXETX:
		if s.check != checkNone {
			// Any byte but STX and ETX, so that the STX after it cannot
			// be a check byte, then an empty frame: the decoder is in step
			// after its check byte.
			return []byte{0, stx, etx, stxCheckByte(s.check, nil)}, 1
		}
	case ModeSLIP:
		return []byte{slipEnd}, 0
	case ModeCOBS:
		return []byte{0}, 0
	}
	return nil, 0
}

// feed decodes the chunks in order and returns copies of the frames. It
// checks Decode's own contract on the way: progress, and no more than
// the input consumed.
func feed(t testing.TB, d Decoder, chunks ...[]byte) [][]byte {
	t.Helper()
	var frames [][]byte
	for _, p := range chunks {
		for len(p) > 0 {
			n, f, ok := d.Decode(p)
			if n <= 0 || n > len(p) {
				t.Fatalf("Decode(%d bytes) consumed %d", len(p), n)
			}
			if ok {
				frames = append(frames, slices.Clone(f))
			} else if f != nil {
				t.Fatalf("Decode returned a frame with ok=false")
			}
			p = p[n:]
		}
	}
	return frames
}

// randomChunks splits in into chunks of random sizes, mostly small so that
// boundaries fall inside delimiters, headers and escapes.
func randomChunks(in []byte, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var chunks [][]byte
	for len(in) > 0 {
		n := 1 + r.IntN(min(len(in), 1+r.IntN(40)))
		chunks = append(chunks, in[:n])
		in = in[n:]
	}
	return chunks
}

func equalFrames(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
}

func quoteFrames(fs [][]byte) []string {
	q := make([]string, len(fs))
	for i, f := range fs {
		q[i] = fmt.Sprintf("%q", f)
	}
	return q
}
