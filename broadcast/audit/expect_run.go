package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RunExpect reads the topic as Run does (read_committed, partition 0, from
// o.From or the log start to the last stable offset, or following it) and
// compares its records, in offset order, with the expected frames
// (Compare). It returns an error when it could not read the topic or the
// two differ by more than eo.MaxDifferences frames; findings are in the
// report. o.AllowRepeatedFrames does not apply.
//
// The records' values are kept in memory for the comparison, each distinct
// value once: a feed that repeats its sentences costs little more than the
// offsets.
func RunExpect(ctx context.Context, o Options, exp *Expectation, eo ExpectOptions) (*ExpectReport, error) {
	o, base, cl, err := o.connect()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	r := &Report{}
	adm, mon, err := o.begin(ctx, cl, &r.Span)
	if err != nil {
		return nil, err
	}

	var records []TopicRecord
	var before int64 // records produced before the recording started
	values := make(map[string]string)
	intern := func(b []byte) string {
		if s, ok := values[string(b)]; ok {
			return s
		}
		s := string(b)
		values[s] = s
		return s
	}
	err = o.read(ctx, base, adm, &r.Span, func(rec *kgo.Record) {
		if rec.Attrs.IsControl() {
			r.ControlRecords++
			mon.update(func(p *Progress) { p.NextOffset = rec.Offset + 1 })
			return
		}
		x := TopicRecord{Offset: rec.Offset, Value: intern(rec.Value)}
		meta := broadcast.ParseRecordMeta(rec)
		x.Member, x.PossibleDuplicate = intern(meta.Member), meta.Possible
		records = append(records, x)
		r.Records++
		if started := exp.Feed.Started; !started.IsZero() && rec.Timestamp.Before(started.Add(-time.Second)) {
			before++
		}
		mon.update(func(p *Progress) {
			p.Records, p.NextOffset, p.LastRecordTime = r.Records, rec.Offset+1, rec.Timestamp
		})
	})
	if err != nil {
		return nil, err
	}
	eo.End, eo.Feed = r.End, exp.Feed
	if eo.MaxListed <= 0 {
		eo.MaxListed = o.MaxListed
	}
	er, err := Compare(exp.Frames, records, eo)
	if err != nil {
		return nil, err
	}
	er.Span = r.Span
	if er.BeforeRecording = before; before > 0 {
		er.Notes = append(er.Notes, fmt.Sprintf("%d record(s) were produced before the recording started (%s): "+
			"the topic may hold an earlier run of the feed; audit from the first offset of this run (--from)",
			before, exp.Feed.Started.UTC().Format(time.RFC3339)))
	}
	return er, nil
}
