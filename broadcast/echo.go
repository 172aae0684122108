package broadcast

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// echoRead is called by the echo consumer with each batch it read, before it
// hands the batch over: a no-op, which the package's tests replace
// (echo_delay_test.go) to stage an echo that reaches a member during its
// catch-up.
var echoRead = func(*Pipeline) {}

// echoRec is one record read back from the topic, reduced to what the ring's
// owner needs.
type echoRec struct {
	offset  int64
	echo    backlog.Echo
	size    int  // the value's length
	timed   bool // echo.Win was placed on this host's clock
	control bool // a transaction marker: it moves the position, trims nothing
}

// echoBatch is what the echo goroutine hands to the owner: the records of one
// poll, the position it started from if it was just positioned, and the
// latest witness among them. Batches are recycled through a free list.
type echoBatch struct {
	start int64 // >= 0: the consumer was positioned at this offset
	// startedAt is the host clock when the start offset was known: a
	// record below it may be of a frame that ended on the line before.
	// Zero when the consumer starts from the topic's first record.
	startedAt int64
	// topicID is the topic instance the records are of.
	topicID    kadm.TopicID
	recs       []echoRec
	witness    Witness
	hasWitness bool
	// own is the latest record carrying our own member id, if any.
	own    ownRecord
	hasOwn bool
}

// echoFetchMaxWait bounds how long the broker holds a fetch with nothing to
// return. The broker answers as soon as committed data is there; this only
// sets how stale "nothing new" can be, and costs a request per interval.
const echoFetchMaxWait = 500 * time.Millisecond

// newCommittedReader returns a read_committed consumer client named after
// its role (echo, control). It keeps control records (transaction markers),
// so its owner always knows how far it has read, even when the last entries
// before the last stable offset are markers of aborted transactions; reset
// says where to go when retention removed what it had not read yet.
func (p *Pipeline) newCommittedReader(role string, maxWait time.Duration, reset kgo.Offset) (*kgo.Client, error) {
	opts, err := connOpts(p.cfg, p.clientID(role), p.kgoLog)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(maxWait),
		kgo.ConsumeResetOffset(reset),
	)
	if p.opt.Registerer != nil {
		opts = append(opts, kgo.WithHooks(p.clientMetrics("kafka_"+role)))
	}
	return kgo.NewClient(opts...)
}

// runEcho consumes the topic with isolation level read_committed for the
// life of the pipeline and hands every committed record's identity to the
// owner goroutine. It keeps control records (transaction markers) so that
// the owner always knows how far it has read, even when the last entries
// before the last stable offset are markers of aborted transactions.
//
// It starts at the topic's last stable offset. When it finds the topic
// deleted and created again (recreate.go), it follows the new instance
// from its first record, with a fresh client: franz-go never consumes a
// recreated topic through the client that read the old one.
func (p *Pipeline) runEcho(ctx context.Context) {
	fromStart := false
	for {
		// If retention deleted what the echo had not read yet, read from
		// the start of what is left rather than skip to the end: a skipped
		// commit would leave its frames in the ring for a later duplicate.
		cl, err := p.newCommittedReader("echo", echoFetchMaxWait, kgo.NewOffset().AtStart())
		if err != nil { // the options were checked by New; only a vanished file gets here
			p.log.Error("echo consumer cannot start", "err", err)
			return
		}
		recreated := p.followEcho(ctx, cl, fromStart)
		cl.Close()
		if !recreated {
			return
		}
		fromStart = true
	}
}

