package ftpair

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeartbeatWireVersion is the first byte of an encoded heartbeat.
const HeartbeatWireVersion = 1

// maxWireString bounds the member ids in an encoded heartbeat.
const maxWireString = 255

// MarshalBinary encodes the heartbeat: a version byte, then the fields as
// unsigned varints, single bytes and length-prefixed strings, in a fixed
// order. It does not authenticate; the transport wraps it (e.g. in an HMAC
// with the pipeline's shared key). Later versions only append fields, so a
// decoder ignores bytes it does not know.
func (h Heartbeat) MarshalBinary() ([]byte, error) {
	for _, s := range []string{h.From, h.HandoverTo, h.TakeoverFrom} {
		if len(s) > maxWireString {
			return nil, fmt.Errorf("ftpair: heartbeat: member id of %d bytes is too long", len(s))
		}
	}
	if len(h.Heard) > maxWireHeard {
		return nil, fmt.Errorf("ftpair: heartbeat: %d members heard, at most %d", len(h.Heard), maxWireHeard)
	}
	for _, x := range h.Heard {
		if len(x.From) > maxWireString {
			return nil, fmt.Errorf("ftpair: heartbeat: member id of %d bytes is too long", len(x.From))
		}
	}
	if h.Weight < 0 || h.Slot < 0 {
		return nil, errors.New("ftpair: heartbeat: negative weight or slot")
	}
	b := make([]byte, 0, 64+len(h.From)+len(h.HandoverTo)+len(h.TakeoverFrom))
	b = append(b, HeartbeatWireVersion)
	b = appendString(b, h.From)
	b = binary.AppendUvarint(b, h.Incarnation)
	b = binary.AppendUvarint(b, h.Seq)
	b = binary.AppendUvarint(b, uint64(h.Weight))
	b = append(b, byte(h.Role))
	b = binary.AppendUvarint(b, uint64(h.Slot))
	b = binary.AppendUvarint(b, h.Term)
	b = append(b, byte(h.Feed), byte(h.Kafka))
	var flags byte
	if h.HoldOff {
		flags |= 1
	}
	b = append(b, flags)
	b = appendString(b, h.HandoverTo)
	b = appendString(b, h.TakeoverFrom)
	// Appended later: a decoder that stops after TakeoverFrom ignores it.
	b = binary.AppendUvarint(b, uint64(len(h.Heard)))
	for _, x := range h.Heard {
		b = appendString(b, x.From)
		b = binary.AppendUvarint(b, x.Incarnation)
		b = binary.AppendUvarint(b, x.Seq)
	}
	return b, nil
}

// maxWireHeard bounds the entries of Heard in an encoded heartbeat: one per
// peer, and a group is a handful of members.
const maxWireHeard = 64

// UnmarshalBinary decodes what MarshalBinary encoded.
func (h *Heartbeat) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if v := d.byte(); d.err == nil && v != HeartbeatWireVersion {
		return fmt.Errorf("ftpair: heartbeat: unknown version %d", v)
	}
	var out Heartbeat
	out.From = d.string()
	out.Incarnation = d.uvarint()
	out.Seq = d.uvarint()
	out.Weight = d.int(MaxWeight)
	role := Role(d.byte())
	out.Slot = d.int(MaxActiveGoal)
	out.Term = d.uvarint()
	feed, kafka, flags := FeedState(d.byte()), KafkaState(d.byte()), d.byte()
	out.HandoverTo = d.string()
	out.TakeoverFrom = d.string()
	if d.err == nil && len(d.b) > 0 { // absent from a sender before Heard
		heard := d.int(maxWireHeard)
		for range heard {
			x := HeardHeartbeat{From: d.string(), Incarnation: d.uvarint(), Seq: d.uvarint()}
			if d.err != nil {
				break
			}
			out.Heard = append(out.Heard, x)
		}
	}
	if d.err != nil {
		return fmt.Errorf("ftpair: heartbeat: %w", d.err)
	}
	switch {
	case !roleNames.Named(role):
		return fmt.Errorf("ftpair: heartbeat: unknown role %d", role)
	case !feedNames.Named(feed):
		return fmt.Errorf("ftpair: heartbeat: unknown feed state %d", feed)
	case !kafkaNames.Named(kafka):
		return fmt.Errorf("ftpair: heartbeat: unknown kafka state %d", kafka)
	case out.From == "":
		return errors.New("ftpair: heartbeat: empty sender")
	}
	out.Role, out.Feed, out.Kafka, out.HoldOff = role, feed, kafka, flags&1 != 0
	*h = out
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errShort
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int(limit int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(limit) {
		d.err = fmt.Errorf("value %d above %d", v, limit)
	}
	return int(v)
}

func (d *decoder) string() string {
	l := d.uvarint()
	if d.err != nil {
		return ""
	}
	if l > maxWireString || l > uint64(len(d.b)) {
		d.err = errShort
		return ""
	}
	s := string(d.b[:l])
	d.b = d.b[l:]
	return s
}
