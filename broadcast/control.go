package broadcast

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Control keepalives keep the Kafka witness alive while the feed is quiet.
//
// The witness (Status.Witness) is what tells an inactive member, when the
// pair link falls silent, that the active member is still alive and holding
// the transactional id: it then must not activate. Echoed data records are
// that evidence while frames flow; when the feed is quiet there are none. So
// the active member, after kafka.control_interval without a commit, commits
// a small record on the control topic, through the same transactional
// producer. Only the holder of the transactional id can commit, so a
// committed keepalive proves the lock as well as the life: a fenced zombie's
// keepalive fails (and tells the zombie it is fenced), and one it had in
// flight when fenced is aborted, invisible to read_committed.
//
// A keepalive is a transaction of its own, begun only when the open
// transaction holds no data: data and keepalives never share a transaction,
// and a keepalive never delays a data commit. It occupies the producer like
// a commit does (frames that arrive meanwhile wait in the ring for one
// round trip), and it fails like a commit does: a fence deactivates, any
// other failure aborts, re-syncs and reports "commit failing" after
// kafka.commit_timeout (which, on a quiet feed, is the only way the active
// notices that it lost Kafka).
//
// Every member reads the control topic with a consumer of its own,
// read_committed, from the topic's end, and takes each keepalive of another
// member as a witness, exactly like an echoed data record. It is a second
// client rather than a second partition of the echo consumer so that the
// control topic (missing, refused by an ACL, re-created) can never stall the
// echo, which trims the ring and which every activation waits on; the
// keepalives are liveness, the echo is correctness.

// controlRetryAfterSkip paces the attempts while the control topic cannot be
// used (missing and not creatable, or unfit): each attempt asks the broker.
const controlRetryAfterSkip = time.Second

// controlEnabled reports whether this pipeline writes and reads keepalives.
// The benchmarks' merely idempotent producer has no transactions to put
// them in.
func (p *Pipeline) controlEnabled() bool {
	return p.cfg.ControlInterval > 0 && p.transactional
}

// sparedControlInterval is the pace of the keepalives while the witness
// is spared (SpareWitness): slow, but enough for an active member with a
// quiet feed to notice within a second that it lost Kafka (its keepalive
// fails), which the keepalives are the only way of.
const sparedControlInterval = time.Second

// SpareWitness tells the pipeline whether the other members hear this one
// over the pair link, as the pair core judges it (ftpair.Node.
// WitnessNeeded): the witness the keepalives give is then not needed, and
// an active member with a quiet feed commits one every second instead of
// every kafka.control_interval. Told that it is needed again, it commits
// the next one as soon as kafka.control_interval has passed since the last
// commit. Until told otherwise, the witness is needed. Safe to call from
// any goroutine; it never blocks.
func (p *Pipeline) SpareWitness(spare bool) {
	if p.witnessSpared.Swap(spare) != spare {
		select {
		case p.witnessNews <- struct{}{}:
		default:
		}
	}
}

// witnessChanged is the loop's turn after SpareWitness changed its mind:
// a witness needed again is not left waiting for the slow keepalive.
func (p *Pipeline) witnessChanged() {
	if p.witnessSpared.Load() || !p.controlEnabled() || p.act == nil {
		return
	}
	p.controlTimer.Reset(max(0, p.cfg.ControlInterval-time.Since(p.controlArmed)))
}

// armControl (re)starts the wait for the next keepalive: called whenever the
// active member commits or starts producing.
func (p *Pipeline) armControl() {
	if p.controlEnabled() {
		every := p.cfg.ControlInterval
		if p.witnessSpared.Load() {
			every = max(every, sparedControlInterval)
		}
		p.controlArmed = time.Now()
		p.controlTimer.Reset(every)
	}
}

// controlDue fires after kafka.control_interval without a commit. A
// keepalive is due only while producing with nothing in the open
// transaction; otherwise a data commit is coming (and re-arms the timer), or
// the activation is committing, recovering or re-syncing (and re-arms it
// when it produces again).
func (p *Pipeline) controlDue() {
	if a := p.act; a != nil && a.live && !a.stopping && a.phase == phaseProducing && a.txn.n == 0 {
		p.startControl(a)
	}
}

