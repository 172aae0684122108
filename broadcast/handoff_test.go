package broadcast

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
)

// TestHandoffOrder: frames cross the queue complete and in order while the
// producer outruns the consumer (stalls) and the consumer parks.
func TestHandoffOrder(t *testing.T) {
	h := newHandoff(8)
	const n = 20000
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 64)
		for i := uint64(1); i <= n; i++ {
			size := 8 + int(i%50)
			binary.LittleEndian.PutUint64(buf, i)
			if !h.put(backlog.Frame{ID: i, ReceivedAt: int64(i), Win: backlog.Window{Lo: int64(i), Hi: int64(i) + 1}, Data: buf[:size]}, ingest.NoHole) {
				t.Error("put refused")
				return
			}
		}
	})
	var next uint64 = 1
	for next <= n {
		h.drain(func(f *backlog.Frame, _ ingest.Hole) {
			if f.ID != next || f.ReceivedAt != int64(next) || f.Win.Hi != int64(next)+1 || len(f.Data) != 8+int(next%50) || binary.LittleEndian.Uint64(f.Data) != next {
				t.Fatalf("frame %d: got %+v", next, f)
			}
			next++
		})
		if next <= n && h.park() {
			<-h.wake
		}
		h.unpark()
	}
	wg.Wait()
	if h.accepted.Load() != n {
		t.Fatalf("accepted %d, want %d", h.accepted.Load(), n)
	}
	h.closed.Store(true)
	if h.put(backlog.Frame{}, ingest.NoHole) || h.refused.Load() != 1 {
		t.Fatal("a closed queue took a frame")
	}
}
