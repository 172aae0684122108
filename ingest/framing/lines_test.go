package framing

import (
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	lines := Config{Mode: ModeLines}
	max4 := Config{Mode: ModeLines, MaxFrame: 4}
	runDecodeCases(t, []decodeCase{
		{name: "valid", cfg: lines, in: "a\nbc\r\nd e\n", want: []string{"a", "bc", "d e"}},
		{name: "empty lines skipped", cfg: lines, in: "\n\r\n\na\n\r\n", want: []string{"a"}},
		{name: "only the last CR is stripped", cfg: lines, in: "a\rb\r\r\n", want: []string{"a\rb\r"}},
		{name: "binary bytes pass", cfg: lines, in: "\x00\xff\x1b\n", want: []string{"\x00\xff\x1b"}},
		{name: "exactly max", cfg: max4, in: "abcd\n", want: []string{"abcd"}},
		{name: "exactly max with CR", cfg: max4, in: "abcd\r\n", want: []string{"abcd"}},
		{name: "max+1", cfg: max4, in: "abcde\nxy\n", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{name: "max+1 with CR", cfg: max4, in: "abcde\r\nxy\n", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{name: "max+1 ending in CR kept", cfg: max4, in: "abcd\r\r\nxy\n", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{
			name: "long run without LF counts once and resyncs", cfg: max4,
			in: "ab\n" + strings.Repeat("z", 100) + "\ncd\n", want: []string{"ab", "cd"},
			drops: map[Reason]uint64{Oversize: 1},
		},
		{name: "partial line at reset", cfg: lines, in: "ab\ncd", reset: true, want: []string{"ab"}, drops: map[Reason]uint64{Truncated: 1}},
		{name: "reset at a boundary", cfg: lines, in: "ab\n", reset: true, want: []string{"ab"}},
		{name: "reset while skipping oversize", cfg: max4, in: "abcdefgh", reset: true, drops: map[Reason]uint64{Oversize: 1}},
	})
}
