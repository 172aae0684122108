package broadcast

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceMore hands ring entries after the cursor to the producer until the
// ring is exhausted or the transaction is full.
func (p *Pipeline) produceMore() {
	a := p.act
	if a == nil || a.phase != phaseProducing || a.stopping {
		return
	}
	t := a.txn
	now := time.Now()
	due := false
	for t.n < p.cfg.CommitMaxFrames && t.bytes < p.cfg.CommitMaxBytes {
		// A transaction's first record goes alone: the rest follow once
		// the broker has acknowledged it. Under transaction protocol 2
		// the broker verifies a partition's first batch of each
		// transaction with the coordinator; a second batch arriving
		// meanwhile finds no state for the producer's new epoch and is
		// refused as out of sequence, and the client's recovery from
		// that stretched the first commit of an activation (a whole
		// backlog in flight) past two seconds on Apache Kafka 4.3.
		if t.firstAlone() {
			break
		}
		// A long backlog must not stretch the transaction past the
		// interval: look at the clock every so often. The interval counts
		// from when the rest began to go, after the first record's
		// acknowledgement: a broker slower to acknowledge it than the
		// interval would otherwise cut every transaction at 64 frames, a
		// commit per two round trips, which a backlog outgrows.
		if t.n&63 == 63 {
			if now = time.Now(); now.Sub(t.restFrom) >= p.cfg.CommitInterval {
				due = true
				break
			}
		}
		// The next ring position to produce: after the cursor, or the
		// oldest the ring holds (the cursor starts at 0), or the next
		// one appended. A hole there holds it back.
		next := a.cursor + 1
		if e, ok := p.ring.Next(a.cursor); ok {
			next = e.Pos
		}
		if f, hold := p.repairHold(next); hold {
			break
		} else if f != nil {
			if t.n == 0 {
				p.commitTimer.Reset(p.commitDelay(f.rx, now))
			}
			t.add(a.cl, &p.shape, f.entry(a.cursor), f.possible, now)
			p.c.Produced++
			continue
		}
		e, ok := p.ring.Next(a.cursor)
		if !ok {
			break
		}
		a.cursor = e.Pos
		if len(e.Data) > maxRecordValue {
			p.c.Oversize++
			t.last = e.Pos // trimmed with the transaction
			if now.Sub(p.oversizeLog) >= 10*time.Second {
				p.log.Error("frame too large for one Kafka record: skipped", "bytes", len(e.Data), "max", maxRecordValue)
				p.oversizeLog = now
			}
			continue
		}
		if t.n == 0 {
			p.commitTimer.Reset(p.commitDelay(e.ReceivedAt, now))
		}
		t.add(a.cl, &p.shape, e, p.ring.PossiblyPublished(e) || (p.rep.nfilled > 0 && p.rep.mayRepeatFill(e, int64(p.ringLimits.PassMargin))), now)
		p.c.Produced++
	}
	if due || (a.commitOverdue && !t.firstAlone()) || t.n >= p.cfg.CommitMaxFrames || t.bytes >= p.cfg.CommitMaxBytes {
		p.startCommit(a)
	}
}

// commitDelay is how long the transaction that starts with a frame read
// at rx (unix nanoseconds) stays open before it commits what it holds: the
// commit linger counted from when the frame was read, not from when it is
// produced. With no linger (the default) that is at once: the transaction
// commits every frame produced by then, and the frames read during the
// commit go into the next transaction, which begins when it is over. A
// frame that waited in the ring, behind the commit in flight or a backlog,
// thus waits no longer than it already has. A wall clock stepped backwards
// cannot stretch it past the linger. commit_interval still bounds a
// transaction that a backlog keeps producing (produceMore).
func (p *Pipeline) commitDelay(rx int64, now time.Time) time.Duration {
	waited := now.Sub(time.Unix(0, rx))
	return min(p.cfg.CommitLinger, max(0, p.cfg.CommitLinger-waited))
}

func (p *Pipeline) commitDue() {
	a := p.act
	if a == nil || a.phase != phaseProducing || a.txn.n == 0 {
		return
	}
	// The interval counts from the first frame's receipt, so at
	// saturation it is often over as soon as the first record is sent;
	// committing then would make every transaction one record long.
	if _, more := p.ring.Next(a.cursor); more && a.txn.firstAlone() {
		a.commitOverdue = true
		return
	}
	p.startCommit(a)
}

