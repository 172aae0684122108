package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// TestFrameFile: every line is a 100-byte simulator sentence with a valid
// checksum, numbered 1..n in order.
func TestFrameFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "frames")
	const n = 25_003 // more than one chunk, and digits of several widths
	if err := writeFrameFile(path, n); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != n*FrameSize {
		t.Fatalf("file holds %d bytes, want %d", len(data), n*FrameSize)
	}
	for i, line := range bytes.SplitAfter(data, []byte("\n"))[:n] {
		if len(line) != FrameSize {
			t.Fatalf("line %d is %d bytes: %q", i+1, len(line), line)
		}
		f, err := serialsim.ParseFrame(line)
		if err != nil || f.Seq != uint64(i+1) {
			t.Fatalf("line %d: %q: seq %d, %v", i+1, line, f.Seq, err)
		}
	}
}

func TestDueBy(t *testing.T) {
	for _, tc := range []struct {
		elapsed time.Duration
		rate    float64
		want    int
	}{
		{-time.Millisecond, 1000, 0},
		{0, 1000, 1},
		{999 * time.Microsecond, 1000, 1},
		{time.Millisecond, 1000, 2},
		{time.Second, 100, 101},
		{2500 * time.Millisecond, 10_000, 25_001},
	} {
		if got := dueBy(tc.elapsed, tc.rate); got != tc.want {
			t.Errorf("dueBy(%v, %v) = %d, want %d", tc.elapsed, tc.rate, got, tc.want)
		}
	}
}

func TestStamps(t *testing.T) {
	s := newStamps(10, 5)
	at := s.base.Add(3 * time.Millisecond)
	s.set(12, at)
	s.set(9, at)  // below the range: ignored
	s.set(15, at) // above: ignored
	if d, ok := s.since(12, at.Add(7*time.Millisecond)); !ok || d != 7*time.Millisecond {
		t.Fatalf("since(12) = %v, %v; want 7ms", d, ok)
	}
	for _, seq := range []uint64{9, 11, 15} {
		if _, ok := s.since(seq, at); ok {
			t.Errorf("since(%d) reports a frame never stamped", seq)
		}
	}
}
