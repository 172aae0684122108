package framing

import (
	"strings"
	"testing"
)

func TestSTXETX(t *testing.T) {
	none := Config{Mode: ModeSTXETX}
	xor := Config{Mode: ModeSTXETX, Check: CheckXOR}
	lrc := Config{Mode: ModeSTXETX, Check: CheckLRC}
	max4 := Config{Mode: ModeSTXETX, MaxFrame: 4, Check: CheckXOR}
	// Check bytes worked by hand, to pin the convention down: both cover
	// the payload and ETX, not STX. "AB": 0x41^0x42^0x03 = 0x00;
	// 0x41+0x42+0x03 = 0x86, whose two's complement is 0x7A.
	runDecodeCases(t, []decodeCase{
		{name: "valid", cfg: none, in: "\x02abc\x03\x02de\x03", want: []string{"abc", "de"}},
		{name: "xor", cfg: xor, in: "\x02AB\x03\x00", want: []string{"AB"}},
		{name: "lrc", cfg: lrc, in: "\x02AB\x03\x7a", want: []string{"AB"}},
		{name: "xor bad", cfg: xor, in: "\x02AB\x03\x01\x02AB\x03\x00", want: []string{"AB"}, drops: map[Reason]uint64{BadChecksum: 1}},
		{name: "lrc bad", cfg: lrc, in: "\x02AB\x03\x7b", drops: map[Reason]uint64{BadChecksum: 1}},
		// 0x01^0x03 = 0x02: a check byte equal to STX is not a start.
		{name: "check byte equal to STX", cfg: xor, in: "\x02\x01\x03\x02\x02AB\x03\x00", want: []string{"\x01", "AB"}},
		{name: "check byte equal to ETX", cfg: xor, in: "\x02\x00\x03\x03\x02AB\x03\x00", want: []string{"\x00", "AB"}},
		{name: "empty frame skipped", cfg: xor, in: "\x02\x03\x03\x02AB\x03\x00", want: []string{"AB"}},
		{name: "empty frame with bad check", cfg: xor, in: "\x02\x03\x00", drops: map[Reason]uint64{BadChecksum: 1}},
		{
			name: "garbage runs count once each", cfg: none,
			in:    "zz\x03z\x02ab\x03\r\n\x02cd\x03",
			want:  []string{"ab", "cd"},
			drops: map[Reason]uint64{Noise: 2},
		},
		{name: "STX cuts a frame", cfg: none, in: "\x02ab\x02cd\x03", want: []string{"cd"}, drops: map[Reason]uint64{Truncated: 1}},
		{name: "exactly max", cfg: max4, in: "\x02ABAB\x03\x03", want: []string{"ABAB"}},
		{
			// The dropped frame's check byte (X) is skipped, not noise.
			name: "max+1", cfg: max4, in: "\x02ABABA\x03X\x02AB\x03\x00",
			want: []string{"AB"}, drops: map[Reason]uint64{Oversize: 1},
		},
		{
			name: "long frame without ETX resyncs at STX", cfg: Config{Mode: ModeSTXETX, MaxFrame: 4},
			in:    "\x02" + strings.Repeat("x", 100) + "\x02ab\x03",
			want:  []string{"ab"},
			drops: map[Reason]uint64{Oversize: 1},
		},
		{name: "partial at reset", cfg: none, in: "\x02ab", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "check missing at reset", cfg: xor, in: "\x02AB\x03", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "lone STX at reset", cfg: none, in: "\x02", reset: true, drops: map[Reason]uint64{Truncated: 1}},
	})
}
