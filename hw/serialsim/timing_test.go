package serialsim

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestStalledReaderGetsNothingLate: a reader that stops reading for a while
// finds, when it reads again, what the kernel's buffer held (frames written
// on time, long ago) and then frames as they come; every frame it reads was
// written to the port within MaxWriteDelay of its due time, and those that
// could not be are counted as overflow. (The simulator once held them back
// and wrote them seconds late.)
func TestStalledReaderGetsNothingLate(t *testing.T) {
	const (
		n     = 300
		rate  = 100 // 6400 bytes a second on a line that carries 11520
		stall = 1500 * time.Millisecond
	)
	path := filepath.Join(t.TempDir(), "run.record")
	s := startSim(t, Config{Ports: 1, Count: n, Rate: rate, Seed: 4, Record: path})
	cfg := s.Config()
	r := openReader(t, s.Ports()[0])
	r.waitLines(t, "50 frames before the stall", 50)
	r.stall()
	time.Sleep(stall)
	resumed := time.Now()
	r.resume()
	waitFinished(t, s)
	st := stats(t, s, 0)
	r.waitLines(t, "every frame written at the reader", int(st.Written))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st = stats(t, s, 0)
	lines, _ := r.snapshot()
	got, invalid := seqs(lines)
	if d := delivered(t, s, 0); invalid != 0 || !slices.Equal(got, d) {
		t.Fatalf("the reader got %d frames (%d invalid), Delivered has %d", len(got), invalid, len(d))
	}
	// A frame the simulator itself was too slow to write on time (the
	// machine is shared) is written anyway and counted Late; the reader's
	// stall never makes one.
	if st.Overflow == 0 || st.Late > n/50 || st.Delivered+st.Overflow != n {
		t.Fatalf("after a %v stall: %v; want frames lost to overflow, hardly any late, every frame delivered or lost", stall, st)
	}

	// The simulator's truth: every frame read was written within
	// MaxWriteDelay of its due time, but for the few counted Late (checkRecord
	// checks the count); every other one is an overflow.
	frames := checkRecord(t, s, path)
	read := map[uint64]bool{}
	for _, seq := range got {
		read[seq] = true
	}
	for _, f := range frames {
		pf := f.Ports[0]
		switch {
		case read[cfg.StartSeq+f.Index]:
			if pf.Fate != FateDelivered {
				t.Fatalf("frame %d, read, is %s", f.Index, pf.Fate)
			}
			if late := pf.Written - f.At; late > cfg.MaxWriteDelay {
				t.Logf("frame %d written %v after its due time (a loaded machine)", f.Index, late)
			}
		case pf.Fate != FateOverflow:
			t.Fatalf("frame %d, not read, is %s", f.Index, pf.Fate)
		}
	}

	// The reader's view, from the time field of the frames: what reached it
	// long after its due time waited in the kernel through the stall, and
	// was due before the reader came back; the rest of what was due in the
	// stall was lost, not delayed.
	charNS := 1e9 / cfg.BytesPerSecond()
	lateBytes, lateFrames := 0, 0
	for _, l := range lines {
		fr, err := ParseFrame(l.data)
		if err != nil {
			t.Fatal(err)
		}
		due := time.UnixMilli(fr.UnixMilli).Add(time.Duration(float64(len(l.data)) * charNS))
		if l.at.Sub(due) <= cfg.MaxWriteDelay+200*time.Millisecond {
			continue
		}
		if due.After(resumed) {
			t.Fatalf("frame %d, due %v after the reader came back, reached it %v after its due time", fr.Seq, due.Sub(resumed), l.at.Sub(due))
		}
		lateBytes += len(l.data)
		lateFrames++
	}
	if dueInStall := int(stall.Seconds() * rate); lateFrames == 0 || lateFrames >= dueInStall {
		t.Fatalf("%d frames reached the reader long after their due time; want some, and fewer than the %d due in the stall", lateFrames, dueInStall)
	}
	// The writer keeps rxWindow bytes in flight; a loaded machine can leave
	// more in the kernel's buffers, out of the simulator's sight.
	t.Logf("%v; %d frames (%d bytes) waited in the kernel through the stall", st, lateFrames, lateBytes)
}

// TestBurstsReachTheReaderTogether: a receiver's cycle reaches the reader
// as one burst at the start of its period, not spread over it.
func TestBurstsReachTheReaderTogether(t *testing.T) {
	const rate = 4 // cycles a second: a burst of about 500 bytes (43 ms) every 250 ms
	period := time.Second / rate
	s := startSim(t, Config{Ports: 1, Feed: FeedNMEAGPS, Rate: rate, Count: 70, Seed: 8})
	r := openReader(t, s.Ports()[0])
	waitFinished(t, s)
	r.waitLines(t, "every frame at the reader", 70)
	lines, _ := r.snapshot()
	var starts []time.Time
	for i := 0; i < len(lines); {
		if !bytes.HasPrefix(lines[i].data, []byte("$GPGGA,")) {
			t.Fatalf("line %d, %q, does not start a cycle", i, lines[i].data)
		}
		j := i + 1
		for j < len(lines) && !bytes.HasPrefix(lines[j].data, []byte("$GPGGA,")) {
			j++
		}
		if j == len(lines) && !bytes.HasPrefix(lines[j-1].data, []byte("$GPGLL,")) {
			break // the last cycle, cut off by Count
		}
		if spread := lines[j-1].at.Sub(lines[i].at); spread > period/2 {
			t.Errorf("cycle %d reached the reader over %v", len(starts), spread)
		}
		starts = append(starts, lines[i].at)
		i = j
	}
	mean := starts[len(starts)-1].Sub(starts[0]) / time.Duration(len(starts)-1)
	if len(starts) < 6 || mean < period*8/10 || mean > period*12/10 {
		t.Fatalf("%d cycles, one every %v on average; want one every %v", len(starts), mean, period)
	}
	t.Logf("%d cycles, one every %v on average", len(starts), mean)
}
