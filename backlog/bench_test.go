package backlog

import (
	"bytes"
	"runtime"
	"testing"
)

// benchID spreads identities like fingerprints would be spread.
func benchID(i uint64) uint64 { return i * 0x9e3779b97f4a7c15 }

// benchFrame is the i-th frame of the benchmarks: 1 ms apart on the line,
// read in a 100 µs window.
func benchFrame(i uint64, data []byte) *Frame {
	at := int64(i) * 1_000_000
	return &Frame{ID: benchID(i), Win: Window{Lo: at - 100_000, Hi: at}, ReceivedAt: at, Data: data}
}

// benchEcho is the echo of the i-th frame.
func benchEcho(i uint64) Echo {
	at := int64(i) * 1_000_000
	return Echo{ID: benchID(i), Win: Window{Lo: at - 150_000, Hi: at + 50_000}}
}

// benchRing is an empty ring for the benchmarks' 100-byte frames, and a
// buffer for their bytes.
func benchRing(b *testing.B) (*Ring, []byte) {
	// 100-byte frames at 115200 baud: 8.7 ms on the line.
	r, err := New(Config{LineByteTime: 86_806})
	if err != nil {
		b.Fatal(err)
	}
	return r, make([]byte, 100)
}

// startTiming starts the measured part of a benchmark, allocations
// included.
func startTiming(b *testing.B) {
	b.ReportAllocs()
	b.ResetTimer()
}

// stopTiming ends the measured part of a benchmark and reports the
// operations a second.
func stopTiming(b *testing.B) {
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

// BenchmarkAppendTrimEcho is the inactive member's steady state: each op
// appends one 100-byte frame and trims one by its echo, which arrives 64
// frames behind the port.
func BenchmarkAppendTrimEcho(b *testing.B) {
	r, data := benchRing(b)
	const lag = 64
	var i uint64
	for ; i < lag; i++ {
		r.Append(benchFrame(i, data))
	}
	startTiming(b)
	for range b.N {
		data[0] = byte(i)
		r.Append(benchFrame(i, data))
		if res := r.TrimEcho(benchEcho(i - lag)); res.Kind != TrimMatched || res.Passed != 0 {
			b.Fatalf("TrimEcho: %+v", res)
		}
		i++
	}
	stopTiming(b)
}

// BenchmarkAppendTrimThrough is the active member's steady state: each op
// appends one 100-byte frame; every 32 frames a commit trims them.
func BenchmarkAppendTrimThrough(b *testing.B) {
	r, data := benchRing(b)
	startTiming(b)
	for i := range b.N {
		data[0] = byte(i)
		pos, _, _ := r.Append(benchFrame(uint64(i), data))
		if pos%32 == 0 {
			r.TrimThrough(pos)
		}
	}
	stopTiming(b)
}

// BenchmarkEchoThenAppend is the path of an echo that arrives before the
// local port delivers its frame: the echo is remembered, and the frame is
// recognised and not stored.
func BenchmarkEchoThenAppend(b *testing.B) {
	r, data := benchRing(b)
	const lead = 16
	var i uint64
	for ; i < lead; i++ {
		r.TrimEcho(benchEcho(i))
	}
	startTiming(b)
	for range b.N {
		r.TrimEcho(benchEcho(i))
		if _, stored, _ := r.Append(benchFrame(i-lead, data)); stored {
			b.Fatal("stored although its echo was remembered")
		}
		i++
	}
	stopTiming(b)
}

// BenchmarkFlush reads a full ring of 100,000 frames from a cursor, as on
// activation.
func BenchmarkFlush(b *testing.B) {
	r, data := benchRing(b)
	for i := range uint64(100_000) {
		r.Append(benchFrame(i, data))
	}
	startTiming(b)
	var cursor uint64
	for range b.N {
		e, ok := r.Next(cursor)
		if !ok {
			cursor = 0
			continue
		}
		cursor = e.Pos
	}
	stopTiming(b)
}

// heapRatio fills a default ring with a million 100-byte frames (with feed
// sequence numbers when exact, fingerprints otherwise) and returns the live
// heap it added divided by the payload, measured with runtime.ReadMemStats
// after a collection.
func heapRatio(exact bool) (ratio float64, heap uint64) {
	const frames, size = 1_000_000, 100
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := New(Config{})
	if err != nil {
		panic(err)
	}
	data := make([]byte, size)
	for i := range uint64(frames) {
		data[0] = byte(i)
		f := benchFrame(i, data)
		if exact {
			f.ID, f.Exact, f.Fingerprint = i, true, benchID(i)
		}
		if _, stored, err := r.Append(f); !stored || err != nil {
			panic("append failed")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(r)
	heap = after.HeapAlloc - before.HeapAlloc
	return float64(heap) / (frames * size), heap
}

// BenchmarkMemory1M reports the heap held per payload byte for one million
// 100-byte frames identified by their fingerprints (target: at most 1.3).
func BenchmarkMemory1M(b *testing.B) { benchMemory(b, false) }

// BenchmarkMemory1MSeq is BenchmarkMemory1M for frames identified by feed
// sequence numbers, whose entries also keep the fingerprint.
func BenchmarkMemory1MSeq(b *testing.B) { benchMemory(b, true) }

func benchMemory(b *testing.B, exact bool) {
	var ratio float64
	var heap uint64
	for range b.N {
		ratio, heap = heapRatio(exact)
	}
	b.ReportMetric(ratio, "heap/payload")
	b.ReportMetric(float64(heap)/1e6, "heap-MB")
}

func TestMemory1M(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 125 MB")
	}
	ratio, heap := heapRatio(false)
	t.Logf("heap %d bytes for 100,000,000 payload bytes: %.3f", heap, ratio)
	if ratio > 1.3 {
		t.Fatalf("heap/payload = %.3f; want <= 1.3", ratio)
	}
}

// BenchmarkPeerSliceQueue is the peer of BenchmarkAppendTrimEcho: the same
// operations on the obvious implementation, a slice of entries each owning a
// copy of its frame, trimmed by re-slicing. docs/benchmarks.md reports the
// ring as a ratio to it.
func BenchmarkPeerSliceQueue(b *testing.B) {
	type entry struct {
		id   uint64
		at   int64
		data []byte
	}
	var q []entry
	data := make([]byte, 100)
	const lag = 64
	var i uint64
	for ; i < lag; i++ {
		q = append(q, entry{benchID(i), int64(i), bytes.Clone(data)})
	}
	startTiming(b)
	for range b.N {
		data[0] = byte(i)
		q = append(q, entry{benchID(i), int64(i), bytes.Clone(data)})
		if q[0].id != benchID(i-lag) {
			b.Fatal("queue out of step")
		}
		q = q[1:]
		i++
	}
	stopTiming(b)
}
