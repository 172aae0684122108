package serialsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/testsupport"
)

// waitLimit bounds every wait for a condition. It is generous on purpose:
// the tests wait for conditions, never for durations.
const waitLimit = 60 * time.Second

var socatMissing bool

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("socat"); err != nil {
		socatMissing = true
		fmt.Fprintln(os.Stderr, "serialsim: socat is not installed: the tests that need real ptys are SKIPPED (apt-get install socat, or make deps)")
	}
	os.Exit(m.Run())
}

// needSocat skips a test that needs real ptys when socat is missing. "go
// test ./..." shows a passing package's output only with -v, so CI sets
// FEEDD_REQUIRE_SOCAT=1 to make a missing socat fail instead.
func needSocat(tb testing.TB) {
	tb.Helper()
	if !socatMissing {
		return
	}
	if os.Getenv("FEEDD_REQUIRE_SOCAT") != "" {
		tb.Fatal("socat is not installed and FEEDD_REQUIRE_SOCAT is set (apt-get install socat, or make deps)")
	}
	tb.Skip("SKIPPED: socat is not installed (apt-get install socat, or make deps)")
}

// startSim starts a Sim for the test and closes it at the end.
func startSim(tb testing.TB, cfg Config) *Sim {
	tb.Helper()
	needSocat(tb)
	if cfg.LinkDir == "" {
		cfg.LinkDir = tb.TempDir()
	}
	cfg.Logf = tb.Logf
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// line is one line a reader received.
type line struct {
	data []byte
	at   time.Time
}

// reader reads a member-side pty as a member would, with a plain
// os.OpenFile (socat made the pty raw), and splits what it reads into lines.
type reader struct {
	f     *os.File
	done  chan struct{} // closed when the read goroutine ends
	gate  sync.Mutex    // held by stall: the reader stops reading
	mu    sync.Mutex
	lines []line
	err   error // what ended the reading
}

// openPort opens a member-side pty as a member would, failing the test if
// it cannot.
func openPort(tb testing.TB, path string) *os.File {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func openReader(tb testing.TB, path string) *reader {
	tb.Helper()
	r := &reader{f: openPort(tb, path), done: make(chan struct{})}
	go r.loop()
	tb.Cleanup(r.close)
	return r
}

func (r *reader) loop() {
	defer close(r.done)
	buf := make([]byte, 4096)
	var partial []byte
	for {
		r.gate.Lock()
		r.gate.Unlock()
		n, err := r.f.Read(buf)
		now := time.Now()
		r.mu.Lock()
		for _, b := range buf[:n] {
			partial = append(partial, b)
			if b == '\n' {
				r.lines = append(r.lines, line{data: partial, at: now})
				partial = nil
			}
		}
		if err != nil {
			r.err = err
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
	}
}

// stall makes the reader stop reading (after the read in progress, if any)
// until resume.
func (r *reader) stall()  { r.gate.Lock() }
func (r *reader) resume() { r.gate.Unlock() }

func (r *reader) close() {
	_ = r.f.Close()
	<-r.done
}

func (r *reader) snapshot() ([]line, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines), r.err
}

// parseFaults parses the fault specs, in order.
func parseFaults(tb testing.TB, specs ...string) []Fault {
	tb.Helper()
	var faults []Fault
	for _, spec := range specs {
		f, err := ParseFault(spec)
		if err != nil {
			tb.Fatal(err)
		}
		faults = append(faults, f)
	}
	return faults
}

// waitLines waits until r has read at least n lines.
func (r *reader) waitLines(tb testing.TB, what string, n int) {
	tb.Helper()
	waitFor(tb, what, func() bool {
		l, _ := r.snapshot()
		return len(l) >= n
	})
}

// waitFor polls cond until it holds or waitLimit passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	testsupport.Poll(tb, waitLimit, 5*time.Millisecond, what, cond)
}

// seqs returns the sequence numbers of the valid frames among lines and the
// number of lines that are not valid frames.
func seqs(lines []line) (valid []uint64, invalid int) {
	for _, l := range lines {
		if seq, ok := ParseSeq(l.data); ok {
			valid = append(valid, seq)
		} else {
			invalid++
		}
	}
	return valid, invalid
}

func seqRange(first, n uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = first + uint64(i)
	}
	return out
}