// followEcho positions the echo client and hands over what it reads. It
// returns when ctx ends (false), or when the topic has a new id (true).
func (p *Pipeline) followEcho(ctx context.Context, cl *kgo.Client, fromStart bool) bool {
	start, at, id, ok := p.positionEcho(ctx, cl, fromStart)
	if !ok {
		return false
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{p.cfg.Topic: {0: kgo.NewOffset().At(start)}})
	b := p.echoBatch()
	b.start, b.startedAt, b.topicID = start, at, id
	if !p.sendEcho(ctx, b) {
		return false
	}
	p.log.Info("echo consumer positioned", "topic", p.cfg.Topic, "topic_id", formatTopicID(id), "offset", start)

	w := topicWatch{p: p, cl: cl, topic: p.cfg.Topic, id: id, contact: &p.kafka}
	var lastErrLog time.Time
	next := start
	for {
		pctx, done := pollContext(ctx, p.echoKick)
		fs := cl.PollFetches(pctx)
		quiet := pctx.Err() != nil // nothing for topicCheckIdle, or kicked
		done()
		if ctx.Err() != nil {
			return false
		}
		failed := p.fetchFailed(pctx, fs, "echo consumer: fetch failing; retrying", &lastErrLog, func(err error) { p.kafka.failed(err, time.Now()) })
		b := p.echoBatch()
		b.topicID = id
		received := hostclock.Now()
		var rx int64 // the receive time of the batch's witness
		backwards := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < next {
				backwards = true
			}
			next = r.Offset + 1
			if r.Attrs.IsControl() {
				b.recs = append(b.recs, echoRec{offset: r.Offset, control: true})
				return
			}
			rec := echoRec{offset: r.Offset, size: len(r.Value)}
			meta := ParseRecordMeta(r)
			rec.echo.ID, rec.echo.Exact = meta.Identity(r.Value)
			rec.echo.Possible = rec.echo.Exact && meta.Possible
			rec.echo.Win = backlog.Window{Lo: backlog.NoLo, Hi: received}
			if meta.HasWindow {
				rec.echo.Win, rec.timed = p.clocks.window(meta.Clock, meta.Window, received)
			}
			b.recs = append(b.recs, rec)
			if m := meta.Member; len(m) > 0 && !bytes.Equal(m, p.shape.member) {
				if string(m) != b.witness.Member { // a recycled batch keeps the string
					b.witness.Member = string(m)
				}
				b.hasWitness = true
				b.witness.Offset = r.Offset
				rx = meta.ReceivedAt
			} else if len(m) > 0 {
				b.own, b.hasOwn = ownRecord{offset: r.Offset, pid: r.ProducerID, epoch: r.ProducerEpoch}, true
			}
		})
		if (quiet || failed || backwards) && w.changed(ctx, quiet || backwards) {
			// Whatever this poll read is of the old topic: drop it.
			p.recycleEcho(b)
			return true
		}
		if len(b.recs) == 0 {
			p.recycleEcho(b)
			continue
		}
		p.kafka.ok(time.Now())
		echoRead(p)
		if b.hasWitness { // SeenAt is stamped by the owner
			b.witness.ReceivedAt = time.Time{}
			if rx != 0 {
				b.witness.ReceivedAt = time.Unix(0, rx).UTC()
			}
		}
		if !p.sendEcho(ctx, b) {
			return false
		}
	}
}

// fetchFailed reports whether a poll's fetches hold an error other than the
// end of the poll's own context pctx, which only cut the poll short. Each
// such error goes to onErr, if set, and the first in any 10 s is logged as
// msg (lastLog keeps when): a consumer retries for as long as Kafka is
// away, and must not flood the log meanwhile.
func (p *Pipeline) fetchFailed(pctx context.Context, fs kgo.Fetches, msg string, lastLog *time.Time, onErr func(error)) bool {
	failed := false
	fs.EachError(func(_ string, _ int32, err error) {
		if pctx.Err() != nil && errors.Is(err, pctx.Err()) {
			return
		}
		failed = true
		if onErr != nil {
			onErr(err)
		}
		if time.Since(*lastLog) >= 10*time.Second {
			p.log.Warn(msg, "err", err)
			*lastLog = time.Now()
		}
	})
	return failed
}

// pollContext is ctx for one poll: it ends after topicCheckIdle, or when
// kick fires. Call done once the poll has returned.
func pollContext(ctx context.Context, kick <-chan struct{}) (pctx context.Context, done func()) {
	pctx, cancel := context.WithTimeout(ctx, topicCheckIdle)
	polled := make(chan struct{})
	go func() {
		select {
		case <-kick:
			cancel()
		case <-polled:
		case <-pctx.Done():
		}
	}()
	return pctx, func() { close(polled); cancel() }
}

// topicWatch asks the broker for a consumed topic's id when its consumer
// sees something amiss, and tells whether it is another instance now.
type topicWatch struct {
	p       *Pipeline
	cl      *kgo.Client
	topic   string
	id      kadm.TopicID // the instance the consumer reads
	asked   time.Time
	missing time.Time // the last "topic missing" log
	// contact, when set, learns whether Kafka answered (the echo's
	// watch: the member's view of Kafka while the topic is quiet).
	contact *kafkaContact
}

