package audit

import (
	"fmt"
	"io"

	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/ingest/framing"
)

// Expectation is what the topic owes: the expected frames in feed order,
// and where they come from.
type Expectation struct {
	Feed   FeedInfo
	Frames []ExpectedFrame
}

// ReadExpectation reads a simulator's record file (serialsim.ReadRecord)
// and decodes it with the members' framing: see ExpectFromRecord. A record
// whose last line is cut (the simulator was killed while writing it) is
// an error.
func ReadExpectation(r io.Reader, source string, fc framing.Config) (*Expectation, error) {
	h, frames, err := serialsim.ReadRecord(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	e, err := ExpectFromRecord(h, frames, fc)
	if err != nil {
		return nil, err
	}
	e.Feed.Source = source
	return e, nil
}

// ExpectFromRecord returns the expected frames of a record: the recorded
// frames that at least one port received intact, in feed order, each
// decoded on its own with the framing fc, as the members decode what their
// port reads. A recorded frame holds the bytes on the wire, framing
// included; a record's value holds what the framing returns. A delivered
// frame for which the framing returns nothing is counted as undecodable
// (the members drop it too); one it returns as several frames gives
// several expected frames with the same index.
func ExpectFromRecord(h serialsim.RecordHeader, frames []serialsim.RecordedFrame, fc framing.Config) (*Expectation, error) {
	dec, err := framing.New(fc)
	if err != nil {
		return nil, err
	}
	e := &Expectation{Feed: FeedInfo{
		Generator: h.Feed, Seed: h.Seed, Ports: h.Ports, Started: h.Started,
		Framing: fc.Mode, Frames: int64(len(frames)),
	}}
	// Frames share their fate lists: there are few distinct ones.
	fates := make(map[string][]string)
	var key []byte
	for fi := range frames {
		f := &frames[fi]
		if !f.DeliveredAnywhere() {
			e.Feed.Undelivered++
			continue
		}
		key = key[:0]
		for _, p := range f.Ports {
			key = append(append(key, p.Fate...), 0)
		}
		ports, ok := fates[string(key)]
		if !ok {
			for _, p := range f.Ports {
				ports = append(ports, string(p.Fate))
			}
			fates[string(key)] = ports
		}
		n := 0
		dec.Reset()
		for p := f.Data; len(p) > 0; {
			used, frame, ok := dec.Decode(p)
			if used <= 0 || used > len(p) {
				return nil, fmt.Errorf("framing %s: the decoder consumed %d of %d bytes", fc.Mode, used, len(p))
			}
			p = p[used:]
			if ok {
				e.Frames = append(e.Frames, ExpectedFrame{Index: f.Index, Data: string(frame), Fates: ports})
				n++
			}
		}
		switch {
		case n == 0:
			e.Feed.Undecodable++
		case n > 1:
			e.Feed.Split++
		}
	}
	dec.Reset()
	return e, nil
}
