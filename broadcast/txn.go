package broadcast

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxRecordValue is the largest frame produced as one record: franz-go's
// default batch limit (1,000,012 bytes, Kafka's max.message.bytes default)
// less room for the batch and record overhead and the headers. A larger
// frame would fail the whole transaction; it is skipped and counted instead.
const maxRecordValue = 1_000_012 - 4096

// txn is the producer side of one transaction: the records handed to
// franz-go, carved from chunks that are reused from one transaction to the
// next, so producing a frame allocates nothing once they have grown to the
// size of the largest transaction.
//
// The owner goroutine fills it; franz-go's promise goroutine records the
// outcome of each record. A txn is reset only when no record is in flight
// (after a commit, which flushes, or after an abort, which waits).
type txn struct {
	chunks []*recChunk
	arena  []byte

	n        int       // records produced
	possible int       // of those, marked as possible duplicates
	bytes    int64     // their value bytes
	last     uint64    // ring position of the last entry covered (produced or skipped)
	started  time.Time // when the first record was produced
	// restFrom is when the records after the first began to go: once
	// the first was acknowledged (produceMore).
	restFrom time.Time

	err        atomic.Pointer[error] // the first record error
	lastOffset atomic.Int64          // offset of the last record acknowledged
	firstAcked atomic.Bool           // the first record was acknowledged
	onErr      func()                // tells the owner a record failed
	onFirstAck func()                // tells the owner the first record was acknowledged
	promiseFn  func(*kgo.Record, error)
}

// recChunk holds the records (and their headers) of chunkRecords frames.
// Records in flight are referenced by franz-go, so chunks are never moved,
// only added.
type recChunk struct {
	recs [chunkRecords]kgo.Record
	hdrs [chunkRecords]kgo.RecordHeader
}

const chunkRecords = 256

func newTxn(onErr, onFirstAck func()) *txn {
	t := &txn{onErr: onErr, onFirstAck: onFirstAck}
	t.promiseFn = t.promise
	t.lastOffset.Store(-1)
	return t
}

func (t *txn) promise(r *kgo.Record, err error) {
	if err != nil {
		if t.err.CompareAndSwap(nil, &err) {
			t.onErr()
		}
		return
	}
	t.lastOffset.Store(r.Offset)
	if t.firstAcked.CompareAndSwap(false, true) {
		t.onFirstAck()
	}
}

// firstAlone reports whether the transaction's first record is in
// flight alone: the rest wait for its acknowledgement (see produceMore).
func (t *txn) firstAlone() bool {
	return t.n == 1 && !t.firstAcked.Load() && t.firstErr() == nil
}

func (t *txn) firstErr() error {
	if e := t.err.Load(); e != nil {
		return *e
	}
	return nil
}

// reset readies the txn for the next transaction. No record may be in
// flight.
func (t *txn) reset() {
	for i := 0; i*chunkRecords < t.n; i++ {
		c := t.chunks[i]
		clear(c.recs[:min(chunkRecords, t.n-i*chunkRecords)])
	}
	t.n, t.possible, t.bytes, t.last = 0, 0, 0, 0
	t.arena = t.arena[:0]
	t.err.Store(nil)
	t.lastOffset.Store(-1)
	t.firstAcked.Store(false)
}

// entry is the ring entry a peer's frame is produced as, at ring position
// pos (the cursor it is produced before). The peer's bytes came over the
// pair link, a copy this member did not read from its port, so they are
// fingerprinted here, once, like a record read back from the topic.
func (f *peerFrame) entry(pos uint64) backlog.Entry {
	return backlog.Entry{Pos: pos, ID: f.s.ID, Exact: f.s.Exact, Fingerprint: ingest.Fingerprint(f.data), Win: f.s.Win, ReceivedAt: f.rx, Data: f.data}
}

// recordShape is what every record of a pipeline shares.
type recordShape struct {
	topic    string
	member   []byte
	key      string // KeyNone, KeyIdentity or KeyPipeline
	pipeline []byte
	clock    uint64 // this host's clock id
}

// add builds the record for e (copying its data, which is valid only until
// the ring changes) and hands it to cl. The fingerprint is the one the
// frame was read with (e.Fingerprint): nothing is hashed here. The arena only grows by append, so a
// reallocation leaves earlier records pointing at the old array, unchanged.
func (t *txn) add(cl *kgo.Client, s *recordShape, e backlog.Entry, possible bool, now time.Time) {
	ci, ri := t.n/chunkRecords, t.n%chunkRecords
	if ci == len(t.chunks) {
		t.chunks = append(t.chunks, new(recChunk))
	}
	c := t.chunks[ci]
	r := &c.recs[ri]
	a := t.arena

	v := len(a)
	a = append(a, e.Data...)
	value := a[v:len(a):len(a)]

	meta := RecordMeta{Fingerprint: e.Fingerprint, Member: s.member, ReceivedAt: e.ReceivedAt,
		Clock: s.clock, Window: e.Win, HasWindow: true, Possible: possible}
	if e.ID != e.Fingerprint {
		meta.FeedSeq, meta.HasFeedSeq = e.ID, true
	}
	o := len(a)
	a = meta.Append(a)
	h := c.hdrs[ri : ri+1 : ri+1]
	h[0] = kgo.RecordHeader{Key: RecordHeader, Value: a[o:len(a):len(a)]}
	if possible {
		t.possible++
	}

	var key []byte
	switch s.key {
	case KeyIdentity:
		o = len(a)
		a = appendHex16(a, e.ID)
		key = a[o:len(a):len(a)]
	case KeyPipeline:
		key = s.pipeline
	}
	t.arena = a

	*r = kgo.Record{Topic: s.topic, Partition: 0, Key: key, Value: value, Headers: h}
	switch t.n {
	case 0:
		t.started = now
	case 1:
		t.restFrom = now
	}
	t.n++
	t.bytes += int64(len(e.Data))
	t.last = e.Pos
	// TryProduce never blocks the owner goroutine: the client buffers up to
	// twice commit_max_frames records and a transaction holds at most
	// commit_max_frames, so ErrMaxBuffered cannot happen; if it did, it would
	// fail the transaction like any record error.
	cl.TryProduce(context.Background(), r, t.promiseFn)
}
