package broadcast

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// activation is one attempt to be active, from fencing to the producer's
// close: its machine (activate.go) decides the phase, and the fields here
// are what the Pipeline needs to carry the machine's actions out. Each has a
// fresh franz-go client: a fenced client cannot be recovered.
type activation struct {
	activationMachine

	ctx    context.Context
	cancel context.CancelFunc
	// asked is the first Activate's context, which bounds the fence;
	// prevClosed is closed when the previous activation's producer is.
	asked      context.Context
	prevClosed chan struct{}
	cl         *kgo.Client
	cursor     uint64 // the last ring position handed to the producer
	txn        *txn
	// controlChecked: the control topic was found fit during this
	// activation (the first keepalive checks it).
	controlChecked bool
	// topicID is the topic instance the client produces to, as listed
	// with the fence or the last recovery. purgeControl: a keepalive found
	// the control topic created again; the recovery purges it from the
	// client.
	topicID      kadm.TopicID
	purgeControl bool

	// commitOverdue: the commit timer fired while the transaction's first
	// record was still alone, waiting for its acknowledgement, with more
	// frames in the ring. The transaction is committed as soon as those
	// have been produced, not with its first record only.
	commitOverdue bool
	waiters       []chan error // Activate calls waiting for live
	stoppers      []chan error // Deactivate calls waiting for the producer to close
	workers       sync.WaitGroup
	closed        chan struct{}          // closed when the producer is closed
	task          atomic.Pointer[string] // what the fence worker is doing, for errors

	// flushing is set from going live until every ring entry up to
	// flushThrough (the newest when it went live: the backlog to flush)
	// has left the ring; the activation's duration is observed then.
	flushing     bool
	flushThrough uint64
}

func (a *activation) setStep(s string) { a.task.Store(&s) }

// doing describes where the activation stands, for an error.
func (a *activation) doing(echoNext int64) string {
	if a.phase == phaseSyncing {
		return fmt.Sprintf("reading the topic to its last stable offset %d (echo at %d)", a.target, echoNext)
	}
	if s := a.task.Load(); s != nil {
		return *s
	}
	return "starting"
}

// activate starts an activation, or joins the one under way.
func (p *Pipeline) activate(ctx context.Context, reply chan error) {
	if a := p.act; a != nil {
		switch {
		case a.live && !a.stopping:
			reply <- nil
		case !a.live:
			a.waiters = append(a.waiters, reply)
		default:
			reply <- errors.New("broadcast: a deactivation is under way")
		}
		return
	}
	if p.shutdown {
		reply <- ErrClosed
		return
	}
	actx, cancel := context.WithCancel(p.life)
	a := &activation{
		ctx:        actx,
		cancel:     cancel,
		asked:      ctx,
		prevClosed: p.lastClosed,
		waiters:    []chan error{reply},
		closed:     make(chan struct{}),
		txn:        newTxn(p.signalRecErr, p.signalFirstAck),
	}
	p.act = a
	p.setState(StateActivating)
	p.lastClosed = a.closed
	p.log.Info("activating", "transactional_id", p.txnID)
	p.step(a, activationStarted{})
}

// step feeds an event to the activation's machine and carries out what it
// decides.
func (p *Pipeline) step(a *activation, ev activationEvent) { p.stepArm(a, ev, p.armControl) }

// stepArm is step, with arm to arm the next control keepalive when the
// machine goes back to producing.
func (p *Pipeline) stepArm(a *activation, ev activationEvent, arm func()) {
	for _, act := range a.step(time.Now(), ev) {
		p.carryOut(a, act, arm)
	}
}

// carryOut does one of the machine's actions: the Kafka calls, the ring,
// the timers and the callers are all here, at the machine's edge.
func (p *Pipeline) carryOut(a *activation, act activationAction, arm func()) {
	switch x := act.(type) {
	case doFence:
		p.startFence(a)
	case doCatchUp:
		a.cursor = 0
		if x.after == "fence" {
			p.log.Info("fenced the transactional id; reading the topic to its last stable offset",
				"producer_id", p.pid, "epoch", p.epoch, "last_stable_offset", x.target)
		} else {
			p.log.Info("aborted; reading the topic to its last stable offset before replaying", "last_stable_offset", x.target)
		}
		p.releaseHeld()
		p.checkSynced()
	case doGoLive:
		p.goLive(a)
	case doReplay:
		a.cursor = 0
		p.startRingRepairs()
		p.checkFlushed(a) // the echo may have trimmed the backlog
	case doProduce:
		arm()
		if x.release {
			p.releaseHeld()
		}
		p.produceMore()
	case doCommit:
		p.startCommit(a)
	case doDeactivating:
		p.setState(StateDeactivating)
	case doCommitFailed:
		p.c.CommitFailures++
		p.setError(x.err)
		p.log.Warn("commit failed; aborting and replaying from the ring", "err", x.err)
	case doFailing:
		p.failSince = x.since
		if x.overdue {
			p.log.Warn("commit taking longer than kafka.commit_timeout", "since", x.since, "commit_timeout", p.cfg.CommitTimeout)
		}
		p.notify()
	case doSucceeding:
		p.failSince = time.Time{}
		p.log.Info("commits succeed again")
		p.notify()
	case doRecover:
		p.commitTimer.Stop()
		p.startRecovery(a, x.unknown)
	case doEnd:
		p.endActivation(a, x)
	}
}