// startControl commits a keepalive in a worker. Like a commit, it holds the
// producer: the owner goes on appending to the ring but produces nothing
// until the result is back.
func (p *Pipeline) startControl(a *activation) {
	p.commitTimer.Stop()
	p.step(a, commitStarted{})
	cl, check, pid, epoch := a.cl, !a.controlChecked, p.pid, p.epoch
	a.workers.Go(func() {
		r := p.keepalive(a.ctx, cl, check, pid, epoch)
		p.post(func() { p.keepaliveDone(a, r) })
	})
}

type keepaliveResult struct {
	commitResult
	checked bool  // the control topic was checked and found fit
	skipped error // the control topic cannot be used: nothing was produced
}

// controlValue is a keepalive's value: ASCII, "member=<id>
// producer_id=<id> epoch=<epoch>", the producer id and epoch the keepalive's
// transaction runs under (as known when it began).
func controlValue(member string, pid int64, epoch int16) []byte {
	return fmt.Appendf(nil, "member=%s producer_id=%d epoch=%d", member, pid, epoch)
}

// keepalive runs in a worker: check the control topic once per activation,
// produce one record on it, commit, begin the next transaction.
func (p *Pipeline) keepalive(ctx context.Context, cl *kgo.Client, check bool, pid int64, epoch int16) (r keepaliveResult) {
	r.pid, r.epoch = -1, -1
	if check {
		if err := EnsureControlTopic(ctx, cl, p.cfg); err != nil {
			r.skipped = err
			return r
		}
		r.checked = true
	}
	rec := &kgo.Record{
		Topic:     p.cfg.ControlTopic,
		Partition: 0,
		Value:     controlValue(p.opt.Member, pid, epoch),
		Headers: []kgo.RecordHeader{
			{Key: HeaderMember, Value: p.shape.member},
			{Key: HeaderTimestamp, Value: appendRFC3339(nil, time.Now().UnixNano())},
		},
	}
	// Not ProduceSync: once buffered, a record waits for the broker however
	// long it is away, whatever its context says, and a deactivation must
	// not wait for it (its close fails the record).
	produced := make(chan error, 1)
	cl.TryProduce(ctx, rec, func(_ *kgo.Record, err error) { produced <- err })
	select {
	case err := <-produced:
		if err != nil {
			r.err = fmt.Errorf("control keepalive: producing: %w", err)
			return r
		}
	case <-ctx.Done():
		r.err = fmt.Errorf("control keepalive: producing: %w", ctx.Err())
		return r
	}
	if err := awaitPartitionStored(ctx, cl, p.cfg.ControlTopic); err != nil {
		r.err = fmt.Errorf("control keepalive: commit: %w", err)
		return r
	}
	p.endAndBeginNext(ctx, cl, &r.commitResult, "control keepalive: commit")
	return r
}

// keepaliveDone handles the keepalive worker's result.
func (p *Pipeline) keepaliveDone(a *activation, r keepaliveResult) {
	if p.act != a {
		return // deactivated meanwhile
	}
	now := time.Now()
	p.c.CommitNanos += uint64(now.Sub(a.commitStart))
	p.c.EndTxnNanos += uint64(r.endTxn)
	p.c.MarkersNanos += uint64(r.settle)
	if r.checked {
		a.controlChecked = true
	}
	if r.committed {
		p.c.ControlKeepalives++
		p.lastControl = now
		if r.pid >= 0 {
			p.setProducer(r.pid, r.epoch)
		}
	}
	if r.skipped != nil {
		p.c.ControlSkipped++
		p.setError(r.skipped)
		if now.Sub(p.controlLog) >= 10*time.Second {
			p.log.Error("control keepalives cannot be written; the peer's Kafka witness is missing while the feed is quiet",
				"control_topic", p.cfg.ControlTopic, "err", r.skipped)
			p.controlLog = now
		}
	}
	if errors.Is(r.err, kerr.UnknownTopicID) {
		// The control topic was deleted and created again: franz-go
		// refuses it until the recovery purges it from the client.
		a.purgeControl, a.controlChecked = true, false
	}
	arm := p.armControl
	if r.skipped != nil {
		arm = func() { p.controlTimer.Reset(max(p.cfg.ControlInterval, controlRetryAfterSkip)) }
	}
	p.commitDone(a, r.commitResult, arm)
}

