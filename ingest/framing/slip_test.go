package framing

import (
	"strings"
	"testing"
)

func TestSLIP(t *testing.T) {
	slip := Config{Mode: ModeSLIP}
	max3 := Config{Mode: ModeSLIP, MaxFrame: 3}
	// An END before the input: the decoder is in step, as after a frame.
	const end = "\xc0"
	runDecodeCases(t, []decodeCase{
		{name: "valid", cfg: slip, lead: end, in: "\xc0abc\xc0\xc0de\xc0", want: []string{"abc", "de"}},
		{name: "no leading END", cfg: slip, lead: end, in: "abc\xc0de\xc0", want: []string{"abc", "de"}},
		{name: "escapes", cfg: slip, lead: end, in: "a\xdb\xdcb\xdb\xddc\xc0", want: []string{"a\xc0b\xdbc"}},
		{name: "empty frames ignored", cfg: slip, lead: end, in: "\xc0\xc0\xc0", want: nil},
		{name: "bad escape", cfg: slip, lead: end, in: "ab\xdbxc\xdb\xdcd\xc0ok\xc0", want: []string{"ok"}, drops: map[Reason]uint64{Noise: 1}},
		{name: "ESC END aborts", cfg: slip, lead: end, in: "ab\xdb\xc0ok\xc0", want: []string{"ok"}, drops: map[Reason]uint64{Noise: 1}},
		{name: "exactly max", cfg: max3, lead: end, in: "a\xdb\xdcb\xc0", want: []string{"a\xc0b"}},
		{name: "max+1", cfg: max3, lead: end, in: "abc\xdb\xdc\xc0xy\xc0", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{name: "max+1 plain", cfg: max3, lead: end, in: "abcd\xc0xy\xc0", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{
			name: "long run without END", cfg: max3, lead: end,
			in:    strings.Repeat("\xdb\xdc", 50) + "\xc0xy\xc0",
			want:  []string{"xy"},
			drops: map[Reason]uint64{Oversize: 1},
		},
		{name: "partial at reset", cfg: slip, lead: end, in: "\xc0ab", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "ESC at reset", cfg: slip, lead: end, in: "\xdb", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "END at reset", cfg: slip, lead: end, in: "ab\xc0", reset: true, want: []string{"ab"}},

		// A new decoder drops everything up to the first END and keeps
		// the frame after it. END never occurs inside a frame, escapes
		// included.
		{name: "start with END", cfg: slip, in: "\xc0ab\xc0", want: []string{"ab"}},
		{name: "start mid-frame", cfg: slip, in: "b\xdb\xdcc\xc0ab\xc0", want: []string{"ab"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "start after ESC", cfg: slip, in: "\xdcb\xc0ab\xc0", want: []string{"ab"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "start at a sender without leading END", cfg: slip, in: "abc\xc0de\xc0", want: []string{"de"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "no END at all", cfg: max3, in: "abcdefgh", drops: map[Reason]uint64{Resync: 1}},
		{name: "reset while resyncing counts once", cfg: slip, in: "ab", reset: true, drops: map[Reason]uint64{Resync: 1}},
	})
}
