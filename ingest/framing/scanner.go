package framing

import (
	"errors"
	"fmt"
	"io"
)

// scanBufSize is the Scanner's read size: larger than any serial read,
// small enough not to matter.
const scanBufSize = 32 << 10

var (
	errBadRead    = errors.New("framing: reader returned an invalid count")
	errNoProgress = fmt.Errorf("framing: decoder consumed an invalid count: %w", io.ErrNoProgress)
)

// Scanner reads frames from an io.Reader through a Decoder: for tests,
// the simulator and replay files, and for the serial port itself.
type Scanner struct {
	r     io.Reader
	d     Decoder
	buf   []byte
	start int // buf[start:end] is read but not yet decoded
	end   int
	err   error // sticky; returned once buf is drained
	// flushed: the decoder has been reset after err.
	flushed bool
}

// NewScanner returns a Scanner that reads from r and decodes with d.
func NewScanner(r io.Reader, d Decoder) *Scanner {
	return &Scanner{r: r, d: d, buf: make([]byte, scanBufSize)}
}

// Next returns the next valid frame (aliasing internal buffers, valid
// until the next call). When the underlying Read returns (0, nil) — a
// serial read timeout on Linux — Next returns (nil, false, nil) so the
// caller can check the time. On an error, including io.EOF, it first
// returns the frames in what was read, then resets the decoder (counting a
// partial frame as Truncated) and returns (nil, false, err), and the same
// error on every later call until Reset.
func (s *Scanner) Next() (frame []byte, ok bool, err error) {
	for {
		for s.start < s.end {
			n, f, ok := s.d.Decode(s.buf[s.start:s.end])
			if n <= 0 || n > s.end-s.start {
				// A broken Decoder would otherwise spin here forever.
				s.start, s.end = 0, 0
				s.err = errNoProgress
				break
			}
			s.start += n
			if ok {
				return f, true, nil
			}
		}
		if s.err != nil {
			if !s.flushed {
				// A frame still partial when the stream fails never
				// completes.
				s.d.Reset()
				s.flushed = true
			}
			return nil, false, s.err
		}
		n, err := s.r.Read(s.buf)
		if n < 0 || n > len(s.buf) {
			n, err = 0, errBadRead
		}
		s.start, s.end = 0, n
		if err != nil {
			s.err = err // after decoding what came with it
			continue
		}
		if n == 0 {
			return nil, false, nil
		}
	}
}

// Reset makes s read from r, as after a reconnect: it clears the sticky
// error and resets the decoder, counting a partial frame as Truncated. It
// is meant for after Next has returned an error or a timeout, when every
// byte read has been decoded; bytes read but not yet decoded are
// discarded without being counted.
func (s *Scanner) Reset(r io.Reader) {
	s.r = r
	s.start, s.end = 0, 0
	s.err = nil
	s.flushed = false
	s.d.Reset()
}