// startFence starts the fence worker.
func (p *Pipeline) startFence(a *activation) {
	ctx, prev := a.asked, a.prevClosed
	a.workers.Go(func() {
		wctx, wcancel := context.WithCancel(a.ctx)
		defer wcancel()
		defer context.AfterFunc(ctx, wcancel)()
		if prev != nil { // the previous producer must be gone before a new one registers
			select {
			case <-prev:
			case <-wctx.Done():
			}
		}
		var f fenceResult
		err := wctx.Err()
		if err == nil {
			f, err = p.fence(wctx, a)
		}
		adopted := make(chan bool, 1)
		if !p.post(func() { adopted <- p.fenceDone(a, f, err) }) {
			adopted <- false
		}
		// Closing here, in the worker, keeps the order: the next
		// activation waits for this one's producer to be gone.
		if f.cl != nil && !<-adopted {
			f.cl.Close()
		}
	})
}

// fenceResult is what the fence worker found.
type fenceResult struct {
	cl      *kgo.Client
	pid     int64
	epoch   int16
	lso     int64
	topicID kadm.TopicID // the topic instance lso is of
	// hangingEnded counts the hanging transactions the fence's wait
	// ended (hanging.go).
	hangingEnded uint64
}

// fence runs in a worker: a producer (the standby, connected ahead, or a
// new one), the topic checked, the transactional id initialised (which
// fences the peer and aborts its open transaction), and the last stable
// offset after that. The topic is checked before the fence unless its
// instance was checked already (checkedTopic); an instance met for the
// first time after the fence is checked then, and a wrong shape fails the
// activation either way.
func (p *Pipeline) fence(ctx context.Context, a *activation) (f fenceResult, err error) {
	cl := p.standby.take(ctx)
	if cl == nil {
		if err := ctx.Err(); err != nil {
			return f, err // a new client now would be a second one
		}
		if cl, err = p.newProducer(); err != nil {
			return f, err
		}
	}
	defer func() {
		if err != nil {
			cl.Close()
			f.cl = nil
		}
	}()
	f.cl = cl
	checked := p.checked.last()
	if checked == (kadm.TopicID{}) {
		a.setStep("checking the topic")
		if _, err := p.checked.ensure(ctx, cl, p.cfg); err != nil {
			return f, fmt.Errorf("activation: %w", err)
		}
	}
	a.setStep("initialising transactional id " + p.txnID + " (the fence)")
	if f.pid, f.epoch, err = cl.ProducerID(ctx); err != nil {
		return f, fmt.Errorf("activation: initialising transactional id %s (the fence): %w", p.txnID, err)
	}
	a.setStep("waiting for the topic's open transactions to end")
	told := false
	stuck := func(ctx context.Context, adm *kadm.Client) error {
		h, ok, err := findHanging(ctx, adm, p.cfg.Topic, p.txnID, f.pid, f.epoch)
		if err != nil || !ok {
			return err
		}
		if err := commitHanging(ctx, cl, h); err != nil {
			err = fmt.Errorf("%s, which could not be committed (%w): grant this member's principal ClusterAction on the cluster (see %s); never abort it by hand, which may lose frames the pipeline has dropped as committed",
				h, err, h.command(strings.Join(p.cfg.Brokers, ",")))
			if !told {
				told = true
				p.log.Error("activation blocked by a hanging transaction", "err", err)
			}
			return err
		}
		f.hangingEnded++
		p.log.Warn("committed a hanging transaction: open on the topic, unknown to its coordinator",
			"producer_id", h.pid, "epoch", h.epoch, "topic", h.topic, "start_offset", h.start)
		return nil
	}
	settled := func(ctx context.Context, cl *kgo.Client, topic string) (int64, error) {
		return waitSettled(ctx, cl, topic, stuck)
	}
	f.lso, f.topicID, err = listOnInstance(ctx, cl, p.cfg.Topic, settled)
	if checked != (kadm.TopicID{}) && f.topicID != checked {
		// Not the instance checked before (deleted, or deleted and
		// created again, since): its shape is checked now, after the
		// fence, and its offsets listed again.
		a.setStep("checking the topic")
		if _, err := p.checked.ensure(ctx, cl, p.cfg); err != nil {
			return f, fmt.Errorf("activation: %w", err)
		}
		a.setStep("waiting for the topic's open transactions to end")
		f.lso, f.topicID, err = listOnInstance(ctx, cl, p.cfg.Topic, settled)
	}
	if err != nil {
		return f, fmt.Errorf("activation: %w", err)
	}
	if p.transactional {
		if err := cl.BeginTransaction(); err != nil {
			return f, fmt.Errorf("activation: %w", err)
		}
	}
	return f, nil
}

