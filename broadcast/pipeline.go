package broadcast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options are the member's identity and the parts of a Pipeline a caller
// supplies besides the `kafka:` configuration.
type Options struct {
	// Pipeline is the pipeline name, the same on both members.
	Pipeline string
	// Member is this member's id; it goes into every record it produces.
	Member string
	// Ring bounds the backlog ring (the `backlog:` section).
	Ring backlog.Config
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the pipeline's metrics and the Kafka clients'
	// (feedd_broadcast_*, feedd_kafka_producer_*, feedd_kafka_echo_*); nil
	// registers nothing.
	Registerer prometheus.Registerer
	// SendRepair carries a repair message (repair.go) to the peer named
	// to, or to every peer when to is empty, without blocking; it returns
	// false when no peer can be reached. Nil: this member never asks for
	// repair (it still answers nothing).
	SendRepair func(to string, payload []byte) bool
	// RepairMessageMax bounds one repair message; default RepairMessageMax.
	RepairMessageMax int
	// ReadThrough reports the host-clock time before which the port has
	// handed over every frame that ended on the line
	// (ingest.Source.ReadThrough). Repair and the cross-check wait on it
	// for what the port may still deliver. Nil: the time less the port's
	// lag is taken instead, which a reader starved of the processor can
	// fall behind.
	ReadThrough func() int64
	// ShutdownTimeout bounds how long Run, once its context is cancelled,
	// tries to finish the open transaction before aborting it. Default 5s.
	ShutdownTimeout time.Duration
}

// DeactivateMode says how an active member stops.
type DeactivateMode uint8

const (
	// Planned finishes at a commit boundary: it stops producing, commits
	// what the open transaction holds, and closes the producer. The peer's
	// activation then continues with no gap and no duplicate.
	Planned DeactivateMode = iota
	// Immediate stops at once: the open transaction is aborted (what it
	// held stays in the ring) and the producer is closed. While a commit
	// is unanswered or commits are failing, nothing more is sent: the
	// transaction is left to the next fence or the transaction timeout
	// (see endActivation).
	Immediate
	// Superseded stops at once without another request to the broker:
	// another member has initialised the transactional id, which already
	// aborted the open transaction. An abort from this client would fail as
	// fenced, and franz-go would then re-initialise the producer id at its
	// old epoch: kfake accepts the stale epoch, and Kafka, while the new
	// active's transaction is open, aborts it before it looks at the epoch;
	// either way the new active is fenced. What the transaction held stays
	// in the ring.
	Superseded
)

// handoffSlots is the capacity of the Accept queue.
const handoffSlots = 1024

// housekeepEvery paces the owner's timer work: expiring early echoes and
// noticing a commit that takes too long.
const housekeepEvery = 100 * time.Millisecond

// Pipeline is one member's side of a pipeline: the backlog ring, the echo
// consumer that trims it while the member is inactive, the control consumer
// that reads the active's heartbeats, and, while active, the transactional
// producer that broadcasts the ring (and commits a control heartbeat when
// the feed is quiet).
//
// One goroutine (Run's) owns the ring and all state; Accept, Activate,
// Deactivate and Status hand work to it and are safe from any goroutine.
type Pipeline struct {
	cfg   Config
	opt   Options
	txnID string
	log   *slog.Logger
	// kgoLog is the franz-go logger every client of the pipeline shares,
	// so that a failure repeated by each of them is logged once.
	kgoLog kgoLogger
	shape  recordShape

	in       *handoff
	clocks   *clockBounds
	cmds     chan func()
	results  chan func()
	echoes   chan *echoBatch
	echoFree chan *echoBatch
	echoKick chan struct{} // the echo consumer is to ask for the topic's id now
	recErr   chan struct{} // a record of the open transaction failed
	firstAck chan struct{} // the open transaction's first record was acknowledged
	changed  chan struct{}
	exiting  chan struct{} // closed when the owner stops taking results
	done     chan struct{} // closed when Run has returned
	running  atomic.Bool
	final    Status // the last status, set before done is closed

	// transactional is false with kafka.producer: idempotent (what the
	// benchmarks compare transactions with): the producer is then merely
	// idempotent, with no transactional id, no fence and no commit markers.
	transactional bool
	// testEchoDelay, set only by tests, delays each echo batch (nanoseconds)
	// to stage an echo that arrives during the catch-up.
	testEchoDelay atomic.Int64

	// Owned by Run's goroutine.
	life context.Context
	ring *backlog.Ring
	// ringLimits are the ring's bounds, for the metrics; fixed at New.
	ringLimits backlog.Config
	rep        repairs
	xc         crossCheck
	// ringID tells this process's ring from another's in repair answers
	// (positions restart with a process).
	ringID      uint64
	appendFn    func(backlog.Frame, ingest.Hole)
	role        Role
	roleSince   time.Time
	act         *activation
	lastClosed  chan struct{} // closed when the previous activation's producer is closed
	closers     sync.WaitGroup
	ownThrough  int64 // highest offset of this member's own commits, already trimmed
	echoNext    int64 // next offset the echo will hand over; -1 until positioned
	held        *echoBatch
	heldIdx     int
	commitTimer *time.Timer
	// controlTimer fires kafka.control_interval after the active member's
	// last commit (or its going live): a control heartbeat is due.
	controlTimer *time.Timer
	shutdown     bool
	kafka        kafkaContact // safe from any goroutine
	witness      Witness
	twin         Witness
	// heldEpochs is the producer ids and epochs this process has held, newest
	// last (at most maxHeldEpochs): records of our member id under any
	// other were written by another process.
	heldEpochs  []producerEpoch
	cause       error
	lastErr     string
	failSince   time.Time
	lastCommit  time.Time
	lastOffset  int64
	lastControl time.Time // the last control heartbeat committed
	controlLog  time.Time // rate-limits the control topic's error log
	pid         int64
	epoch       int16
	c           Counters
	rejectLog   time.Time
	oversizeLog time.Time
	lostLog     time.Time

	// topicID is the id of the topic instance that the offsets above
	// (echoNext, ownThrough, lastOffset, the witness's) belong to, zero
	// until known; oldTopicIDs are the ids it replaced (recreate.go).
	topicID     kadm.TopicID
	oldTopicIDs []kadm.TopicID

	// Latency histograms, observed by Run's goroutine and exported by the
	// collector (a Histogram is safe for concurrent use).
	commitSeconds     prometheus.Histogram
	activationSeconds prometheus.Histogram
}