// changed asks for the topic's id (at most once a second unless now) and
// reports whether it differs from the one the consumer reads. A missing
// topic is not changed yet: it is logged, and asked again later.
func (w *topicWatch) changed(ctx context.Context, now bool) bool {
	if !now && time.Since(w.asked) < time.Second {
		return false
	}
	w.asked = time.Now()
	id, err := fetchTopicID(ctx, w.cl, w.topic)
	if w.contact != nil && ctx.Err() == nil {
		if err != nil {
			w.contact.failed(err, time.Now())
		} else {
			w.contact.ok(time.Now())
		}
	}
	switch {
	case err != nil:
		if ctx.Err() == nil && time.Since(w.missing) >= 30*time.Second {
			w.p.log.Warn("cannot find the topic's id; is the topic missing?", "topic", w.topic, "topic_id", formatTopicID(w.id), "err", err)
			w.missing = time.Now()
		}
		return false
	case id == w.id || id == (kadm.TopicID{}):
		return false
	}
	w.p.log.Info("the consumed topic has a new id: it was deleted and created again", "topic", w.topic,
		"old_topic_id", formatTopicID(w.id), "topic_id", formatTopicID(id))
	return true
}

// positionEcho makes sure the topic exists with a sound shape and finds the
// offset to start from, with the topic's id. That is the topic's last
// stable offset, returned with the host clock at the answer: every record
// at or after that offset was committed later, so a frame whose line window
// starts after that moment cannot have a record before the offset. (It used
// to start at a record timestamp before the member's start, comparing
// another host's clock with this one.) fromStart (the topic was created
// again) starts at the topic's first record instead, with a zero clock:
// nothing was committed before it, unless retention has removed records
// already. It retries until the broker answers or ctx ends.
func (p *Pipeline) positionEcho(ctx context.Context, cl *kgo.Client, fromStart bool) (int64, int64, kadm.TopicID, bool) {
	var lastLog time.Time
	for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		off, id, err := p.echoStart(ctx, cl, fromStart)
		if err == nil {
			p.kafka.ok(time.Now())
			at := hostclock.Now()
			if fromStart && off == 0 {
				at = 0
			}
			return off, at, id, true
		}
		if ctx.Err() != nil {
			return 0, 0, id, false
		}
		p.kafka.failed(err, time.Now())
		if time.Since(lastLog) >= 30*time.Second {
			p.log.Warn("echo consumer cannot position on the topic; retrying", "topic", p.cfg.Topic, "err", err)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, 0, id, false
		case <-time.After(backoff):
		}
	}
}

func (p *Pipeline) echoStart(ctx context.Context, cl *kgo.Client, fromStart bool) (int64, kadm.TopicID, error) {
	if _, err := p.checked.ensure(ctx, cl, p.cfg); err != nil {
		return 0, kadm.TopicID{}, err
	}
	if fromStart {
		return listOnInstance(ctx, cl, p.cfg.Topic, logStartOffset)
	}
	return listOnInstance(ctx, cl, p.cfg.Topic, lastStableOffset)
}

func (p *Pipeline) echoBatch() *echoBatch {
	select {
	case b := <-p.echoFree:
		b.start, b.startedAt, b.recs, b.hasWitness, b.hasOwn, b.topicID = -1, 0, b.recs[:0], false, false, kadm.TopicID{}
		return b
	default:
		return &echoBatch{start: -1}
	}
}

func (p *Pipeline) recycleEcho(b *echoBatch) {
	select {
	case p.echoFree <- b:
	default:
	}
}

func (p *Pipeline) sendEcho(ctx context.Context, b *echoBatch) bool {
	select {
	case p.echoes <- b:
		return true
	case <-ctx.Done():
		return false
	}
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
	// The echo of a frame the active held for the cross-check: it goes on
	// publishing such frames, so this member's watermark is wanted soon,
	// even while its own port delivers nothing.
	heldByActive := false
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
				heldByActive = heldByActive || p.crossCheckFrame(r.echo.Exact)
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
	if heldByActive && p.crossCheckStreaming() {
		p.keepSightingsBusy(time.Now())
	}
	p.checkSynced()
}
