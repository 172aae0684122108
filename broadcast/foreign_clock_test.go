package broadcast

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEchoFromAnotherHostsClock: the active's records carry line windows on
// its own host's clock. Until the pair link has measured that clock, the
// inactive cannot place them and matches nothing by time (it keeps its
// frames); once it has a bound on the offset, it recognises each frame
// exactly, repeated bytes included.
func TestEchoFromAnotherHostsClock(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	// 32-byte frames at about 9600 baud: 30 ms on the line each, far more
	// than their 1 ms windows.
	m := startMember(t, cfg, "b", backlog.Config{LineByteTime: time.Millisecond})
	waitFor(t, "the echo positioned", func() bool { return m.Status().EchoOffset >= 0 })

	const otherClock = 0x0123456789abcdef
	const theta = 3 * int64(time.Second) // this host's clock minus the other's
	same := []byte("$GPGSA,A,1,,,,,,,,,,,,,99.99*30")
	var frames []*ingest.Frame
	for range 10 {
		now := hostclock.Now()
		f := &ingest.Frame{Data: same, ReceivedAt: time.Now(), Fingerprint: ingest.Fingerprint(same),
			Line: backlog.Window{Lo: now - int64(time.Millisecond), Hi: now}}
		frames = append(frames, f)
		m.Accept(f)
		time.Sleep(40 * time.Millisecond) // frames 40 ms apart, all with the same bytes
	}
	waitFor(t, "the frames in the ring", func() bool { return m.Status().Ring.Appended == 10 })

	other := otherProducer(t, b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	commit := func(fs []*ingest.Frame) {
		t.Helper()
		if err := other.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			// The same frame as the other member read it, stamped on
			// its clock.
			w := backlog.Window{Lo: f.Line.Lo - theta, Hi: f.Line.Hi - theta}
			rec := &kgo.Record{Value: f.Data, Headers: []kgo.RecordHeader{
				recordHeaderAs("a", otherClock, f, w),
			}}
			if err := other.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := other.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}

	// No bound on the other clock: nothing can be placed, nothing goes.
	commit(frames[:5])
	waitFor(t, "five untimed echoes", func() bool { return m.Status().Counters.EchoUntimed == 5 })
	if st := m.Status(); st.Ring.Len != 10 || st.Counters.EchoMatched != 0 || st.Counters.EchoRemembered != 5 {
		t.Fatalf("without a clock bound: ring %d, matched %d, remembered %d; want 10, 0, 5", st.Ring.Len, st.Counters.EchoMatched, st.Counters.EchoRemembered)
	}

	// The pair link measured the other clock to within a millisecond.
	now := hostclock.Now()
	m.ObserveClock(otherClock, theta-int64(time.Millisecond), theta+int64(time.Millisecond), now)
	commit(frames[5:8])
	waitFor(t, "three echoes matched", func() bool { return m.Status().Counters.EchoMatched == 3 })
	st := m.Status()
	if st.Ring.Len != 2 || st.Ring.TrimmedByEcho != 3 || st.Ring.Passed != 5 || st.Ring.Skipped != 0 || st.Counters.EchoUntimed != 5 {
		t.Fatalf("with a clock bound: ring %d, trimmed by echo %d, passed %d, skipped %d, untimed %d; want 2, 3, 5, 0, 5",
			st.Ring.Len, st.Ring.TrimmedByEcho, st.Ring.Passed, st.Ring.Skipped, st.Counters.EchoUntimed)
	}
}

// TestEchoIgnoresRecordTimestamps: the echo consumer used to start at the
// first record stamped (by the producing host's wall clock) after this
// member's start less a second. A producer whose clock ran an hour ahead
// made it read records committed long before, whose echoes then suppressed
// new frames with the same bytes. It now starts at the last stable offset
// and never compares another host's clock with its own.
func TestEchoIgnoresRecordTimestamps(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	same := []byte("$GPGSV,1,1,00*79")
	other := otherProducer(t, b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureTopic(ctx, other, cfg); err != nil {
		t.Fatal(err)
	}
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		// The earlier format's headers, without a line window: a record
		// of a member before the window existed.
		rec := &kgo.Record{Value: same, Timestamp: time.Now().Add(time.Hour), Headers: []kgo.RecordHeader{
			{Key: HeaderFingerprint, Value: fmt.Appendf(nil, "%016x", ingest.Fingerprint(same))},
			{Key: HeaderMember, Value: []byte("a")},
		}}
		if err := other.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	m := startMember(t, cfg, "b", backlog.Config{LineByteTime: time.Millisecond})
	waitFor(t, "the echo positioned", func() bool { return m.Status().EchoOffset >= 0 })
	for range 5 {
		now := hostclock.Now()
		m.Accept(&ingest.Frame{Data: same, ReceivedAt: time.Now(), Fingerprint: ingest.Fingerprint(same),
			Line: backlog.Window{Lo: now - int64(time.Millisecond), Hi: now}})
	}
	waitFor(t, "the frames handed over", func() bool { return m.Status().Counters.Accepted == 5 })
	time.Sleep(200 * time.Millisecond) // give a stale echo every chance to arrive
	if st := m.Status(); st.Ring.Len != 5 || st.Counters.EchoRecords != 0 || st.EchoOffset != 6 {
		t.Fatalf("ring %d, echoes read %d, echo at offset %d; want the 5 new frames kept, no echo, the echo after the old transaction (6)",
			st.Ring.Len, st.Counters.EchoRecords, st.EchoOffset)
	}
}

// otherProducer is a transactional producer that writes to the topic "feed"
// as another member would, with records a test builds itself.
func otherProducer(t testing.TB, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("other"), kgo.DefaultProduceTopic("feed"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
