package broadcast

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A hanging transaction is one still open on the topic's partition that
// its coordinator no longer knows of: no commit, abort or timeout will ever
// end it, so the last stable offset stays below it for good, every
// read_committed reader (the members' echo among them) stops there, and
// every activation waits for it in vain. It has been seen after a broker
// restarted while the active committed: the partition kept records of the
// pipeline's producer at an epoch whose transaction the coordinator held as
// ended, the commit marker never written.
//
// An activation tells one apart from a transaction that is only slow to
// end by asking Kafka, after its fence: the open transaction belongs to
// the pipeline's producer id at an earlier epoch, and the coordinator has
// the fence's epoch with no transaction under way or being ended. Kafka
// hands out the fence's epoch only once every earlier transaction of the
// id has ended, so nothing will ever end that one.
//
// The activation ends it with a commit marker, never an abort. The
// coordinator may well have committed it: the member that produced it then
// had its commit acknowledged and dropped the frames from its ring, so an
// abort would lose them (the chaos suite saw exactly that gap). Had the
// coordinator aborted it instead, its frames were not published again
// after it either: every activation and every replay after a failed
// commit waits for the last stable offset first, and it stayed below this
// transaction. Committed, its frames are read by the activation's catch-up
// like any others, and trimmed from the rings that still hold them. This is
// the marker Kafka's own kafka-transactions.sh writes by hand, with
// COMMIT; a principal without the ClusterAction permission it needs gets
// an error naming what to do instead.

// hangingAfter is how long the last stable offset must stay below the high
// watermark before an activation asks Kafka whether a transaction hangs:
// far longer than a slow transaction's markers take to be written.
const hangingAfter = 2 * time.Second

// hangingTxn is a transaction of the pipeline's producer id left open on
// partition 0 of the topic.
type hangingTxn struct {
	topic            string
	leader           int32
	pid              int64
	epoch            int16
	coordinatorEpoch int32
	start            int64 // its first offset
}

func (h hangingTxn) String() string {
	return fmt.Sprintf("a hanging transaction of producer %d epoch %d, open on %s-0 since offset %d", h.pid, h.epoch, h.topic, h.start)
}

// command is what an operator runs to learn of it by hand.
func (h hangingTxn) command(bootstrap string) string {
	return fmt.Sprintf("kafka-transactions.sh --bootstrap-server %s find-hanging --broker-id %d", bootstrap, h.leader)
}

// openOwnTxn returns the transaction of producer pid at an epoch below
// epoch that is open on partition 0 of topic, if there is one.
func openOwnTxn(ctx context.Context, adm *kadm.Client, topic string, pid int64, epoch int16) (hangingTxn, bool, error) {
	ps, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		return hangingTxn{}, false, fmt.Errorf("describing the producers of %s-0: %w", topic, err)
	}
	var (
		found hangingTxn
		ok    bool
		perr  error
	)
	ps.EachPartition(func(p kadm.DescribedProducersPartition) {
		if p.Partition != 0 {
			return
		}
		if p.Err != nil {
			perr = fmt.Errorf("describing the producers of %s-0: %w", topic, p.Err)
			return
		}
		for _, d := range p.ActiveProducers {
			if d.ProducerID == pid && d.ProducerEpoch < epoch && d.CurrentTxnStartOffset >= 0 {
				found = hangingTxn{topic: topic, leader: p.Leader, pid: pid, epoch: d.ProducerEpoch,
					coordinatorEpoch: d.CoordinatorEpoch, start: d.CurrentTxnStartOffset}
				ok = true
			}
		}
	})
	return found, ok, perr
}

// findHanging returns the pipeline's hanging transaction on the topic, if
// there is one, once the fence has given the producer pid the epoch epoch.
func findHanging(ctx context.Context, adm *kadm.Client, topic, txnID string, pid int64, epoch int16) (hangingTxn, bool, error) {
	h, ok, err := openOwnTxn(ctx, adm, topic, pid, epoch)
	if err != nil || !ok {
		return h, false, err
	}
	ds, err := adm.DescribeTransactions(ctx, txnID)
	if err != nil {
		return h, false, fmt.Errorf("describing transactional id %s: %w", txnID, err)
	}
	d, found := ds[txnID]
	switch {
	case !found:
		return h, false, fmt.Errorf("describing transactional id %s: not in the answer", txnID)
	case d.Err != nil:
		return h, false, fmt.Errorf("describing transactional id %s: %w", txnID, d.Err)
	case d.ProducerID != pid || d.ProducerEpoch != epoch:
		return h, false, nil // fenced since: not this activation's to end
	case d.State != "Empty" && d.State != "CompleteCommit" && d.State != "CompleteAbort":
		return h, false, nil // a transaction is under way or being ended
	}
	// Described again: a marker written between the two descriptions
	// ended it after all.
	again, ok, err := openOwnTxn(ctx, adm, topic, pid, epoch)
	if err != nil || !ok || again.start != h.start || again.epoch != h.epoch {
		return h, false, err
	}
	return again, true, nil
}

// commitHanging writes the commit marker of a hanging transaction on the
// partition's leader.
func commitHanging(ctx context.Context, cl *kgo.Client, h hangingTxn) error {
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = h.pid, h.epoch, true, h.coordinatorEpoch
	t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	t.Topic, t.Partitions = h.topic, []int32{0}
	m.Topics = append(m.Topics, t)
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Markers = append(req.Markers, m)
	resp, err := req.RequestWith(ctx, cl.Broker(int(h.leader)))
	if err != nil {
		return err
	}
	var errs []error
	for _, rm := range resp.Markers {
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("%s-%d: %w", rt.Topic, rp.Partition, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}
