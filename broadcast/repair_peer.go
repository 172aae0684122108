package broadcast

import (
	"errors"
	"fmt"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/hostclock"
)

// HandleRepair takes a repair message from the peer named from. Safe from
// any goroutine; it copies payload. Malformed messages are counted and
// dropped.
func (p *Pipeline) HandleRepair(from string, payload []byte) {
	msg := append([]byte(nil), payload...)
	p.post(func() {
		if err := p.handleRepair(from, msg); err != nil {
			p.c.RepairRejected++
			if now := time.Now(); now.Sub(p.rep.logAt) >= 10*time.Second {
				p.log.Warn("repair message from the peer dropped", "peer", from, "err", err)
				p.rep.logAt = now
			}
		}
	})
}

func (p *Pipeline) handleRepair(from string, msg []byte) error {
	if len(msg) == 0 {
		return errors.New("empty")
	}
	switch msg[0] {
	case repairRequest:
		return p.takeRequest(from, msg)
	case repairAnswer:
		return p.takeAnswer(msg)
	case repairSightings:
		return p.takeSightings(msg)
	}
	return fmt.Errorf("unknown repair message kind %d", msg[0])
}

// maxPendingAnswers bounds the requests waiting for this member's port.
const maxPendingAnswers = 64

func (p *Pipeline) takeRequest(from string, msg []byte) error {
	req, err := parseRequest(msg)
	if err != nil {
		return err
	}
	if len(p.rep.answers) >= maxPendingAnswers {
		return errors.New("too many repair requests waiting")
	}
	id, clock := req.id, req.clock
	now := hostclock.Now()
	pa := &pendingAnswer{from: from, id: id, lo: backlog.NoLo}
	if req.from.Hi != backlog.NoLo {
		if w, ok := p.clocks.window(clock, req.from, now); ok && w.Lo != backlog.NoLo {
			pa.lo, pa.fromKnwn = w.Lo, true
		}
	}
	to, ok := p.clocks.window(clock, req.to, now)
	if !ok {
		// Nothing known of the requester's clock: the hole ended before
		// now, which is all that can be said.
		to.Hi = now
	}
	pa.hi = to.Hi
	pa.latest = now + int64(p.ringLimits.RepairTimeout)/2
	p.c.RepairAsked++
	p.rep.answers = append(p.rep.answers, pa)
	p.repairTick()
	return nil
}

// answer sends what the ring holds around a peer's hole; early says that
// this member's port has not passed the hole yet.
func (p *Pipeline) answer(pa *pendingAnswer, early bool) {
	margin := int64(p.ringLimits.PassMargin)
	var frames []peerFrame
	truncated := false
	bytes := 0
	e, ok := p.ring.Oldest()
	for ; ok; e, ok = p.ring.Next(e.Pos) {
		if pa.fromKnwn && e.Win.Hi < pa.lo-margin {
			// Before the hole by time. A numbered frame may still be one
			// the hole lacks: the requester's port may have read the
			// frames before the hole late (the starved reader that
			// overflowed it), and their windows then start after the
			// hole's first frames were on the line. The requester takes
			// such frames by their numbers and leaves the others.
			if !e.Exact || e.Win.Hi < pa.lo-margin-int64(backlog.NumberedLate) {
				continue
			}
		}
		if e.Win.Lo != backlog.NoLo && e.Win.Lo-margin > pa.hi {
			// Past the hole by time. A numbered frame this port read late
			// may still be one the hole lacks; the requester takes such
			// frames by their numbers, and leaves the others.
			if !e.Exact || e.Win.Lo-margin > pa.hi+int64(backlog.NumberedLate) {
				break
			}
		}
		if len(frames) == maxRepairFrames || bytes+len(e.Data) > maxRepairBytes || peerFrameHeader+len(e.Data) > p.repairMax()-answerHeaderLen {
			truncated = true
			break
		}
		frames = append(frames, peerFrame{
			s: backlog.Sighting{ID: e.ID, Exact: e.Exact, Win: e.Win, Size: len(e.Data)}, pos: e.Pos,
			possible: p.ring.PossiblyPublished(e), data: e.Data, rx: e.ReceivedAt,
		})
		bytes += len(e.Data)
	}
	for _, m := range encodeAnswer(pa.id, p.ringID, frames, truncated, early, p.repairMax()) {
		if !p.opt.SendRepair(pa.from, m) {
			return
		}
	}
	p.c.RepairAnswers++
	p.c.RepairFramesSent += uint64(len(frames))
}

func (p *Pipeline) repairMax() int {
	if p.opt.RepairMessageMax > 0 {
		return p.opt.RepairMessageMax
	}
	return RepairMessageMax
}
