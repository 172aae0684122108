package broadcast

import (
	"bytes"
	"context"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// echoRec is one record read back from the topic, reduced to what the ring's
// owner needs.
type echoRec struct {
	offset  int64
	echo    backlog.Echo
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
	startedAt  int64
	recs       []echoRec
	witness    Witness
	hasWitness bool
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
	opts, err := connOpts(p.cfg, p.clientID(role), p.log)
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
func (p *Pipeline) runEcho(ctx context.Context) {
	// If retention deleted what the echo had not read yet, read from the
	// start of what is left rather than skip to the end: a skipped commit
	// would leave its frames in the ring for a later duplicate.
	cl, err := p.newCommittedReader("echo", echoFetchMaxWait, kgo.NewOffset().AtStart())
	if err != nil { // the options were checked by New; only a vanished file gets here
		p.log.Error("echo consumer cannot start", "err", err)
		return
	}
	defer cl.Close()

	start, at, ok := p.positionEcho(ctx, cl)
	if !ok {
		return
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{p.cfg.Topic: {0: kgo.NewOffset().At(start)}})
	b := p.echoBatch()
	b.start, b.startedAt = start, at
	if !p.sendEcho(ctx, b) {
		return
	}
	p.log.Info("echo consumer positioned", "topic", p.cfg.Topic, "offset", start)

	var lastErrLog time.Time
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if time.Since(lastErrLog) >= 10*time.Second {
				p.log.Warn("echo consumer: fetch failing; retrying", "err", err)
				lastErrLog = time.Now()
			}
		})
		b := p.echoBatch()
		received := hostclock.Now()
		var rx []byte // feedd-rx of the batch's witness, parsed once at the end
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				b.recs = append(b.recs, echoRec{offset: r.Offset, control: true})
				return
			}
			rec := echoRec{offset: r.Offset}
			rec.echo.ID, rec.echo.Exact = recordIdentity(r)
			rec.echo.Win = backlog.Window{Lo: backlog.NoLo, Hi: received}
			if clock, w, ok := parseReadWindow(headerValue(r, HeaderReadWindow)); ok {
				rec.echo.Win, rec.timed = p.clocks.window(clock, w, received)
			}
			b.recs = append(b.recs, rec)
			if m := headerValue(r, HeaderMember); len(m) > 0 && !bytes.Equal(m, p.shape.member) {
				if string(m) != b.witness.Member { // a recycled batch keeps the string
					b.witness.Member = string(m)
				}
				b.hasWitness = true
				b.witness.Offset = r.Offset
				rx = headerValue(r, HeaderReceivedAt)
			}
		})
		if len(b.recs) == 0 {
			p.recycleEcho(b)
			continue
		}
		if d := p.testEchoDelay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		if b.hasWitness { // SeenAt is stamped by the owner
			b.witness.ReceivedAt, _ = time.Parse(time.RFC3339Nano, string(rx))
		}
		if !p.sendEcho(ctx, b) {
			return
		}
	}
}

// positionEcho makes sure the topic exists with a sound shape and finds the
// offset to start from: the topic's last stable offset. It returns it with
// the host clock at the answer: every record at or after that offset was
// committed later, so a frame whose line window starts after that moment
// cannot have a record before the offset. (It used to start at a record
// timestamp before the member's start, comparing another host's clock with
// this one.) It retries until the broker answers or ctx ends.
func (p *Pipeline) positionEcho(ctx context.Context, cl *kgo.Client) (int64, int64, bool) {
	var lastLog time.Time
	for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		off, err := p.echoStart(ctx, cl)
		if err == nil {
			return off, hostclock.Now(), true
		}
		if ctx.Err() != nil {
			return 0, 0, false
		}
		if time.Since(lastLog) >= 30*time.Second {
			p.log.Warn("echo consumer cannot position on the topic; retrying", "topic", p.cfg.Topic, "err", err)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, 0, false
		case <-time.After(backoff):
		}
	}
}

func (p *Pipeline) echoStart(ctx context.Context, cl *kgo.Client) (int64, error) {
	if err := EnsureTopic(ctx, cl, p.cfg); err != nil {
		return 0, err
	}
	return lastStableOffset(ctx, kadm.NewClient(cl), p.cfg.Topic)
}

func (p *Pipeline) echoBatch() *echoBatch {
	select {
	case b := <-p.echoFree:
		b.start, b.startedAt, b.recs, b.hasWitness = -1, 0, b.recs[:0], false
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
