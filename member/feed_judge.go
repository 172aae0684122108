package member

import (
	"time"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ingest"
)

// feedJudge turns the port's counters into the feed state the core ranks
// members by: quiet when the port is closed or silent; noisy when, over the
// last window, more bytes were dropped as invalid frames than framed, or
// when its stream has had holes (reopens, dropped input, sequence skips,
// frames the cross-check found it dropped whole) at one a second or more
// over holeWindow. An active whose feed is noisy
// hands over to a peer whose feed is ok: repairing every hole from the
// peer costs a hold and, on feeds without sequence numbers, re-published
// frames. A port once noisy by holes stays so until a holeWindow with at
// most one hole, so a pair does not flap on a port that is bad now and
// then; two noisy ports stay where they are.
type feedJudge struct {
	window     time.Duration
	start      time.Time
	frames     uint64
	dropped    uint64
	noisy      bool
	lastFrames uint64

	holeStart  time.Time
	holes      uint64
	holesNoisy bool
}

// holeWindow is the span over which the judge counts holes.
const holeWindow = 10 * time.Second

func (j *feedJudge) judge(now time.Time, h ingest.Health) ftpair.FeedState {
	if j.start.IsZero() || now.Sub(j.start) >= j.window {
		df, dd := h.Frames-j.frames, h.Dropped-j.dropped
		j.noisy = !j.start.IsZero() && dd >= 3 && dd > df
		j.start, j.frames, j.dropped = now, h.Frames, h.Dropped
	}
	if j.holeStart.IsZero() {
		j.holeStart, j.holes = now, h.Holes
	}
	switch dh := h.Holes - j.holes; {
	case dh >= uint64(holeWindow/time.Second):
		// One a second or more: noisy at once, without waiting for the
		// window to end.
		j.holesNoisy = true
		j.holeStart, j.holes = now, h.Holes
	case now.Sub(j.holeStart) >= holeWindow:
		if dh <= 1 {
			j.holesNoisy = false
		}
		j.holeStart, j.holes = now, h.Holes
	}
	switch {
	case !h.Connected || h.Quiet:
		return ftpair.FeedQuiet
	case j.noisy || j.holesNoisy:
		return ftpair.FeedNoisy
	}
	return ftpair.FeedOK
}
