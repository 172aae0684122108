package member

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/internal/tickgrid"
)

// runFixed keeps a fixed role: --role active activates (retrying while
// Kafka is unreachable) and stays active until fenced; --role inactive only
// keeps the ring.
func (m *Member) runFixed(ctx context.Context) error {
	const every = 500 * time.Millisecond
	tick := time.NewTimer(tickgrid.Until(time.Now(), every))
	defer tick.Stop()
	wantActive := m.mode == ModeActive
	m.retry = activationBackoff{min: 250 * time.Millisecond, max: maxActivationRetry}
	var retry <-chan time.Time // fires when the next attempt is due
	due := wantActive
	if m.sd != nil {
		m.sd.Ready(fmt.Sprintf("member %s of pipeline %s: fixed role %s", m.cfg.MemberID, m.cfg.Pipeline, m.mode))
	}
	for {
		if wantActive && due {
			due = false
			m.procs.boost()
			err := m.pipe.Activate(ctx)
			switch {
			case err == nil:
				m.log.Info("active (fixed role)", "after_failed_attempts", m.failLog.recovered())
				wantActive = false
				m.retry.reset()
				m.actStatus.Store(&ActivationStatus{})
				m.lastFenced = m.pipe.Status().Counters.Fenced
			case ctx.Err() != nil:
			default:
				now := time.Now()
				backoff := m.retry.failed()
				logFailure(m.log, &m.failLog, "activation failed; retrying later", now, "err", err, "retry_in", backoff.Round(time.Millisecond))
				m.actStatus.Store(&ActivationStatus{
					FailuresInARow: m.retry.failures, LastError: err.Error(), LastErrorAt: now, NextAttempt: now.Add(backoff),
				})
				retry = time.After(backoff)
			}
		}
		m.observeKafka(m.pipe.Status())
		if wantActive && !due && retry != nil && m.retry.failures == 0 {
			due, retry = true, nil // Kafka answers again: try at the next tick
		}
		select {
		case <-ctx.Done():
			if m.sd != nil {
				m.sd.Stopping()
			}
			if m.pipe.Status().State == broadcast.StateActive {
				m.deactivate(broadcast.Planned)
			}
			return nil
		case err := <-m.fatalCh:
			return err
		case req := <-m.requests:
			req.reply <- errors.New("switchover needs the pair protocol; this member runs with a fixed --role")
		case <-m.pipe.Changed():
			if st := m.pipe.Status(); st.Counters.Fenced > m.lastFenced {
				m.lastFenced = st.Counters.Fenced
				m.log.Error("fenced by another member; a fixed-role member stays inactive")
			}
		case <-tick.C:
			tick.Reset(tickgrid.Until(time.Now(), every))
		case <-retry:
			due = true
		}
		m.turned()
	}
}
