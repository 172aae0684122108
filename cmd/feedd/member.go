package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/member"
)

// controller is the member's control loop: the one goroutine that owns the
// pair protocol core, feeds it events from the pair link, the pipeline and
// the port, and performs the actions it returns.
type controller struct {
	cfg  Config
	role string
	src  *ingest.Source
	pipe *broadcast.Pipeline
	link *link.Link   // nil for a fixed role
	node *ftpair.Node // nil for a fixed role
	log  *slog.Logger

	// Owned by the loop goroutine.
	activation  *pendingActivation
	lastFenced  uint64
	lastWitness time.Time
	lastTwin    time.Time
	clash       bool // a member id clash stands (logged once per episode)
	health      ftpair.Health
	feed        feedJudge
	refused     string
	retry       activationBackoff
	failLog     failureLog           // failed activations
	kafkaLog    failureLog           // the echo consumer losing Kafka
	lastKafka   broadcast.KafkaState // as last observed

	results chan activationResult
	// finals carries the outcome of a planned deactivation (its final
	// commit), run in a worker so that heartbeats go on meanwhile;
	// deactivating is set while one runs.
	finals       chan error
	deactivating bool
	requests     chan switchoverRequest
	fatalCh      chan error
	stopped      chan struct{}
	workers      sync.WaitGroup

	pairStatus atomic.Pointer[ftpair.Status]
	actStatus  atomic.Pointer[member.ActivationStatus]
	lastLoop   atomic.Int64
	// sd speaks to systemd when the member runs under it (nil in tests).
	sd *systemdNotifier
	// notify takes each role change for pair.notify (nil without one);
	// lastTrans is the latest transition handed to it.
	notify    func(roleChange)
	lastTrans ftpair.Transition
}

type pendingActivation struct {
	term   uint64
	cancel context.CancelFunc
}

type activationResult struct {
	term uint64
	err  error
}

type switchoverRequest struct {
	target string
	reply  chan error
}

func newController(cfg Config, role string, src *ingest.Source, pipe *broadcast.Pipeline, l *link.Link, log *slog.Logger) (*controller, error) {
	c := &controller{
		cfg: cfg, role: role, src: src, pipe: pipe, link: l, log: log,
		results:  make(chan activationResult, 1),
		finals:   make(chan error, 1),
		requests: make(chan switchoverRequest),
		fatalCh:  make(chan error, 1),
		stopped:  make(chan struct{}),
		feed:     feedJudge{window: cfg.Pair.Core.ActivationInterval},
		retry:    activationBackoff{min: cfg.Pair.Core.ActivationInterval, max: max(maxActivationRetry, cfg.Pair.Core.ActivationInterval)},
		failLog:  failureLog{every: maxActivationRetry},
		kafkaLog: failureLog{every: maxActivationRetry},
	}
	c.actStatus.Store(&member.ActivationStatus{})
	if role == roleAuto {
		// The start time in nanoseconds grows on every process start, which
		// is what the core needs to tell a restarted peer from a stale one.
		node, err := ftpair.NewNode(cfg.Pair.Core, uint64(time.Now().UnixNano()), time.Now())
		if err != nil {
			return nil, err
		}
		c.node = node
		st := node.Status()
		c.pairStatus.Store(&st)
	}
	c.lastLoop.Store(time.Now().UnixNano())
	return c, nil
}

// fatal stops the loop with err (from another goroutine).
func (c *controller) fatal(err error) {
	select {
	case c.fatalCh <- err:
	default:
	}
}

// run drives the member until ctx is cancelled or a fatal error, and leaves
// it inactive: an active member deactivates at a commit boundary.
func (c *controller) run(ctx context.Context) error {
	defer c.stopWorkers()
	if c.node == nil {
		return c.runFixed(ctx)
	}
	tick := time.NewTicker(c.cfg.Pair.Core.HeartbeatInterval / 2)
	defer tick.Stop()
	events := c.link.Events()
	c.step(ftpair.Tick{})
	for {
		select {
		case <-ctx.Done():
			c.shutdown()
			return nil
		case err := <-c.fatalCh:
			c.shutdown()
			return err
		case <-tick.C:
			c.observe()
			c.step(ftpair.Tick{})
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			c.step(ev)
		case <-c.pipe.Changed():
			c.observe()
		case r := <-c.results:
			c.finishActivation(r)
		case err := <-c.finals:
			c.finishDeactivation(err)
		case req := <-c.requests:
			c.refused = ""
			c.step(ftpair.SwitchoverRequested{Target: req.target})
			if c.refused != "" {
				req.reply <- errors.New(c.refused)
			} else {
				req.reply <- nil
			}
		}
		c.turned()
	}
}

