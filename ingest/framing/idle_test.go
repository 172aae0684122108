package framing

import (
	"slices"
	"testing"
)

// idleModes is one configuration per way of finding a boundary.
var idleModes = []Config{
	{Mode: ModeLines},
	{Mode: ModeNMEA},
	{Mode: ModeSTXETX},
	{Mode: ModeSTXETX, Check: CheckXOR},
	{Mode: "fixed:8", Sync: "AA55"},
	{Mode: "fixed:8"},
	{Mode: ModeLengthPrefix, LengthBytes: 2},
	{Mode: ModeSLIP},
	{Mode: ModeCOBS},
}

// Idle between frames, as on a feed that sends less often than the
// reader's quiet period, keeps the decoder in step: nothing is lost.
func TestIdleAtBoundaryKeepsNextFrame(t *testing.T) {
	for _, c := range idleModes {
		a, b := appendTestFrame(t, c, nil, 0, 12), appendTestFrame(t, c, nil, 1, 12)
		d := mustNew(t, c)
		lead, _ := leadFor(t, c)
		got := feed(t, d, lead, a)
		before := countsOf(d)
		d.Idle()
		got = append(got, feed(t, d, b)...)
		if len(got) != 2 {
			t.Errorf("%s: %d frames, want 2", c.Mode, len(got))
		}
		if cs := countsOf(d).minus(before); cs != (counts{}) {
			t.Errorf("%s: Idle at a boundary counted %v", c.Mode, cs)
		}
	}
}

// Idle in the middle of a frame discards its head as Truncated. If the
// rest of it arrives after all, a mode with a certain boundary drops it
// as resync and keeps the frame after it.
func TestIdleMidFrame(t *testing.T) {
	for _, c := range idleModes {
		a := appendTestFrame(t, c, nil, 0, 12)
		b := appendTestFrame(t, c, nil, 1, 12)
		next := appendTestFrame(t, c, nil, 2, 12)
		half := len(b) / 2
		d := mustNew(t, c)
		lead, _ := leadFor(t, c)
		got := feed(t, d, lead, a, b[:half])
		before := countsOf(d)
		d.Idle()
		want := counts{Truncated: 1}
		if c.Resyncs() {
			got = append(got, feed(t, d, b[half:], next)...)
			want[Resync] = 1
		} else {
			// Only the quiet line marks a boundary: the next burst must
			// start with a frame.
			got = append(got, feed(t, d, next)...)
		}
		if len(got) != 2 || !slices.Equal(got[1], decodeOne(t, c, next)) {
			t.Errorf("%s: frames %q, want the first and the last", c.Mode, got)
		}
		if cs := countsOf(d).minus(before); cs != want {
			t.Errorf("%s: drops %v, want %v", c.Mode, cs, want)
		}
	}
}

// Idle while resyncing lets the resync go on, counted once.
func TestIdleWhileResyncing(t *testing.T) {
	for _, c := range idleModes {
		if !c.Resyncs() {
			continue
		}
		b := appendTestFrame(t, c, nil, 1, 12)
		next := appendTestFrame(t, c, nil, 2, 12)
		d := mustNew(t, c)
		got := feed(t, d, b[1:4])
		d.Idle()
		got = append(got, feed(t, d, b[4:], next)...)
		if len(got) != 1 {
			t.Errorf("%s: frames %q, want only the last", c.Mode, got)
		}
		if cs := countsOf(d); cs != (counts{Resync: 1}) {
			t.Errorf("%s: drops %v, want resync=1", c.Mode, cs)
		}
	}
}

// decodeOne returns the frame that wire, one whole frame, decodes to.
func decodeOne(t *testing.T, c Config, wire []byte) []byte {
	t.Helper()
	lead, _ := leadFor(t, c)
	fs := feed(t, mustNew(t, c), lead, wire)
	if len(fs) != 1 {
		t.Fatalf("%s: %q decodes to %q", c.Mode, wire, fs)
	}
	return fs[0]
}
