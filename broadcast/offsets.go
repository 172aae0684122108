package broadcast

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The offsets of partition 0 that a member lists: ListOffsets asks for
// the latest offset (-1) or the earliest (-2); the isolation level makes
// the latest the last stable offset (read_committed) or the high
// watermark (read_uncommitted).
const (
	latestOffset   = -1
	earliestOffset = -2
)

// listOffset lists one offset of the topic's partition 0 with a single
// ListOffsets request. franz-go sends it to the partition's leader as its
// metadata cache knows it; listOnInstance's ask of the topic's id has just
// filled that cache, so no metadata request goes before it, as one does
// before each of kadm's listings. what names the offset in errors.
func listOffset(ctx context.Context, cl *kgo.Client, topic string, timestamp int64, committed bool, what string) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	if committed {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = 0
	rp.Timestamp = timestamp
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("listing the %s of %s: %w", what, topic, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if t.Topic != topic || p.Partition != 0 {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("listing the %s of %s: %w", what, topic, err)
			}
			return p.Offset, nil
		}
	}
	return 0, fmt.Errorf("listing the %s of %s: no answer for partition 0", what, topic)
}

// lastStableOffset is ListOffsets with isolation level read_committed: every
// record below it belongs to a finished transaction.
func lastStableOffset(ctx context.Context, cl *kgo.Client, topic string) (int64, error) {
	return listOffset(ctx, cl, topic, latestOffset, true, "last stable offset")
}

// logStartOffset lists the first offset the topic still holds.
func logStartOffset(ctx context.Context, cl *kgo.Client, topic string) (int64, error) {
	return listOffset(ctx, cl, topic, earliestOffset, false, "start offset")
}

// stableAndEnd lists the last stable offset and the high watermark at
// once, two requests in flight together: one round trip, not two. Which
// the broker answers first is not known, and need not be (settledEnd).
func stableAndEnd(ctx context.Context, cl *kgo.Client, topic string) (lso, hw int64, err error) {
	done := make(chan error, 1)
	go func() {
		var err error
		hw, err = listOffset(ctx, cl, topic, latestOffset, false, "high watermark")
		done <- err
	}()
	lso, err = lastStableOffset(ctx, cl, topic)
	if hwErr := <-done; err == nil {
		err = hwErr
	}
	return lso, hw, err
}