// activation is the state of one attempt to be active, from fencing to the
// producer's close. Each has a fresh franz-go client: a fenced client cannot
// be recovered.
type activation struct {
	ctx    context.Context
	cancel context.CancelFunc
	cl     *kgo.Client
	phase  phase
	target int64  // phaseSyncing: the last stable offset to read up to
	cursor uint64 // the last ring position handed to the producer
	txn    *txn
	live   bool // went live (Activate has returned nil)
	// controlChecked: the control topic was found fit during this
	// activation (the first heartbeat checks it).
	controlChecked bool
	// topicID is the topic instance the client produces to, as listed
	// with the fence or the last recovery. resync: the topic was created
	// again during a commit; once it is done, read the new one to its end.
	// purgeControl: a heartbeat found the control topic created again;
	// the recovery purges it from the client.
	topicID      kadm.TopicID
	resync       bool
	purgeControl bool

	commitStart time.Time
	// commitOverdue: the commit timer fired while the transaction's first
	// record was still alone, waiting for its acknowledgement, with more
	// frames in the ring. The transaction is committed as soon as those
	// have been produced, not with its first record only.
	commitOverdue bool
	stopping      bool         // a planned deactivation waits for the commit boundary
	waiters       []chan error // Activate calls waiting for live
	stoppers      []chan error // Deactivate calls waiting for the producer to close
	workers       sync.WaitGroup
	closed        chan struct{}          // closed when the producer is closed
	step          atomic.Pointer[string] // what the fence worker is doing, for errors

	// started is when the activation began (before fencing). flushing is
	// set from going live until every ring entry up to flushThrough (the
	// newest when it went live: the backlog to flush) has left the ring;
	// the activation's duration is observed then.
	started      time.Time
	flushing     bool
	flushThrough uint64
}

func (a *activation) setStep(s string) { a.step.Store(&s) }

// doing describes where the activation stands, for an error.
func (a *activation) doing(echoNext int64) string {
	if a.phase == phaseSyncing {
		return fmt.Sprintf("reading the topic to its last stable offset %d (echo at %d)", a.target, echoNext)
	}
	if s := a.step.Load(); s != nil {
		return *s
	}
	return "starting"
}

type phase uint8

const (
	phaseFencing    phase = iota // InitProducerID with a fresh client
	phaseSyncing                 // reading the echo up to target, trimming
	phaseProducing               // producing ring entries after cursor
	phaseCommitting              // Flush + EndTransaction in a worker
	phaseRecovering              // aborting after a failed commit, in a worker
)

