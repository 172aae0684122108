package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/twmb/franz-go/pkg/kgo"
)

// takeOverTopic starts the embedded broker with a topic holding records as
// two members write them around a take-over: a committed run (1-3), a
// fenced member's aborted transaction (4), and the successor's flush, which
// repeats 3 and brings 4 marked possible, then 5.
func takeOverTopic(t *testing.T) (addr, topic string) {
	t.Helper()
	b, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	topic = "ais-north"
	if err := b.Cluster().CreateTopic(topic, 1, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// As a member writes a frame: its bytes without the line ending the
	// framer removed, and every header feedd writes.
	rec := func(member string, seq int, possible bool) *kgo.Record {
		value := fmt.Appendf(nil, "$FDSEQ,%d*00", seq)
		m := broadcast.RecordMeta{Fingerprint: ingest.Fingerprint(value), FeedSeq: uint64(seq), HasFeedSeq: true, Member: []byte(member),
			ReceivedAt: time.Now().UnixNano(), Clock: 0x0123456789abcdef, Window: backlog.Window{Lo: 1000 * int64(seq), Hi: 1000*int64(seq) + 87},
			HasWindow: true, Possible: possible}
		return &kgo.Record{Topic: topic, Value: value, Headers: []kgo.RecordHeader{{Key: broadcast.RecordHeader, Value: m.Append(nil)}}}
	}
	txn := func(id string, commit bool, recs ...*kgo.Record) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		end := kgo.TryAbort
		if commit {
			end = kgo.TryCommit
		}
		if err := cl.EndTransaction(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	txn("feedd-a", true, rec("a", 1, false), rec("a", 2, false), rec("a", 3, false))
	txn("feedd-zombie", false, rec("a", 4, false))                                 // aborted: never seen
	txn("feedd-b", true, rec("b", 3, true), rec("b", 4, true), rec("b", 5, false)) // 3 repeats, 4 is new
	return b.Addr(), topic
}

// TestConsumerReadsWhatFeeddWrites: records with feedd's headers, as two
// members write them around a take-over: a committed run, a fenced
// member's aborted transaction, and the successor's flush that repeats a
// frame marked possible. The example delivers every committed frame once,
// nothing aborted, drops the repeat and keeps a marked frame it had not
// seen.
func TestConsumerReadsWhatFeeddWrites(t *testing.T) {
	addr, topic := takeOverTopic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := NewClient([]string{addr}, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	readCtx, stop := context.WithCancel(ctx)
	dropped, err := Consume(readCtx, cl, 16, func(f Frame) error {
		got = append(got, fmt.Sprintf("%s %s possible=%v", f.Member, f.Identity, f.Possible))
		if f.ReceivedAt.IsZero() {
			t.Errorf("frame %s: no read time", f.Identity)
		}
		if len(got) == 5 {
			stop()
		}
		return nil
	})
	if err != context.Canceled {
		t.Fatalf("Consume: %v", err)
	}
	want := []string{"a seq:1 possible=false", "a seq:2 possible=false", "a seq:3 possible=false", "b seq:4 possible=true", "b seq:5 possible=false"}
	if fmt.Sprint(got) != fmt.Sprint(want) || dropped != 1 {
		t.Fatalf("delivered %q, dropped %d; want %q and 1", got, dropped, want)
	}
}

// TestConsumerPrintsAFrameALine: the command prints each frame it delivers
// on a line of its own (a frame carries no line ending), with its offset,
// member and read time, and nothing of the records it dropped or never saw.
func TestConsumerPrintsAFrameALine(t *testing.T) {
	addr, topic := takeOverTopic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out testsupport.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{addr}, topic, 16, &out) }()
	var lines []string
	for ctx.Err() == nil {
		if lines = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); len(lines) >= 5 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if len(lines) != 5 || !strings.HasSuffix(out.String(), "\n") {
		t.Fatalf("printed %q; want 5 lines", out.String())
	}
	for i, want := range []string{"a $FDSEQ,1*00", "a $FDSEQ,2*00", "a $FDSEQ,3*00", "b $FDSEQ,4*00", "b $FDSEQ,5*00"} {
		f := strings.Fields(lines[i])
		if len(f) != 4 || f[1]+" "+f[3] != want {
			t.Errorf("line %d %q; want offset, %s and the read time between", i+1, lines[i], want)
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, f[2]); err != nil {
			t.Errorf("line %d: read time %q: %v", i+1, f[2], err)
		}
	}
}

// TestPythonConsumer: the Python example, with Debian's confluent-kafka
// (librdkafka), reads the same topic to the same frames.
func TestPythonConsumer(t *testing.T) {
	const python = "/usr/bin/python3" // Debian's, which python3-confluent-kafka installs for
	if err := exec.Command(python, "-c", "import confluent_kafka").Run(); err != nil {
		if os.Getenv("FEEDD_REQUIRE_PYTHON_KAFKA") != "" {
			t.Fatalf("%s cannot import confluent_kafka (make deps installs python3-confluent-kafka): %v", python, err)
		}
		t.Skipf("%s cannot import confluent_kafka (apt-get install python3-confluent-kafka): %v", python, err)
	}
	addr, topic := takeOverTopic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "consumer.py", "--brokers", addr, "--topic", topic, "--window", "16", "--stop-after", "5")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("consumer.py: %v\n%s", err, stderr.String())
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			t.Fatalf("line %q", l)
		}
		got = append(got, strings.Join([]string{f[1], f[3], f[4]}, " "))
	}
	want := []string{"a seq:1 possible=False", "a seq:2 possible=False", "a seq:3 possible=False", "b seq:4 possible=True", "b seq:5 possible=False"}
	if fmt.Sprint(got) != fmt.Sprint(want) || !strings.Contains(stderr.String(), "1 possible duplicates dropped") {
		t.Fatalf("consumer.py printed %q (stderr %q); want %q and 1 dropped", got, stderr.String(), want)
	}
}