func delivered(tb testing.TB, s *Sim, port int) []uint64 {
	tb.Helper()
	d, err := s.Delivered(port)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func stats(tb testing.TB, s *Sim, port int) Stats {
	tb.Helper()
	st, err := s.Stats(port)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func waitFinished(tb testing.TB, s *Sim) {
	tb.Helper()
	select {
	case <-s.Finished():
	case <-time.After(waitLimit):
		tb.Fatalf("feed not finished after %v", waitLimit)
	}
}

func TestReaderReceivesEveryFrameInOrder(t *testing.T) {
	const n = 200
	s := startSim(t, Config{Ports: 1, Count: n, Rate: 400, Seed: 7})
	r := openReader(t, s.Ports()[0])
	waitFinished(t, s)
	r.waitLines(t, "all frames at the reader", n)
	lines, err := r.snapshot()
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	for _, l := range lines {
		if _, err := ParseFrame(l.data); err != nil || len(l.data) != DefaultFrameSize {
			t.Fatalf("bad frame %q (%d bytes): %v", l.data, len(l.data), err)
		}
	}
	got, _ := seqs(lines)
	if want := seqRange(1, n); !slices.Equal(got, want) {
		t.Fatalf("reader got %d frames %v…, want 1..%d in order", len(got), got[:min(len(got), 10)], n)
	}
	if d := delivered(t, s, 0); !slices.Equal(d, got) {
		t.Fatalf("Delivered(0) = %d ids, reader got %d", len(d), len(got))
	}
	if st := stats(t, s, 0); st.Written != n || st.Delivered != n || st.Bytes != n*DefaultFrameSize {
		t.Fatalf("stats: %v", st)
	}
	if s.Generated() != n {
		t.Fatalf("Generated = %d", s.Generated())
	}

	// A second simulator cannot take over the same link directory.
	s2, err := New(Config{Ports: 1, LinkDir: s.LinkDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "another simulator") {
		t.Fatalf("second Start on %s: %v", s.LinkDir(), err)
	}
}

func TestTwoPortsReceiveTheSameSequence(t *testing.T) {
	const n = 120
	s := startSim(t, Config{Ports: 2, Count: n, Rate: 200, StartSeq: 1000, FrameSize: 82, Seed: 3})
	ports := s.Ports()
	if len(ports) != 2 || !strings.HasSuffix(ports[0], "/port0") || !strings.HasSuffix(ports[1], "/port1") {
		t.Fatalf("Ports() = %v", ports)
	}
	r0, r1 := openReader(t, ports[0]), openReader(t, ports[1])
	waitFinished(t, s)
	for _, r := range []*reader{r0, r1} {
		r.waitLines(t, "all frames at both readers", n)
	}
	l0, _ := r0.snapshot()
	l1, _ := r1.snapshot()
	got0, bad0 := seqs(l0)
	got1, bad1 := seqs(l1)
	if want := seqRange(1000, n); bad0 != 0 || bad1 != 0 || !slices.Equal(got0, want) || !slices.Equal(got1, want) {
		t.Fatalf("port0 got %d frames (%d bad), port1 %d (%d bad), want 1000..%d on both", len(got0), bad0, len(got1), bad1, 1000+n-1)
	}
	for i := range l0 {
		if !bytes.Equal(l0[i].data, l1[i].data) {
			t.Fatalf("frame %d differs between ports: %q vs %q", i, l0[i].data, l1[i].data)
		}
		if len(l0[i].data) != 82 {
			t.Fatalf("frame %q is not 82 bytes", l0[i].data)
		}
	}
}

func TestCorruptDropPauseAccounting(t *testing.T) {
	const n = 400
	faults := parseFaults(t,
		"port=0,kind=corrupt,rate=0.2",
		"port=1,kind=drop,rate=0.2",
		"port=1,at=300ms,kind=pause,for=300ms",
	)
	s := startSim(t, Config{Ports: 2, Count: n, Rate: 200, Seed: 11, Faults: faults})
	r0, r1 := openReader(t, s.Ports()[0]), openReader(t, s.Ports()[1])
	waitFinished(t, s)
	for i, r := range []*reader{r0, r1} {
		want := stats(t, s, i).Written
		r.waitLines(t, fmt.Sprintf("port%d's %d written frames at its reader", i, want), int(want))
	}
	for i, r := range []*reader{r0, r1} {
		st := stats(t, s, i)
		lines, _ := r.snapshot()
		got, invalid := seqs(lines)
		if d := delivered(t, s, i); !slices.Equal(got, d) {
			t.Errorf("port%d: reader's valid frames (%d) differ from Delivered (%d)", i, len(got), len(d))
		}
		if uint64(invalid) != st.Corrupted {
			t.Errorf("port%d: %d lines fail their checksum, Corrupted = %d", i, invalid, st.Corrupted)
		}
		if sum := st.Delivered + st.Corrupted + st.Dropped + st.Paused + st.Unplugged + st.Overflow; sum != n {
			t.Errorf("port%d: counters add up to %d, want %d: %v", i, sum, n, st)
		}
		t.Logf("port%d: %v", i, st)
	}
	st0, st1 := stats(t, s, 0), stats(t, s, 1)
	if st0.Corrupted == 0 || st0.Dropped != 0 || st1.Dropped == 0 || st1.Paused == 0 || st1.Corrupted != 0 {
		t.Errorf("faults not applied as configured: port0 %v; port1 %v", st0, st1)
	}
}

func TestUnplugAndReplug(t *testing.T) {
	s := startSim(t, Config{Ports: 2, Rate: 100, Seed: 5})
	path := s.Ports()[0]
	r0 := openReader(t, path)
	r1 := openReader(t, s.Ports()[1])
	r0.waitLines(t, "20 frames before the unplug", 20)
	if err := s.Unplug(0, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The reader sees the pty close: EOF (read returns 0 bytes).
	select {
	case <-r0.done:
	case <-time.After(waitLimit):
		t.Fatal("reader saw no end of file after the unplug")
	}
	// A read that starts after the hangup returns 0 bytes (io.EOF); one
	// blocked in the kernel when it happens may get EIO instead.
	before, err := r0.snapshot()
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EIO) {
		t.Fatalf("reader ended with %v, want io.EOF or EIO", err)
	}
	t.Logf("reader ended with %v after %d frames", err, len(before))
	r0.close()
	if err := s.Unplug(0, time.Second); err == nil {
		t.Errorf("second Unplug of an unplugged port succeeded")
	}

	// The link comes back at the same path; reopen it.
	waitFor(t, "the member link to reappear", func() bool {
		f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			return false
		}
		_ = f.Close()
		return true
	})
	r0b := openReader(t, path)
	lastBefore, _ := seqs(before)
	maxBefore := lastBefore[len(lastBefore)-1]
	waitFor(t, "20 frames after the replug", func() bool {
		l, _ := r0b.snapshot()
		got, _ := seqs(l)
		return len(got) >= 20 && got[len(got)-1] > maxBefore+20
	})
	after, err := r0b.snapshot()
	if err != nil {
		t.Fatalf("reader after replug: %v", err)
	}
	all, invalid := seqs(append(before, after...))
	if invalid != 0 {
		t.Errorf("%d invalid lines", invalid)
	}
	// Every frame the port delivered up to the last one read was read,
	// in order: the accounting is exact across the unplug.
	upTo := all[len(all)-1]
	var want []uint64
	for _, id := range delivered(t, s, 0) {
		if id <= upTo {
			want = append(want, id)
		}
	}
	if !slices.Equal(all, want) {
		t.Fatalf("port0 reader got %d frames, Delivered up to %d has %d\n got: %v\nwant: %v", len(all), upTo, len(want), all, want)
	}
	st := stats(t, s, 0)
	if st.Unplugs != 1 || st.Unplugged == 0 {
		t.Errorf("port0 stats after one unplug: %v", st)
	}
	if len(all) == int(upTo) {
		t.Errorf("no gap across the unplug: %v", all)
	}

	// Port 1 was never unplugged and kept receiving every frame.
	waitFor(t, "port1 to pass the last frame port0 read", func() bool {
		l, _ := r1.snapshot()
		got, _ := seqs(l)
		return len(got) > 0 && got[len(got)-1] >= upTo
	})
	l1, _ := r1.snapshot()
	got1, _ := seqs(l1)
	if !slices.Equal(got1[:upTo], seqRange(1, upTo)) {
		t.Fatalf("port1 missed frames while port0 was unplugged")
	}
	t.Logf("port0: %v", st)
	// Stop while both readers still read: the stop drains without waiting.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestScriptedUnplugAndReplay(t *testing.T) {
	// A captured feed, replayed as it is.
	var capture bytes.Buffer
	for i := uint64(1); i <= 50; i++ {
		capture.Write(EncodeFrame(i, 1763700000000+int64(i), 40))
	}
	file := t.TempDir() + "/capture.nmea"
	if err := os.WriteFile(file, capture.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFault("port=0,at=0s,kind=unplug,for=200ms")
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads port0: do not wait long for it at the unplug and at Close.
	s := startSim(t, Config{Ports: 2, Replay: file, Baud: 38400, StartSeq: 1, Faults: []Fault{f}, DrainTimeout: 100 * time.Millisecond})
	r1 := openReader(t, s.Ports()[1])
	waitFinished(t, s)
	r1.waitLines(t, "the whole capture at port1", 50)
	l1, _ := r1.snapshot()
	var got bytes.Buffer
	for _, l := range l1 {
		got.Write(l.data)
	}
	if !bytes.Equal(got.Bytes(), capture.Bytes()) {
		t.Fatalf("port1 did not receive the capture as it is")
	}
	if d := delivered(t, s, 1); !slices.Equal(d, seqRange(1, 50)) {
		t.Fatalf("Delivered(1) = %v", d)
	}
	waitFor(t, "the scripted unplug of port0", func() bool { return stats(t, s, 0).Unplugs == 1 })
}

// TestPauseAllPortsTakesTheSameFrames: a pause of every port takes the same
// frames from each, however it falls against the feed. A test that paused
// the feed to end it once found the last frame delivered to one port and
// paused on the other, because each port's pause was set, and read, at a
// slightly different moment.
func TestPauseAllPortsTakesTheSameFrames(t *testing.T) {
	const n = 4000
	s := startSim(t, Config{Ports: 3, Count: n, Rate: 4000, Baud: MaxBaud, Seed: 5})
	for _, p := range s.Ports() {
		openReader(t, p)
	}
	pauses := 0
	for finished := false; !finished; {
		select {
		case <-s.Finished():
			finished = true
		default:
			if err := s.Pause(AllPorts, 150*time.Microsecond); err != nil {
				t.Fatal(err)
			}
			pauses++
			time.Sleep(time.Duration(200+pauses%7*50) * time.Microsecond)
		}
	}
	st0 := stats(t, s, 0)
	if st0.Paused == 0 || st0.Delivered == 0 {
		t.Fatalf("%d pauses: port0 %v; want some frames paused and some delivered", pauses, st0)
	}
	// A reader that falls behind on a loaded machine can make its port
	// overflow, which loses other frames there: compare what was
	// delivered only when no port overflowed.
	d0 := delivered(t, s, 0)
	for i := 1; i < 3; i++ {
		st, d := stats(t, s, i), delivered(t, s, i)
		if st.Paused != st0.Paused || (st.Overflow == 0 && st0.Overflow == 0 && !slices.Equal(d, d0)) {
			t.Errorf("%d pauses: port%d paused %d frames and delivered %d, port0 paused %d and delivered %d", pauses, i, st.Paused, len(d), st0.Paused, len(d0))
		}
	}
	t.Logf("%d pauses of every port: %d frames paused on each, %d delivered", pauses, st0.Paused, len(d0))
}

// TestResumeEndsPause: Resume ends a pause early, on every port at once.
func TestResumeEndsPause(t *testing.T) {
	s := startSim(t, Config{Ports: 2, Rate: 500, Baud: MaxBaud, Seed: 9})
	r0, r1 := openReader(t, s.Ports()[0]), openReader(t, s.Ports()[1])
	if err := s.Pause(AllPorts, time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	paused := stats(t, s, 0).Paused
	if err := s.Resume(AllPorts); err != nil {
		t.Fatal(err)
	}
	for i, r := range []*reader{r0, r1} {
		want := uint64(len(delivered(t, s, i)) + 20)
		r.waitLines(t, fmt.Sprintf("port%d delivering again", i), int(want))
	}
	if paused == 0 || stats(t, s, 0).Paused != stats(t, s, 1).Paused {
		t.Fatalf("paused %d before the resume; port0 %v, port1 %v", paused, stats(t, s, 0), stats(t, s, 1))
	}
}
