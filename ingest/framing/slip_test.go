package framing

import (
	"strings"
	"testing"
)

func TestSLIP(t *testing.T) {
	slip := Config{Mode: ModeSLIP}
	max3 := Config{Mode: ModeSLIP, MaxFrame: 3}
	runDecodeCases(t, []decodeCase{
		{name: "valid", cfg: slip, in: "\xc0abc\xc0\xc0de\xc0", want: []string{"abc", "de"}},
		{name: "no leading END", cfg: slip, in: "abc\xc0de\xc0", want: []string{"abc", "de"}},
		{name: "escapes", cfg: slip, in: "a\xdb\xdcb\xdb\xddc\xc0", want: []string{"a\xc0b\xdbc"}},
		{name: "empty frames ignored", cfg: slip, in: "\xc0\xc0\xc0", want: nil},
		{name: "bad escape", cfg: slip, in: "ab\xdbxc\xdb\xdcd\xc0ok\xc0", want: []string{"ok"}, drops: map[Reason]uint64{Noise: 1}},
		{name: "ESC END aborts", cfg: slip, in: "ab\xdb\xc0ok\xc0", want: []string{"ok"}, drops: map[Reason]uint64{Noise: 1}},
		{name: "exactly max", cfg: max3, in: "a\xdb\xdcb\xc0", want: []string{"a\xc0b"}},
		{name: "max+1", cfg: max3, in: "abc\xdb\xdc\xc0xy\xc0", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{name: "max+1 plain", cfg: max3, in: "abcd\xc0xy\xc0", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{
			name: "long run without END", cfg: max3,
			in:    strings.Repeat("\xdb\xdc", 50) + "\xc0xy\xc0",
			want:  []string{"xy"},
			drops: map[Reason]uint64{Oversize: 1},
		},
		{name: "partial at reset", cfg: slip, in: "\xc0ab", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "ESC at reset", cfg: slip, in: "\xdb", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "END at reset", cfg: slip, in: "ab\xc0", reset: true, want: []string{"ab"}},
	})
}