// controlSeen takes a keepalive batch from the control consumer: seen
// keepalives of other members, stale ones among them, and the witness if
// the latest was fresh.
func (p *Pipeline) controlSeen(seen, stale uint64, w *Witness, own *ownRecord) {
	p.c.ControlSeen += seen
	p.c.ControlStale += stale
	if w != nil {
		p.setWitness(*w)
	}
	if own != nil {
		p.checkTwin(*own)
	}
}

// setWitness records a new witness, stamped now (so that SeenAt only grows
// whichever consumer found it), and tells the pair protocol.
func (p *Pipeline) setWitness(w Witness) {
	w.SeenAt = time.Now()
	p.witness = w
	p.notify()
}

// controlFetchMaxWait bounds how long the broker holds a fetch of the
// control topic with nothing to return; a keepalive is returned as soon as
// it is committed.
const controlFetchMaxWait = 500 * time.Millisecond

// runControl consumes the control topic with isolation level
// read_committed for the life of the pipeline, from the topic's end (only
// fresh keepalives are evidence), and hands every other member's keepalive
// to the owner goroutine as a witness. A keepalive counts only if the fetch
// that returned it reached the last stable offset: one read while catching
// up (after the consumer was cut off from the broker, say) may be old, and
// an old keepalive proves nothing about now. If the control topic is
// deleted and created again, it follows the new one from its end, with a
// fresh client (franz-go never consumes a recreated topic through the
// client that read the old one).
func (p *Pipeline) runControl(ctx context.Context) {
	for {
		// Keepalives not read before retention removed them are
		// worthless: skip to the end.
		cl, err := p.newCommittedReader("control", controlFetchMaxWait, kgo.NewOffset().AtEnd())
		if err != nil {
			p.log.Error("control consumer cannot start", "err", err)
			return
		}
		recreated := p.followControl(ctx, cl)
		cl.Close()
		if !recreated {
			return
		}
	}
}

// followControl positions the control client at the control topic's end
// and hands over the keepalives it reads. It returns when ctx ends (false)
// or when the control topic has a new id (true).
func (p *Pipeline) followControl(ctx context.Context, cl *kgo.Client) bool {
	topic := p.cfg.ControlTopic
	start, id, ok := p.positionControl(ctx, cl)
	if !ok {
		return false
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(start)}})
	p.log.Info("control consumer positioned", "control_topic", topic, "topic_id", formatTopicID(id), "offset", start)

	w := topicWatch{p: p, cl: cl, topic: topic, id: id}
	var lastErrLog time.Time
	next := start
	for {
		pctx, done := pollContext(ctx, nil)
		fs := cl.PollFetches(pctx)
		quiet := pctx.Err() != nil
		done()
		if ctx.Err() != nil {
			return false
		}
		failed := p.fetchFailed(pctx, fs, "control consumer: fetch failing; retrying", &lastErrLog, nil)
		var seen, stale uint64
		var wit *Witness
		var own *ownRecord
		backwards := false
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if fp.Topic != topic || fp.Partition != 0 || len(fp.Records) == 0 {
				return
			}
			if fp.Records[0].Offset < next {
				backwards = true
			}
			var latest, ours *kgo.Record
			for _, r := range fp.Records {
				next = r.Offset + 1
				if r.Attrs.IsControl() {
					continue
				}
				switch m := headerValue(r, HeaderMember); {
				case len(m) == 0:
				case !bytes.Equal(m, p.shape.member):
					seen++
					latest = r
				default:
					ours = r
				}
			}
			if next < fp.LastStableOffset {
				stale += seen
				return
			}
			if ours != nil {
				own = &ownRecord{offset: ours.Offset, pid: ours.ProducerID, epoch: ours.ProducerEpoch, control: true}
			}
			if latest == nil {
				return
			}
			at, _ := time.Parse(time.RFC3339Nano, string(headerValue(latest, HeaderTimestamp)))
			wit = &Witness{Member: string(headerValue(latest, HeaderMember)), ReceivedAt: at, Offset: latest.Offset, Control: true}
		})
		if (quiet || failed || backwards) && w.changed(ctx, backwards) {
			// Keepalives are liveness only: nothing to reset but the
			// control witness's offset.
			p.log.Warn("the control topic was deleted and created again: following the new one from its end",
				"control_topic", topic, "old_topic_id", formatTopicID(id))
			if !p.post(p.controlRecreated) {
				return false
			}
			return true
		}
		if seen == 0 && own == nil {
			continue
		}
		if !p.post(func() { p.controlSeen(seen, stale, wit, own) }) {
			return false
		}
	}
}

