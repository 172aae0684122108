package broadcast

import (
	"encoding/binary"
	"sync"
	"testing"
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
			if !h.put(i, int64(i), buf[:size]) {
				t.Error("put refused")
				return
			}
		}
	})
	var next uint64 = 1
	for next <= n {
		h.drain(func(id uint64, rx int64, data []byte) {
			if id != next || rx != int64(next) || len(data) != 8+int(next%50) || binary.LittleEndian.Uint64(data) != next {
				t.Fatalf("frame %d: got id %d rx %d len %d", next, id, rx, len(data))
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
	if h.put(0, 0, nil) || h.refused.Load() != 1 {
		t.Fatal("a closed queue took a frame")
	}
}
