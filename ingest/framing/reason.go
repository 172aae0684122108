package framing

import (
	"strconv"
	"sync/atomic"
)

// Reason classifies dropped input.
type Reason int

const (
	// BadChecksum: a complete frame whose check failed or was missing where
	// the configuration requires one.
	BadChecksum Reason = iota
	// Oversize: a frame longer than max_frame, or a length prefix claiming
	// more than max_frame.
	Oversize
	// Truncated: a started frame that never completed, because a new start
	// byte cut it off or because Reset discarded it.
	Truncated
	// Noise: bytes that are not part of any frame, or a frame that is
	// malformed in a way no check byte covers (a bad SLIP escape, a COBS
	// block cut short, a zero length prefix, a control character inside an
	// NMEA sentence). A contiguous run counts once.
	Noise
	// Resync: after New or Reset the decoder does not know where the
	// stream stands, and it discarded bytes before the first point at
	// which a frame certainly starts: most often the rest of a frame whose
	// head was read before the port was opened, which a peer that was
	// reading at the time has whole. One count per New or Reset that had
	// to discard anything; a stream found at a frame boundary counts
	// nothing.
	Resync

	numReasons = iota
)

// Reasons lists every Reason, for registering metrics up front so that a
// label value exists at zero before the first drop.
var Reasons = []Reason{BadChecksum, Oversize, Truncated, Noise, Resync}

var reasonNames = [numReasons]string{
	BadChecksum: "bad_checksum",
	Oversize:    "oversize",
	Truncated:   "truncated",
	Noise:       "noise",
	Resync:      "resync",
}

// String returns the name used as a Prometheus label value.
func (r Reason) String() string {
	if r < 0 || r >= numReasons {
		return "Reason(" + strconv.Itoa(int(r)) + ")"
	}
	return reasonNames[r]
}

// Drops counts dropped input by reason. The decoding goroutine is the only
// writer; any goroutine may read the counts at any time.
type Drops struct {
	n [numReasons]atomic.Uint64
}

// Count returns how many drops of reason r have been counted.
func (d *Drops) Count(r Reason) uint64 {
	if r < 0 || r >= numReasons {
		return 0
	}
	return d.n[r].Load()
}

// Total returns the number of drops of all reasons.
func (d *Drops) Total() uint64 {
	var t uint64
	for i := range d.n {
		t += d.n[i].Load()
	}
	return t
}

func (d *Drops) add(r Reason) { d.n[r].Add(1) }
