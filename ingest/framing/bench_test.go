package framing

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"testing"
)

// BenchmarkDecode decodes a stream of 100-byte frames in 4 KiB reads, as a
// busy serial port or a replay file delivers them.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"lines", Config{Mode: ModeLines}},
		{"nmea", Config{Mode: ModeNMEA, MaxFrame: 128}},
		{"stx-etx", Config{Mode: ModeSTXETX, Check: CheckXOR}},
		{"fixed", Config{Mode: "fixed:100", Sync: "AA55"}},
		{"length-prefix", Config{Mode: ModeLengthPrefix, LengthBytes: 2}},
		{"slip", Config{Mode: ModeSLIP}},
		{"cobs", Config{Mode: ModeCOBS}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchDecode(b, bc.cfg) })
	}
}

const (
	benchFrameSize = 100
	benchFrames    = 1000
	benchReadSize  = 4096
)

func benchDecode(b *testing.B, c Config) {
	stream := benchStream(b, c)
	d := mustNew(b, c)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()

	frames := 0
	decodeStream := func() {
		for p := stream; len(p) > 0; {
			chunk := p[:min(len(p), benchReadSize)]
			for len(chunk) > 0 {
				n, _, ok := d.Decode(chunk)
				if ok {
					frames++
				}
				chunk = chunk[n:]
			}
			p = p[min(len(p), benchReadSize):]
		}
	}
	// Counted apart from the timed loop: AllocsPerRun is not disturbed by
	// the benchmark machinery's own allocations.
	allocsPerFrame := testing.AllocsPerRun(5, decodeStream) / benchFrames
	frames = 0

	for b.Loop() {
		decodeStream()
	}

	// The first pass, from a new decoder, may resync past the stream's
	// first frame; the timed passes, in step, drop nothing.
	if c := countsOf(d); c.minus(counts{Resync: c[Resync]}) != (counts{}) || c[Resync] > 1 || frames%benchFrames != 0 {
		b.Fatalf("decoded %d frames with drops %v", frames, countsOf(d))
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(allocsPerFrame, "allocs/frame")
}

// benchStream returns benchFrames frames of benchFrameSize bytes each, as
// delivered, in c's mode: printable text for the text modes, random bytes
// (escapes and zeros included) for the binary ones.
func benchStream(b *testing.B, c Config) []byte {
	s, err := c.resolve()
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var stream []byte
	payload := make([]byte, benchFrameSize)
	for range benchFrames {
		switch s.mode {
		case ModeLines, ModeNMEA:
			for i := range payload {
				payload[i] = ' ' + byte(r.IntN('~'-' '))
				if payload[i] == '$' || payload[i] == '!' || payload[i] == '*' {
					payload[i] = ','
				}
			}
		default:
			for i := range payload {
				payload[i] = byte(r.Uint32())
				if s.mode == ModeSTXETX && isSTXOrETX(payload[i]) {
					payload[i] = 0
				}
			}
		}
		p := payload
		if s.mode == ModeNMEA {
			// '$' + body + "*hh" is the 100-byte frame.
			p = AppendNMEA(nil, payload[:benchFrameSize-4])
			p = p[:len(p)-2]
		}
		if stream, err = c.AppendFrame(stream, p); err != nil {
			b.Fatal(err)
		}
	}
	return stream
}

// BenchmarkPeerBufioScanLines is the peer for the lines mode: the standard
// library's line splitter over the same stream, through the same 4 KiB
// reads. docs/benchmarks.md reports lines as a ratio to it.
func BenchmarkPeerBufioScanLines(b *testing.B) {
	stream := benchStream(b, Config{Mode: ModeLines})
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	frames := 0
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(stream))
		sc.Buffer(make([]byte, benchReadSize), benchReadSize)
		for sc.Scan() {
			frames++
		}
		if sc.Err() != nil {
			b.Fatal(sc.Err())
		}
	}
	if frames%benchFrames != 0 {
		b.Fatalf("scanned %d lines", frames)
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}
