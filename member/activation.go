package member

import (
	"context"
	"errors"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
)

// pendingActivation is the activation a worker runs for the core's term.
type pendingActivation struct {
	term   uint64
	cancel context.CancelFunc
}

// activationResult is how a worker's activation ended.
type activationResult struct {
	term uint64
	err  error
}

// startActivation runs the pipeline's activation (fence, catch up, flush)
// in a worker so the loop keeps exchanging heartbeats meanwhile, bounded by
// pair.activation_timeout: past it the activation is reported failed.
func (m *Member) startActivation(term uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Pair.ActivationTimeout)
	m.activation = &pendingActivation{term: term, cancel: cancel}
	m.procs.boost()
	m.workers.Go(func() {
		err := m.pipe.Activate(ctx)
		select {
		case m.results <- activationResult{term: term, err: err}:
		case <-m.stopped:
		}
	})
}

func (m *Member) finishActivation(r activationResult) {
	if m.activation == nil || m.activation.term != r.term {
		return // cancelled by a Deactivate; the core has moved on
	}
	m.activation.cancel()
	m.activation = nil
	switch {
	case r.err == nil:
		if n := m.failLog.recovered(); n > 0 {
			m.log.Info("active", "term", r.term, "after_failed_attempts", n)
		} else {
			m.log.Info("active", "term", r.term)
		}
		m.retry.reset()
		m.actStatus.Store(&ActivationStatus{})
		m.step(ftpair.ActivationFinished{Term: r.term})
	case errors.Is(r.err, broadcast.ErrFenced):
		m.step(ftpair.Fenced{Term: r.term})
	default:
		now := time.Now()
		delay := m.retry.failed()
		wait := max(delay, m.cfg.Pair.Core.ActivationInterval) // the core's hold-off
		logFailure(m.log, &m.failLog, "activation failed; retrying later", now,
			"term", r.term, "err", r.err, "retry_in", wait.Round(time.Millisecond))
		m.actStatus.Store(&ActivationStatus{
			FailuresInARow: m.retry.failures, LastError: r.err.Error(), LastErrorAt: now, NextAttempt: now.Add(wait),
		})
		m.step(ftpair.ActivationFailed{Term: r.term, Err: r.err.Error(), RetryAfter: delay})
	}
}

// deactivate stops the pipeline producing (see stop), cancelling an
// activation under way.
func (m *Member) deactivate(mode broadcast.DeactivateMode) {
	if m.activation != nil {
		m.activation.cancel()
		m.activation = nil
	}
	m.stop(mode)
}

// stop stops the pipeline producing; a planned stop finishes at a commit
// boundary, and falls back to an immediate stop if that commit fails. It
// returns the final commit's error, if any. It only calls the pipeline, so
// a worker may run it.
func (m *Member) stop(mode broadcast.DeactivateMode) error {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	err := m.pipe.Deactivate(ctx, mode)
	var final error
	if err != nil && !errors.Is(err, broadcast.ErrNotActive) && mode == broadcast.Planned {
		m.log.Error("planned deactivation could not commit; stopping at once", "err", err)
		final = err
		err = m.pipe.Deactivate(ctx, broadcast.Immediate)
	}
	if err != nil && !errors.Is(err, broadcast.ErrNotActive) {
		m.log.Error("deactivation", "err", err)
	}
	return final
}

// startDeactivation performs a planned Deactivate in a worker: the final
// commit may take longer than the activation interval, and the loop must go
// on stepping the core meanwhile, whose heartbeats keep claiming the slot
// until finishDeactivation reports the commit done. An immediate Deactivate
// meanwhile (a fence) ends the pipeline's activation, and this one with it.
func (m *Member) startDeactivation() {
	if m.activation != nil {
		m.activation.cancel()
		m.activation = nil
	}
	m.deactivating = true
	m.workers.Go(func() {
		err := m.stop(broadcast.Planned)
		select {
		case m.finals <- err:
		case <-m.stopped:
		}
	})
}

// finishDeactivation tells the core that the final commit of a planned
// deactivation is done (or failed and was aborted): it announces the
// handover now.
func (m *Member) finishDeactivation(err error) {
	m.deactivating = false
	if errors.Is(err, broadcast.ErrFenced) {
		// Someone took the lock during the final commit: no handover.
		m.step(ftpair.Fenced{})
		return
	}
	ev := ftpair.DeactivationFinished{}
	if err != nil {
		ev.Err = err.Error()
	}
	m.step(ev)
}
