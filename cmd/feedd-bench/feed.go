package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// FrameSize is the length of every benchmark frame, "\r\n" included: the
// simulator's sentence "$FDSEQ,<seq>,<unix-ms>,<padding>*hh\r\n", which a
// member frames as NMEA and identifies by its sequence number (field 1).
const FrameSize = 100

// frameFileEpoch is the time written into the frames of the throughput
// file, so that the file is the same on every run.
const frameFileEpoch = 1_700_000_000_000

// appendFrames appends frames first..first+n-1 stamped with unixMilli.
func appendFrames(dst []byte, first uint64, n int, unixMilli int64) []byte {
	pad := make([]byte, FrameSize)
	for i := range pad {
		pad[i] = '0' + byte(i%10)
	}
	for seq := first; seq < first+uint64(n); seq++ {
		dst = serialsim.AppendFrame(dst, seq, unixMilli, pad[:serialsim.PaddingLen(seq, unixMilli, FrameSize)])
	}
	return dst
}

// writeFrameFile writes frames 1..n to path: the input both feedd and kcat
// read in the throughput benchmark.
func writeFrameFile(path string, n int) error {
	const chunk = 10_000
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, chunk*FrameSize)
	for first := 1; first <= n; first += chunk {
		buf = appendFrames(buf[:0], uint64(first), min(chunk, n-first+1), frameFileEpoch)
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// writeTimeout bounds one write into a pty: a member that stopped reading
// must fail the benchmark, not hang it.
const writeTimeout = 30 * time.Second

// sink is where a feed writes frames: a pty's master, or kcat's standard
// input.
type sink interface {
	writeAll(b []byte) error
}

// pipeSink is a pipe to a peer's standard input.
type pipeSink struct{ f *os.File }

func (p pipeSink) writeAll(b []byte) error {
	if err := p.f.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	_, err := p.f.Write(b)
	return err
}

// writeAll writes b into the pty's master.
func (p *pty) writeAll(b []byte) error {
	if err := p.master.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	_, err := p.master.Write(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("writing into %s: nobody read %d bytes for %v", p.Path, len(b), writeTimeout)
	}
	return err
}

// stamps records, per sequence number, when the frame's last byte was
// written into the pty: nanoseconds since base on the monotonic clock, 0
// for a frame not written (yet). Written by the feed, read by a consumer.
type stamps struct {
	base  time.Time
	first uint64
	at    []atomic.Int64
}

func newStamps(first uint64, n int) *stamps {
	return &stamps{base: time.Now(), first: first, at: make([]atomic.Int64, n)}
}

func (s *stamps) set(seq uint64, at time.Time) {
	if i := seq - s.first; seq >= s.first && i < uint64(len(s.at)) {
		s.at[i].Store(int64(at.Sub(s.base)))
	}
}

// since returns how long before at frame seq was written, or false.
func (s *stamps) since(seq uint64, at time.Time) (time.Duration, bool) {
	i := seq - s.first
	if seq < s.first || i >= uint64(len(s.at)) {
		return 0, false
	}
	w := s.at[i].Load()
	if w == 0 {
		return 0, false
	}
	return at.Sub(s.base) - time.Duration(w), true
}

// dueBy returns how many frames of a feed at rate frames/s that started at
// elapsed 0 are due by elapsed: frame i (from 0) is due at i/rate. The
// schedule is absolute, so a late wake-up catches up and the long-run rate
// is exact.
func dueBy(elapsed time.Duration, rate float64) int {
	if elapsed < 0 {
		return 0
	}
	return int(elapsed.Seconds()*rate) + 1
}

// maxBatch caps how many due frames one write carries when the pacer wakes
// late.
const maxBatch = 64

// pace writes n frames, from seq first on, into every port at rate
// frames/s, stamping each as its write begins. It returns the next
// sequence number.
func pace(ctx context.Context, ports []sink, first uint64, n int, rate float64, st *stamps) (uint64, error) {
	buf := make([]byte, 0, maxBatch*FrameSize)
	start := time.Now()
	seq := first
	for sent := 0; sent < n; {
		if err := ctx.Err(); err != nil {
			return seq, err
		}
		due := min(dueBy(time.Since(start), rate), n)
		if due <= sent {
			next := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
			time.Sleep(time.Until(next))
			continue
		}
		k := min(due-sent, maxBatch)
		buf = appendFrames(buf[:0], seq, k, time.Now().UnixMilli())
		// Stamped before the write, not after it returns: the member
		// can read, produce and commit a frame, and a consumer receive
		// it, before a writer descheduled after its write would stamp
		// it. A write of at most 64 frames into a pty that is being read
		// completes within microseconds of its start.
		if st != nil {
			now := time.Now()
			for i := range k {
				st.set(seq+uint64(i), now)
			}
		}
		for _, p := range ports {
			if err := p.writeAll(buf); err != nil {
				return seq, err
			}
		}
		seq += uint64(k)
		sent += k
	}
	return seq, nil
}

// burst writes n frames from seq first on into every port as fast as the
// ports take them and returns the next sequence number.
func burst(ports []sink, first uint64, n int) (uint64, error) {
	const chunk = 640
	buf := make([]byte, 0, chunk*FrameSize)
	for sent := 0; sent < n; {
		k := min(chunk, n-sent)
		buf = appendFrames(buf[:0], first+uint64(sent), k, time.Now().UnixMilli())
		for _, p := range ports {
			if err := p.writeAll(buf); err != nil {
				return first + uint64(sent), err
			}
		}
		sent += k
	}
	return first + uint64(n), nil
}

// copyFile writes the whole file into the pty in 64 KiB writes.
func copyFile(p *pty, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for len(data) > 0 {
		k := min(len(data), 64<<10)
		if err := p.writeAll(data[:k]); err != nil {
			return err
		}
		data = data[k:]
	}
	return nil
}
