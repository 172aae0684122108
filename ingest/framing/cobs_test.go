package framing

import (
	"bytes"
	"strings"
	"testing"
)

// cobsVectors are the widely published COBS examples: payload, encoding
// without the delimiter.
var cobsVectors = []struct{ payload, encoded string }{
	{"\x00", "\x01\x01"},
	{"\x00\x00", "\x01\x01\x01"},
	{"\x00\x11\x00", "\x01\x02\x11\x01"},
	{"\x11\x22\x00\x33", "\x03\x11\x22\x02\x33"},
	{"\x11\x22\x33\x44", "\x05\x11\x22\x33\x44"},
	{"\x11\x00\x00\x00", "\x02\x11\x01\x01\x01"},
	{seq(1, 254), "\xff" + seq(1, 254)},
	{"\x00" + seq(1, 254), "\x01\xff" + seq(1, 254)},
	{seq(1, 255), "\xff" + seq(1, 254) + "\x02\xff"},
	{seq(2, 255) + "\x00", "\xff" + seq(2, 255) + "\x01\x01"},
	{seq(3, 255) + "\x00\x01", "\xfe" + seq(3, 255) + "\x02\x01"},
}

// seq returns the bytes from..to inclusive.
func seq(from, to int) string {
	var b []byte
	for c := from; c <= to; c++ {
		b = append(b, byte(c))
	}
	return string(b)
}

func TestCOBSVectors(t *testing.T) {
	c := Config{Mode: ModeCOBS}
	for _, v := range cobsVectors {
		got, err := c.AppendFrame(nil, []byte(v.payload))
		if err != nil {
			t.Fatal(err)
		}
		if want := v.encoded + "\x00"; string(got) != want {
			t.Errorf("encode %x\n got %x\nwant %x", v.payload, got, want)
		}
		frames := feed(t, mustNew(t, c), []byte{0}, got)
		if len(frames) != 1 || !bytes.Equal(frames[0], []byte(v.payload)) {
			t.Errorf("decode %x = %x, want %x", got, frames, v.payload)
		}
	}
}

func TestCOBS(t *testing.T) {
	cobs := Config{Mode: ModeCOBS}
	max3 := Config{Mode: ModeCOBS, MaxFrame: 3}
	// A delimiter before the input: the decoder is in step, as after a
	// frame.
	const zero = "\x00"
	runDecodeCases(t, []decodeCase{
		{name: "valid", cfg: cobs, lead: zero, in: "\x03\x11\x22\x02\x33\x00\x01\x01\x00", want: []string{"\x11\x22\x00\x33", "\x00"}},
		{name: "empty frames ignored", cfg: cobs, lead: zero, in: "\x00\x00\x01\x00\x00", want: nil},
		// A full last block with and without the final empty block.
		{name: "both endings of a full block", cfg: cobs, lead: zero, in: "\xff" + seq(1, 254) + "\x00\xff" + seq(1, 254) + "\x01\x00", want: []string{seq(1, 254), seq(1, 254)}},
		{name: "block cut short", cfg: cobs, lead: zero, in: "\x05\x11\x22\x00\x02\x11\x00", want: []string{"\x11"}, drops: map[Reason]uint64{Noise: 1}},
		{name: "exactly max", cfg: max3, lead: zero, in: "\x02\x11\x02\x22\x00", want: []string{"\x11\x00\x22"}},
		{name: "max+1", cfg: max3, lead: zero, in: "\x05\x11\x22\x33\x44\x00\x02\x11\x00", want: []string{"\x11"}, drops: map[Reason]uint64{Oversize: 1}},
		{name: "max+1 by the implied zero", cfg: max3, lead: zero, in: "\x02\x11\x02\x22\x01\x00\x02\x11\x00", want: []string{"\x11"}, drops: map[Reason]uint64{Oversize: 1}},
		{name: "trailing implied zero does not count", cfg: max3, lead: zero, in: "\x04\x11\x22\x33\x00", want: []string{"\x11\x22\x33"}},
		{
			name: "long run without delimiter", cfg: max3, lead: zero,
			in:    strings.Repeat("\x05abcd", 40) + "\x00\x02\x11\x00",
			want:  []string{"\x11"},
			drops: map[Reason]uint64{Oversize: 1},
		},
		{name: "partial at reset", cfg: cobs, lead: zero, in: "\x03\x11", reset: true, drops: map[Reason]uint64{Truncated: 1}},

		// A new decoder drops everything up to the first 0x00 and keeps
		// the frame after it. Mid-frame, a data byte would be read as a
		// code byte and the frame decoded wrong.
		{name: "start with a delimiter", cfg: cobs, in: "\x00\x02\x11\x00", want: []string{"\x11"}},
		{name: "start mid-frame", cfg: cobs, in: "\x02\x33\x00\x03\x11\x22\x00", want: []string{"\x11\x22"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "start at a frame", cfg: cobs, in: "\x02\x11\x00\x03\x11\x22\x00", want: []string{"\x11\x22"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "no delimiter at all", cfg: max3, in: strings.Repeat("\x05abcd", 4), drops: map[Reason]uint64{Resync: 1}},
		{name: "reset while resyncing counts once", cfg: cobs, in: "\x05ab", reset: true, drops: map[Reason]uint64{Resync: 1}},
	})
}