// New validates the configuration and builds a pipeline. Nothing connects
// until Run.
func New(cfg Config, opt Options) (*Pipeline, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case opt.Pipeline == "":
		return nil, errors.New("broadcast: Options.Pipeline is required")
	case opt.Member == "":
		return nil, errors.New("broadcast: Options.Member is required")
	}
	ring, err := backlog.New(opt.Ring)
	if err != nil {
		return nil, err
	}
	if _, err := connOpts(cfg, "", kgoLogger{l: slog.Default()}); err != nil { // TLS files, SASL password
		return nil, err
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ShutdownTimeout <= 0 {
		opt.ShutdownTimeout = 5 * time.Second
	}
	// The id in the configuration too, so that its description names it.
	cfg.TransactionalID = cfg.TransactionalIDFor(opt.Pipeline)
	p := &Pipeline{
		cfg:   cfg,
		opt:   opt,
		txnID: cfg.TransactionalID,
		log:   opt.Logger.With("component", "broadcast"),
		shape: recordShape{
			topic:    cfg.Topic,
			member:   []byte(opt.Member),
			key:      cfg.Key,
			pipeline: []byte(opt.Pipeline),
			clock:    appendHex16(nil, hostclock.ID()),
		},
		clocks:        newClockBounds(),
		in:            newHandoff(handoffSlots),
		cmds:          make(chan func()),
		results:       make(chan func()),
		echoes:        make(chan *echoBatch),
		echoFree:      make(chan *echoBatch, 4),
		echoKick:      make(chan struct{}, 1),
		recErr:        make(chan struct{}, 1),
		firstAck:      make(chan struct{}, 1),
		changed:       make(chan struct{}, 1),
		exiting:       make(chan struct{}),
		done:          make(chan struct{}),
		transactional: cfg.Producer == ProducerTransactional,
		ring:          ring,
		ringLimits:    opt.Ring.WithDefaults(),
		ownThrough:    -1,
		echoNext:      -1,
		lastOffset:    -1,
		pid:           -1,
		epoch:         -1,
		roleSince:     time.Now(),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "feedd_broadcast_commit_duration_seconds",
			Help:    "Wall time of each committed transaction of frames, from the start of its flush to the end of EndTxn.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		activationSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "feedd_broadcast_activation_duration_seconds",
			Help:    "Wall time of each activation, from its start (fencing) until the backlog the ring held when it went live is committed.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
	}
	p.appendFn = p.appendFrame
	p.ringID = rand.Uint64()
	p.kgoLog = newKgoLogger(p.log)
	p.kafka.notify = p.notify
	p.kafka.st.Brokers = slices.Clone(cfg.Brokers)
	if !p.transactional {
		p.log.Warn("kafka.producer is idempotent: no transactions and no fencing; " +
			"a failover can duplicate frames and two members can both write (unsafe in a pair)")
	}
	p.final = p.status()
	if opt.Registerer != nil {
		if err := opt.Registerer.Register(collector{p}); err != nil {
			return nil, fmt.Errorf("broadcast: registering metrics: %w", err)
		}
	}
	return p, nil
}

func (p *Pipeline) clientID(role string) string {
	return "feedd-" + p.opt.Pipeline + "-" + p.opt.Member + "-" + role
}

// Accept hands a frame read from the port to the pipeline. It copies
// f.Data, so the frame may be reused as soon as it returns. It must be
// called from one goroutine at a time (the port reader's). It returns false
// only when the pipeline has stopped; it waits, and counts a stall, if the
// owner goroutine has fallen 1024 frames behind.
func (p *Pipeline) Accept(f *ingest.Frame) bool {
	return p.in.put(backlog.Frame{
		ID: f.Identity(), Exact: f.HasFeedSeq, Win: f.Line,
		ReceivedAt: f.ReceivedAt.UnixNano(), Data: f.Data,
	}, f.Hole)
}

// Changed is signalled (without blocking, coalescing) whenever something the
// pair protocol watches changes: the role, a fence, commits starting or
// ceasing to fail, a new witness. Read Status after each signal.
func (p *Pipeline) Changed() <-chan struct{} { return p.changed }

// ObserveClock takes a measurement of another host's clock: at local host
// time at, lo < (this host's clock - that clock) < hi (nanoseconds). The
// pair link measures it; records read back from the topic carry windows on
// their producer's clock, which this turns into windows on ours. Safe from
// any goroutine.
func (p *Pipeline) ObserveClock(clock uint64, lo, hi, at int64) { p.clocks.observe(clock, lo, hi, at) }

// Done is closed when Run has returned.
func (p *Pipeline) Done() <-chan struct{} { return p.done }

// Activate makes the member active, in the order of the design: fence the
// transactional id with a fresh producer (the peer, if active, loses it),
// read the topic up to its last stable offset trimming the ring on every
// committed record, then produce what is left in the ring, in order, and go
// on producing as frames arrive. It returns nil once the member is live (the
// backlog flush has begun), or the reason it could not activate. If ctx ends
// first, the attempt is abandoned and the member stays inactive.
func (p *Pipeline) Activate(ctx context.Context) error {
	reply := make(chan error, 1)
	if err := p.do(ctx, func() { p.activate(ctx, reply) }); err != nil {
		return err
	}
	select {
	case err := <-reply:
		return err
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
	}
	abandon := make(chan error, 1)
	if err := p.do(context.Background(), func() { p.abandon(reply, abandon, ctx.Err()) }); err != nil {
		return err
	}
	return <-abandon
}

