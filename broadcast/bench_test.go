package broadcast

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/internal/testsupport"
)

// Run the benchmarks bounded, e.g.:
//
//	go test ./broadcast -run '^$' -bench . -benchtime 50000x

// benchFrame is a 100-byte frame whose sequence number is rewritten in place
// (Accept copies the data).
type benchFrame struct {
	f    ingest.Frame
	data [100]byte
}

func newBenchFrame() *benchFrame {
	bf := &benchFrame{}
	copy(bf.data[:], "$BENCH,00000000,")
	for i := 16; i < len(bf.data); i++ {
		bf.data[i] = 'a' + byte(i%26)
	}
	bf.f.Data = bf.data[:]
	bf.f.HasFeedSeq = true
	return bf
}

func (bf *benchFrame) next(seq uint64) *ingest.Frame {
	binary.BigEndian.PutUint64(bf.data[7:15], seq)
	bf.f.FeedSeq = seq
	bf.f.Fingerprint = ingest.Fingerprint(bf.data[:]) // as the port reader computes it
	bf.f.ReceivedAt = time.Now()
	return &bf.f
}

// BenchmarkAccept measures the hand-off from the port reader's goroutine to
// the ring: Accept, the queue, and Ring.Append on the owner goroutine, for an
// inactive member (no broker needed).
func BenchmarkAccept(b *testing.B) {
	cfg := testConfig("127.0.0.1:1", "feed") // nothing listens: the echo keeps retrying
	p := startMemberWith(b, cfg, Options{Pipeline: "bench", Member: "a", Ring: backlog.Config{MaxFrames: 1 << 16}, Logger: testsupport.Logger()})
	bf := newBenchFrame()
	b.ReportAllocs()
	b.SetBytes(100)
	b.ResetTimer()
	for i := range b.N {
		p.Accept(bf.next(uint64(i + 1)))
	}
	for p.Status().Ring.Appended < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(p.Status().Counters.HandoffStalls), "stalls")
}

// BenchmarkThroughput measures one active pipeline on 100-byte frames
// against the in-process broker: frames/s from Accept to committed, with a
// transactional producer and, for comparison, an idempotent one that only
// flushes at each interval (what transactions cost), for three commit
// intervals.
func BenchmarkThroughput(b *testing.B) {
	for _, interval := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		for _, txn := range []bool{true, false} {
			name := fmt.Sprintf("interval=%v/transactional", interval)
			if !txn {
				name = fmt.Sprintf("interval=%v/idempotent", interval)
			}
			b.Run(name, func(b *testing.B) { benchThroughput(b, interval, txn) })
		}
	}
}

func benchThroughput(b *testing.B, interval time.Duration, transactional bool) {
	br := startBroker(b, "")
	cfg := testConfig(br.Addr(), "feed")
	cfg.CommitInterval = interval
	// The interval, not a size cap, ends each transaction.
	cfg.CommitMaxFrames, cfg.CommitMaxBytes = maxCommitFrames, 1<<30
	if !transactional {
		cfg.Producer = ProducerIdempotent
	}
	p := startMemberWith(b, cfg, Options{Pipeline: "bench", Member: "a", Logger: testsupport.Logger()})
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	p.mustActivate(b, actx)

	bf := newBenchFrame()
	b.SetBytes(100)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		// Keep the ring from overflowing: the feed may not outrun the
		// broker by more than its bound.
		if i%4096 == 4095 {
			for p.Status().Ring.Len > 200_000 {
				time.Sleep(time.Millisecond)
			}
		}
		p.Accept(bf.next(uint64(i + 1)))
	}
	for p.Status().Counters.CommittedFrames < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	st := p.Status()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "frames/s")
	b.ReportMetric(float64(b.N)/float64(st.Counters.Commits), "frames/commit")
	// The time the pipeline spent in EndTxn, producing nothing: what
	// transactions cost over the idempotent producer, which only flushes.
	b.ReportMetric(100*float64(st.Counters.EndTxnNanos)/float64(elapsed), "endtxn-%")
	b.ReportMetric(100*float64(st.Counters.CommitNanos)/float64(elapsed), "commit-%")
}
