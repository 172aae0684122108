package framing

import (
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	lines := Config{Mode: ModeLines}
	max4 := Config{Mode: ModeLines, MaxFrame: 4}
	// An LF before the input: the decoder is in step, as after a line.
	const lf = "\n"
	runDecodeCases(t, []decodeCase{
		{name: "valid", cfg: lines, lead: lf, in: "a\nbc\r\nd e\n", want: []string{"a", "bc", "d e"}},
		{name: "empty lines skipped", cfg: lines, lead: lf, in: "\n\r\n\na\n\r\n", want: []string{"a"}},
		{name: "only the last CR is stripped", cfg: lines, lead: lf, in: "a\rb\r\r\n", want: []string{"a\rb\r"}},
		{name: "binary bytes pass", cfg: lines, lead: lf, in: "\x00\xff\x1b\n", want: []string{"\x00\xff\x1b"}},
		{name: "exactly max", cfg: max4, lead: lf, in: "abcd\n", want: []string{"abcd"}},
		{name: "exactly max with CR", cfg: max4, lead: lf, in: "abcd\r\n", want: []string{"abcd"}},
		{name: "max+1", cfg: max4, lead: lf, in: "abcde\nxy\n", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{name: "max+1 with CR", cfg: max4, lead: lf, in: "abcde\r\nxy\n", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{name: "max+1 ending in CR kept", cfg: max4, lead: lf, in: "abcd\r\r\nxy\n", want: []string{"xy"}, drops: map[Reason]uint64{Oversize: 1}},
		{
			name: "long run without LF counts once and resyncs", cfg: max4, lead: lf,
			in: "ab\n" + strings.Repeat("z", 100) + "\ncd\n", want: []string{"ab", "cd"},
			drops: map[Reason]uint64{Oversize: 1},
		},
		{name: "partial line at reset", cfg: lines, lead: lf, in: "ab\ncd", reset: true, want: []string{"ab"}, drops: map[Reason]uint64{Truncated: 1}},
		{name: "reset at a boundary", cfg: lines, lead: lf, in: "ab\n", reset: true, want: []string{"ab"}},
		{name: "reset while skipping oversize", cfg: max4, lead: lf, in: "abcdefgh", reset: true, drops: map[Reason]uint64{Oversize: 1}},

		// A new decoder does not know where the stream stands: it drops
		// everything up to the first LF, and keeps the line after it.
		{name: "start mid-line", cfg: lines, in: "llo\nab\ncd\n", want: []string{"ab", "cd"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "start at LF", cfg: lines, in: "\nab\n", want: []string{"ab"}},
		{name: "start at CR LF", cfg: lines, in: "\r\nab\n", want: []string{"ab"}},
		{name: "start at a line that would have been a lone CR", cfg: lines, in: "\r\r\nab\n", want: []string{"ab"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "start at a line start still drops it", cfg: lines, in: "whole\nab\n", want: []string{"ab"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "no LF at all", cfg: lines, in: "no line ends here", drops: map[Reason]uint64{Resync: 1}},
		{name: "long head is not oversize", cfg: max4, in: strings.Repeat("z", 100) + "\nab\n", want: []string{"ab"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "reset while resyncing counts once", cfg: lines, in: "abc", reset: true, drops: map[Reason]uint64{Resync: 1}},
	})
}

// After Reset, as after a reconnect, the decoder drops the rest of the
// line it lands in and keeps the next one.
func TestLinesResetResyncs(t *testing.T) {
	d := mustNew(t, Config{Mode: ModeLines})
	got := feed(t, d, []byte("\nab\ncd"))
	d.Reset()
	got = append(got, feed(t, d, []byte("ef\ngh\n"))...)
	if want := [][]byte{[]byte("ab"), []byte("gh")}; !equalFrames(got, want) {
		t.Fatalf("frames %q, want %q", got, want)
	}
	if c, want := countsOf(d), countsFrom(map[Reason]uint64{Truncated: 1, Resync: 1}); c != want {
		t.Errorf("drops %v, want %v", c, want)
	}
	// A second Reset starts a new resync, counted anew.
	d.Reset()
	feed(t, d, []byte("x"))
	d.Reset()
	feed(t, d, []byte("y\n"))
	if c := d.Drops().Count(Resync); c != 3 {
		t.Errorf("Resync = %d, want 3", c)
	}
}
