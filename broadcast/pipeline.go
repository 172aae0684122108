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
	"unicode"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/internal/tickgrid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
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
	// PeerHeard reports when the peer was last heard on the pair link (the
	// zero time: never), whether it is gone since (it died or left), and
	// whether this member has replaced it since because it fell silent. A
	// hole waits for backlog.repair_timeout even while the link is down if
	// the peer was heard within backlog.repair_patience: a peer that has
	// just died may start again and read the frames of the hole. Past the
	// timeout it stays held, and is asked about again, while the peer was
	// heard within backlog.repair_patience and is not gone: a link that is
	// down may come back with the frames. A replaced peer is waited on so
	// only for holes that certainly lost frames: it may be a stopped
	// process, or one starved of the processor that holds them. Nil: a hole
	// waits for backlog.repair_timeout only, and only when the request
	// went out.
	PeerHeard func() (at time.Time, gone, replaced bool)
	// ReadThrough reports the host-clock time before which the port has
	// handed over every frame that ended on the line
	// (ingest.Source.ReadThrough). Repair and the cross-check wait on it
	// for what the port may still deliver. Nil: the time less the port's
	// lag is taken instead, which a reader starved of the processor can
	// fall behind.
	ReadThrough func() int64
	// PortOpen reports whether the port is open (ingest.Source.Connected).
	// A closed port delivers nothing more of what it held, and the frames
	// it delivers once open again follow a hole: a hole held for frames
	// after it can be decided with what it delivered. Nil: always open.
	PortOpen func() bool
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
// that reads the active's keepalives, and, while active, the transactional
// producer that broadcasts the ring (and commits a control keepalive when
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
	// markersAskAfter: awaitMarkers does not ask the coordinator before
	// this time (unix nanoseconds), set by a commit worker when it could
	// not answer; markersWarned: that was logged.
	markersAskAfter atomic.Int64
	markersWarned   atomic.Bool
	// markersTook paces awaitMarkers' questions; kept by the commit
	// workers, one at a time.
	markersTook markerTimes

	// Owned by Run's goroutine.
	life    context.Context
	standby *standbyProducer
	ring    *backlog.Ring
	// ringLimits are the ring's bounds, for the metrics; fixed at New.
	ringLimits backlog.Config
	rep        repairs
	xc         crossCheck

	// drainedThrough is the port's watermark read before the last drain
	// (drainPort): every frame that ended on the line before it is in
	// the ring.
	drainedThrough int64
	// drainedClosed: the port was closed before the last drain, so the
	// drain took the last frames it delivered (portEnded).
	drainedClosed bool

	// ringID tells this process's ring from another's in repair answers
	// (positions restart with a process).
	ringID      uint64
	appendFn    func(*backlog.Frame, ingest.Hole)
	state       State
	stateSince  time.Time
	act         *activation
	lastClosed  chan struct{} // closed when the previous activation's producer is closed
	closers     sync.WaitGroup
	ownThrough  int64 // highest offset of this member's own commits, already trimmed
	echoNext    int64 // next offset the echo will hand over; -1 until positioned
	held        *echoBatch
	heldIdx     int
	commitTimer *time.Timer
	// controlTimer fires kafka.control_interval after the active member's
	// last commit (or its going live): a control keepalive is due.
	controlTimer *time.Timer
	controlArmed time.Time // when controlTimer was last armed
	// witnessSpared is SpareWitness's word, and witnessNews wakes the
	// loop when it changes.
	witnessSpared atomic.Bool
	witnessNews   chan struct{}
	shutdown      bool
	kafka         kafkaContact // safe from any goroutine
	witness       Witness
	twin          Witness
	// heldEpochs is the producer ids and epochs this process has held, newest
	// last (at most maxHeldEpochs): records of our member id under any
	// other were written by another process.
	heldEpochs  []producerEpoch
	cause       error
	lastErr     string
	failSince   time.Time
	lastCommit  time.Time
	lastOffset  int64
	lastControl time.Time // the last control keepalive committed
	controlLog  time.Time // rate-limits the control topic's error log
	pid         int64
	epoch       int16
	c           Counters
	rejectLog   time.Time
	oversizeLog time.Time
	lostLog     time.Time
	// numbersBackTold, backSoonSeen and backSoonLog: what was said of feed
	// sequence numbers that came back (sayNumbersBack).
	numbersBackTold bool
	backSoonSeen    uint64
	backSoonLog     time.Time

	// topicID is the id of the topic instance that the offsets above
	// (echoNext, ownThrough, lastOffset, the witness's) belong to, zero
	// until known; oldTopicIDs are the ids it replaced (recreate.go).
	topicID     kadm.TopicID
	oldTopicIDs []kadm.TopicID
	// checked is the topic instance whose shape was last found right.
	checked checkedTopic

	// Latency histograms, observed by Run's goroutine and exported by the
	// collector (a Histogram is safe for concurrent use).
	commitSeconds     prometheus.Histogram
	activationSeconds prometheus.Histogram
}

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
	case strings.IndexFunc(opt.Member, unicode.IsSpace) >= 0:
		// The record header separates its fields with spaces.
		return nil, fmt.Errorf("broadcast: Options.Member %q must not contain spaces", opt.Member)
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
			clock:    hostclock.ID(),
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
		witnessNews:   make(chan struct{}, 1),
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
		stateSince:    time.Now(),
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
	p.drainedThrough = backlog.NoLo
	p.ringID = rand.Uint64()
	p.kgoLog = newKgoLogger(p.log)
	p.kafka.notify = p.notify
	p.kafka.st.Brokers = slices.Clone(cfg.Brokers)
	p.standby = &standbyProducer{create: p.newProducer, warm: p.warmProducer}
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
		ID: f.Identity(), Exact: f.HasFeedSeq, Fingerprint: f.Fingerprint, Win: f.Line,
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
	p.standby.fill(life, time.Now())
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
	tick := time.NewTimer(tickgrid.Until(time.Now(), housekeepEvery))
	defer tick.Stop()
	p.log.Info("pipeline running", "topic", p.cfg.Topic, "transactional_id", p.txnID, "kafka", p.cfg.String())

	shutdown := ctx.Done()
	var deadline <-chan time.Time
	for !(p.shutdown && p.act == nil) {
		p.drainPort()
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
		case <-p.witnessNews:
			p.witnessChanged()
		case <-p.rep.timer.C:
			p.rep.armed = time.Time{}
			p.repairTick()
		case <-tick.C:
			tick.Reset(tickgrid.Until(time.Now(), housekeepEvery))
			p.housekeep()
		case <-shutdown:
			shutdown = nil
			p.shutdown = true
			deadline = time.After(p.opt.ShutdownTimeout)
			if p.act != nil {
				p.deactivate(Planned, nil)
			}
		case <-deadline:
			if a := p.act; a != nil {
				p.step(a, shutdownOverdue{errors.New("shutdown: the final commit took too long; left to the transaction timeout or the next fence")})
			}
		}
		p.in.unpark()
	}
	p.in.closed.Store(true)
	close(p.exiting)
	stop()
	echo.Wait()
	p.closers.Wait()
	p.standby.close()
	p.final = p.status()
	p.running.Store(false)
	close(p.done)
	p.log.Info("pipeline stopped", "ring_frames", p.ring.Len())
	return nil
}

