package serialsim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

// The examples are worked out by hand from the waveform: bit times of the
// sender, the receiver sampling at its own bit time r (in sender bit times)
// after the falling edge: start check at r/2, data bit k at r*(1.5+k), the
// stop bit after the last data (and parity) bit.
func TestReceiveMisclockedExamples(t *testing.T) {
	line := Config{Baud: 19200, DataBits: 8, StopBits: 1}
	for _, c := range []struct {
		name   string
		rxBaud int
		in     []byte
		want   []byte
	}{
		// r = 19200/8727.27 = 2.2: 0x00 is low from 0 to 9, high after.
		// Data samples at 3.3, 5.5, 7.7 read low, from 9.9 on high:
		// bits 0,0,0,1,1,1,1,1 = 0xF8.
		{"receiver slower", 8727, []byte{0x00}, []byte{0xF8}},
		// r = 1/3: 0x0F is low (start) 0-1, high 1-5, low 5-9, stop 9-10.
		// First character: samples at 0.5, 0.83 low, 1.17..2.83 high:
		// 0xFC. The next edge is at 5 (data bit 3 to 4): all eight
		// samples low and the stop sample at 8.17 low too (a framing
		// error, delivered as sampled): 0x00. The rise at 9 is no edge.
		{"receiver faster", 57600, []byte{0x0F}, []byte{0xFC, 0x00}},
		// r = 2.2 again: 0x55 alternates every bit, so the start check at
		// 1.1 reads data bit 0 (high): a false start, and every later
		// edge is followed by a high bit at +1.1 too. Nothing arrives.
		{"only false starts", 8727, []byte{0x55}, nil},
	} {
		if got := line.receiveMisclocked(c.in, c.rxBaud); !bytes.Equal(got, c.want) {
			t.Errorf("%s: receiveMisclocked(% x) at %d baud = % x; want % x", c.name, c.in, c.rxBaud, got, c.want)
		}
	}
}

// At the right speed, and within a UART's tolerance of it, every format
// reads back unchanged; far off it, text turns into something else.
func TestReceiveMisclockedTolerance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 200)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	formats := []Config{
		{Baud: 38400, DataBits: 8, StopBits: 1},
		{Baud: 38400, DataBits: 7, Parity: ParityEven, StopBits: 1},
		{Baud: 38400, DataBits: 8, Parity: ParityOdd, StopBits: 2},
		{Baud: 38400, DataBits: 8, StopBits: 1.5},
	}
	for _, f := range formats {
		in := data
		if f.DataBits < 8 {
			in = maskBytes(data, 0x7F)
		}
		for _, rx := range []int{38400, 38400 * 102 / 100, 38400 * 98 / 100} {
			if got := f.receiveMisclocked(in, rx); !bytes.Equal(got, in) {
				t.Errorf("%d%s%v at %d baud: a receiver within 2%% of the sender misread the bytes", f.DataBits, f.Parity, f.StopBits, rx)
			}
		}
		text := maskBytes([]byte("$FDSEQ,1,1700000000000,ABCDEFGH*00\r\n"), 0x7F)
		for _, rx := range []int{9600, 19200, 57600, 115200} {
			if got := f.receiveMisclocked(text, rx); bytes.Equal(got, text) {
				t.Errorf("%s at %d baud: the bytes read back unchanged", formatName(f), rx)
			}
		}
	}
}

func maskBytes(b []byte, m byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c & m
	}
	return out
}

func formatName(c Config) string {
	return fmt.Sprintf("%d baud %d%s%v", c.Baud, c.DataBits, c.Parity, c.StopBits)
}

// A port under a baud fault delivers garbage that fails every checksum,
// counted as corrupted, while the other port's reader gets every frame; the
// counters still add up.
func TestBaudFaultGarblesOnePort(t *testing.T) {
	const n = 200
	f, err := ParseFault("port=1,kind=baud,baud=38400")
	if err != nil {
		t.Fatal(err)
	}
	s := startSim(t, Config{Ports: 2, Baud: 115200, Count: n, Rate: 200, Seed: 3, Faults: []Fault{f}})
	r0, r1 := openReader(t, s.Ports()[0]), openByteReader(t, s.Ports()[1])
	waitFinished(t, s)
	r0.waitLines(t, "port0's frames at its reader", n)
	lines0, _ := r0.snapshot()
	if got, invalid := seqs(lines0); len(got) != n || invalid != 0 {
		t.Fatalf("port0 (no fault): %d valid and %d invalid lines, want %d valid", len(got), invalid, n)
	}
	st1 := stats(t, s, 1)
	if st1.Corrupted != n || st1.Delivered != 0 {
		t.Fatalf("port1 (baud fault): %v; want all %d frames corrupted", st1, n)
	}
	waitFor(t, "port1's bytes at its reader", func() bool { return uint64(len(r1.bytes())) >= st1.Bytes })
	if got, _ := seqs(splitLines(r1.bytes())); len(got) != 0 {
		t.Fatalf("port1 (baud fault): %d valid frames read; want none", len(got))
	}
	if st1.Bytes == 0 || st1.Bytes >= stats(t, s, 0).Bytes {
		t.Fatalf("port1 wrote %d bytes, port0 %d: a receiver at a third of the speed assembles fewer characters", st1.Bytes, stats(t, s, 0).Bytes)
	}
}

// byteReader keeps every byte read from a port: garbage may hold no line
// end at all.
type byteReader struct {
	f    *os.File
	done chan struct{}
	mu   sync.Mutex
	data []byte
}

func openByteReader(tb testing.TB, path string) *byteReader {
	tb.Helper()
	f := openPort(tb, path)
	r := &byteReader{f: f, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			r.mu.Lock()
			r.data = append(r.data, buf[:n]...)
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() { _ = f.Close(); <-r.done })
	return r
}

func (r *byteReader) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.data...)
}

func splitLines(b []byte) []line {
	var out []line
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return append(out, line{data: b})
		}
		out = append(out, line{data: b[:i+1]})
		b = b[i+1:]
	}
	return out
}
