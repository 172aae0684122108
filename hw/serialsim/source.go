package serialsim

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// logLag is how far behind its schedule the source must fall before it
// says so in the log.
const logLag = 100 * time.Millisecond

// runSource produces the feed and hands each frame to every port at its due
// time: the moment its last byte would leave a real line at the configured
// baud rate. The schedule is absolute (start time plus accumulated frame
// times, on the monotonic clock), so late wake-ups do not add up: the
// long-run rate is the configured one.
//
// When the simulator itself is held up (a loaded machine, a stopped
// process) and a frame's due time is already MaxWriteDelay/2 past, the line
// is taken to have idled that long: the schedule moves on by the delay and
// the frame is sent now, rather than sent late or lost on every port.
func (s *Sim) runSource(ctx context.Context) {
	defer func() {
		for _, p := range s.ports {
			close(p.queue)
		}
		s.feedDone()
	}()
	line := newPlanner(s.feed, s.cfg, s.epoch)
	slack := s.cfg.MaxWriteDelay / 2
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	id := s.cfg.StartSeq
	for n := uint64(0); s.cfg.Count == 0 || n < s.cfg.Count; n++ {
		if ctx.Err() != nil {
			return
		}
		data, due, ok := line.next(id)
		if !ok {
			return
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if late := time.Since(due); late > slack {
			if late > logLag {
				s.logf("feed fell %v behind schedule; the schedule moves on by as much", late.Round(time.Millisecond))
			}
			line.slip(late)
			due = due.Add(late)
		}
		s.dispatch(n, id, due, data)
		s.generated.Add(1)
		id++
	}
}

// planner places a feed's frames on the line: each starts when the feed
// allows it and the line is free, and is due when its last byte has gone
// out at the configured baud rate and character format.
type planner struct {
	feed     feed
	charNS   float64   // line time of one byte
	t0       time.Time // line time 0
	lineFree float64   // when the line is next free, in ns since t0
}

func newPlanner(f feed, c Config, t0 time.Time) *planner {
	return &planner{feed: f, charNS: 1e9 / c.BytesPerSecond(), t0: t0}
}

// next returns the next frame and its due time; ok is false when the feed
// has ended.
func (p *planner) next(id uint64) (data []byte, due time.Time, ok bool) {
	start := math.Max(p.lineFree, p.feed.notBefore())
	data, ok = p.feed.next(id, p.t0.Add(time.Duration(start)))
	if !ok {
		return nil, time.Time{}, false
	}
	p.lineFree = start + float64(len(data))*p.charNS
	return data, p.t0.Add(time.Duration(p.lineFree)), true
}

// slip moves the rest of the schedule on by d: the line idled that long.
func (p *planner) slip(d time.Duration) { p.t0 = p.t0.Add(d) }

// dispatch decides each port's fate for one frame and queues it. Every port
// draws the same random numbers for every frame whatever happens to it, so
// a seed gives the same decisions for the same frame across runs.
func (s *Sim) dispatch(index, id uint64, due time.Time, data []byte) {
	if s.rec != nil {
		s.rec.add(index, due.Sub(s.epoch), data)
	}
	// Which ports are paused is read for all of them at once (Pause holds
	// the lock while it sets several), so a pause of every port takes the
	// same frames from each: it once paused one port just before a frame
	// and the other just after it, so that only one member read that frame.
	if s.pausedNow == nil {
		s.pausedNow = make([]bool, len(s.ports))
	}
	s.pauseMu.Lock()
	now := int64(time.Since(s.epoch))
	for i, p := range s.ports {
		s.pausedNow[i] = p.paused(now)
	}
	s.pauseMu.Unlock()
	for i, p := range s.ports {
		uDrop, uCorrupt, r := p.rng.Float64(), p.rng.Float64(), p.rng.Uint64()
		switch {
		case !p.plugged.Load():
			p.lose(index, FateUnplugged, func(st *Stats) { st.Unplugged++ })
			continue
		case s.pausedNow[i]:
			p.lose(index, FatePaused, func(st *Stats) { st.Paused++ })
			continue
		case uDrop < loadRate(&p.dropRate):
			p.lose(index, FateDropped, func(st *Stats) { st.Dropped++ })
			continue
		}
		it := item{index: index, id: id, due: due, data: data, fate: FateDelivered}
		if uCorrupt < loadRate(&p.corruptRate) {
			if c, ok := corrupt(data, r); ok {
				it.data, it.fate = c, FateCorrupted
			}
		}
		if rx := int(p.rxBaud.Load()); rx != 0 && rx != s.cfg.Baud {
			received := s.cfg.receiveMisclocked(it.data, rx)
			if !bytes.Equal(received, it.data) {
				it.fate = FateGarbled
			}
			it.data = received
		}
		select {
		case p.queue <- it:
		default:
			p.lose(index, FateOverflow, func(st *Stats) { st.Overflow++ })
		}
	}
}

// corrupt returns a copy of frame with 1 to 3 bytes changed, chosen by
// seed. In an NMEA sentence only bytes between '$' and '*' change, the
// changes never cancel out in the checksum, and no change produces '$',
// '*', '!', '\r' or '\n', so the sentence fails its checksum and its
// neighbours keep their framing. In other data any byte but a trailing
// line ending may change. ok is false if there is nothing to change.
func corrupt(frame []byte, seed uint64) (out []byte, ok bool) {
	lo, hi := 0, len(trimEOL(frame))
	nmea := false
	if _, err := SentenceBody(frame); !errors.Is(err, ErrNotSentence) {
		lo, hi, nmea = 1, len(trimEOL(frame))-3, true
	}
	if hi <= lo {
		return nil, false
	}
	rng := rand.New(rand.NewPCG(seed, 0x636f7272_75707400))
	out = append([]byte(nil), frame...)
	n := 1 + rng.IntN(3)
	if n > hi-lo {
		n = hi - lo
	}
	pos := rng.Perm(hi - lo)[:n]
	var delta byte
	for k, i := range pos {
		i += lo
		for {
			c := byte(0x20 + rng.IntN(0x7f-0x20)) // printable ASCII
			if c == out[i] || c == '$' || c == '*' || c == '!' {
				continue
			}
			if nmea && k == n-1 && delta^out[i]^c == 0 {
				continue // would leave the checksum matching
			}
			delta ^= out[i] ^ c
			out[i] = c
			break
		}
	}
	return out, true
}

// applyRate puts a corrupt or drop fault's rate, or a baud fault's receiver
// baud rate, in force. The fault was
// validated by New; the ports exist.
func (s *Sim) applyRate(f Fault) {
	ps := s.ports
	if f.Port != AllPorts {
		ps = s.ports[f.Port : f.Port+1]
	}
	for _, p := range ps {
		switch f.Kind {
		case FaultCorrupt:
			p.corruptRate.Store(math.Float64bits(f.Rate))
		case FaultDrop:
			p.dropRate.Store(math.Float64bits(f.Rate))
		case FaultBaud:
			p.rxBaud.Store(int64(f.Baud))
		}
	}
}

// runSchedule carries out Config.Faults at their times.
func (s *Sim) runSchedule(ctx context.Context) {
	type event struct {
		at  time.Duration
		run func()
	}
	var events []event
	for _, f := range s.cfg.Faults {
		switch f.Kind {
		case FaultCorrupt, FaultDrop, FaultBaud:
			if f.At > 0 {
				events = append(events, event{f.At, func() { s.applyRate(f) }})
			}
			if f.For > 0 {
				off := f
				off.Rate, off.Baud = 0, 0
				events = append(events, event{f.At + f.For, func() { s.applyRate(off) }})
			}
		case FaultPause:
			events = append(events, event{f.At, func() { _ = s.Pause(f.Port, f.For) }})
		case FaultUnplug:
			events = append(events, event{f.At, func() {
				s.logf("fault: %s", f)
				s.sendControl(ctx, f.Port, command{kind: ctlUnplug, d: f.For})
			}})
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at < events[j].at })
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for _, e := range events {
		if wait := time.Until(s.epoch.Add(e.at)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		e.run()
	}
}