// producerMetadataMinAge is the producer's MetadataMinAge (see newProducer).
const producerMetadataMinAge = 250 * time.Millisecond

// concurrentTxnBackoff is the producer's ConcurrentTransactionsBackoff (see
// newProducer).
const concurrentTxnBackoff = 2 * time.Millisecond

// newProducer builds the producer client. Every option that differs from
// franz-go's default, and some that do not, is chosen here on purpose:
func (p *Pipeline) newProducer() (*kgo.Client, error) {
	opts, err := connOpts(p.cfg, p.clientID("producer"), p.kgoLog)
	if err != nil {
		return nil, err
	}
	codec := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}[p.cfg.Compression]
	opts = append(opts,
		// acks=all (also franz-go's default, stated because the no-gap
		// guarantee rests on it): a commit is acknowledged only once every
		// in-sync replica has the records.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Linger: franz-go waits 10ms by default for a batch to fill. The
		// commit flushes anyway, and records produced while a request is
		// in flight batch up on their own, so a long linger only delays
		// records toward the commit. 1ms coalesces a burst of frames
		// handed off together without holding a quiet feed back.
		kgo.ProducerLinger(time.Millisecond),
		// franz-go retries a produce answered CONCURRENT_TRANSACTIONS (the
		// previous transaction's markers are not all written yet: under
		// transaction protocol 2 a broker says so for the next
		// transaction's first record, routinely when the coordinator is
		// fresh and sends its first markers) only after a metadata
		// refresh, and refreshes no sooner than MetadataMinAge after the
		// last (5s by default): that first record, and so the commit,
		// waited up to 5s, past kafka.commit_timeout. A broker that comes
		// back after a restart is also found again sooner.
		kgo.MetadataMinAge(producerMetadataMinAge),
		// One partition, always 0: no partitioner work per record, and no
		// chance of a key spreading the feed over partitions.
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// A transaction holds at most commit_max_frames records; twice
		// that means TryProduce never meets a full buffer.
		kgo.MaxBufferedRecords(2*p.cfg.CommitMaxFrames),
		// Explicit codec (franz-go's default prefers snappy): frames are
		// small and the feed host's CPU is better spent elsewhere unless
		// the operator asks for compression.
		kgo.ProducerBatchCompression(codec),
		// Record retries stay unlimited and there is no delivery timeout
		// (franz-go's defaults): a record is never failed for a slow or
		// absent broker; the ring is the buffer, and a commit that takes
		// too long is reported as "commit failing since".
	)
	if p.transactional {
		opts = append(opts,
			// The pair's lock: both members use the same id.
			kgo.TransactionalID(p.txnID),
			// franz-go's default is 40s. The peer's activation aborts
			// our open transaction at once; this timeout matters only
			// when nobody fences a hung member, and bounds how long its
			// open transaction holds back every read_committed reader.
			kgo.TransactionTimeout(p.cfg.TransactionTimeout),
			// The fence after a crash usually finds the dead member's
			// transaction open or committing: the coordinator answers
			// InitProducerId CONCURRENT_TRANSACTIONS until its markers
			// are written, a few milliseconds, and franz-go asks again
			// after this backoff (20ms by default, a fifth of crash
			// failovers spent it whole). It raises the backoff itself
			// to 200ms and more once a request has been refused for a
			// second, which bounds the extra requests.
			kgo.ConcurrentTransactionsBackoff(concurrentTxnBackoff),
		)
	}
	// Idempotence stays on (franz-go's default, required for transactions).
	if p.opt.Registerer != nil {
		opts = append(opts, kgo.WithHooks(p.clientMetrics("kafka_producer")))
	}
	return kgo.NewClient(opts...)
}