// controlRecreated forgets the control witness's offset, of the old
// control topic.
func (p *Pipeline) controlRecreated() {
	if p.witness.Control {
		p.witness.Offset = -1
	}
}

// positionControl makes sure the control topic exists and finds its last
// stable offset and its id, retrying until the broker answers or ctx ends.
func (p *Pipeline) positionControl(ctx context.Context, cl *kgo.Client) (int64, kadm.TopicID, bool) {
	var lastLog time.Time
	for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := EnsureControlTopic(ctx, cl, p.cfg)
		var off int64
		var id kadm.TopicID
		if err == nil {
			off, id, err = listOnInstance(ctx, cl, p.cfg.ControlTopic, lastStableOffset)
		}
		if err == nil {
			return off, id, true
		}
		if ctx.Err() != nil {
			return 0, id, false
		}
		if time.Since(lastLog) >= 30*time.Second {
			p.log.Warn("control consumer cannot position on the control topic; retrying (the witness of a quiet feed is missing meanwhile)",
				"control_topic", p.cfg.ControlTopic, "err", err)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, id, false
		case <-time.After(backoff):
		}
	}
}

// maxHeldEpochs bounds Pipeline.heldEpochs: the echo trails the producer by a
// few transactions, not by dozens of activations.
const maxHeldEpochs = 32

// producerEpoch is a producer id and epoch this process held.
type producerEpoch struct {
	pid   int64
	epoch int16
}

// ownRecord is a committed record read back that carries our own member
// id, with the producer id and epoch of its batch.
type ownRecord struct {
	offset  int64
	pid     int64
	epoch   int16
	control bool
}

// setProducer records the producer id and epoch this process now holds.
func (p *Pipeline) setProducer(pid int64, epoch int16) {
	p.pid, p.epoch = pid, epoch
	pe := producerEpoch{pid, epoch}
	if n := len(p.heldEpochs); n > 0 && p.heldEpochs[n-1] == pe {
		return
	}
	if len(p.heldEpochs) == maxHeldEpochs {
		p.heldEpochs = slices.Delete(p.heldEpochs, 0, 1)
	}
	p.heldEpochs = append(p.heldEpochs, pe)
}

// checkTwin judges a committed record carrying our own member id: written
// under a producer epoch this process never held, it is another process's
// running under our id (Status.Twin). While this member activates or is
// active, a record of its own may carry an epoch the client took without
// telling us yet (it re-initialises the producer id on some errors), so
// nothing is judged then; a twin that fenced us shows again once we are
// inactive.
func (p *Pipeline) checkTwin(r ownRecord) {
	if p.act != nil || slices.Contains(p.heldEpochs, producerEpoch{r.pid, r.epoch}) {
		return
	}
	p.twin = Witness{Member: p.opt.Member, SeenAt: time.Now(), Offset: r.offset, Control: r.control, ProducerID: r.pid, ProducerEpoch: r.epoch}
	p.notify()
}