// frameOf reads the feedd header, the separate headers of records written
// before it, and identifies a record of a format it does not know by its
// bytes.
func TestFrameOfFormats(t *testing.T) {
	value := []byte("$GPGLL,4916.45,N,12311.12,W,225444,A*31")
	for _, c := range []struct {
		name    string
		headers []kgo.RecordHeader
		want    Frame
	}{
		{"format 1", []kgo.RecordHeader{{Key: "feedd", Value: []byte("1 0123456789abcdef b 1796299200500000000 00000000000000ff/-/99 dup seq=7")}},
			Frame{Member: "b", ReceivedAt: time.Date(2026, 12, 3, 12, 0, 0, 5e8, time.UTC), Identity: "seq:7", Possible: true}},
		{"format 1, no sequence number", []kgo.RecordHeader{{Key: "feedd", Value: []byte("1 0123456789abcdef a 0 00000000000000ff/1/2")}},
			Frame{Member: "a", Identity: "fp:0123456789abcdef"}},
		{"earlier release", []kgo.RecordHeader{{Key: "feedd-fp", Value: []byte("00000000000000aa")}, {Key: "feedd-member", Value: []byte("a")},
			{Key: "feedd-rx", Value: []byte("2026-12-03T12:00:00Z")}, {Key: "feedd-dup", Value: []byte("possible")}},
			Frame{Member: "a", ReceivedAt: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), Identity: "fp:00000000000000aa", Possible: true}},
		{"a later format", []kgo.RecordHeader{{Key: "feedd", Value: []byte("2 something else")}, {Key: "feedd-seq", Value: []byte("9")}},
			Frame{Identity: "value:" + string(value)}},
	} {
		got := frameOf(&kgo.Record{Value: value, Headers: c.headers, Offset: 3})
		c.want.Data, c.want.Offset = value, 3
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