// startCommit flushes and commits the open transaction in a worker; the
// owner goes on appending to the ring meanwhile but produces nothing.
func (p *Pipeline) startCommit(a *activation) {
	p.commitTimer.Stop()
	a.commitOverdue = false
	p.step(a, commitStarted{})
	cl, t := a.cl, a.txn
	a.workers.Go(func() {
		r := p.commit(a.ctx, cl, t)
		p.post(func() { p.committed(a, t, r) })
	})
}

type commitResult struct {
	committed bool
	err       error
	pid       int64
	epoch     int16
	endTxn    time.Duration // spent in EndTransaction
	settle    time.Duration // then spent waiting for the commit markers
}

// commit runs in a worker: Flush, check every record, EndTransaction, and
// begin the next transaction.
func (p *Pipeline) commit(ctx context.Context, cl *kgo.Client, t *txn) (r commitResult) {
	r.pid, r.epoch = -1, -1
	if r.err = cl.Flush(ctx); r.err != nil {
		r.err = fmt.Errorf("commit: flushing: %w", r.err)
		return r
	}
	if err := t.firstErr(); err != nil {
		r.err = fmt.Errorf("commit: producing: %w", err)
		return r
	}
	if !p.transactional {
		r.committed = true
		return r
	}
	if t.n > 0 {
		if r.err = awaitPartitionStored(ctx, cl, p.cfg.Topic); r.err != nil {
			r.err = fmt.Errorf("commit: %w", r.err)
			return r
		}
	}
	p.endAndBeginNext(ctx, cl, &r, "commit")
	return r
}

// endAndBeginNext commits the open transaction, of frames or of a control
// keepalive (what names it in an error), takes the producer's new epoch,
// begins the transaction the next records go into and waits until that
// transaction can take them without delay (awaitMarkers). The caller has
// seen its records acknowledged and their partition stored
// (awaitPartitionStored).
func (p *Pipeline) endAndBeginNext(ctx context.Context, cl *kgo.Client, r *commitResult, what string) {
	start := time.Now()
	err := cl.EndTransaction(ctx, kgo.TryCommit)
	r.endTxn = time.Since(start)
	if err != nil {
		r.err = fmt.Errorf("%s: %w", what, err)
		return
	}
	r.committed = true
	// Under KIP-890 every commit bumps the epoch; this is cached, no request.
	r.pid, r.epoch, _ = cl.ProducerID(ctx)
	if err := cl.BeginTransaction(); err != nil {
		r.err = fmt.Errorf("beginning the next transaction: %w", err)
		return
	}
	settling := time.Now()
	p.awaitMarkers(ctx, cl)
	r.settle = time.Since(settling)
}

// partitionStoreWait bounds awaitPartitionStored. The client stores a
// topic's partitions microseconds after it hands them the first records;
// a partition still missing after this is not that race, and the commit
// fails (the transaction is aborted and produced again) rather than wait
// without end.
const partitionStoreWait = 5 * time.Second

// awaitPartitionStored returns once the client shows partition 0 of topic
// with a leader. franz-go (1.22) ends a transaction in which none of the
// partitions it holds was added with an abort, even when asked to commit,
// and reports success. The first records a client produces to a topic wait
// until its metadata arrives; the metadata goroutine then hands them to the
// partition and only afterwards stores the partition where EndTransaction
// looks. A broker that acknowledges them within that window let a commit
// right after it be turned into an abort: a member counted the first
// transaction of an activation committed, trimmed it from the ring, and it
// was gone from the topic. The partition shows as soon as it is stored.
func awaitPartitionStored(ctx context.Context, cl *kgo.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, partitionStoreWait)
	defer cancel()
	for wait := 50 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		if leader, _, _ := cl.PartitionLeader(topic, 0); leader >= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the client does not know partition 0 of %s, so it would end the transaction with an abort: %w", topic, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

// markersWait bounds awaitMarkers: a quarter of the commit timeout. A
// record that reaches its partition while the previous commit's markers
// are still being written is held by the partition leader, which asks the
// coordinator again every add.partitions.to.txn.retry.backoff.ms (20 ms by
// default) for up to add.partitions.to.txn.retry.backoff.max.ms (100 ms),
// and then refuses it CONCURRENT_TRANSACTIONS. franz-go sends a refused
// record again only after a metadata refresh, no sooner than
// producerMetadataMinAge after the last one, and the refresh asks
// whichever node comes next: one that has gone silent, though the pipeline
// does not need it, held the commit for franz-go's 10 s request timeout. A
// coordinator slow to finish its markers is better waited for.
func (p *Pipeline) markersWait() time.Duration { return p.cfg.CommitTimeout / 4 }

