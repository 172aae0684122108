package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// connect checks o, applies its defaults and returns it with the client
// options the readers share and a client for the admin requests.
func (o Options) connect() (Options, []kgo.Opt, *kgo.Client, error) {
	if len(o.Brokers) == 0 {
		return o, nil, nil, errors.New("audit: no brokers")
	}
	if o.Topic == "" {
		return o, nil, nil, errors.New("audit: no topic")
	}
	if o.MaxListed <= 0 {
		o.MaxListed = DefaultMaxListed
	}
	base := append([]kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID("feedd-audit"),
		kgo.DisableClientMetrics(),
	}, o.ClientOpts...)
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return o, nil, nil, err
	}
	return o, base, cl, nil
}

// read reads the offsets r.From on, to r.End or, with o.Follow, until
// o.Stop and then to the last stable offset of that moment (which becomes
// r.End), and calls fn for each record.
func (o Options) read(ctx context.Context, base []kgo.Opt, adm *kadm.Client, r *Span, fn func(*kgo.Record)) error {
	if !o.Follow {
		return scan(ctx, base, o.Topic, r.From, r.End, fn)
	}
	end, err := follow(ctx, base, adm, o.Topic, r.From, o.Stop, fn)
	if err != nil {
		return err
	}
	r.End = end
	return nil
}

// begin finds the offsets to read into s and starts the progress
// monitor, o.Monitor or a new one.
func (o Options) begin(ctx context.Context, cl *kgo.Client, s *Span) (*kadm.Client, *Monitor, error) {
	s.Topic, s.Followed = o.Topic, o.Follow
	adm := kadm.NewClient(cl)
	if err := s.bounds(ctx, adm, o.From, o.FromEnd); err != nil {
		return nil, nil, err
	}
	mon := o.Monitor
	if mon == nil {
		mon = NewMonitor()
	}
	mon.update(func(p *Progress) { p.Started, p.From, p.NextOffset = true, s.From, s.From })
	return adm, mon, nil
}

// bounds finds the partition count, the log start and the last stable
// offset, and where to start.
func (r *Span) bounds(ctx context.Context, adm *kadm.Client, from int64, fromEnd bool) error {
	end, partitions, err := lastStable(ctx, adm, r.Topic)
	if err != nil {
		return err
	}
	r.Partitions = partitions
	starts, err := adm.ListStartOffsets(ctx, r.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("listing the log start offset of %s: %w", r.Topic, err)
	}
	start, ok := starts.Lookup(r.Topic, 0)
	if !ok {
		return fmt.Errorf("topic %s has no partition 0", r.Topic)
	}
	r.LogStart, r.End = start.Offset, end
	r.From = max(from, r.LogStart)
	if fromEnd {
		r.From = max(from, r.End)
	}
	if r.From > r.End {
		return fmt.Errorf("offset %d is beyond the last stable offset %d of %s", from, r.End, r.Topic)
	}
	return nil
}

// lastStable returns the last stable offset of the topic's partition 0,
// and the topic's partition count.
func lastStable(ctx context.Context, adm *kadm.Client, topic string) (int64, int, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return 0, 0, fmt.Errorf("topic %s does not exist", topic)
		}
		return 0, 0, fmt.Errorf("listing the last stable offset of %s: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok {
		return 0, 0, fmt.Errorf("topic %s has no partition 0", topic)
	}
	return end.Offset, len(ends[topic]), nil
}

// partitionReader reads partition 0 of a topic with read_committed from an
// offset on, keeping transaction markers so that it knows when it has
// reached an end offset even if the last records before it were aborted.
type partitionReader struct {
	cl    *kgo.Client
	topic string
	next  int64 // the offset to read next
}

func openReader(base []kgo.Opt, topic string, from int64) (*partitionReader, error) {
	opts := append(slices.Clone(base),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(from)}}),
		// Records deleted by retention while the audit reads are not
		// skipped silently: the error ends the audit.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &partitionReader{cl: cl, topic: topic, next: from}, nil
}

func (p *partitionReader) close() { p.cl.Close() }

// poll waits for one fetch (until pollCtx ends) and passes its records
// from p.next up to end (end < 0: no bound) to fn. Context errors are left
// to the caller, which knows which context ended.
func (p *partitionReader) poll(pollCtx context.Context, end int64, fn func(*kgo.Record)) error {
	fs := p.cl.PollFetches(pollCtx)
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
			continue
		}
		return fmt.Errorf("reading %s at offset %d: %w", p.topic, p.next, fe.Err)
	}
	fs.EachRecord(func(rec *kgo.Record) {
		if rec.Offset < p.next || (end >= 0 && rec.Offset >= end) {
			return
		}
		p.next = rec.Offset + 1
		fn(rec)
	})
	return nil
}

// scan reads offsets [from, end) and calls fn for each record.
func scan(ctx context.Context, base []kgo.Opt, topic string, from, end int64, fn func(*kgo.Record)) error {
	if from >= end {
		return nil
	}
	p, err := openReader(base, topic, from)
	if err != nil {
		return err
	}
	defer p.close()
	for p.next < end {
		if err := p.poll(ctx, end, fn); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %s: at offset %d of [%d, %d): %w", topic, p.next, from, end, err)
		}
	}
	return nil
}

// follow reads from offset from on, calling fn for each record, until stop
// is closed; then it reads on to the last stable offset of that moment and
// returns it.
func follow(ctx context.Context, base []kgo.Opt, adm *kadm.Client, topic string, from int64, stop <-chan struct{}, fn func(*kgo.Record)) (int64, error) {
	p, err := openReader(base, topic, from)
	if err != nil {
		return 0, err
	}
	defer p.close()
	following, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		select {
		case <-stop:
			stopFollowing()
		case <-following.Done():
		}
	}()
	defer func() { stopFollowing(); <-watching }()

	for following.Err() == nil {
		if err := p.poll(following, -1, fn); err != nil {
			return 0, err
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("following %s: at offset %d: %w", topic, p.next, err)
	}
	end, _, err := lastStable(ctx, adm, topic)
	if err != nil {
		return 0, err
	}
	end = max(end, p.next)
	for p.next < end {
		if err := p.poll(ctx, end, fn); err != nil {
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("reading %s to its end: at offset %d of %d: %w", topic, p.next, end, err)
		}
	}
	return end, nil
}
