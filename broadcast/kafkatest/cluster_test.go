package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCluster starts three nodes and checks what the tests of a cluster
// rely on: the topics and the transaction log have three replicas and
// min.insync.replicas=2, the helpers name a partition's leader and a
// transactional id's coordinator, and a node killed with SIGKILL comes
// back on its storage with every replica in sync again while the other two
// keep taking transactions.
func TestCluster(t *testing.T) {
	in := Need(t)
	c := in.StartClusterT(t, ClusterConfig{Dir: t.TempDir(), Logf: t.Logf})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const txnID, topic = "kafkatest-cluster", "t"
	produce := func() {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.TransactionalID(txnID),
			kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(), kgo.DisableClientMetrics())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	produce()

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, tp := range []string{topic, "__transaction_state"} {
		td, err := adm.ListTopicsWithInternal(ctx, tp)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range td[tp].Partitions {
			if len(p.Replicas) != 3 {
				t.Fatalf("%s/%d has replicas %v, want 3", tp, p.Partition, p.Replicas)
			}
		}
		rcs, err := adm.DescribeTopicConfigs(ctx, tp)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On(tp, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range rc.Configs {
			if kv.Key == "min.insync.replicas" && kv.MaybeValue() != "2" {
				t.Fatalf("%s: min.insync.replicas=%s, want 2", tp, kv.MaybeValue())
			}
		}
	}

	leader, err := c.Leader(ctx, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	coord, err := c.TxnCoordinator(ctx, txnID)
	if err != nil {
		t.Fatal(err)
	}
	tsLeader, err := c.Leader(ctx, "__transaction_state", 0)
	if err != nil {
		t.Fatal(err)
	}
	if coord != tsLeader {
		t.Fatalf("the coordinator of %q is node %d, __transaction_state/0 is led by node %d", txnID, coord, tsLeader)
	}
	t.Logf("%s/0 led by node %d, transactions coordinated by node %d", topic, leader, coord)

	c.Kill(leader)
	if c.Node(leader).Running() {
		t.Fatalf("node %d runs after Kill", leader)
	}
	if _, err := c.WaitLeader(ctx, topic, func(id int32) bool { return id != leader }); err != nil {
		t.Fatalf("%s/0 still led by the killed node %d: %v", topic, leader, err)
	}
	produce()
	if err := c.Restart(ctx, leader, true); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
	produce()
}
