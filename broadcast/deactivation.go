package broadcast

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// deactivate handles a Deactivate call (reply may be nil: shutdown).
func (p *Pipeline) deactivate(mode DeactivateMode, reply chan error) {
	a := p.act
	if a == nil {
		if reply != nil {
			reply <- ErrNotActive
		}
		return
	}
	if reply != nil {
		a.stoppers = append(a.stoppers, reply)
	}
	p.step(a, deactivateAsked{mode: mode, open: a.txn.n})
}

// abandon handles an Activate whose context ended before the member went
// live: it answers on answer what that Activate returns.
func (p *Pipeline) abandon(reply, answer chan error, cause error) {
	select {
	case err := <-reply: // the outcome came after all
		answer <- err
		return
	default:
	}
	// Still waiting, so p.act is the activation, not live yet, and reply
	// is one of its waiters.
	a := p.act
	if a == nil {
		answer <- fmt.Errorf("activation abandoned: %w", cause)
		return
	}
	err := fmt.Errorf("activation abandoned while %s: %w", a.doing(p.echoNext), cause)
	answer <- err
	a.waiters = slices.DeleteFunc(a.waiters, func(w chan error) bool { return w == reply })
	if len(a.waiters) == 0 {
		p.step(a, abandoned{err})
	}
}

// endActivation carries out the end the machine decided (doEnd). The ring
// is kept; the echo trims it from now on, including for any commit whose
// outcome this member never learnt.
func (p *Pipeline) endActivation(a *activation, end doEnd) {
	if p.act != a {
		return
	}
	cause, abort := end.cause, end.abort
	if end.failed {
		p.c.ActivationFailures++
	}
	p.act = nil
	a.cancel()
	p.dropHoles(end.unknown)
	p.commitTimer.Stop()
	p.controlTimer.Stop()
	if a.live {
		p.c.Deactivations++
	}
	if errors.Is(cause, ErrFenced) {
		p.c.Fenced++
		p.log.Warn("fenced: another member holds the transactional id; deactivated", "err", cause)
	} else if a.live {
		p.log.Info("deactivated", "cause", cause)
	}
	p.cause = cause
	p.setError(cause)
	p.failSince = time.Time{}
	for _, w := range a.waiters {
		w <- cmpErr(cause, errors.New("activation cancelled by a deactivation"))
	}
	a.waiters = nil
	p.setState(StateInactive)
	p.notify()
	p.closers.Go(func() {
		a.workers.Wait()
		if cl := a.cl; cl != nil {
			if abort && p.transactional {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if cl.AbortBufferedRecords(ctx) == nil {
					_ = cl.EndTransaction(ctx, kgo.TryAbort)
				}
				cancel()
			}
			cl.Close()
		}
		close(a.closed)
		for _, s := range a.stoppers {
			s <- cause
		}
	})
	p.releaseHeld()
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}
