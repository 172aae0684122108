package audit

import (
	"context"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ingest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultMaxListed is how many gaps, duplicates, out-of-order points,
// repeated fingerprints and handovers a report lists, each, unless
// Options.MaxListed says otherwise. Counts are always exact.
const DefaultMaxListed = 100

// Options say what to audit and how to connect.
type Options struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// Topic is the pipeline's topic. Partition 0 is read (a pipeline's
	// topic has exactly one).
	Topic string
	// From is the first offset to read; below the log start offset (0
	// included) the audit starts at the log start offset.
	From int64
	// ClientOpts are added to the consumer's options, after the audit's
	// own: TLS, SASL, a logger.
	ClientOpts []kgo.Opt
	// MaxListed bounds each list of findings (default DefaultMaxListed).
	MaxListed int
	// AllowRepeatedFrames keeps repeated fingerprints (records without a
	// feed sequence whose bytes repeat) from making the report unclean: for
	// feeds whose frames can legitimately repeat byte for byte. They are
	// still counted and listed.
	AllowRepeatedFrames bool
	// FromEnd starts at the last stable offset instead of the log start:
	// the audit covers only what is committed after it began (with Follow).
	// From, when above it, still wins.
	FromEnd bool
	// Follow keeps reading what is committed after the audit began, until
	// Stop is closed; then the audit reads on to the last stable offset of
	// that moment and reports. Without Follow it stops at the last stable
	// offset found when it began. A cancelled ctx is an error either way.
	Follow bool
	Stop   <-chan struct{}
	// Monitor, when set, is kept up to date while the audit reads.
	Monitor *Monitor
	// Sequence, when set, is the members' sequence extractor: a record
	// without a feedd-seq header whose value yields a sequence number with
	// it is audited by that number, as a member with the extractor would
	// have identified it (counted in IdentityReport.SeqRead).
	Sequence *ingest.SequenceExtractor
}

// OptionsFor returns the options that audit the topic of a member's
// `kafka:` configuration, TLS and SASL included.
func OptionsFor(c broadcast.Config) (Options, error) {
	sec, err := c.SecurityOpts()
	if err != nil {
		return Options{}, err
	}
	return Options{Brokers: c.Brokers, Topic: c.Topic, ClientOpts: sec}, nil
}

// Run audits the topic and returns the report. It returns an error only
// when it could not read the topic (unreachable brokers, a missing topic, a
// cancelled ctx); findings are in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	o, base, cl, err := o.connect()
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	r := &Report{RepeatedFramesAllowed: o.AllowRepeatedFrames}
	adm, mon, err := o.begin(ctx, cl, &r.Span)
	if err != nil {
		return nil, err
	}
	a := newAuditor(r, o.MaxListed, mon)
	a.sequence = o.Sequence
	if o.Follow {
		a.liveFrom = r.End
	}
	if err := o.read(ctx, base, adm, &r.Span, a.first); err != nil {
		return nil, err
	}
	if o.Follow {
		r.Latency = mon.Progress().Latency
	}
	if a.prepareSecond() {
		if err := scan(ctx, base, o.Topic, r.From, r.End, a.second); err != nil {
			return nil, err
		}
	}
	if a.needThird() {
		if err := scan(ctx, base, o.Topic, r.From, r.End, a.third); err != nil {
			return nil, err
		}
	}
	a.finish()
	return r, nil
}