// Deactivate stops the member being active (see DeactivateMode). It returns
// when the producer is closed; the ring is kept either way and the member
// goes on trimming it on echo. It returns ErrNotActive if the member is
// neither active nor activating, and the final commit's error if a planned
// deactivation had to abort.
func (p *Pipeline) Deactivate(ctx context.Context, mode DeactivateMode) error {
	reply := make(chan error, 1)
	if err := p.do(ctx, func() { p.deactivate(mode, reply) }); err != nil {
		return err
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status returns a snapshot of the pipeline.
func (p *Pipeline) Status() Status {
	if !p.running.Load() {
		return p.final
	}
	var st Status
	if p.do(context.Background(), func() { st = p.status() }) != nil {
		return p.final
	}
	return st
}

// do runs f on the owner goroutine and waits for it to have run.
func (p *Pipeline) do(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	select {
	case p.cmds <- func() { f(); close(ran) }:
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-ran
	return nil
}

// post hands a worker's result to the owner goroutine. It returns false if
// the owner has stopped taking results.
func (p *Pipeline) post(f func()) bool {
	select {
	case p.results <- f:
		return true
	case <-p.exiting:
		return false
	}
}

func (p *Pipeline) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Run owns the ring until ctx is cancelled, then finishes (or, after
// Options.ShutdownTimeout, aborts) the open transaction, stops the echo
// consumer and returns. Call it once.
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("broadcast: Run called twice")
	}
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.life = life
	var echo sync.WaitGroup
	echo.Go(func() { p.runEcho(life) })
	if p.controlEnabled() {
		echo.Go(func() { p.runControl(life) })
	}
	p.commitTimer = time.NewTimer(time.Hour)
	p.commitTimer.Stop()
	p.controlTimer = time.NewTimer(time.Hour)
	p.controlTimer.Stop()
	p.rep.timer = time.NewTimer(time.Hour)
	p.rep.timer.Stop()
	tick := time.NewTicker(housekeepEvery)
	defer tick.Stop()
	p.log.Info("pipeline running", "topic", p.cfg.Topic, "transactional_id", p.txnID, "kafka", p.cfg.String())

	shutdown := ctx.Done()
	var deadline <-chan time.Time
	for !(p.shutdown && p.act == nil) {
		p.in.drain(p.appendFn)
		p.produceMore()
		wake := p.in.wake
		if !p.in.park() {
			wake = closedChan
		}
		echoes := p.echoes
		if p.held != nil {
			echoes = nil
		}
		select {
		case <-wake:
		case f := <-p.cmds:
			f()
		case f := <-p.results:
			f()
		case b := <-echoes:
			p.handleEcho(b)
		case <-p.recErr:
			p.recordFailed()
		case <-p.firstAck:
			// produceMore runs at the top of the loop.
		case <-p.commitTimer.C:
			p.commitDue()
		case <-p.controlTimer.C:
			p.controlDue()
		case <-p.rep.timer.C:
			p.rep.armed = time.Time{}
			p.repairTick()
		case <-tick.C:
			p.housekeep()
		case <-shutdown:
			shutdown = nil
			p.shutdown = true
			deadline = time.After(p.opt.ShutdownTimeout)
			if p.act != nil {
				p.deactivate(Planned, nil)
			}
		case <-deadline:
			if p.act != nil {
				p.endActivation(p.act, errors.New("shutdown: the final commit took too long; left to the transaction timeout or the next fence"), true)
			}
		}
		p.in.unpark()
	}
	p.in.closed.Store(true)
	close(p.exiting)
	stop()
	echo.Wait()
	p.closers.Wait()
	p.final = p.status()
	p.running.Store(false)
	close(p.done)
	p.log.Info("pipeline stopped", "ring_frames", p.ring.Len())
	return nil
}

func (p *Pipeline) setRole(r Role) {
	if p.role != r {
		p.role, p.roleSince = r, time.Now()
		p.notify()
	}
}

func (p *Pipeline) setError(err error) {
	if err != nil {
		p.lastErr = err.Error()
	}
}

// appendFrame stores one handed-off frame in the ring; one that follows a
// hole in this member's own stream starts a repair while it is active.
func (p *Pipeline) appendFrame(f backlog.Frame, hole ingest.Hole) {
	pos, stored, err := p.ring.Append(f)
	if !stored {
		p.sight(f, 0)
	} else {
		if p.rep.firstPos == 0 {
			p.rep.firstPos = pos
		}
		p.sight(f, pos)
		p.rep.remember(pos, f)
		switch {
		case p.rep.startPending:
			// The first frame of an activation that found the ring
			// empty: the start of the stream is asked about, from
			// further back than any hole before it.
			p.rep.startPending = false
			p.askStart(pos, f)
		case hole != ingest.NoHole:
			p.startRepair(pos, f, hole)
		}
		p.crossCheckAdvance()
	}
	if err != nil {
		// Counted in the ring's Stats.Rejected.
		if time.Since(p.rejectLog) >= 10*time.Second {
			p.log.Error("frame not kept: larger than the ring's byte bound", "err", err)
			p.rejectLog = time.Now()
		}
	}
	if a := p.act; a != nil && a.live {
		// A live member is the one to publish: what its ring evicted is
		// lost, and nobody else will publish it.
		p.settle()
	}
}

// settle declares what the ring evicted and could not account for lost,
// and says so.
func (p *Pipeline) settle() {
	before := p.ring.Stats().OverflowLost
	if p.ring.Settle() == 0 {
		return
	}
	st := p.ring.Stats()
	if now := time.Now(); now.Sub(p.lostLog) >= 10*time.Second {
		p.log.Error("frames evicted from the full ring before they reached the topic: lost",
			"frames", st.OverflowLost-before, "lost_total", st.OverflowLost, "gaps_total", st.OverflowGaps,
			"first_lost_pos", st.FirstLostPos, "last_lost_pos", st.LastLostPos)
		p.lostLog = now
	}
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
		ctx:     actx,
		cancel:  cancel,
		phase:   phaseFencing,
		waiters: []chan error{reply},
		closed:  make(chan struct{}),
		txn:     newTxn(p.signalRecErr, p.signalFirstAck),
		started: time.Now(),
	}
	p.act = a
	p.setRole(RoleActivating)
	prev := p.lastClosed
	p.lastClosed = a.closed
	p.log.Info("activating", "transactional_id", p.txnID)
	a.workers.Go(func() {
		wctx, wcancel := context.WithCancel(actx)
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

// fence runs in a worker: a fresh producer, the topic checked, the
// transactional id initialised (which fences the peer and aborts its open
// transaction), and the last stable offset after that.
func (p *Pipeline) fence(ctx context.Context, a *activation) (f fenceResult, err error) {
	cl, err := p.newProducer()
	if err != nil {
		return f, err
	}
	defer func() {
		if err != nil {
			cl.Close()
			f.cl = nil
		}
	}()
	f.cl = cl
	a.setStep("checking the topic")
	if err := EnsureTopic(ctx, cl, p.cfg); err != nil {
		return f, fmt.Errorf("activation: %w", err)
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
	settled := func(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
		return waitSettled(ctx, adm, topic, stuck)
	}
	if f.lso, f.topicID, err = listOnInstance(ctx, cl, p.cfg.Topic, settled); err != nil {
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
func settledEnd(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	return waitSettled(ctx, adm, topic, nil)
}

// waitSettled is settledEnd; stuck, if set, is called each time the last
// stable offset has stayed below the high watermark for hangingAfter more:
// it may end a hanging transaction, and its error says why the wait goes
// on.
func waitSettled(ctx context.Context, adm *kadm.Client, topic string, stuck func(context.Context, *kadm.Client) error) (int64, error) {
	var why error
	check := time.Now().Add(hangingAfter)
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, 200*time.Millisecond) {
		lso, err := lastStableOffset(ctx, adm, topic)
		if err != nil {
			return 0, err
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return 0, fmt.Errorf("listing the high watermark of %s: %w", topic, err)
		}
		hw, ok := ends.Lookup(topic, 0)
		switch {
		case !ok:
			return 0, fmt.Errorf("listing the high watermark of %s: no answer for partition 0", topic)
		case hw.Err != nil:
			return 0, fmt.Errorf("listing the high watermark of %s: %w", topic, hw.Err)
		case lso >= hw.Offset:
			return lso, nil
		}
		if stuck != nil && time.Now().After(check) {
			why = stuck(ctx, adm)
			check = time.Now().Add(hangingAfter)
		}
		select {
		case <-ctx.Done():
			if why != nil {
				return 0, fmt.Errorf("a transaction is still open on %s (last stable offset %d, high watermark %d): %w; %v", topic, lso, hw.Offset, ctx.Err(), why)
			}
			return 0, fmt.Errorf("a transaction is still open on %s (last stable offset %d, high watermark %d): %w", topic, lso, hw.Offset, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// lastStableOffset is ListOffsets with isolation level read_committed: every
// record below it belongs to a finished transaction.
func lastStableOffset(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	l, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("listing the last stable offset of %s: %w", topic, err)
	}
	o, ok := l.Lookup(topic, 0)
	switch {
	case !ok:
		return 0, fmt.Errorf("listing the last stable offset of %s: no answer for partition 0", topic)
	case o.Err != nil:
		return 0, fmt.Errorf("listing the last stable offset of %s: %w", topic, o.Err)
	}
	return o.Offset, nil
}

// fenceDone handles the fence worker's result and reports whether the
// activation took the client.
func (p *Pipeline) fenceDone(a *activation, f fenceResult, err error) bool {
	if p.act != a {
		return false
	}
	if err != nil {
		p.c.ActivationFailures++
		// Activate returns err: its caller reports it, rate-limited.
		p.log.Debug("activation failed", "err", err)
		p.endActivation(a, err, false)
		return false
	}
	p.c.HangingEnded += f.hangingEnded
	a.cl, a.topicID = f.cl, f.topicID
	p.setProducer(f.pid, f.epoch)
	if !p.noticeTopic(f.topicID, "activation") {
		p.startRecovery(a) // listed on a topic already replaced: list again
		return true
	}
	a.phase, a.target = phaseSyncing, f.lso
	p.log.Info("fenced the transactional id; reading the topic to its last stable offset",
		"producer_id", f.pid, "epoch", f.epoch, "last_stable_offset", f.lso)
	p.releaseHeld()
	p.checkSynced()
	return true
}

// checkSynced moves a syncing activation on once the echo has handed over
// every record below the target: the ring then holds only what no member
// committed, and producing it from the oldest entry is the flush.
func (p *Pipeline) checkSynced() {
	a := p.act
	if a == nil || a.phase != phaseSyncing || p.echoNext < 0 || p.echoNext < a.target {
		return
	}
	a.phase, a.cursor = phaseProducing, 0
	if !a.live {
		p.checkStart()
	}
	p.startRingRepairs()
	if !a.live {
		a.live = true
		// From here this member publishes: what its ring evicted and the
		// topic did not get is lost.
		p.settle()
		a.flushing, a.flushThrough = true, p.ring.LastPos()
		p.crossCheckLive(a.flushThrough)
		p.checkFlushed(a) // nothing to flush: observed before Activate returns
		p.c.Activations++
		p.setRole(RoleActive)
		for _, w := range a.waiters {
			w <- nil
		}
		a.waiters = nil
		p.log.Info("active: flushing the ring, then live", "ring_frames", p.ring.Len())
	} else {
		p.checkFlushed(a) // re-synced after a failed commit: the echo may have trimmed the backlog
	}
	if a.stopping {
		p.endActivation(a, nil, true)
		return
	}
	p.armControl()
	p.produceMore()
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
		// interval: look at the clock every so often.
		if t.n&63 == 63 {
			if now = time.Now(); now.Sub(t.started) >= p.cfg.CommitInterval {
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
			t.add(a.cl, &p.shape, backlog.Entry{Pos: a.cursor, ID: f.s.ID, Exact: f.s.Exact, Win: f.s.Win, ReceivedAt: f.rx, Data: f.data}, f.possible, now)
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
// at rx (unix nanoseconds) may stay open: the commit interval counted from
// when the frame was read, not from when it is produced. A frame that
// waited in the ring, behind the commit in flight or a backlog, is thus
// committed one interval after it arrived at the latest (plus the commit),
// not one interval after the previous commit ended: that wait used to add
// a whole commit round trip to the latency bound. A wall clock stepped
// backwards cannot stretch it past the interval.
func (p *Pipeline) commitDelay(rx int64, now time.Time) time.Duration {
	waited := now.Sub(time.Unix(0, rx))
	return min(p.cfg.CommitInterval, max(0, p.cfg.CommitInterval-waited))
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
	a.phase = phaseCommitting
	a.commitStart = time.Now()
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
	endTxn    time.Duration // spent in EndTransaction and BeginTransaction
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
	start := time.Now()
	defer func() { r.endTxn = time.Since(start) }()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		r.err = fmt.Errorf("commit: %w", err)
		return r
	}
	r.committed = true
	// Under KIP-890 every commit bumps the epoch; this is cached, no request.
	r.pid, r.epoch, _ = cl.ProducerID(ctx)
	if err := cl.BeginTransaction(); err != nil {
		r.err = fmt.Errorf("beginning the next transaction: %w", err)
	}
	return r
}

// committed handles the commit worker's result.
func (p *Pipeline) committed(a *activation, t *txn, r commitResult) {
	if p.act != a {
		return // deactivated meanwhile: the echo trims whatever did commit
	}
	now := time.Now()
	p.c.CommitNanos += uint64(now.Sub(a.commitStart))
	p.c.EndTxnNanos += uint64(r.endTxn)
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

// commitDone finishes a commit, of frames or of a control heartbeat: on
// success it clears the failing state and goes back to producing (arming
// the next control heartbeat with arm), or ends an activation that is
// stopping; a fence ends the activation; any other error starts recovery.
func (p *Pipeline) commitDone(a *activation, r commitResult, arm func()) {
	if a.resync && fencedErr(r.err) == nil {
		a.resync = false
		if a.stopping {
			p.endActivation(a, nil, true)
		} else {
			p.startRecovery(a)
		}
		return
	}
	if r.err == nil {
		if r.committed && !p.failSince.IsZero() {
			p.failSince = time.Time{}
			p.log.Info("commits succeed again")
			p.notify()
		}
		a.phase = phaseProducing
		if a.stopping {
			p.endActivation(a, nil, true)
			return
		}
		arm()
		p.releaseHeld()
		p.produceMore()
		return
	}
	if f := fencedErr(r.err); f != nil {
		p.endActivation(a, f, false)
		return
	}
	p.commitFailed(a, r.err)
}

// commitFailed starts recovery: abort the transaction, read the topic to
// its last stable offset again (the commit's outcome may be unknown: if it
// did commit, the echo trims it), and produce the ring again from its oldest
// entry.
func (p *Pipeline) commitFailed(a *activation, err error) {
	p.c.CommitFailures++
	p.setError(err)
	if p.failSince.IsZero() {
		p.failSince = a.commitStart
		p.notify()
	}
	p.log.Warn("commit failed; aborting and replaying from the ring", "err", err)
	if a.stopping {
		p.endActivation(a, fmt.Errorf("planned deactivation: the final commit failed, aborted instead: %w", err), false)
		return
	}
	p.commitTimer.Stop()
	p.startRecovery(a)
}

// startRecovery aborts the open transaction and lists the topic's last
// stable offset in a worker, retrying until it can; recovered then reads
// the topic to it and produces the ring again from its oldest entry.
func (p *Pipeline) startRecovery(a *activation) {
	a.phase = phaseRecovering
	cl, t, bound, purgeControl := a.cl, a.txn, a.topicID, a.purgeControl
	a.purgeControl = false
	a.workers.Go(func() {
		var lastLog time.Time
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			lso, id, err := p.recover(a.ctx, cl, bound, purgeControl)
			if err == nil || fencedErr(err) != nil || a.ctx.Err() != nil {
				p.post(func() { p.recovered(a, t, lso, id, err) })
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

func (p *Pipeline) recovered(a *activation, t *txn, lso int64, id kadm.TopicID, err error) {
	if p.act != a {
		return
	}
	if err != nil {
		if f := fencedErr(err); f != nil {
			p.endActivation(a, f, false)
		}
		return // cancelled: the deactivation under way finishes the job
	}
	p.c.Aborts++
	t.reset()
	p.repairsAborted()
	a.topicID = id
	if !p.noticeTopic(id, "recovery") {
		p.startRecovery(a) // listed on a topic already replaced: list again
		return
	}
	a.phase, a.target, a.cursor = phaseSyncing, lso, 0
	p.log.Info("aborted; reading the topic to its last stable offset before replaying", "last_stable_offset", lso)
	p.releaseHeld()
	p.checkSynced()
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
	err := a.txn.firstErr()
	if err == nil {
		return
	}
	if f := fencedErr(err); f != nil {
		p.endActivation(a, f, false)
		return
	}
	a.commitStart = time.Now()
	p.commitFailed(a, fmt.Errorf("producing: %w", err))
}

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
	if mode == Superseded {
		p.endActivation(a, nil, false)
		return
	}
	if mode == Immediate || !a.live {
		p.endActivation(a, nil, true)
		return
	}
	if a.stopping {
		return
	}
	a.stopping = true
	p.setRole(RoleDeactivating)
	switch a.phase {
	case phaseProducing:
		if a.txn.n > 0 {
			p.startCommit(a)
		} else {
			p.endActivation(a, nil, true)
		}
	case phaseCommitting:
		// committed() finishes when the commit returns.
	default: // recovering or re-syncing: the last commit is the boundary
		p.endActivation(a, nil, true)
	}
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
		p.c.ActivationFailures++
		p.endActivation(a, err, true)
	}
}

// endActivation ends an activation at once. cause is nil for a requested
// deactivation. With abort, the open transaction is aborted before the
// producer closes; without (fenced, crashed), it is simply closed: the
// fence has aborted it already. The ring is kept; the echo trims it from now
// on, including for any commit whose outcome this member never learnt.
func (p *Pipeline) endActivation(a *activation, cause error, abort bool) {
	if p.act != a {
		return
	}
	if a.phase == phaseCommitting || a.phase == phaseRecovering || !p.failSince.IsZero() {
		// The client's last commit or abort has not answered, or commits
		// are failing: franz-go would answer an abort by initialising the
		// producer id again at its old epoch, and Kafka fences an ongoing
		// transaction on such a request before it looks at the epoch. Sent
		// into a cut that heals later, it would abort the transaction of
		// the member that has activated since. The peer's fence, or the
		// transaction timeout, ends this member's transaction instead.
		abort = false
	}
	p.act = nil
	a.cancel()
	p.dropHoles()
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
	p.setRole(RoleInactive)
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

// handleEcho takes a batch from the echo goroutine.
func (p *Pipeline) handleEcho(b *echoBatch) {
	if (b.start >= 0 && !p.noticeTopic(b.topicID, "echo consumer")) || !p.currentTopic(b.topicID) {
		// Records of a topic instance this member has left: the echo
		// is told to look again.
		p.recycleEcho(b)
		p.kickEcho()
		return
	}
	if b.start >= 0 {
		p.echoNext = b.start
		// Frames that ended on the line before the echo's start may
		// have been committed below it, unseen. (None when it starts
		// from the beginning of a topic: an empty one, or one created
		// again.)
		if b.startedAt != 0 && b.start > 0 {
			p.ring.Unseen(b.startedAt)
			p.rep.unseenHi = max(p.rep.unseenHi, b.startedAt)
		}
	}
	if b.hasWitness {
		p.setWitness(b.witness)
	}
	if b.hasOwn {
		p.checkTwin(b.own)
	}
	p.held, p.heldIdx = b, 0
	p.releaseHeld()
}

// releaseHeld applies the held echo batch. Records at or below ownThrough are
// this member's own commits, already trimmed. While the member is active and
// past its catch-up, any other record can only be one of its own commits
// whose result has not come back yet: the batch is held until it has (and
// ownThrough covers it) or until the member knows it must trim on echo
// after all (an aborted, re-syncing or ended activation).
func (p *Pipeline) releaseHeld() {
	b := p.held
	if b == nil {
		return
	}
	a := p.act
	hold := a != nil && (a.phase == phaseProducing || a.phase == phaseCommitting || a.phase == phaseRecovering)
	catchUp := a != nil && a.phase == phaseSyncing
	for ; p.heldIdx < len(b.recs); p.heldIdx++ {
		r := b.recs[p.heldIdx]
		if !r.control {
			if r.offset <= p.ownThrough {
				p.c.EchoRecords++
				p.c.EchoOwn++
				p.rep.seeTopic(backlog.Sighting{ID: r.echo.ID, Exact: r.echo.Exact, Win: r.echo.Win, Size: r.size})
			} else {
				if hold {
					return
				}
				p.c.EchoRecords++
				if !r.timed {
					p.c.EchoUntimed++
				}
				p.rep.seeTopic(backlog.Sighting{ID: r.echo.ID, Exact: r.echo.Exact, Win: r.echo.Win, Size: r.size})
				if res := p.ring.TrimEcho(r.echo); res.Kind == backlog.TrimRemembered {
					p.c.EchoRemembered++
				} else {
					p.c.EchoMatched++
					if catchUp {
						p.c.CatchUpTrims++
					}
				}
			}
		}
		p.echoNext = max(p.echoNext, r.offset+1)
	}
	p.held = nil
	p.recycleEcho(b)
	p.checkSynced()
}

// housekeep runs every housekeepEvery.
func (p *Pipeline) housekeep() {
	now := time.Now()
	p.ring.ForgetEchoes(hostclock.Now())
	if p.crossCheckStreaming() && !p.xc.sending {
		p.repairTick() // opens the stream of sightings, and arms its timer
	}
	a := p.act
	if a == nil || !p.failSince.IsZero() {
		return
	}
	// A commit is under way, or the transaction's first record (which goes
	// alone, see produceMore) still waits for the broker's answer: no
	// commit can start before it comes, so a broker that went away right
	// after it was sent must show here too.
	var since time.Time
	switch {
	case a.phase == phaseCommitting || a.phase == phaseRecovering:
		since = a.commitStart
	case a.phase == phaseProducing && a.txn.firstAlone():
		since = a.txn.started
	default:
		return
	}
	if now.Sub(since) > p.cfg.CommitTimeout {
		p.failSince = since
		p.log.Warn("commit taking longer than kafka.commit_timeout", "since", since, "commit_timeout", p.cfg.CommitTimeout)
		p.notify()
	}
}

func (p *Pipeline) status() Status {
	st := Status{
		Pipeline:           p.opt.Pipeline,
		Member:             p.opt.Member,
		Topic:              p.cfg.Topic,
		TopicID:            formatTopicID(p.topicID),
		TransactionalID:    p.txnID,
		Producer:           p.cfg.Producer,
		Role:               p.role,
		RoleSince:          p.roleSince,
		Ring:               p.ring.Stats(),
		LastCommitAt:       p.lastCommit,
		LastCommitOffset:   p.lastOffset,
		LastControlAt:      p.lastControl,
		ProducerID:         p.pid,
		ProducerEpoch:      p.epoch,
		CommitFailingSince: p.failSince,
		Kafka:              p.kafka.status(),
		EchoOffset:         p.echoNext,
		Witness:            p.witness,
		Twin:               p.twin,
		Cause:              p.cause,
		LastError:          p.lastErr,
		LastHole:           p.rep.last,
		CrossCheck:         p.crossCheckStatus(),
		Counters:           p.c,
	}
	if p.controlEnabled() {
		st.ControlTopic = p.cfg.ControlTopic
	}
	st.Counters.Accepted = p.in.accepted.Load()
	st.Counters.HandoffStalls = p.in.stalls.Load()
	st.Counters.Refused = p.in.refused.Load()
	return st
}
