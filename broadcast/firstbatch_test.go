package broadcast

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// producedBatches records, for every produce request that reaches the
// broker, how many records its batches carry, in the order they came.
type producedBatches struct {
	mu     sync.Mutex
	counts []int
}

func watchProduce(t *testing.T, c interface {
	ControlKey(int16, func(kmsg.Request) (kmsg.Response, error, bool))
	KeepControl()
}) *producedBatches {
	t.Helper()
	w := &producedBatches{}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n := 0
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			for _, pp := range tp.Partitions {
				n += recordsIn(t, pp.Records)
			}
		}
		w.mu.Lock()
		w.counts = append(w.counts, n)
		w.mu.Unlock()
		return nil, nil, false
	})
	return w
}

func (w *producedBatches) first() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.counts) == 0 {
		return 0
	}
	return w.counts[0]
}

// recordsIn counts the records of the record batches in raw.
func recordsIn(t *testing.T, raw []byte) int {
	n := 0
	for len(raw) > 0 {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			t.Errorf("reading a produced batch: %v", err)
			return n
		}
		n += int(b.NumRecords)
		raw = raw[12+int(b.Length):]
	}
	return n
}

// activateWithBacklog puts frames in a fresh member's ring before it goes
// live, activates it and waits until all are committed, in order.
func activateWithBacklog(t *testing.T, addr string, cfg Config, frames []*ingest.Frame) *member {
	t.Helper()
	a := startMember(t, cfg, "a", backlog.Config{})
	for _, f := range frames {
		a.Accept(f)
	}
	waitFor(t, "the backlog in the ring", func() bool { return a.Status().Ring.Len == len(frames) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a.mustActivate(t, ctx)
	waitFor(t, "the backlog committed", func() bool { return a.Status().Counters.CommittedFrames == uint64(len(frames)) })
	checkSequence(t, readCommitted(t, addr, cfg.Topic), uint64(len(frames)))
	return a
}

// TestFirstBatchTakesTheWaitingFrames: a transaction's first produce
// request carries the frames waiting when it opens, not the first alone
// (which cost a round trip and a request more per transaction at a
// steady rate), up to firstBatchFrames.
func TestFirstBatchTakesTheWaitingFrames(t *testing.T) {
	for _, n := range []int{40, 3 * firstBatchFrames} {
		t.Run(fmt.Sprintf("frames=%d", n), func(t *testing.T) {
			b, cfg := startBrokerFor(t, "feed")
			w := watchProduce(t, b.Cluster())
			old := time.Now().Add(-time.Hour)
			frames := make([]*ingest.Frame, n)
			for i := range frames {
				frames[i] = frame(uint64(i+1), old)
			}
			activateWithBacklog(t, b.Addr(), cfg, frames)
			// At least two records show that it did not go alone; fewer
			// than all, or than the cap, would mean only that the
			// producer's linger ran out while they were handed over.
			if got := w.first(); got < 2 || got > firstBatchFrames {
				t.Fatalf("the first produce request carried %d records, want 2 to %d (all %d waiting, up to the cap)", got, firstBatchFrames, n)
			}
		})
	}
}

// TestFirstBatchBoundedInBytes: frames that would take the first batch
// past firstBatchBytes wait for its acknowledgement, so that a
// transaction's first batch never outgrows one of franz-go's batches.
func TestFirstBatchBoundedInBytes(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	w := watchProduce(t, b.Cluster())
	old := time.Now().Add(-time.Hour)
	size := firstBatchBytes*2/3 + 1 // two do not fit
	frames := make([]*ingest.Frame, 3)
	for i := range frames {
		frames[i] = frame(uint64(i+1), old)
		frames[i].Data = append(frames[i].Data, bytes.Repeat([]byte{'x'}, size-len(frames[i].Data))...)
		frames[i].Fingerprint = ingest.Fingerprint(frames[i].Data)
	}
	activateWithBacklog(t, b.Addr(), cfg, frames)
	if got := w.first(); got != 1 {
		t.Fatalf("the first produce request carried %d records of %d bytes, want 1 (limit %d bytes)", got, size, firstBatchBytes)
	}
}
