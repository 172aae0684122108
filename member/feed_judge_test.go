package member

import (
	"testing"
	"time"

	"github.com/feedd/feedd/ingest"
)

func TestFeedJudge(t *testing.T) {
	j := feedJudge{window: time.Second}
	now := time.Unix(0, 0)
	if s := j.judge(now, healthOf(true, false, 0, 0)); s.String() != "ok" {
		t.Fatalf("start: %v", s)
	}
	// A window with more drops than frames is noisy.
	if s := j.judge(now.Add(time.Second), healthOf(true, false, 2, 10)); s.String() != "noisy" {
		t.Fatalf("mostly drops: %v", s)
	}
	// A window of clean frames is ok again.
	if s := j.judge(now.Add(2*time.Second), healthOf(true, false, 60, 11)); s.String() != "ok" {
		t.Fatalf("clean again: %v", s)
	}
	if s := j.judge(now.Add(3*time.Second), healthOf(true, true, 60, 11)); s.String() != "quiet" {
		t.Fatalf("quiet line: %v", s)
	}
	if s := j.judge(now.Add(4*time.Second), healthOf(false, false, 60, 11)); s.String() != "quiet" {
		t.Fatalf("port closed: %v", s)
	}
}

// TestFeedJudgeHoles: a port whose stream has a hole a second or more is
// noisy at once, and stays so until a whole window passes with at most one.
func TestFeedJudgeHoles(t *testing.T) {
	j := feedJudge{window: 500 * time.Millisecond}
	now := time.Unix(0, 0)
	h := healthOf(true, false, 1000, 0)
	step := func(d time.Duration, holes uint64, want string) {
		t.Helper()
		now = now.Add(d)
		h.Frames += 100
		h.Holes = holes
		if s := j.judge(now, h); s.String() != want {
			t.Fatalf("at %v with %d holes: %v, want %s", now.Sub(time.Unix(0, 0)), holes, s, want)
		}
	}
	step(0, 0, "ok")
	step(3*time.Second, 4, "ok")     // a few holes now and then
	step(3*time.Second, 8, "ok")     // eight within the window
	step(4*time.Second, 9, "ok")     // the window ended with nine: counting again
	step(2*time.Second, 19, "noisy") // ten in two seconds
	step(5*time.Second, 20, "noisy") // hysteresis: the window is not over
	step(6*time.Second, 21, "noisy") // a window ended, but with two holes
	step(10*time.Second, 22, "ok")   // a window with one
}

func healthOf(connected, quiet bool, frames, dropped uint64) ingest.Health {
	return ingest.Health{Connected: connected, Quiet: quiet, Frames: frames, Dropped: dropped}
}
