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

// standbyRenew is how long a standby producer is kept before another
// replaces it: a client reads its TLS certificates and SASL password when
// it is made, and one made hours ago would meet the cluster, at the
// failover, with what was rotated since.
const standbyRenew = 10 * time.Minute

// standbyProducer keeps the next activation's producer client created and
// connected while the member is inactive: to the brokers, and to the
// coordinator of the transactional id, which the fence's InitProducerId
// goes to. An activation that starts on the obituary of a crashed active
// then fences at once instead of first dialling the cluster. The client is
// only connected: no producer id is asked for until the fence, so it
// fences nobody and is the same as a client created at that moment.
//
// Safe for concurrent use: the pipeline's loop fills, the fence worker
// takes, Run closes.
type standbyProducer struct {
	create func() (*kgo.Client, error)
	// warm uses a client's connections (errors are ignored: a standby
	// that could not connect still serves; the fence says what fails).
	warm func(context.Context, *kgo.Client)

	mu        sync.Mutex
	ready     *kgo.Client
	createdAt time.Time
	warmedAt  time.Time
	busy      bool          // a fill or a rewarm is running
	creating  chan struct{} // closed once the fill under way has its client; nil if none
	closed    bool
	wg        sync.WaitGroup
}

// take returns the ready client, or nil if there is none: the caller then
// creates one. A client being made is waited for (no network: it connects
// in the background), so that there are never two producer clients at
// once, whose metrics would clash; it returns nil if ctx ends first. The
// standby is empty until the next fill.
func (s *standbyProducer) take(ctx context.Context) *kgo.Client {
	s.mu.Lock()
	if ch := s.creating; ch != nil {
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

// fill makes a client ready in the background unless one is ready or
// being made; it warms a ready client again after standbyRewarm, and
// replaces it after standbyRenew. ctx bounds the work (the owner cancels
// it before close).
func (s *standbyProducer) fill(ctx context.Context, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.busy {
		return
	}
	old := s.ready
	switch {
	case old != nil && now.Sub(s.createdAt) >= standbyRenew:
		s.ready = nil
	case old != nil && now.Sub(s.warmedAt) >= standbyRewarm:
		s.busy, s.warmedAt = true, now
		s.wg.Go(func() {
			s.warm(ctx, old)
			s.mu.Lock()
			s.busy = false
			s.mu.Unlock()
		})
		return
	case old != nil:
		return
	}
	s.busy, s.creating = true, make(chan struct{})
	s.wg.Go(func() {
		if old != nil {
			old.Close()
		}
		cl, err := s.create()
		s.mu.Lock()
		close(s.creating)
		s.creating = nil
		if err != nil || s.closed {
			s.busy = false
			s.mu.Unlock()
			if cl != nil {
				cl.Close()
			}
			return
		}
		s.ready, s.createdAt, s.warmedAt = cl, time.Now(), time.Now()
		s.mu.Unlock()
		// Warming a client the fence has taken meanwhile is harmless: a
		// franz-go client serves concurrent requests.
		s.warm(ctx, cl)
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	})
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
// finds it and asks it something harmless), within a bound. It checks the
// topic's shape again too, so that the activation need not before its
// fence (checkedTopic).
func (p *Pipeline) warmProducer(ctx context.Context, cl *kgo.Client) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CommitTimeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		p.log.Debug("standby producer: no broker answered", "err", err)
		return
	}
	if err := p.checked.check(ctx, cl, p.cfg); err != nil {
		p.log.Debug("standby producer: the topic check failed; the activation will check it first", "err", err)
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
