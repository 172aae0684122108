package framing

import "testing"

func TestFixed(t *testing.T) {
	f3 := Config{Mode: "fixed:3"}
	sync := Config{Mode: ModeFixed, Size: 2, Sync: "AA55"}
	// A sync whose prefix repeats inside it needs a real substring search.
	tricky := Config{Mode: "fixed:2", Sync: "ababac"}
	runDecodeCases(t, []decodeCase{
		{name: "valid", cfg: f3, in: "abcdef", want: []string{"abc", "def"}},
		{name: "mode fixed with size", cfg: Config{Mode: ModeFixed, Size: 3}, in: "abcdef", want: []string{"abc", "def"}},
		{name: "partial at reset", cfg: f3, in: "abcdefg", reset: true, want: []string{"abc", "def"}, drops: map[Reason]uint64{Truncated: 1}},
		{name: "exactly max", cfg: Config{Mode: "fixed:4", MaxFrame: 4}, in: "abcd", want: []string{"abcd"}},
		{name: "sync", cfg: sync, in: "\xaa\x55xy\xaa\x55\xaa\x55", want: []string{"xy", "\xaa\x55"}},
		{name: "garbage before sync", cfg: sync, lead: "\xaa\x55ab", in: "q\xaa\xaa\x55xyjunk\xaa\x55zw", want: []string{"xy", "zw"}, drops: map[Reason]uint64{Noise: 2}},
		{name: "partial sync mismatch is noise", cfg: sync, lead: "\xaa\x55ab", in: "\xaa\x56\xaa\x55xy", want: []string{"xy"}, drops: map[Reason]uint64{Noise: 1}},
		{name: "overlapping sync", cfg: tricky, lead: "\xab\xab\xac12", in: "\xab\xab\xab\xab\xac12", want: []string{"12"}, drops: map[Reason]uint64{Noise: 1}},
		{name: "sync then reset", cfg: sync, in: "\xaa\x55", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "partial sync then reset", cfg: sync, lead: "\xaa\x55ab", in: "\xaa", reset: true, drops: map[Reason]uint64{Truncated: 1}},
		{name: "noise then reset", cfg: sync, lead: "\xaa\x55ab", in: "zz", reset: true, drops: map[Reason]uint64{Noise: 1}},

		// A new decoder with a sync drops what comes before the first
		// sync, counted as resync, and keeps the frame after it.
		{name: "start mid-frame", cfg: sync, in: "y\xaa\x55ab", want: []string{"ab"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "start mid-sync", cfg: sync, in: "\x55ab\xaa\x55cd", want: []string{"cd"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "start at a false sync start", cfg: tricky, in: "\xab\xab\xab\xab\xac12", want: []string{"12"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "partial sync then reset while resyncing", cfg: sync, in: "\xaa", reset: true, drops: map[Reason]uint64{Resync: 1}},
		{name: "junk then reset while resyncing", cfg: sync, in: "zz\xaa", reset: true, drops: map[Reason]uint64{Resync: 1}},
		// Without a sync, nothing marks a boundary: the first byte read
		// starts a frame, wherever the stream stands.
		{name: "no sync: start mid-frame", cfg: f3, in: "cdefgh", want: []string{"cde", "fgh"}},
	})
}

// Without a sync, only Reset brings a fixed decoder back into step.
func TestFixedResetResyncs(t *testing.T) {
	d := mustNew(t, Config{Mode: "fixed:3"})
	got := feed(t, d, []byte("abcde"))
	d.Reset()
	got = append(got, feed(t, d, []byte("xyz"))...)
	if want := [][]byte{[]byte("abc"), []byte("xyz")}; !equalFrames(got, want) {
		t.Fatalf("frames %q, want %q", got, want)
	}
	if c := d.Drops().Count(Truncated); c != 1 {
		t.Errorf("Truncated = %d, want 1", c)
	}
}
