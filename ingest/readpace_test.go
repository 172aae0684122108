package ingest

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/internal/tickgrid"
)

// timeoutPort is a scripted port whose read timeout can be changed, as a
// serial port's can; it records each change.
type timeoutPort struct {
	scriptedPort
	set []time.Duration
}

func (p *timeoutPort) SetReadTimeout(d time.Duration) error {
	p.set = append(p.set, d)
	return nil
}

// A line silent for a second is read at the idle pace; the first bytes
// bring the short reads back, and the frame in them (after a line ending,
// the framer's first certain boundary) is delivered.
func TestReadPaceOnAnIdleLine(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var steps []step
	for range 150 { // 1.5 s of empty reads, 10 ms each
		steps = append(steps, step{})
	}
	steps = append(steps, step{data: "\n$GPGLL,1*00\r\n"}, step{}, step{})
	port := &timeoutPort{scriptedPort: scriptedPort{steps: steps, clock: clock, tick: 10 * time.Millisecond, onDone: cancel}}
	opened := false
	open := func(SerialConfig) (Port, error) {
		if opened {
			cancel()
			return nil, ErrDeviceMissing
		}
		opened = true
		return port, nil
	}
	src, err := NewSource(SerialConfig{Device: "/dev/test"}, framing.Config{Mode: "lines"}, SequenceConfig{},
		SourceOptions{Open: open, Now: clock.now, HostClock: func() int64 { return clock.t.UnixNano() }})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := src.Run(ctx, func(f *Frame) { got = append(got, string(f.Data)) }); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{idleReadTimeout, 5 * time.Millisecond}; !slices.Equal(port.set, want) {
		t.Fatalf("read timeouts set %v, want %v", port.set, want)
	}
	if !slices.Equal(got, []string{"$GPGLL,1*00"}) {
		t.Fatalf("frames %q", got)
	}
}

// The pace itself: idle only after idleReadAfter without a byte, back at
// the first byte, and never for a port whose own timeout is already as long.
func TestReadPace(t *testing.T) {
	ms := int64(time.Millisecond)
	port := &timeoutPort{}
	p := newReadPace(port, 5*time.Millisecond, 0)
	for _, r := range []struct {
		n   int
		end int64
	}{{0, 500 * ms}, {0, 999 * ms}, {0, 1000 * ms}, {0, 1050 * ms}, {3, 1060 * ms}, {0, 1065 * ms}, {0, 2059 * ms}, {0, 2060 * ms}} {
		if err := p.after(r.n, r.end); err != nil {
			t.Fatal(err)
		}
	}
	if want := []time.Duration{idleReadTimeout, 5 * time.Millisecond, idleReadTimeout}; !slices.Equal(port.set, want) {
		t.Fatalf("read timeouts set %v, want %v", port.set, want)
	}
	long := &timeoutPort{}
	p = newReadPace(long, idleReadTimeout, 0)
	if err := p.after(0, 10*int64(time.Second)); err != nil || len(long.set) != 0 {
		t.Fatalf("a port read every %v had its timeout set: %v (%v)", idleReadTimeout, long.set, err)
	}
}

// A serial port as OpenSerial opens it can take the idle pace: a read of
// a silent pseudo-terminal lasts until the next instant of the idle
// timeout's grid (tickgrid) once it is set, the next one a whole idle
// timeout more, and bytes written meanwhile end a read at once.
func TestReadPaceOnARealPort(t *testing.T) {
	master, pts := openPTY(t)
	port, err := OpenSerial(SerialConfig{Device: pts}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	p := newReadPace(port, 5*time.Millisecond, 0)
	if p.port == nil {
		t.Fatalf("%T cannot change its read timeout", port)
	}
	if err := p.after(0, int64(idleReadAfter)); err != nil || !p.idle {
		t.Fatalf("not idle after %v: %v", idleReadAfter, err)
	}
	buf := make([]byte, 64)
	start := time.Now()
	due := start.Add(tickgrid.Until(start, idleReadTimeout))
	for i := range 2 {
		if n, err := port.Read(buf); n != 0 || err != nil {
			t.Fatalf("read %d bytes (%v) of a silent line", n, err)
		}
		if early := time.Until(due); early > 0 {
			t.Fatalf("read %d of the silent line returned %v before its instant on the grid of the idle timeout %v", i+1, early, idleReadTimeout)
		}
		due = due.Add(idleReadTimeout)
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		master.Write([]byte("x\n"))
	}()
	if n, err := port.Read(buf); n == 0 || err != nil {
		t.Fatalf("read %d bytes (%v) with bytes on the line", n, err)
	}
}

// A port as OpenSerial opens it reads a busy line in a system call, whose
// wake-up is the quickest, and an idle one in the runtime's poller, parked
// (and only then is a descriptor of it in the poller):
// a goroutine in a system call keeps the runtime's monitor thread polling,
// which cost an idle member over a quarter of its CPU (see lockedPort). The
// pace switches the way with the line's state. A hang-up ends a read in the
// poller with an error, not with an empty read that would look like a
// silent line.
func TestPortReadWaitsInThePollerWhenIdle(t *testing.T) {
	master, pts := openPTY(t)
	port, err := OpenSerial(SerialConfig{Device: pts}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	pace := newReadPace(port, 5*time.Millisecond, 0)
	readOnce := func(want string) {
		t.Helper()
		if err := port.(*lockedPort).SetReadTimeout(time.Minute); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			n, err := port.Read(make([]byte, 64))
			if err == nil && n == 0 {
				err = errors.New("no bytes")
			}
			done <- err
		}()
		waitFor(t, "the read waiting in state "+want, func() bool { return readerState() == want })
		if _, err := master.Write([]byte("x\n")); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("read with bytes on the line: %v", err)
		}
	}
	readOnce("syscall")
	if err := pace.after(0, int64(idleReadAfter)); err != nil || !pace.idle {
		t.Fatalf("not idle after %v: %v", idleReadAfter, err)
	}
	readOnce("IO wait")
	if err := pace.after(2, int64(idleReadAfter)+1); err != nil || pace.idle {
		t.Fatalf("still idle after bytes: %v", err)
	}
	if port.(*lockedPort).idle != nil {
		t.Fatal("a busy line's descriptor is still in the poller, whose thread its every byte would wake")
	}
	readOnce("syscall")

	pace.after(0, 3*int64(idleReadAfter))
	master.Close()
	if n, err := port.Read(make([]byte, 64)); !errors.Is(err, errHungUp) && !errors.Is(err, syscall.EIO) {
		t.Fatalf("a read of a hung-up pty returned %d bytes and %v, want an error", n, err)
	}
}

// readerState is the state the goroutine dump gives a goroutine inside
// lockedPort.Read ("IO wait", "syscall", ...), or "" when there is none.
func readerState() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, "(*lockedPort).Read(") {
			continue
		}
		header, _, _ := strings.Cut(g, "\n")
		_, state, _ := strings.Cut(header, "[")
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",") // "IO wait, 2 minutes"
		return state
	}
	return ""
}
