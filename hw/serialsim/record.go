package serialsim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// RecordFormat and RecordVersion open every record file: they let a reader
// refuse a file that is not one, or one written by a later format.
const (
	RecordFormat  = "feedd-sim-record"
	RecordVersion = 1
)

// RecordHeader is the first line of a record file: the line and the feed the
// frames were sent on.
type RecordHeader struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Ports    int       `json:"ports"`
	Baud     int       `json:"baud"`
	DataBits int       `json:"data_bits"`
	Parity   string    `json:"parity"`
	StopBits float64   `json:"stop_bits"`
	Feed     string    `json:"feed"` // the generator, or "replay"
	Seed     uint64    `json:"seed"`
	Started  time.Time `json:"started"` // the line time origin: RecordedFrame.At counts from it
	// Clock and StartedMono place the line time origin on the recording
	// host's monotonic clock (package hostclock, the clock of the
	// members' feedd-rxw read windows): a reader on the same host can
	// compare when a member read a frame with its line time without the
	// wall clock, which time synchronisation may step while a feed runs.
	// Zero in records written before they existed.
	Clock       uint64 `json:"clock,omitempty"`
	StartedMono int64  `json:"started_mono_ns,omitempty"`
}

// Fate is what became of one frame on one port.
type Fate string

// Fates. Only FateDelivered means the port's reader received the frame as
// the feed sent it; corrupted, garbled and cut frames carry the bytes the
// port did receive.
const (
	FateDelivered Fate = "delivered" // written intact and taken by the reader (or still readable)
	FateCorrupted Fate = "corrupted" // written with bytes changed by the corrupt fault
	FateGarbled   Fate = "garbled"   // written as a receiver at the wrong baud rate reads it
	FateCut       Fate = "cut"       // only a prefix was written: an unplug interrupted it
	FateDropped   Fate = "dropped"   // kept from the port by the drop fault
	FatePaused    Fate = "paused"    // due while the port was paused
	FateUnplugged Fate = "unplugged" // due while unplugged, or written but never read before the pty closed
	FateOverflow  Fate = "overflow"  // the port's queue was full
)

// PortFate is one port's part of a RecordedFrame.
type PortFate struct {
	Fate Fate `json:"fate"`
	// Bytes are what the port received when that differs from the frame:
	// for FateCorrupted, FateGarbled and FateCut. Otherwise empty.
	Bytes []byte `json:"bytes,omitempty"`
	// Written is when the simulator finished writing the frame to the
	// port, from RecordHeader.Started, for every frame it wrote completely:
	// delivered, corrupted, garbled, and unplugged after the write (the
	// reader never took it). Zero for a frame not written completely. It
	// lies within Config.MaxWriteDelay after At unless the port counted
	// the frame Late.
	Written time.Duration `json:"written_ns,omitempty"`
}

// RecordedFrame is one frame of the feed, in feed order, and what each port
// was sent of it.
type RecordedFrame struct {
	// Index counts the feed's frames from 0, in the order the line sent them.
	Index uint64 `json:"i"`
	// At is the line time of the frame's last byte, from RecordHeader.Started.
	At time.Duration `json:"at_ns"`
	// Data is the frame as the feed sent it, framing included.
	Data []byte `json:"data"`
	// Ports has one entry per port, by port index.
	Ports []PortFate `json:"ports"`
}

// DeliveredTo reports whether port received the frame intact.
func (f *RecordedFrame) DeliveredTo(port int) bool {
	return port >= 0 && port < len(f.Ports) && f.Ports[port].Fate == FateDelivered
}

// DeliveredAnywhere reports whether at least one port received the frame
// intact: a pair whose members read those ports owes it to the topic.
func (f *RecordedFrame) DeliveredAnywhere() bool {
	for i := range f.Ports {
		if f.Ports[i].Fate == FateDelivered {
			return true
		}
	}
	return false
}

// RecordWriter writes a record file: one JSON object per line, the header
// first, then the frames in feed order. It is not safe for concurrent use.
type RecordWriter struct {
	w     *bufio.Writer
	enc   *json.Encoder
	ports int
	next  uint64
}

// NewRecordWriter writes h (Format and Version are filled in) and returns a
// writer for the frames.
func NewRecordWriter(w io.Writer, h RecordHeader) (*RecordWriter, error) {
	if h.Ports < 1 {
		return nil, errors.New("serialsim: record header: ports must be >= 1")
	}
	h.Format, h.Version = RecordFormat, RecordVersion
	bw := bufio.NewWriter(w)
	rw := &RecordWriter{w: bw, enc: json.NewEncoder(bw), ports: h.Ports}
	if err := rw.enc.Encode(h); err != nil {
		return nil, fmt.Errorf("serialsim: writing the record header: %w", err)
	}
	return rw, nil
}

// Write appends one frame. Frames must come in feed order, each with one
// fate per port.
func (rw *RecordWriter) Write(f RecordedFrame) error {
	if f.Index != rw.next {
		return fmt.Errorf("serialsim: record: frame %d written after frame %d", f.Index, rw.next-1)
	}
	if len(f.Ports) != rw.ports {
		return fmt.Errorf("serialsim: record: frame %d has %d port fates, want %d", f.Index, len(f.Ports), rw.ports)
	}
	if err := rw.enc.Encode(f); err != nil {
		return fmt.Errorf("serialsim: record: frame %d: %w", f.Index, err)
	}
	rw.next++
	return nil
}

// Flush writes what is buffered.
func (rw *RecordWriter) Flush() error { return rw.w.Flush() }

// ReadRecord reads a whole record file. A truncated last line (the writer
// was killed mid-write) is an error; the frames before it are returned with
// it.
func ReadRecord(r io.Reader) (RecordHeader, []RecordedFrame, error) {
	var h RecordHeader
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := br.ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return h, nil, fmt.Errorf("serialsim: reading the record header: %w", err)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, nil, fmt.Errorf("serialsim: record header: %w", err)
	}
	switch {
	case h.Format != RecordFormat:
		return h, nil, fmt.Errorf("serialsim: not a record file (format %q, want %q)", h.Format, RecordFormat)
	case h.Version != RecordVersion:
		return h, nil, fmt.Errorf("serialsim: record version %d, this reader knows %d", h.Version, RecordVersion)
	case h.Ports < 1:
		return h, nil, fmt.Errorf("serialsim: record header: ports %d", h.Ports)
	}
	var frames []RecordedFrame
	for n := 2; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var f RecordedFrame
			if jerr := json.Unmarshal(line, &f); jerr != nil {
				return h, frames, fmt.Errorf("serialsim: record line %d: %w", n, jerr)
			}
			if f.Index != uint64(len(frames)) || len(f.Ports) != h.Ports {
				return h, frames, fmt.Errorf("serialsim: record line %d: frame %d with %d port fates, want frame %d with %d",
					n, f.Index, len(f.Ports), len(frames), h.Ports)
			}
			frames = append(frames, f)
		}
		if errors.Is(err, io.EOF) {
			return h, frames, nil
		}
		if err != nil {
			return h, frames, fmt.Errorf("serialsim: reading the record: %w", err)
		}
	}
}
