package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/feedd/feedd/ftpair"
)

// The demo's fault schedule: it polls the members, reports their role
// changes and the takeovers that complete a failover, and kills, hangs,
// restarts and resumes members. It runs on the goroutine that owns the
// demo.

// event adds a line to the demo's timeline.
func (d *demo) event(at time.Time, format string, a ...any) {
	d.events = append(d.events, demoEvent{at: at, text: fmt.Sprintf(format, a...)})
}

func (d *demo) other(m *demoMember) *demoMember {
	for _, o := range d.members {
		if o != m {
			return o
		}
	}
	return nil
}

// poll reads every running member's status, in parallel.
func (d *demo) poll() {
	var wg sync.WaitGroup
	for _, m := range d.members {
		if !m.running() || m.hung() {
			m.last = nil
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			st, err := m.proc.Status(ctx)
			if err != nil {
				st = nil
			}
			m.last = st
		})
	}
	wg.Wait()
}

// observe reports the role changes the members' statuses show, and the
// takeover that completes a failover.
func (d *demo) observe(now time.Time) {
	for _, m := range d.members {
		if m.last == nil || m.last.Pair == nil {
			continue
		}
		for _, t := range m.last.Pair.Transitions {
			if !t.At.After(m.seenUpTo) {
				continue
			}
			m.seenUpTo = t.At
			text := fmt.Sprintf("%s: %s → %s", m.id, t.From, t.To)
			if t.Reason != "" {
				text += " (" + string(t.Reason) + ")"
			}
			d.event(t.At, "%s", text)
		}
	}
	k := d.pending
	if k == nil {
		return
	}
	for _, m := range d.members {
		if m.id == k.victim || m.last == nil || m.last.Pair == nil {
			continue
		}
		reason := ""
		for _, t := range m.last.Pair.Transitions {
			if !t.At.After(k.at) {
				continue
			}
			if t.To == ftpair.RoleActivating && t.Reason != "" {
				reason = " (" + string(t.Reason) + ")"
			}
			if t.To == ftpair.RoleActive {
				took := t.At.Sub(k.at)
				d.res.Takeovers = append(d.res.Takeovers, took)
				d.event(t.At, "failover %d: %s took over %v after the fault%s", len(d.res.Takeovers), m.id, shortDuration(took), reason)
				d.pending = nil
				return
			}
		}
	}
	if now.Sub(k.at) > 15*time.Second {
		d.event(now, "no member was seen taking over from %s", k.victim)
		d.pending = nil
	}
}

// step polls the members, reports what changed, and starts, kills and
// restarts members as the schedule says.
func (d *demo) step(now time.Time) error {
	d.poll()
	d.observe(now)
	if err := d.restartMembers(now); err != nil {
		return err
	}
	for _, m := range d.members {
		// A hang made by hand has no resume time: it lasts until the key.
		if m.hung() && !m.resumeAt.IsZero() && !now.Add(d.o.Refresh/2).Before(m.resumeAt) {
			m.resume()
			d.event(now, "%s resumed (SIGCONT): it finds itself superseded and rejoins as inactive", m.id)
		}
	}
	// Due within half a refresh: the ticks that poll the members jitter.
	if d.o.FailoverEvery > 0 && !now.Add(d.o.Refresh/2).Before(d.nextFailover) {
		if victim, why := d.failoverTarget(); victim != nil {
			d.fault(now, victim, d.o.Chaos && d.rng.IntN(2) == 1, false)
		} else if why != d.postponed {
			d.postponed = why
			d.event(now, "failover postponed: %s", why)
		}
	}
	return nil
}

// restartMembers restarts the members that are down and due.
func (d *demo) restartMembers(now time.Time) error {
	for _, m := range d.members {
		// A member that died on its own is restarted like a killed one.
		if m.proc != nil && !m.running() && !m.killed {
			m.killed = true
			m.restartAt = now.Add(d.o.RestartAfter)
			d.event(now, "%s exited by itself (%v); restarting it in %v, see %s", m.id, m.exitErr(), d.o.RestartAfter, m.logPath)
		}
		if !m.restartAt.IsZero() && !now.Add(d.o.Refresh/2).Before(m.restartAt) {
			if err := m.start(d.o.command); err != nil {
				return err
			}
			d.event(now, "%s restarted (pid %d); it rejoins as inactive with a fresh ring", m.id, m.proc.Pid())
		}
	}
	return nil
}

// fault kills (or, with hang, stops) victim, the active member, and
// records the failover in progress. A killed member restarts RestartAfter
// later, and so does a member the chaos hung resume; a member hung by hand
// stays stopped until the resume key.
func (d *demo) fault(now time.Time, victim *demoMember, hang, byHand bool) {
	pid := victim.proc.Pid()
	d.pending = &pendingKill{victim: victim.id, at: time.Now()}
	how := ""
	if byHand {
		how = ", by hand"
	}
	switch {
	case hang && byHand:
		victim.hang()
		d.res.Stops++
		d.event(d.pending.at, "SIGSTOP %s (pid %d), the active member%s: it hangs until r resumes it", victim.id, pid, how)
	case hang:
		victim.hang()
		victim.resumeAt = now.Add(d.o.RestartAfter)
		d.res.Stops++
		d.event(d.pending.at, "SIGSTOP %s (pid %d), the active member: it hangs; resume in %v", victim.id, pid, d.o.RestartAfter)
	default:
		victim.kill9()
		victim.restartAt = now.Add(d.o.RestartAfter)
		d.res.Kills++
		d.event(d.pending.at, "kill -9 %s (pid %d), the active member%s; restart in %v", victim.id, pid, how, d.o.RestartAfter)
	}
	if d.o.FailoverEvery > 0 {
		d.nextFailover = d.pending.at.Add(d.faultInterval())
	}
	d.postponed = ""
}

// failoverTarget returns the active member if its peer is ready to take
// over from its ring with nothing missing, or why not. A member that just
// (re)started holds only what it read since; it is ready once it has seen
// the active commit a frame it read itself.
func (d *demo) failoverTarget() (*demoMember, string) {
	var active *demoMember
	for _, m := range d.members {
		if m.role() == "active" {
			active = m
		}
	}
	if active == nil {
		return nil, "no member is active"
	}
	if d.pending != nil {
		return nil, "the last failover has not finished"
	}
	peer := d.other(active)
	st := peer.last
	switch {
	case !peer.running():
		return nil, peer.id + " is down"
	case st == nil || st.Pair == nil:
		return nil, peer.id + " does not answer yet"
	case st.Pair.Role != ftpair.RoleInactive || st.Pair.HoldOff:
		return nil, peer.id + " is " + st.Pair.Role.String() + " and not ready"
	case !st.Ingest.Connected || st.Ingest.Quiet || st.Ingest.Frames == 0:
		return nil, peer.id + " is not reading its port yet"
	case st.Broadcast.Counters.EchoMatched == 0 && st.Broadcast.Ring.Recognised == 0:
		return nil, peer.id + " has not yet seen a frame it read committed"
	}
	for _, p := range st.Pair.Peers {
		if p.ID == active.id && p.View == "heard" && p.Connected {
			return active, ""
		}
	}
	return nil, peer.id + " does not hear " + active.id + " yet"
}
