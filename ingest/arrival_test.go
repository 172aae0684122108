package ingest

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
)

// TestArrivalWindowsHoldTheLineTime simulates a line and a port (bytes
// delivered late by up to the latency bound, in chunks), a reader that
// polls with random pauses and a small buffer, and checks that every
// frame's window holds the true line time of its last byte.
func TestArrivalWindowsHoldTheLineTime(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 3))
		const bt = int64(86_806) // 115200 baud
		latency := rng.Int64N(20_000_000)
		a := newArrivals(time.Duration(latency), time.Duration(bt*95/100))
		// The line: frames of 5..80 bytes with idle gaps; each byte has a
		// line time and a delivery time (monotonic in the byte order).
		type byteAt struct {
			line, delivered int64
			frameEnd        int // index of the frame if this byte ends one, else -1
		}
		var bytes []byteAt
		var frameLen []int
		line, delivered := int64(1e9), int64(0)
		for f := range 300 {
			if rng.IntN(3) == 0 {
				line += rng.Int64N(50_000_000)
			}
			n := 5 + rng.IntN(76)
			frameLen = append(frameLen, n)
			for i := range n {
				line += bt
				delivered = max(delivered, line+rng.Int64N(latency+1))
				end := -1
				if i == n-1 {
					end = f
				}
				bytes = append(bytes, byteAt{line: line, delivered: delivered, frameEnd: end})
			}
		}
		// The reader: a read starts, returns what was delivered by some
		// moment after it started (at least one byte, or nothing when it
		// times out), up to its buffer size.
		capacity := 1 + rng.IntN(64)
		now := int64(1e9) - 5_000_000
		a.opened()
		next := 0
		for next < len(bytes) {
			start := now
			if rng.IntN(10) == 0 {
				now += rng.Int64N(200_000_000) // the reader was busy or stopped
			}
			wait := max(now, bytes[next].delivered) + rng.Int64N(2_000_000)
			if rng.IntN(4) == 0 {
				wait = now + rng.Int64N(5_000_000) // a timeout, maybe empty
			}
			got := 0
			for next+got < len(bytes) && got < capacity && bytes[next+got].delivered <= wait {
				got++
			}
			end := wait + rng.Int64N(1_000_000)
			a.read(start, end, got, capacity)
			for _, b := range bytes[next : next+got] {
				if b.frameEnd < 0 {
					continue
				}
				w := a.frame(frameLen[b.frameEnd])
				if w.Hi < b.line || (w.Lo != backlog.NoLo && w.Lo > b.line) {
					t.Fatalf("seed %d: frame %d ended on the line at %d, window [%d, %d]", seed, b.frameEnd, b.line, w.Lo, w.Hi)
				}
			}
			next += got
			now = end
		}
	}
}

func TestAutoLatency(t *testing.T) {
	dir := t.TempDir()
	old := sysfsRoot
	sysfsRoot = dir
	t.Cleanup(func() { sysfsRoot = old })
	timer := filepath.Join(dir, "bus/usb-serial/devices/ttyUSB7")
	if err := os.MkdirAll(timer, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(timer, "latency_timer"), []byte("16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]time.Duration{
		"/dev/ttyUSB7": 18 * time.Millisecond, // FTDI's timer, plus a USB frame
		"/dev/ttyUSB3": usbLatency,
		"/dev/ttyACM0": usbLatency,
		"/dev/ttyS0":   uartLatency,
		"/dev/pts/4":   ptyLatency,
		"/dev/weird":   usbLatency,
	} {
		if got := autoLatency(path); got != want {
			t.Errorf("autoLatency(%s) = %v, want %v", path, got, want)
		}
	}
}

func TestLineByteTime(t *testing.T) {
	c := SerialConfig{Baud: 4800, DataBits: 8, Parity: "none", StopBits: 1}
	// 10 bits at 4800 baud: 2.083 ms, less 5%.
	if got := c.LineByteTime(); got < 1978*time.Microsecond || got > 1980*time.Microsecond {
		t.Fatalf("LineByteTime = %v", got)
	}
}
