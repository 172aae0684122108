package broadcast

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// echoRec is one record read back from the topic, reduced to what the ring's
// owner needs.
type echoRec struct {
	offset  int64
	id      uint64
	control bool // a transaction marker: it moves the position, trims nothing
}

// echoBatch is what the echo goroutine hands to the owner: the records of one
// poll, the position it started from if it was just positioned, and the
// latest witness among them. Batches are recycled through a free list.
type echoBatch struct {
	start      int64 // >= 0: the consumer was positioned at this offset
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

	start, ok := p.positionEcho(ctx, cl)
	if !ok {
		return
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{p.cfg.Topic: {0: kgo.NewOffset().At(start)}})
	b := p.echoBatch()
	b.start = start
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
		var rx []byte // feedd-rx of the batch's witness, parsed once at the end
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				b.recs = append(b.recs, echoRec{offset: r.Offset, control: true})
				return
			}
			b.recs = append(b.recs, echoRec{offset: r.Offset, id: recordIdentity(r)})
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
// offset to start from: the first record produced at or after the
// pipeline's creation less kafka.echo_lookback (every frame in the ring was
// received after the creation), or the end if there is none. It retries
// until the broker answers or ctx ends.
func (p *Pipeline) positionEcho(ctx context.Context, cl *kgo.Client) (int64, bool) {
	var lastLog time.Time
	for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		off, err := p.echoStart(ctx, cl)
		if err == nil {
			return off, true
		}
		if ctx.Err() != nil {
			return 0, false
		}
		if time.Since(lastLog) >= 30*time.Second {
			p.log.Warn("echo consumer cannot position on the topic; retrying", "topic", p.cfg.Topic, "err", err)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, false
		case <-time.After(backoff):
		}
	}
}

func (p *Pipeline) echoStart(ctx context.Context, cl *kgo.Client) (int64, error) {
	if err := EnsureTopic(ctx, cl, p.cfg); err != nil {
		return 0, err
	}
	adm := kadm.NewClient(cl)
	l, err := adm.ListOffsetsAfterMilli(ctx, p.created.Add(-p.cfg.EchoLookback).UnixMilli(), p.cfg.Topic)
	if err != nil {
		return 0, fmt.Errorf("listing offsets of %s: %w", p.cfg.Topic, err)
	}
	o, ok := l.Lookup(p.cfg.Topic, 0)
	switch {
	case !ok:
		return 0, fmt.Errorf("listing offsets of %s: no answer for partition 0", p.cfg.Topic)
	case o.Err != nil:
		return 0, fmt.Errorf("listing offsets of %s: %w", p.cfg.Topic, o.Err)
	}
	return o.Offset, nil
}

func (p *Pipeline) echoBatch() *echoBatch {
	select {
	case b := <-p.echoFree:
		b.start, b.recs, b.hasWitness = -1, b.recs[:0], false
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