// settledEnd returns the topic's end once no transaction is open on it: the
// last stable offset, when it has caught up with the high watermark.
//
// Reading the topic to its last stable offset is how an activation (and a
// replay after a failed commit) learns what is committed. But a
// transaction of the previous holder can still be open there after the
// fence: Kafka completed the fence while the old holder's commit was still
// writing its markers (seen after a broker restart), and the commit marker
// landed after the new holder's first records. The last stable offset
// listed in between stopped before that transaction, so the new active
// flushed frames the old one had committed: duplicates. After the fence
// only the old holder's unfinished transaction can be open on a pipeline's
// topic, and Kafka finishes it one way or the other (its commit's markers,
// the fence's abort, or the transaction timeout), so waiting for it is
// bounded; the caller's context bounds it too. A hanging transaction is the
// exception (hanging.go): waitSettled lets an activation end one.
//
// The two offsets are listed together, in no known order, and that is
// enough: both are listed after the fence, when the old holder can add no
// record but its markers. If the last stable offset was listed second, it
// having reached the high watermark listed first still says that every
// record the old holder wrote is decided and below it.
func settledEnd(ctx context.Context, cl *kgo.Client, topic string) (int64, error) {
	return waitSettled(ctx, cl, topic, nil)
}

// waitSettled is settledEnd; stuck, if set, is called each time the last
// stable offset has stayed below the high watermark for hangingAfter more:
// it may end a hanging transaction, and its error says why the wait goes
// on.
func waitSettled(ctx context.Context, cl *kgo.Client, topic string, stuck func(context.Context, *kadm.Client) error) (int64, error) {
	var why error
	check := time.Now().Add(hangingAfter)
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, 200*time.Millisecond) {
		lso, hw, err := stableAndEnd(ctx, cl, topic)
		if err != nil {
			return 0, err
		}
		if lso >= hw {
			return lso, nil
		}
		if stuck != nil && time.Now().After(check) {
			why = stuck(ctx, kadm.NewClient(cl))
			check = time.Now().Add(hangingAfter)
		}
		select {
		case <-ctx.Done():
			if why != nil {
				return 0, fmt.Errorf("a transaction is still open on %s (last stable offset %d, high watermark %d): %w; %v", topic, lso, hw, ctx.Err(), why)
			}
			return 0, fmt.Errorf("a transaction is still open on %s (last stable offset %d, high watermark %d): %w", topic, lso, hw, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// fenceDone handles the fence worker's result and reports whether the
// activation took the client.
func (p *Pipeline) fenceDone(a *activation, f fenceResult, err error) bool {
	if p.act != a {
		return false
	}
	if err != nil {
		// Activate returns err: its caller reports it, rate-limited.
		p.log.Debug("activation failed", "err", err)
		p.step(a, fenceFailed{err})
		return false
	}
	p.c.HangingEnded += f.hangingEnded
	a.cl, a.topicID = f.cl, f.topicID
	p.setProducer(f.pid, f.epoch)
	stale := !p.noticeTopic(f.topicID, "activation")
	p.step(a, fenceDone{lso: f.lso, stale: stale})
	return true
}

// checkSynced tells the activation's machine where the echo stands, which
// moves a catch-up on once it has read far enough.
func (p *Pipeline) checkSynced() {
	if a := p.act; a != nil {
		p.step(a, echoAt{p.echoNext})
	}
}

// restartCatchUp sends an activation back to reading the topic, the new
// instance, to its last stable offset (activationMachine.topicRecreated).
func (p *Pipeline) restartCatchUp(a *activation) { p.step(a, topicRecreated{}) }

// goLive carries out the end of the first catch-up: the ring now holds only
// what no member committed, and producing it from the oldest entry is the
// flush.
func (p *Pipeline) goLive(a *activation) {
	a.cursor = 0
	p.checkStart()
	p.startRingRepairs()
	// From here this member publishes: what its ring evicted and the
	// topic did not get is lost.
	p.settle()
	a.flushing, a.flushThrough = true, p.ring.LastPos()
	p.crossCheckLive(a.flushThrough)
	p.checkFlushed(a) // nothing to flush: observed before Activate returns
	p.c.Activations++
	p.setState(StateActive)
	for _, w := range a.waiters {
		w <- nil
	}
	a.waiters = nil
	p.log.Info("active: flushing the ring, then live", "ring_frames", p.ring.Len())
}

// checkFlushed observes the activation's duration once the backlog the
// ring held when it went live has left it: committed by this member, or
// (after a failed commit) found committed on echo while re-syncing. An
// activation that ends before that is not observed.
func (p *Pipeline) checkFlushed(a *activation) {
	if !a.flushing {
		return
	}
	if e, ok := p.ring.Oldest(); ok && e.Pos <= a.flushThrough {
		return
	}
	a.flushing = false
	p.activationSeconds.Observe(time.Since(a.started).Seconds())
}
