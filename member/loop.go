package member

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/internal/tickgrid"
)

// stepTimeout bounds actions the control loop waits for (a planned
// deactivation's final commit), so a stuck broker cannot stall the loop.
const stepTimeout = 10 * time.Second

// loop drives the member until ctx is cancelled or a fatal error, and
// leaves it inactive: an active member deactivates at a commit boundary.
func (m *Member) loop(ctx context.Context) error {
	defer m.stopWorkers()
	if m.node == nil {
		return m.runFixed(ctx)
	}
	return m.runPair(ctx)
}

// runPair is the loop under the pair protocol: it steps the core on every
// event and tick, and at the moment the core says time alone may change its
// decision (a hung active's silence ending), and performs what it returns.
func (m *Member) runPair(ctx context.Context) error {
	// The ticks fall on the timers' grid (tickgrid), as do the port's idle
	// reads and the pipeline's periodic work: an idle member wakes once
	// for all of them.
	every := m.cfg.Pair.Core.HeartbeatInterval / 2
	tick := time.NewTimer(tickgrid.Until(time.Now(), every))
	defer tick.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	events := m.link.Events()
	m.step(ftpair.Tick{})
	for {
		if w := m.node.NextWake(); w.IsZero() {
			wake.Stop()
		} else {
			wake.Reset(time.Until(w))
		}
		select {
		case <-ctx.Done():
			m.shutdown()
			return nil
		case err := <-m.fatalCh:
			m.shutdown()
			return err
		case <-tick.C:
			tick.Reset(tickgrid.Until(time.Now(), every))
			m.observe()
			m.step(ftpair.Tick{})
		case <-wake.C:
			m.observe()
			m.step(ftpair.Tick{})
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			m.step(ev)
		case <-m.pipe.Changed():
			m.observe()
		case r := <-m.results:
			m.finishActivation(r)
		case err := <-m.finals:
			m.finishDeactivation(err)
		case req := <-m.requests:
			m.refused = ""
			m.step(ftpair.SwitchoverRequested{Target: req.target})
			if m.refused != "" {
				req.reply <- errors.New(m.refused)
			} else {
				req.reply <- nil
			}
		}
		m.turned()
	}
}

// turned marks one turn of the control loop: what /healthz and systemd's
// watchdog watch.
func (m *Member) turned() {
	now := time.Now()
	m.lastLoop.Store(hostclock.Now())
	if m.sd != nil {
		m.sd.Alive(now)
	}
}

// step feeds one event to the core and performs its actions in order.
func (m *Member) step(ev ftpair.Event) {
	for _, a := range m.node.Step(time.Now(), ev) {
		m.perform(a)
	}
	// The keepalives slow down while every peer hears this member, and
	// come back at the next step after one may not: each tick at the
	// latest, half a heartbeat interval.
	m.pipe.SpareWitness(!m.node.WitnessNeeded(m.peers))
	st := m.node.Status()
	m.pairStatus.Store(&st)
	m.logClash(st.MemberIDClash)
	if m.notify != nil {
		m.notifyTransitions(st)
	}
	if m.sd != nil && !m.sd.ready && joined(st) {
		m.sd.Ready(fmt.Sprintf("member %s of pipeline %s: %s, term %d", m.cfg.MemberID, m.cfg.Pipeline, st.Role, st.Term))
	}
}

