package ingest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/internal/testsupport"
	"golang.org/x/sys/unix"
)

// These tests read the simulator's feed through real socat ptys with the
// same code path as a real serial device.

// reader runs a Source on one port and collects the feed sequence numbers.
type reader struct {
	src    *Source
	mu     sync.Mutex
	seqs   []uint64
	cancel context.CancelFunc
	done   chan struct{}
}

func startReader(t *testing.T, device string) *reader {
	t.Helper()
	sc := SerialConfig{Device: device, Baud: 115200, ReadTimeout: 50 * time.Millisecond,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
	src, err := NewSource(sc, framing.Config{Mode: "nmea"}, SequenceConfig{NMEAField: 1}, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &reader{src: src, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		src.Run(ctx, func(f *Frame) {
			if !f.HasFeedSeq {
				t.Errorf("frame without a feed sequence: %q", f.Data)
				return
			}
			r.mu.Lock()
			r.seqs = append(r.seqs, f.FeedSeq)
			r.mu.Unlock()
		})
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *reader) stop() { r.cancel(); <-r.done }

func (r *reader) snapshot() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs)
}

// waitFor polls cond until it holds; the deadline is only a guard against a
// hung test, never a performance claim.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, time.Minute, 10*time.Millisecond, what, cond)
}

func startSim(t *testing.T, cfg serialsim.Config) *serialsim.Sim {
	t.Helper()
	sim, err := serialsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// expectDelivered waits for the feed to finish and checks that the reader got
// exactly the frames the simulator delivered intact to its port, in order.
func expectDelivered(t *testing.T, sim *serialsim.Sim, port int, r *reader) []uint64 {
	t.Helper()
	<-sim.Finished()
	want, err := sim.Delivered(port)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reader to catch up with the simulator", func() bool { return len(r.snapshot()) >= len(want) })
	if got := r.snapshot(); !slices.Equal(got, want) {
		t.Fatalf("port %d: reader got %d frames, simulator delivered %d; first difference at %d",
			port, len(got), len(want), firstDiff(got, want))
	}
	return want
}

func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// readerTestWriteDelay lets the simulator hold a frame back until the
// reader makes room rather than lose it: these tests are about the reader,
// which a loaded test machine can keep from reading for a while; a real
// port's kernel buffer would overflow then.
const readerTestWriteDelay = 30 * time.Second

func TestPTYReadsEveryFrameInOrder(t *testing.T) {
	const n = 300
	sim := startSim(t, serialsim.Config{Ports: 1, Baud: 115200, Rate: 500, Count: n, Seed: 1, MaxWriteDelay: readerTestWriteDelay})
	r := startReader(t, sim.Ports()[0])
	got := expectDelivered(t, sim, 0, r)
	if len(got) != n || got[0] != 1 || got[n-1] != n {
		t.Fatalf("want sequence 1..%d, got %d frames from %d to %d", n, len(got), got[0], got[len(got)-1])
	}
	if d := r.src.Drops().Total(); d != 0 {
		t.Fatalf("clean feed dropped %d frames", d)
	}
}

func TestPTYCountsCorruptFramesAndKeepsTheRest(t *testing.T) {
	const n = 400
	sim := startSim(t, serialsim.Config{Ports: 1, Baud: 115200, Rate: 500, Count: n, Seed: 7, MaxWriteDelay: readerTestWriteDelay,
		Faults: []serialsim.Fault{mustFault(t, "port=0,kind=corrupt,rate=0.1")}})
	r := startReader(t, sim.Ports()[0])
	got := expectDelivered(t, sim, 0, r)
	st, _ := sim.Stats(0)
	if st.Corrupted == 0 {
		t.Fatal("the simulator corrupted nothing; the test proves nothing")
	}
	if len(got)+int(st.Corrupted) != n {
		t.Fatalf("delivered %d + corrupted %d != generated %d", len(got), st.Corrupted, n)
	}
	if d := r.src.Drops().Total(); d == 0 {
		t.Fatalf("%d corrupted frames but the framer counted no drop", st.Corrupted)
	}
}

func TestPTYReconnectsAfterUnplug(t *testing.T) {
	const n = 400
	sim := startSim(t, serialsim.Config{Ports: 1, Baud: 115200, Rate: 200, Count: n, Seed: 3, MaxWriteDelay: readerTestWriteDelay})
	r := startReader(t, sim.Ports()[0])
	waitFor(t, "the first frames", func() bool { return len(r.snapshot()) >= 50 })
	if err := sim.Unplug(0, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got := expectDelivered(t, sim, 0, r)
	st, _ := sim.Stats(0)
	if st.Unplugs != 1 {
		t.Fatalf("unplugs = %d; want 1", st.Unplugs)
	}
	if h := r.src.Health(); h.Reconnects < 1 {
		t.Fatalf("reader did not reconnect: %+v", h)
	}
	if got[len(got)-1] != n {
		t.Fatalf("frames written after the replug did not arrive: last seq %d, want %d", got[len(got)-1], n)
	}
}

func TestPTYTwoPortsGetTheSameFeed(t *testing.T) {
	const n = 200
	sim := startSim(t, serialsim.Config{Ports: 2, Baud: 115200, Rate: 500, Count: n, Seed: 5, MaxWriteDelay: readerTestWriteDelay})
	a := startReader(t, sim.Ports()[0])
	b := startReader(t, sim.Ports()[1])
	gotA := expectDelivered(t, sim, 0, a)
	gotB := expectDelivered(t, sim, 1, b)
	if len(gotA) != n || !slices.Equal(gotA, gotB) {
		t.Fatalf("ports differ: %d and %d frames", len(gotA), len(gotB))
	}
}

func TestPTYOpenSettings(t *testing.T) {
	sim := startSim(t, serialsim.Config{Ports: 1, Count: 1})
	for _, sc := range []SerialConfig{
		{Device: sim.Ports()[0], FlowControl: "rtscts"},
		{Device: sim.Ports()[0], DataBits: 7, Parity: "even", StopBits: 2, Baud: 4800},
	} {
		p, err := OpenSerial(sc.WithDefaults())
		if err != nil {
			t.Fatalf("open %+v: %v", sc, err)
		}
		// A read timeout returns no bytes and no error, not a failure.
		buf := make([]byte, 1)
		for range 3 {
			if _, err := p.Read(buf); err != nil {
				t.Fatalf("read on an open pty: %v", err)
			}
		}
		if sc.FlowControl == "rtscts" && !hasRTSCTS(t, sc.Device) {
			t.Fatal("flow_control rtscts: CRTSCTS is not set on the tty")
		}
		p.Close()
	}
}

// hasRTSCTS reads the tty's settings through a second descriptor; termios
// belongs to the device, not to a descriptor.
func hasRTSCTS(t *testing.T, path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("second open of %s to read its settings: %v", path, err)
	}
	defer unix.Close(fd)
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Cflag&unix.CRTSCTS != 0
}

func mustFault(t *testing.T, spec string) serialsim.Fault {
	t.Helper()
	f, err := serialsim.ParseFault(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
