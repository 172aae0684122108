package ingest

import (
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/feedd/feedd/backlog"
)

// Frame is one validated frame read from the feed, with the identity both
// members of a pipeline can compute on their own without talking to each
// other.
type Frame struct {
	// Data is the frame's bytes without framing (delimiters, checksums,
	// escapes removed). It aliases the reader's buffer and is valid only until
	// the next frame is read: copy it to keep it.
	Data []byte
	// ReceivedAt is when the last byte of the frame was read from the port
	// (the wall clock at the moment Line.Hi was taken).
	ReceivedAt time.Time
	// Line bounds, on the host clock (package ingest/hostclock), when the
	// frame's last byte was on the serial line; the pair recognises frames
	// by it. Line.Lo is backlog.NoLo when nothing bounds it (bytes read
	// just after the port opened may have waited since before).
	Line backlog.Window
	// Seq is the member-local sequence number, starting at 1 for the first
	// frame this process read. It is not shared between members.
	Seq uint64
	// Fingerprint is a 64-bit hash of Data (xxHash64, seed 0), identical on
	// every member for identical bytes. It is computed once, when the frame
	// is read, and carried with the frame into the ring and its record: a
	// Frame built by hand must set it.
	Fingerprint uint64
	// FeedSeq is the feed's own sequence number, valid when HasFeedSeq is
	// set (a sequence extractor is configured and matched this frame).
	FeedSeq    uint64
	HasFeedSeq bool
	// Hole says whether this member's port may have lost frames between
	// the previous frame it delivered and this one, and why.
	Hole Hole
}

// Hole is why a member's own stream may lack frames just before a frame:
// something between the two frames this port delivered lost input. It
// does not say that a frame was lost (a checksum failure may have been
// noise between frames, a quiet line may have been a quiet sender), only
// that the port cannot tell: the peer's port may hold what this one lost.
type Hole uint8

// Holes, weakest first: where several things happened between two frames
// the strongest is reported.
const (
	NoHole Hole = iota
	// HoleQuiet: the line delivered no valid frame for serial.quiet_after.
	HoleQuiet
	// HoleDropped: the framer dropped input (a bad checksum, a broken or
	// oversize frame, garbage).
	HoleDropped
	// HoleSequence: the feed's sequence number skipped ahead of the last
	// one plus one.
	HoleSequence
	// HoleReopened: the port was lost and opened again; the line was not
	// read meanwhile.
	HoleReopened
)

// Holes lists the kinds of hole, for metrics.
var Holes = []Hole{HoleQuiet, HoleDropped, HoleSequence, HoleReopened}

func (h Hole) String() string {
	switch h {
	case NoHole:
		return "none"
	case HoleQuiet:
		return "quiet"
	case HoleDropped:
		return "dropped"
	case HoleSequence:
		return "sequence"
	case HoleReopened:
		return "reopened"
	}
	return "unknown"
}

// Fingerprint returns the 64-bit fingerprint of a frame's bytes.
func Fingerprint(data []byte) uint64 { return xxhash.Sum64(data) }

// Identity is the key both members use to recognise the same frame: the
// feed's own sequence number when the feed has one, the fingerprint otherwise.
func (f *Frame) Identity() uint64 {
	if f.HasFeedSeq {
		return f.FeedSeq
	}
	return f.Fingerprint
}