// turned marks one turn of the control loop: what /healthz and systemd's
// watchdog watch.
func (c *controller) turned() {
	now := time.Now()
	c.lastLoop.Store(now.UnixNano())
	if c.sd != nil {
		c.sd.Alive(now)
	}
}

// notifyTransitions hands the transitions since the last one handed over
// to notify, oldest first. The core keeps its latest transitions; those
// after the last one handed over are new.
func (c *controller) notifyTransitions(st ftpair.Status) {
	trans := st.Transitions
	i := len(trans)
	for i > 0 && trans[i-1] != c.lastTrans {
		i--
	}
	if i == 0 && c.lastTrans != (ftpair.Transition{}) && len(trans) > 0 && trans[0] != c.lastTrans {
		// The last one handed over has left the core's list: every
		// transition it holds is newer only if it came later.
		for i < len(trans) && !trans[i].At.After(c.lastTrans.At) {
			i++
		}
	}
	for _, t := range trans[i:] {
		c.notify(roleChange{Transition: t, term: st.Term})
		c.lastTrans = t
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

// step feeds one event to the core and performs its actions in order.
func (c *controller) step(ev ftpair.Event) {
	for _, a := range c.node.Step(time.Now(), ev) {
		c.perform(a)
	}
	st := c.node.Status()
	c.pairStatus.Store(&st)
	c.logClash(st.MemberIDClash)
	if c.notify != nil {
		c.notifyTransitions(st)
	}
	if c.sd != nil && joined(st) {
		c.sd.Ready(fmt.Sprintf("member %s of pipeline %s: %s, term %d", c.cfg.MemberID, c.cfg.Pipeline, st.Role, st.Term))
	}
}

// logClash logs a member id clash once when it begins and once when it
// ends, however often its evidence repeats meanwhile.
func (c *controller) logClash(clash *ftpair.MemberIDClash) {
	switch {
	case clash != nil && !c.clash:
		c.log.Error("another process runs with this member's member_id; this member does not contend with its commits",
			"member_id", c.cfg.MemberID, "detail", clash.Detail)
	case clash == nil && c.clash:
		c.log.Info("member id clash over: no sign of another process with this member's member_id", "member_id", c.cfg.MemberID)
	}
	c.clash = clash != nil
}

func (c *controller) perform(a ftpair.Action) {
	switch a := a.(type) {
	case ftpair.SendHeartbeat:
		c.link.Send(a.To, a.Heartbeat)
	case ftpair.PrepareToActivate:
		c.log.Info("preparing to activate: the active member is silent", "peer", a.Peer)
	case ftpair.CancelPrepare:
		c.log.Info("preparation cancelled: the active member is heard again")
	case ftpair.Activate:
		// Retries after a failure are summed up by the failure's log line.
		level := slog.LevelInfo
		if c.retry.failures > 0 {
			level = slog.LevelDebug
		}
		c.log.Log(context.Background(), level, "activating", "reason", a.Reason, "term", a.Term, "replacing", a.Peer)
		c.startActivation(a.Term)
	case ftpair.Deactivate:
		c.log.Warn("deactivating", "reason", a.Reason, "planned", a.Planned, "handover_to", a.HandoverTo, "detail", a.Detail)
		switch {
		case a.Planned:
			c.startDeactivation()
		case a.Reason == ftpair.ReasonSuperseded || a.Reason == ftpair.ReasonFenced:
			c.deactivate(broadcast.Superseded)
		default:
			c.deactivate(broadcast.Immediate)
		}
	case ftpair.RequestRefused:
		c.refused = a.Reason
		c.log.Info("request refused", "request", a.Request, "reason", a.Reason)
	default:
		c.log.Error("unknown action from the pair protocol", "action", fmt.Sprint(a))
	}
}

// startActivation runs the pipeline's activation (fence, catch up, flush)
// in a worker so the loop keeps exchanging heartbeats meanwhile, bounded by
// pair.activation_timeout: past it the activation is reported failed.
func (c *controller) startActivation(term uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Pair.ActivationTimeout)
	c.activation = &pendingActivation{term: term, cancel: cancel}
	c.workers.Go(func() {
		err := c.pipe.Activate(ctx)
		select {
		case c.results <- activationResult{term: term, err: err}:
		case <-c.stopped:
		}
	})
}

func (c *controller) finishActivation(r activationResult) {
	if c.activation == nil || c.activation.term != r.term {
		return // cancelled by a Deactivate; the core has moved on
	}
	c.activation.cancel()
	c.activation = nil
	switch {
	case r.err == nil:
		if n := c.failLog.recovered(); n > 0 {
			c.log.Info("active", "term", r.term, "after_failed_attempts", n)
		} else {
			c.log.Info("active", "term", r.term)
		}
		c.retry.reset()
		c.actStatus.Store(&member.ActivationStatus{})
		c.step(ftpair.ActivationFinished{Term: r.term})
	case errors.Is(r.err, broadcast.ErrFenced):
		c.step(ftpair.Fenced{Term: r.term})
	default:
		now := time.Now()
		delay := c.retry.failed()
		wait := max(delay, c.cfg.Pair.Core.ActivationInterval) // the core's hold-off
		logFailure(c.log, &c.failLog, "activation failed; retrying later", now,
			"term", r.term, "err", r.err, "retry_in", wait.Round(time.Millisecond))
		c.actStatus.Store(&member.ActivationStatus{
			FailuresInARow: c.retry.failures, LastError: r.err.Error(), LastErrorAt: now, NextAttempt: now.Add(wait),
		})
		c.step(ftpair.ActivationFailed{Term: r.term, Err: r.err.Error(), RetryAfter: delay})
	}
}

// deactivate stops the pipeline producing (see stop), cancelling an
// activation under way.
func (c *controller) deactivate(mode broadcast.DeactivateMode) {
	if c.activation != nil {
		c.activation.cancel()
		c.activation = nil
	}
	c.stop(mode)
}

// stop stops the pipeline producing; a planned stop finishes at a commit
// boundary, and falls back to an immediate stop if that commit fails. It
// returns the final commit's error, if any. It only calls the pipeline, so
// a worker may run it.
func (c *controller) stop(mode broadcast.DeactivateMode) error {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	err := c.pipe.Deactivate(ctx, mode)
	var final error
	if err != nil && !errors.Is(err, broadcast.ErrNotActive) && mode == broadcast.Planned {
		c.log.Error("planned deactivation could not commit; stopping at once", "err", err)
		final = err
		err = c.pipe.Deactivate(ctx, broadcast.Immediate)
	}
	if err != nil && !errors.Is(err, broadcast.ErrNotActive) {
		c.log.Error("deactivation", "err", err)
	}
	return final
}

// startDeactivation performs a planned Deactivate in a worker: the final
// commit may take longer than the activation interval, and the loop must go
// on stepping the core meanwhile, whose heartbeats keep claiming the slot
// until finishDeactivation reports the commit done. An immediate Deactivate
// meanwhile (a fence) ends the pipeline's activation, and this one with it.
func (c *controller) startDeactivation() {
	if c.activation != nil {
		c.activation.cancel()
		c.activation = nil
	}
	c.deactivating = true
	c.workers.Go(func() {
		err := c.stop(broadcast.Planned)
		select {
		case c.finals <- err:
		case <-c.stopped:
		}
	})
}

// finishDeactivation tells the core that the final commit of a planned
// deactivation is done (or failed and was aborted): it announces the
// handover now.
func (c *controller) finishDeactivation(err error) {
	c.deactivating = false
	if errors.Is(err, broadcast.ErrFenced) {
		// Someone took the lock during the final commit: no handover.
		c.step(ftpair.Fenced{})
		return
	}
	ev := ftpair.DeactivationFinished{}
	if err != nil {
		ev.Err = err.Error()
	}
	c.step(ev)
}

// observe turns what the pipeline and the port report into core events:
// fencing, the Kafka witness, and changes of this member's health.
func (c *controller) observe() {
	st := c.pipe.Status()
	if st.Counters.Fenced > c.lastFenced {
		c.lastFenced = st.Counters.Fenced
		c.log.Warn("fenced: another member holds the transactional id")
		c.step(ftpair.Fenced{})
	}
	if w := st.Witness; w.SeenAt.After(c.lastWitness) && w.Member != "" && w.Member != c.cfg.MemberID {
		c.lastWitness = w.SeenAt
		c.step(ftpair.WitnessSeen{Member: w.Member})
		c.peerCommitted(w.SeenAt)
	}
	if tw := st.Twin; tw.SeenAt.After(c.lastTwin) {
		// Committed under our own id by a producer epoch this process never
		// held: another process runs with our member_id.
		c.lastTwin = tw.SeenAt
		c.step(ftpair.WitnessSeen{Member: c.cfg.MemberID})
	}
	c.observeKafka(st)
	port := c.src.Health()
	// Frames the cross-check found this port dropped whole, with no sign
	// of its own, are holes in its stream as much as the ones it showed.
	port.Holes += st.Counters.CrossCheckMissed
	h := ftpair.Health{Feed: c.feed.judge(time.Now(), port)}
	switch {
	case !st.CommitFailingSince.IsZero():
		h.Kafka, h.KafkaFailingSince = ftpair.KafkaFailing, st.CommitFailingSince
	case st.State == broadcast.StateInactive && st.Kafka.State == broadcast.KafkaFailing:
		// An inactive member judges Kafka by its echo consumer: one that
		// cannot reach Kafka is no candidate (it would only fail to
		// activate), and its heartbeats tell the peers so.
		h.Kafka, h.KafkaFailingSince = ftpair.KafkaFailing, st.Kafka.Since
	}
	if h != c.health {
		c.log.Info("health changed", "feed", h.Feed, "kafka", h.Kafka)
		c.health = h
		c.step(ftpair.HealthChanged{Health: h})
	}
}

// peerCommitted restarts the activation backoff when a peer's commit was
// seen after this member's last failed activation: Kafka takes the pair's
// transactions again, so whatever made the attempts fail (a broker
// restarting, most often, which the echo consumer need not notice) is over.
// Without it a member that lost every race to activate kept its count, and
// each outage after started it further up the backoff: after a broker's
// fifth restart the pair waited half a minute to go live again.
func (c *controller) peerCommitted(seen time.Time) {
	a := *c.actStatus.Load()
	if c.retry.failures == 0 || !seen.After(a.LastErrorAt) {
		return
	}
	c.retry.reset()
	a.FailuresInARow = 0 // the last error stays on show
	c.actStatus.Store(&a)
}

// observeKafka logs the echo consumer losing Kafka and finding it again, and
// restarts the activation backoff when Kafka answers again: the outage that
// made the attempts fail is over.
func (c *controller) observeKafka(st broadcast.Status) {
	k := st.Kafka
	if k.State == c.lastKafka {
		return
	}
	was := c.lastKafka
	c.lastKafka = k.State
	switch {
	case k.State == broadcast.KafkaFailing:
		logFailure(c.log, &c.kafkaLog, "kafka unreachable or refusing", time.Now(),
			"brokers", strings.Join(k.Brokers, ","), "err", k.LastError)
	case k.State == broadcast.KafkaOK && was == broadcast.KafkaFailing:
		c.kafkaLog.recovered()
		c.log.Info("kafka reachable again", "brokers", strings.Join(k.Brokers, ","), "failing_since", k.LastErrorAt)
		c.retry.reset()
		if a := *c.actStatus.Load(); a.FailuresInARow > 0 {
			a.FailuresInARow = 0 // the last error stays on show
			c.actStatus.Store(&a)
		}
	}
}

// shutdown leaves the group: an active member commits what it holds and
// stops; the pair link then tells the peers this member is leaving, which
// they treat as an obituary and take over at once.
func (c *controller) shutdown() {
	if c.sd != nil {
		c.sd.Stopping()
	}
	if c.deactivating {
		// A planned deactivation is finishing its final commit: let it.
		c.log.Info("shutting down: waiting for the final commit")
		select {
		case err := <-c.finals:
			c.finishDeactivation(err)
		case <-time.After(stepTimeout + time.Second):
			c.log.Error("shutting down: the final commit did not finish; stopping at once")
			c.deactivate(broadcast.Immediate)
		}
		return
	}
	if r := c.node.Role(); r == ftpair.RoleActive || r == ftpair.RoleActivating {
		c.log.Info("shutting down: deactivating at a commit boundary")
		c.deactivate(broadcast.Planned)
	}
}

func (c *controller) stopWorkers() {
	if c.activation != nil {
		c.activation.cancel()
	}
	close(c.stopped)
	c.workers.Wait()
}

// runFixed keeps a fixed role: --role active activates (retrying while
// Kafka is unreachable) and stays active until fenced; --role inactive only
// keeps the ring.
func (c *controller) runFixed(ctx context.Context) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	wantActive := c.role == roleActive
	c.retry = activationBackoff{min: 250 * time.Millisecond, max: maxActivationRetry}
	var retry <-chan time.Time // fires when the next attempt is due
	due := wantActive
	if c.sd != nil {
		c.sd.Ready(fmt.Sprintf("member %s of pipeline %s: fixed role %s", c.cfg.MemberID, c.cfg.Pipeline, c.role))
	}
	for {
		if wantActive && due {
			due = false
			err := c.pipe.Activate(ctx)
			switch {
			case err == nil:
				c.log.Info("active (fixed role)", "after_failed_attempts", c.failLog.recovered())
				wantActive = false
				c.retry.reset()
				c.actStatus.Store(&member.ActivationStatus{})
				c.lastFenced = c.pipe.Status().Counters.Fenced
			case ctx.Err() != nil:
			default:
				now := time.Now()
				backoff := c.retry.failed()
				logFailure(c.log, &c.failLog, "activation failed; retrying later", now, "err", err, "retry_in", backoff.Round(time.Millisecond))
				c.actStatus.Store(&member.ActivationStatus{
					FailuresInARow: c.retry.failures, LastError: err.Error(), LastErrorAt: now, NextAttempt: now.Add(backoff),
				})
				retry = time.After(backoff)
			}
		}
		c.observeKafka(c.pipe.Status())
		if wantActive && !due && retry != nil && c.retry.failures == 0 {
			due, retry = true, nil // Kafka answers again: try at the next tick
		}
		select {
		case <-ctx.Done():
			if c.sd != nil {
				c.sd.Stopping()
			}
			if c.pipe.Status().State == broadcast.StateActive {
				c.deactivate(broadcast.Planned)
			}
			return nil
		case err := <-c.fatalCh:
			return err
		case req := <-c.requests:
			req.reply <- errors.New("switchover needs the pair protocol; this member runs with a fixed --role")
		case <-c.pipe.Changed():
			if st := c.pipe.Status(); st.Counters.Fenced > c.lastFenced {
				c.lastFenced = st.Counters.Fenced
				c.log.Error("fenced by another member; a fixed-role member stays inactive")
			}
		case <-tick.C:
		case <-retry:
			due = true
		}
		c.turned()
	}
}

