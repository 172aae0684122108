package ingest

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/feedd/feedd/backlog"
)

// arrivals works out, for each frame, a window on the host clock that holds
// the moment its last byte was on the line. The pair recognises a frame by
// that window (see backlog): two distinct frames with the same bytes cannot
// both end within less than the line time of those bytes. Every bound here
// must hold, so each is taken on the safe side:
//
//   - The end (Hi) is when the read that returned the byte came back: the
//     byte was on the line before that.
//   - The start (Lo) comes from the read before: it returned without the
//     byte (unless it filled the buffer, so more was waiting), so the byte
//     reached the host after that read began; the port may have held it for
//     up to the latency bound, so it was on the line at most that much
//     earlier. The first read after the port opens has no such read before
//     it: bytes may have waited since before the open.
//   - A frame's last byte comes at least as many character times after the
//     previous frame's last byte as the frame has bytes (its bytes on the
//     line are at least the ones the decoder returns).
//
// It is pure: the reader passes it the clock readings.
type arrivals struct {
	latency  int64 // the port delivers a byte at most this long after its line time
	byteTime int64 // line time of one character
	// base: the next read's bytes reached the host after this; NoLo when
	// they may have waited since before anyone looked.
	base int64
	// readBase is base as it stood for the read being decoded.
	readBase int64
	readEnd  int64 // when that read returned
	lastLo   int64 // Lo of the previous frame
}

func newArrivals(latency, byteTime time.Duration) *arrivals {
	a := &arrivals{latency: int64(latency), byteTime: int64(byteTime)}
	a.opened()
	a.lastLo = backlog.NoLo
	return a
}

// opened notes that the port was (re)opened: what the first read returns
// may have waited in the driver.
func (a *arrivals) opened() { a.base = backlog.NoLo }

// read notes a read that began at start, returned n bytes at end, into a
// buffer of capacity bytes. Frames decoded from those bytes take their
// windows from it.
func (a *arrivals) read(start, end int64, n, capacity int) {
	a.readBase, a.readEnd = a.base, end
	if n < capacity {
		// Whatever the next read returns was not there when this one
		// looked, some time after it began.
		a.base = start
	}
}

// frame returns the window of an n-byte frame that the decoder completed
// from the current read's bytes (every framer completes a frame on its last
// byte).
func (a *arrivals) frame(n int) backlog.Window {
	lo := backlog.NoLo
	if a.readBase != backlog.NoLo {
		lo = a.readBase - a.latency
	}
	if a.lastLo != backlog.NoLo && a.byteTime > 0 {
		lo = max(lo, a.lastLo+int64(n)*a.byteTime)
	}
	hi := a.readEnd
	if lo != backlog.NoLo && lo > hi {
		// Only a latency bound that does not hold gets here; keep the
		// window honest rather than inverted.
		lo = backlog.NoLo
	}
	a.lastLo = lo
	return backlog.Window{Lo: lo, Hi: hi}
}

// Latency bounds used when serial.max_latency is left at 0 (auto).
const (
	// ptyLatency covers a pseudo-terminal fed by another process (the
	// simulator): the scheduler, not a wire, decides when bytes arrive.
	ptyLatency = 50 * time.Millisecond
	// usbLatency covers USB serial adapters whose latency timer is not
	// known: FTDI's default is 16 ms, others flush sooner.
	usbLatency = 40 * time.Millisecond
	// uartLatency covers a native UART: its receive FIFO hands bytes over
	// after a few character times of silence at the latest.
	uartLatency = 5 * time.Millisecond
)

// sysfsRoot is where autoLatency looks for device attributes (tests point
// it elsewhere).
var sysfsRoot = "/sys"

// autoLatency picks a delivery latency bound for the device at path: an FTDI
// adapter's own latency timer (plus a USB frame) when the driver reports it,
// otherwise a bound for the kind of device.
func autoLatency(path string) time.Duration {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	name := filepath.Base(real)
	switch {
	case strings.HasPrefix(real, "/dev/pts/"):
		return ptyLatency
	case strings.HasPrefix(name, "ttyUSB"), strings.HasPrefix(name, "ttyACM"):
		b, err := os.ReadFile(filepath.Join(sysfsRoot, "bus/usb-serial/devices", name, "latency_timer"))
		if err == nil {
			if ms, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && ms >= 0 && ms < 1000 {
				return time.Duration(ms+2) * time.Millisecond
			}
		}
		return usbLatency
	case strings.HasPrefix(name, "ttyS"), strings.HasPrefix(name, "ttyAMA"):
		return uartLatency
	}
	return usbLatency
}

// LineByteTime is a lower bound on the line time of one character at the
// configured baud rate and character format: 5% short of the nominal time,
// because a UART still reads a sender whose clock runs a few percent fast.
func (c SerialConfig) LineByteTime() time.Duration {
	if c.Baud <= 0 {
		return 0
	}
	return time.Duration(math.Floor(0.95 * float64(c.BitsPerChar()) * 1e9 / float64(c.Baud)))
}