// markersHeldFor is how long a partition leader usually holds a record
// that meets markers still being written (its first retry backoff): the
// markers that take no longer are asked about back to back, and after that
// once every markersPace, so that a slow coordinator is not also flooded.
const (
	markersHeldFor = 20 * time.Millisecond
	markersPace    = 10 * time.Millisecond
)

// markersAskAgain is how long awaitMarkers leaves a coordinator that could
// not answer alone.
const markersAskAgain = time.Minute

// awaitMarkers returns once the transaction coordinator has finished the
// commit that EndTransaction began, or after markersWait. EndTransaction
// returns when the coordinator has logged the decision; it writes the
// commit markers to the partitions afterwards. A record of the next
// transaction that reaches its partition before that is over is held by the
// broker for its retry backoff (the partition leader's check with the
// coordinator under transaction protocol 2, the client's AddPartitionsToTxn
// before it): 20 ms added to every transaction that begins at once, which
// at a commit per few milliseconds was most of the latency, and a refusal
// if the markers take longer still (markersWait). Asking the coordinator
// (DescribeTransactions, which the activation already needs) costs a round
// trip or two instead.
//
// A broker that cannot answer (too old, or no Describe permission on the
// transactional id) is not asked again for markersAskAgain: the records
// then go at once, as they always could. Not never again: the coordinator
// that moved or restarted in the middle of a question answers the next.
func (p *Pipeline) awaitMarkers(ctx context.Context, cl *kgo.Client) {
	start := time.Now()
	if start.UnixNano() < p.markersAskAfter.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.markersWait())
	defer cancel()
	if wait := p.markersTook.firstAsk(); wait > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	adm := kadm.NewClient(cl)
	for ctx.Err() == nil {
		ds, err := adm.DescribeTransactions(ctx, p.txnID)
		var d kadm.DescribedTransaction
		if err == nil {
			d, err = ds.On(p.txnID, nil)
		}
		if err == nil {
			err = d.Err
		}
		if err != nil {
			if ctx.Err() == nil {
				p.markersAskAfter.Store(time.Now().Add(markersAskAgain).UnixNano())
				if p.markersWarned.CompareAndSwap(false, true) {
					p.log.Warn("cannot ask the transaction coordinator whether a commit is complete; each transaction's first record may wait for the previous one's markers", "err", err, "ask_again_in", markersAskAgain)
				}
			}
			return
		}
		switch d.State {
		case "PrepareCommit", "PrepareAbort", "PrepareEpochFence":
			if time.Since(start) >= markersHeldFor {
				select {
				case <-ctx.Done():
				case <-time.After(markersPace):
				}
			}
			continue
		}
		p.markersTook.observe(time.Since(start))
		return
	}
}

// markerTimes keeps how long the coordinator usually takes to finish a
// commit after EndTransaction returns. Asking at once, and again as each
// answer came back, cost three DescribeTransactions a commit on the tests'
// broker: half of an active member's requests at 1,000 frames/s. That time
// varies little from one commit to the next, so the first question waits
// for half of it.
type markerTimes struct {
	typical atomic.Int64 // nanoseconds, a moving average over about 8 commits
}

// firstAsk is how long after EndTransaction to ask first.
func (m *markerTimes) firstAsk() time.Duration { return time.Duration(m.typical.Load() / 2) }

// observe notes how long a commit's markers took.
func (m *markerTimes) observe(took time.Duration) {
	t := m.typical.Load()
	m.typical.Store(t + (int64(took)-t)/8)
}

// committed handles the commit worker's result.
func (p *Pipeline) committed(a *activation, t *txn, r commitResult) {
	if p.act != a {
		return // deactivated meanwhile: the echo trims whatever did commit
	}
	now := time.Now()
	p.c.CommitNanos += uint64(now.Sub(a.commitStart))
	p.c.EndTxnNanos += uint64(r.endTxn)
	p.c.MarkersNanos += uint64(r.settle)
	if r.committed {
		p.ring.TrimThrough(t.last)
		p.repairsCommitted(t.last)
		p.c.Commits++
		p.commitSeconds.Observe(now.Sub(a.commitStart).Seconds())
		p.checkFlushed(a)
		p.c.CommittedFrames += uint64(t.n)
		p.c.PossibleDuplicates += uint64(t.possible)
		if off := t.lastOffset.Load(); off >= 0 && !a.resync { // resync: an offset of the old topic
			p.ownThrough = max(p.ownThrough, off)
			p.lastOffset = off
		}
		p.lastCommit = now
		if r.pid >= 0 {
			p.setProducer(r.pid, r.epoch)
		}
		t.reset()
	}
	p.commitDone(a, r, p.armControl)
}