func (m *Member) perform(a ftpair.Action) {
	switch a := a.(type) {
	case ftpair.SendHeartbeat:
		m.link.Send(a.To, a.Heartbeat)
	case ftpair.PrepareToActivate:
		m.log.Info("preparing to activate: the active member is silent", "peer", a.Peer)
		m.procs.boost()
	case ftpair.CancelPrepare:
		m.log.Info("preparation cancelled: the active member is heard again")
	case ftpair.Activate:
		// Retries after a failure are summed up by the failure's log line.
		level := slog.LevelInfo
		if m.retry.failures > 0 {
			level = slog.LevelDebug
		}
		m.log.Log(context.Background(), level, "activating", "reason", a.Reason, "term", a.Term, "replacing", a.Peer)
		if a.Reason == ftpair.ReasonSilence {
			m.tookOverOnSilence.Store(time.Now().UnixNano())
		}
		m.startActivation(a.Term)
	case ftpair.Deactivate:
		m.log.Warn("deactivating", "reason", a.Reason, "planned", a.Planned, "handover_to", a.HandoverTo, "detail", a.Detail)
		switch {
		case a.Planned:
			m.startDeactivation()
		case a.Reason == ftpair.ReasonSuperseded || a.Reason == ftpair.ReasonFenced:
			m.deactivate(broadcast.Superseded)
		default:
			m.deactivate(broadcast.Immediate)
		}
	case ftpair.RequestRefused:
		m.refused = a.Reason
		m.log.Info("request refused", "request", a.Request, "reason", a.Reason)
	default:
		m.log.Error("unknown action from the pair protocol", "action", fmt.Sprint(a))
	}
}

// notifyTransitions hands the transitions since the last one handed over
// to notify, oldest first. The core keeps its latest transitions; those
// after the last one handed over are new.
func (m *Member) notifyTransitions(st ftpair.Status) {
	trans := st.Transitions
	i := len(trans)
	for i > 0 && trans[i-1] != m.lastTrans {
		i--
	}
	if i == 0 && m.lastTrans != (ftpair.Transition{}) && len(trans) > 0 && trans[0] != m.lastTrans {
		// The last one handed over has left the core's list: every
		// transition it holds is newer only if it came later.
		for i < len(trans) && !trans[i].At.After(m.lastTrans.At) {
			i++
		}
	}
	for _, t := range trans[i:] {
		m.notify(roleChange{Transition: t, term: st.Term})
		m.lastTrans = t
	}
}

// joined reports whether the member has joined its pair: it has heard of a
// peer, or it takes or holds the slot (a member whose peer never came). A
// member that hears no peer and cannot reach Kafka has not: it could serve
// nobody.
func joined(st ftpair.Status) bool {
	if st.Role != ftpair.RoleInactive {
		return true
	}
	return slices.ContainsFunc(st.Peers, func(p ftpair.PeerStatus) bool { return p.View != "unknown" })
}

// logClash logs a member id clash once when it begins and once when it
// ends, however often its evidence repeats meanwhile.
func (m *Member) logClash(clash *ftpair.MemberIDClash) {
	switch {
	case clash != nil && !m.clash:
		m.log.Error("another process runs with this member's member_id; this member does not contend with its commits",
			"member_id", m.cfg.MemberID, "detail", clash.Detail)
	case clash == nil && m.clash:
		m.log.Info("member id clash over: no sign of another process with this member's member_id", "member_id", m.cfg.MemberID)
	}
	m.clash = clash != nil
}

// shutdown leaves the group: an active member commits what it holds and
// stops; the pair link then tells the peers this member is leaving, which
// they treat as an obituary and take over at once.
func (m *Member) shutdown() {
	if m.sd != nil {
		m.sd.Stopping()
	}
	if m.deactivating {
		// A planned deactivation is finishing its final commit: let it.
		m.log.Info("shutting down: waiting for the final commit")
		select {
		case err := <-m.finals:
			m.finishDeactivation(err)
		case <-time.After(stepTimeout + time.Second):
			m.log.Error("shutting down: the final commit did not finish; stopping at once")
			m.deactivate(broadcast.Immediate)
		}
		return
	}
	if r := m.node.Role(); r == ftpair.RoleActive || r == ftpair.RoleActivating {
		m.log.Info("shutting down: deactivating at a commit boundary")
		m.deactivate(broadcast.Planned)
	}
}

func (m *Member) stopWorkers() {
	if m.activation != nil {
		m.activation.cancel()
	}
	close(m.stopped)
	m.workers.Wait()
}
