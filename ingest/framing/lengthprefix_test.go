package framing

import (
	"strings"
	"testing"
)

func TestLengthPrefix(t *testing.T) {
	lp1 := Config{Mode: ModeLengthPrefix, LengthBytes: 1}
	lp2 := Config{Mode: ModeLengthPrefix, LengthBytes: 2}
	lp4 := Config{Mode: ModeLengthPrefix, LengthBytes: 4}
	max4 := Config{Mode: ModeLengthPrefix, LengthBytes: 1, MaxFrame: 4}
	max4w2 := Config{Mode: ModeLengthPrefix, LengthBytes: 2, MaxFrame: 4}
	runDecodeCases(t, []decodeCase{
		{name: "1 byte", cfg: lp1, in: "\x03abc\x01z", want: []string{"abc", "z"}},
		{name: "2 bytes", cfg: lp2, in: "\x00\x03abc\x00\x01z", want: []string{"abc", "z"}},
		{name: "4 bytes", cfg: lp4, in: "\x00\x00\x00\x03abc\x00\x00\x00\x01z", want: []string{"abc", "z"}},
		{name: "2 bytes long", cfg: lp2, in: "\x01\x2c" + strings.Repeat("x", 300), want: []string{strings.Repeat("x", 300)}},
		{name: "zero lengths are one run of noise", cfg: lp2, in: "\x00\x00\x00\x00\x00\x02ab", want: []string{"ab"}, drops: map[Reason]uint64{Noise: 1}},
		{name: "exactly max", cfg: max4, in: "\x04abcd", want: []string{"abcd"}},
		{
			// The bad header is dropped and the decoder steps one byte on,
			// through "abcde" (all > 4) to the next good header.
			name: "max+1", cfg: max4, in: "\x05abcde\x02xy",
			want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1},
		},
		{name: "oversize 2 bytes", cfg: max4w2, in: "\x00\x05\x00\x02xy", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{name: "partial body at reset", cfg: lp1, in: "\x03ab", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "partial header at reset", cfg: lp2, in: "\x00\x01b\x00", reset: true, want: []string{"b"}, drops: map[Reason]uint64{Truncated: 1}},
		{name: "leftover of bad header at reset", cfg: max4w2, in: "\xff\xff\x00", reset: true, drops: map[Reason]uint64{Oversize: 1}},
	})
}