func (p *Pipeline) setState(r State) {
	if p.state != r {
		p.state, p.stateSince = r, time.Now()
		p.notify()
	}
}

func (p *Pipeline) setError(err error) {
	if err != nil {
		p.lastErr = err.Error()
	}
}

// drainPort takes what the port handed over into the ring. The port
// stores its watermark after handing over the frames of a read, so a
// watermark read later may cover frames still waiting in the handoff, which
// the cross-check would take for frames the port lost; one read before the
// drain covers only frames in the ring once the drain ends. The frames
// drained meanwhile are judged by the previous one. Never call it from
// within a drain (appendFrame): the handoff is not reentrant.
func (p *Pipeline) drainPort() {
	through := p.portThrough(hostclock.Now())
	closed := p.opt.PortOpen != nil && !p.opt.PortOpen()
	p.in.drain(p.appendFn)
	p.drainedThrough, p.drainedClosed = through, closed
}

// appendFrame stores one handed-off frame in the ring; one that follows a
// hole in this member's own stream starts a repair while it is active.
func (p *Pipeline) appendFrame(f *backlog.Frame, hole ingest.Hole) {
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

// sayNumbersBack logs the first feed sequence number that came back, and
// numbers that came back too soon to be told apart by line time (at most
// every ten minutes): a feed whose frames then go unrecognised or are
// published twice, marked, should not have sequence: set.
func (p *Pipeline) sayNumbersBack(now time.Time) {
	if !p.ring.NumbersCameBack() {
		return
	}
	st := p.ring.Stats()
	if !p.numbersBackTold {
		p.numbersBackTold = true
		p.log.Info("a feed sequence number came back (a counter that wrapped, or a sender that restarted its count): from now on a number is taken for a frame only where line time agrees")
	}
	if st.NumbersBackSoon > p.backSoonSeen && now.Sub(p.backSoonLog) >= 10*time.Minute {
		p.log.Warn("feed sequence numbers come back too soon to tell their frames apart by line time: unset sequence: for this feed (docs/configuration.md)",
			"within", p.ringLimits.PassMargin+backlog.NumberedLate, "times", st.NumbersBackSoon-p.backSoonSeen, "total", st.NumbersBackSoon)
		p.backSoonSeen, p.backSoonLog = st.NumbersBackSoon, now
	}
}

// housekeep runs every housekeepEvery.
func (p *Pipeline) housekeep() {
	now := time.Now()
	p.ring.ForgetEchoes(hostclock.Now())
	p.sayNumbersBack(now)
	if p.crossCheckStreaming() && !p.xc.sending {
		p.repairTick() // opens the stream of sightings, and arms its timer
	}
	a := p.act
	if a == nil && !p.shutdown && isClosed(p.lastClosed) {
		// Only once the last activation's client is closed: two producer
		// clients at once would clash in the metrics.
		p.standby.fill(p.life, now)
	}
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
		p.step(a, commitOverdue{since})
	}
}