// requestSwitchover asks the loop for a planned switchover (admin endpoint).
func (c *controller) requestSwitchover(ctx context.Context, target string) error {
	req := switchoverRequest{target: target, reply: make(chan error, 1)}
	select {
	case c.requests <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stopped:
		return errors.New("member is shutting down")
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *controller) status() any {
	s := member.Status{
		StatusVersion: member.StatusVersion,
		Pipeline:      c.cfg.Pipeline,
		Member:        c.cfg.MemberID,
		Version:       versionString(),
		Mode:          c.role,
		Ingest:        c.src.Health(),
		Broadcast:     c.pipe.Status(),
		Activation:    c.actStatus.Load(),
	}
	s.Role = s.Broadcast.State.String()
	if c.node != nil {
		s.Pair = c.pairStatus.Load()
		s.Role = s.Pair.Role.String()
		ls := c.link.Status()
		s.Link = &ls
	}
	return s
}

// healthy fails when the control loop has stopped turning.
func (c *controller) healthy() error {
	limit := max(2*time.Second, 10*c.cfg.Pair.Core.HeartbeatInterval)
	if d := time.Since(time.Unix(0, c.lastLoop.Load())); d > limit {
		return fmt.Errorf("control loop has not run for %v", d.Round(time.Millisecond))
	}
	return nil
}

// ready fails while this member could not serve as the active one, with
// every reason.
func (c *controller) ready() error {
	var why []string
	h := c.src.Health()
	switch {
	case !h.Connected:
		why = append(why, fmt.Sprintf("serial device %s is not open", c.cfg.Serial.Device))
	case h.Quiet:
		why = append(why, "serial line is quiet")
	}
	st := c.pipe.Status()
	if !st.CommitFailingSince.IsZero() {
		why = append(why, fmt.Sprintf("kafka commits failing since %s", st.CommitFailingSince.Format(time.RFC3339)))
	}
	switch k := st.Kafka; k.State {
	case broadcast.KafkaUnknown:
		why = append(why, fmt.Sprintf("kafka (%s) has not answered yet", strings.Join(k.Brokers, ",")))
	case broadcast.KafkaFailing:
		why = append(why, fmt.Sprintf("kafka (%s) unreachable or refusing since %s: %s",
			strings.Join(k.Brokers, ","), k.Since.Format(time.RFC3339), k.LastError))
	}
	// A failed activation counts while the member may still be retrying:
	// within the longest it waits between two attempts and an attempt.
	if a := c.actStatus.Load(); a.FailuresInARow > 0 && time.Since(a.LastErrorAt) < maxActivationRetry+c.cfg.Pair.ActivationTimeout {
		why = append(why, fmt.Sprintf("activation failed %d times in a row, last at %s: %s",
			a.FailuresInARow, a.LastErrorAt.Format(time.RFC3339), a.LastError))
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New(strings.Join(why, "; "))
}
