package framing

import (
	"bytes"
	"testing"
)

// allModes is one representative configuration per mode, with a small
// max_frame so that bounds are reached quickly.
var allModes = []Config{
	{Mode: ModeLines, MaxFrame: 64},
	{Mode: ModeNMEA, MaxFrame: 64},
	{Mode: ModeSTXETX, MaxFrame: 64, Check: CheckXOR},
	{Mode: "fixed:64"},
	{Mode: "fixed:64", Sync: "AA55"},
	{Mode: ModeLengthPrefix, LengthBytes: 2, MaxFrame: 64},
	{Mode: ModeSLIP, MaxFrame: 64},
	{Mode: ModeCOBS, MaxFrame: 64},
}

// A stream that never delivers a delimiter must not make the decoder hold
// more than its preallocated buffer, nor allocate.
func TestBoundedMemory(t *testing.T) {
	// Bytes that are no delimiter in any mode and, as a length prefix,
	// claim more than max_frame.
	stream := bytes.Repeat([]byte("ABCDEFGH"), 1<<14) // 128 KiB
	for _, c := range allModes {
		d := mustNew(t, c)
		bufCap := cap(d.(holder).hold())
		allocs := testing.AllocsPerRun(5, func() {
			for p := stream; len(p) > 0; {
				n, _, _ := d.Decode(p[:min(len(p), 1000)])
				p = p[n:]
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per 128 KiB without a delimiter", c.Mode, allocs)
		}
		if got := cap(d.(holder).hold()); got != bufCap || got > 64+1 {
			t.Errorf("%s: buffer cap %d, was %d", c.Mode, got, bufCap)
		}
		if d.Drops().Total() == 0 && c.Mode != "fixed:64" {
			t.Errorf("%s: 128 KiB without a frame dropped nothing", c.Mode)
		}
	}
}

// Decoding valid frames in steady state allocates nothing, whether frames
// arrive whole or split across calls.
func TestZeroAllocs(t *testing.T) {
	for _, c := range allModes {
		var stream []byte
		for i := range 50 {
			stream = appendTestFrame(t, c, stream, i, 40)
		}
		d := mustNew(t, c)
		lead, _ := leadFor(t, c)
		feed(t, d, lead)
		for _, chunk := range []int{len(stream), 7} {
			frames := 0
			allocs := testing.AllocsPerRun(10, func() {
				frames = 0
				for p := stream; len(p) > 0; {
					n, _, ok := d.Decode(p[:min(len(p), chunk)])
					if ok {
						frames++
					}
					p = p[n:]
				}
			})
			if allocs != 0 {
				t.Errorf("%s, chunks of %d: %v allocs per run", c.Mode, chunk, allocs)
			}
			if frames != 50 || d.Drops().Total() != d.Drops().Count(Resync) {
				t.Errorf("%s, chunks of %d: %d frames, drops %v", c.Mode, chunk, frames, countsOf(d))
			}
		}
	}
}

// appendTestFrame appends a frame of n payload bytes (or the mode's fixed
// size) derived from i, in bytes that every mode can carry.
func appendTestFrame(t testing.TB, c Config, dst []byte, i, n int) []byte {
	t.Helper()
	s, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.mode == ModeFixed {
		n = s.size
	}
	var payload []byte
	if s.mode == ModeNMEA {
		body := make([]byte, n-4)
		for k := range body {
			body[k] = 'A' + byte((i+k)%26)
		}
		payload = AppendNMEA(nil, body)
		payload = payload[:len(payload)-2]
	} else {
		payload = make([]byte, n)
		for k := range payload {
			payload[k] = 'A' + byte((i+k)%26)
		}
	}
	out, err := c.AppendFrame(dst, payload)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Drops may be read while another goroutine decodes (run with -race).
func TestDropsConcurrentRead(t *testing.T) {
	d := mustNew(t, Config{Mode: ModeSTXETX})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			for p := []byte{'x', stx, 'a' + byte(i%26), etx}; len(p) > 0; {
				n, _, _ := d.Decode(p)
				p = p[n:]
			}
		}
	}()
	for {
		select {
		case <-done:
			// The first x precedes the first frame: resync, not noise.
			if n, r := d.Drops().Count(Noise), d.Drops().Count(Resync); n != 999 || r != 1 {
				t.Errorf("Noise = %d, Resync = %d; want 999, 1", n, r)
			}
			return
		default:
			_ = d.Drops().Total()
		}
	}
}
