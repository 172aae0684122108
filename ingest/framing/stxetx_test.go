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
	// With a check byte, a byte before the input that is neither STX nor
	// ETX: the decoder is in step, as after a frame.
	const ck = "\x00"
	runDecodeCases(t, []decodeCase{
		{name: "valid", cfg: none, in: "\x02abc\x03\x02de\x03", want: []string{"abc", "de"}},
		{name: "xor", cfg: xor, lead: ck, in: "\x02AB\x03\x00", want: []string{"AB"}},
		{name: "lrc", cfg: lrc, lead: ck, in: "\x02AB\x03\x7a", want: []string{"AB"}},
		{name: "xor bad", cfg: xor, lead: ck, in: "\x02AB\x03\x01\x02AB\x03\x00", want: []string{"AB"}, drops: map[Reason]uint64{BadChecksum: 1}},
		{name: "lrc bad", cfg: lrc, lead: ck, in: "\x02AB\x03\x7b", drops: map[Reason]uint64{BadChecksum: 1}},
		// 0x01^0x03 = 0x02: a check byte equal to STX is not a start.
		{name: "check byte equal to STX", cfg: xor, lead: ck, in: "\x02\x01\x03\x02\x02AB\x03\x00", want: []string{"\x01", "AB"}},
		{name: "check byte equal to ETX", cfg: xor, lead: ck, in: "\x02\x00\x03\x03\x02AB\x03\x00", want: []string{"\x00", "AB"}},
		{name: "empty frame skipped", cfg: xor, lead: ck, in: "\x02\x03\x03\x02AB\x03\x00", want: []string{"AB"}},
		{name: "empty frame with bad check", cfg: xor, lead: ck, in: "\x02\x03\x00", drops: map[Reason]uint64{BadChecksum: 1}},
		{
			name: "garbage runs count once each", cfg: none, lead: "\x02\x03",
			in:    "zz\x03z\x02ab\x03\r\n\x02cd\x03",
			want:  []string{"ab", "cd"},
			drops: map[Reason]uint64{Noise: 2},
		},
		{name: "STX cuts a frame", cfg: none, in: "\x02ab\x02cd\x03", want: []string{"cd"}, drops: map[Reason]uint64{Truncated: 1}},
		{name: "exactly max", cfg: max4, lead: ck, in: "\x02ABAB\x03\x03", want: []string{"ABAB"}},
		{
			// The dropped frame's check byte (X) is skipped, not noise.
			name: "max+1", cfg: max4, lead: ck, in: "\x02ABABA\x03X\x02AB\x03\x00",
			want: []string{"AB"}, drops: map[Reason]uint64{Oversize: 1},
		},
		{
			name: "long frame without ETX resyncs at STX", cfg: Config{Mode: ModeSTXETX, MaxFrame: 4},
			in:    "\x02" + strings.Repeat("x", 100) + "\x02ab\x03",
			want:  []string{"ab"},
			drops: map[Reason]uint64{Oversize: 1},
		},
		{name: "partial at reset", cfg: none, in: "\x02ab", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "check missing at reset", cfg: xor, lead: ck, in: "\x02AB\x03", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "lone STX at reset", cfg: none, in: "\x02", reset: true, drops: map[Reason]uint64{Truncated: 1}},

		// A new decoder drops everything before its first certain STX and
		// keeps the frame it starts. Without a check byte, every STX is
		// certain: no payload holds one.
		{name: "start mid-frame", cfg: none, in: "b\x03\x02cd\x03", want: []string{"cd"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "garbage before the first frame is resync", cfg: none, in: "zz\x03z\x02ab\x03", want: []string{"ab"}, drops: map[Reason]uint64{Resync: 1}},
		// With a check byte, an STX is certain only after a byte that is
		// neither unknown (the first one read) nor an ETX whose check byte
		// the STX could be.
		{name: "check: start mid-frame", cfg: lrc, in: "B\x03\x7a\x02AB\x03\x7a", want: []string{"AB"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "check: first byte STX is not trusted", cfg: xor, in: "\x02AB\x03\x00\x02AB\x03\x00", want: []string{"AB"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "check: start at a check byte equal to STX", cfg: xor, in: "\x02\x02AB\x03\x00", want: []string{"AB"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "check: start at ETX, check byte STX", cfg: xor, in: "\x03\x02\x02AB\x03\x00", want: []string{"AB"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "check: check byte ETX before a frame", cfg: xor, in: "Z\x03\x03\x02AB\x03\x00", want: []string{"AB"}, drops: map[Reason]uint64{Resync: 1}},
		{
			// The ETX might be a frame's end, so the STX after it might be
			// its check byte: that frame is lost, the next one kept.
			name: "check: start at a check byte equal to ETX", cfg: xor,
			in: "\x03\x02AB\x03\x00\x02CD\x03\x04", want: []string{"CD"}, drops: map[Reason]uint64{Resync: 1},
		},
		{
			// Hunting for any STX would take the check byte for a start,
			// and deliver "zz" when the next check byte happens to match.
			name: "check: a check byte equal to STX never starts a frame", cfg: xor,
			in: "\x03\x02zz\x03\x03\x02AB\x03\x00", want: []string{"AB"}, drops: map[Reason]uint64{Resync: 1},
		},
		{
			// Noise ending in ETX right before the first frame: the STX
			// might be that ETX's check byte, so the frame is lost.
			name: "check: noise ending in ETX before the first frame", cfg: xor,
			in: "zz\x03\x02AB\x03\x00\x02AB\x03\x00", want: []string{"AB"}, drops: map[Reason]uint64{Resync: 1},
		},
		{name: "check: reset while resyncing counts once", cfg: xor, in: "\x02AB", reset: true, drops: map[Reason]uint64{Resync: 1}},
	})
}
