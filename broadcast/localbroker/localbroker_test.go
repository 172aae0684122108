package localbroker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestartKeepsData: a broker on an ephemeral port takes a record; one
// started again on the same address and data directory still has it.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(Options{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and the port chosen", addr)
	}
	if err := b.Cluster().CreateTopic("t", 1, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("kept")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	b.Close()

	b, err = Start(Options{Listen: addr, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err = kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fs := cl.PollRecords(ctx, 1)
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "kept" {
		t.Fatalf("after the restart: %v, %v; want the record", recs, fs.Err())
	}
}

func TestBadListen(t *testing.T) {
	if _, err := Start(Options{Listen: "nonsense"}); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Fatalf("Start(nonsense) = %v, want an error naming the address", err)
	}
	b, err := Start(Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := Start(Options{Listen: b.Addr()}); err == nil {
		t.Fatal("a second broker started on a port in use")
	}
}