// commitDone finishes a commit, of frames or of a control keepalive: the
// machine decides what follows (activationMachine.commitDone); arm arms
// the next control keepalive if it goes back to producing.
func (p *Pipeline) commitDone(a *activation, r commitResult, arm func()) {
	p.stepArm(a, commitDone{committed: r.committed, err: r.err}, arm)
}

// startRecovery aborts the open transaction and lists the topic's last
// stable offset in a worker, retrying until it can; recovered then reads
// the topic to it and produces the ring again from its oldest entry.
func (p *Pipeline) startRecovery(a *activation, unknown bool) {
	cl, t, bound, purgeControl := a.cl, a.txn, a.topicID, a.purgeControl
	a.purgeControl = false
	a.workers.Go(func() {
		var lastLog time.Time
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			lso, id, err := p.recover(a.ctx, cl, bound, purgeControl)
			if err == nil || fencedErr(err) != nil || a.ctx.Err() != nil {
				p.post(func() { p.recovered(a, t, lso, id, err, unknown) })
				return
			}
			if time.Since(lastLog) >= 10*time.Second {
				p.log.Warn("cannot abort the failed transaction yet; retrying", "err", err)
				lastLog = time.Now()
			}
			select {
			case <-a.ctx.Done():
			case <-time.After(backoff):
			}
		}
	})
}

// recover runs in a worker: abort, list the last stable offset, begin anew.
// The client produced to the topic instance bound; if the topic now has
// another id, the old instance is purged from the client, which franz-go
// requires before it produces to the new one. So is the control topic
// with purgeControl.
func (p *Pipeline) recover(ctx context.Context, cl *kgo.Client, bound kadm.TopicID, purgeControl bool) (int64, kadm.TopicID, error) {
	if err := cl.AbortBufferedRecords(ctx); err != nil {
		return 0, bound, fmt.Errorf("aborting buffered records: %w", err)
	}
	if p.transactional {
		if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
			return 0, bound, fmt.Errorf("aborting the transaction: %w", err)
		}
	}
	lso, id, err := listOnInstance(ctx, cl, p.cfg.Topic, settledEnd)
	if err != nil {
		return 0, bound, err
	}
	if id != bound && bound != (kadm.TopicID{}) {
		cl.PurgeTopicsFromClient(p.cfg.Topic)
	}
	if purgeControl {
		cl.PurgeTopicsFromClient(p.cfg.ControlTopic)
	}
	if p.transactional {
		if err := cl.BeginTransaction(); err != nil {
			return 0, id, fmt.Errorf("beginning a transaction: %w", err)
		}
	}
	return lso, id, nil
}

func (p *Pipeline) recovered(a *activation, t *txn, lso int64, id kadm.TopicID, err error, unknown bool) {
	if p.act != a {
		return
	}
	if err != nil {
		p.step(a, recoveryDone{err: err})
		return
	}
	p.c.Aborts++
	t.reset()
	p.repairsAborted(unknown)
	a.topicID = id
	stale := !p.noticeTopic(id, "recovery")
	p.step(a, recoveryDone{lso: lso, stale: stale})
}

// signalRecErr is called by a promise (on a franz-go goroutine) when a record
// of the open transaction fails.
func (p *Pipeline) signalFirstAck() {
	select {
	case p.firstAck <- struct{}{}:
	default:
	}
}

func (p *Pipeline) signalRecErr() {
	select {
	case p.recErr <- struct{}{}:
	default:
	}
}

// recordFailed reacts to a failed record while producing: a fence ends the
// activation at once; anything else aborts and replays. While committing,
// the commit worker sees the error itself.
func (p *Pipeline) recordFailed() {
	a := p.act
	if a == nil || a.phase != phaseProducing {
		return
	}
	if err := a.txn.firstErr(); err != nil {
		p.step(a, recordFailed{err})
	}
}
