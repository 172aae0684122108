package broadcast

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// standbyRewarm is how often a standby producer's connections are used
// again while it waits: below franz-go's idle timeout for a connection
// (30 s) and Kafka's (connections.max.idle.ms, 10 min by default).
const standbyRewarm = 15 * time.Second

// standbyProducer keeps the next activation's producer client created and
// connected while the member is inactive: to the brokers, and to the
// coordinator of the transactional id, which the fence's InitProducerId
// goes to. An activation that starts on the obituary of a crashed active
// then fences at once instead of first dialling the cluster. The client is
// only connected: no producer id is asked for until the fence, so it
// fences nobody and is the same as a client created at that moment.
//
// Safe for concurrent use: the pipeline's loop takes and fills, the
// closers fill after an activation's client is closed, Run closes.
type standbyProducer struct {
	create func() (*kgo.Client, error)
	// warm uses a client's connections (errors are ignored: a standby
	// that could not connect still serves; the fence says what fails).
	warm func(context.Context, *kgo.Client)

	mu       sync.Mutex
	ready    *kgo.Client
	warmedAt time.Time
	busy     bool          // a fill or a rewarm is running
	filling  chan struct{} // closed when the fill under way ends; nil if none
	closed   bool
	wg       sync.WaitGroup
}

// take returns the ready client, waiting for a fill under way (or until
// ctx ends), or nil if there is none: the caller then creates one. Not
// waiting would make two producer clients at once, whose metrics clash. The
// standby is empty until the next fill.
func (s *standbyProducer) take(ctx context.Context) *kgo.Client {
	s.mu.Lock()
	if ch := s.filling; ch != nil {
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	cl := s.ready
	s.ready = nil
	return cl
}

// fill makes a client ready in the background, unless one is ready or
// being made; a ready client last warmed standbyRewarm ago or more is
// warmed again. ctx bounds the work (the owner cancels it before close).
func (s *standbyProducer) fill(ctx context.Context, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.busy {
		return
	}
	if cl := s.ready; cl != nil {
		if now.Sub(s.warmedAt) < standbyRewarm {
			return
		}
		s.busy, s.warmedAt = true, now
		s.wg.Go(func() {
			s.warm(ctx, cl)
			s.done(nil)
		})
		return
	}
	s.busy, s.filling = true, make(chan struct{})
	s.wg.Go(func() {
		cl, err := s.create()
		if err != nil {
			s.done(nil)
			return
		}
		s.warm(ctx, cl)
		s.done(cl)
	})
}

// done ends a fill (with its client) or a rewarm (nil).
func (s *standbyProducer) done(cl *kgo.Client) {
	s.mu.Lock()
	s.busy = false
	if s.filling != nil {
		close(s.filling)
		s.filling = nil
	}
	if cl != nil && !s.closed {
		s.ready, s.warmedAt, cl = cl, time.Now(), nil
	}
	s.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
}

// close closes the ready client and waits for a fill under way (whose
// context the owner has cancelled).
func (s *standbyProducer) close() {
	s.mu.Lock()
	s.closed = true
	cl := s.ready
	s.ready = nil
	s.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
	s.wg.Wait()
}

// warmProducer connects a producer client to a broker and, for
// transactions, to the transactional id's coordinator (DescribeTransactions
// finds it and asks it something harmless), within a bound.
func (p *Pipeline) warmProducer(ctx context.Context, cl *kgo.Client) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CommitTimeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		p.log.Debug("standby producer: no broker answered", "err", err)
		return
	}
	if p.transactional {
		if _, err := kadm.NewClient(cl).DescribeTransactions(ctx, p.txnID); err != nil {
			p.log.Debug("standby producer: the transaction coordinator did not answer", "err", err)
		}
	}
}

// isClosed reports whether ch is closed; a nil channel (nothing to wait
// for) counts as closed.
func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
