package broadcast

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrFenced means another member initialised the pipeline's transactional
// id: this member's producer is fenced, its open transaction was aborted,
// and it must not produce again until it re-activates through the normal
// path. Check with errors.Is; the wrapped error is what Kafka said.
var ErrFenced = errors.New("fenced: another member initialised the transactional id")

// ErrNotActive is returned by Deactivate when the member is not active.
var ErrNotActive = errors.New("not active")

// ErrClosed is returned by calls on a pipeline whose Run has returned.
var ErrClosed = errors.New("pipeline closed")

// fencedErr wraps a Kafka error that proves this producer lost the
// transactional id, or returns nil.
//
//   - PRODUCER_FENCED: the coordinator saw a newer epoch (EndTxn,
//     AddPartitionsToTxn, InitProducerID with our old epoch).
//   - INVALID_PRODUCER_EPOCH: a produce request carried an epoch older than
//     the partition leader knows (the produce path's form of the same fact;
//     a transaction timeout abort also bumps the epoch, with the same
//     consequence: this producer is done).
//   - INVALID_PRODUCER_ID_MAPPING: our producer id no longer belongs to the
//     transactional id (the peer's epoch bumps exhausted it and Kafka
//     allocated a new id, or the transactional id expired).
//   - INVALID_TXN_STATE on EndTxn: under KIP-890 the fence bumps the epoch by
//     one and aborts our transaction, so our commit at the old epoch looks
//     like a retry of that abort and is refused this way. Whatever the
//     cause, the coordinator's state and ours disagree and franz-go cannot
//     recover this producer id; only a fresh activation can.
func fencedErr(err error) error {
	if err == nil || errors.Is(err, ErrFenced) {
		return err
	}
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.InvalidTxnState) {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return nil
}
