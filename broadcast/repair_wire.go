package broadcast

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/hostclock"
)

func encodeRequest(h *hole) []byte {
	from := backlog.Window{Lo: backlog.NoLo, Hi: backlog.NoLo}
	if h.before != nil {
		from = h.before.Win
	}
	return appendRequest(nil, repairRequestMsg{id: h.id, clock: hostclock.ID(), from: from, to: h.to})
}

func appendRequest(b []byte, r repairRequestMsg) []byte {
	b = append(b, repairRequest)
	b = binary.BigEndian.AppendUint64(b, r.id)
	b = binary.BigEndian.AppendUint64(b, r.clock)
	for _, v := range []int64{r.from.Lo, r.from.Hi, r.to.Lo, r.to.Hi} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return b
}

// repairRequestMsg is a decoded request: the hole between the windows of
// the frames around it, on the requester's clock.
type repairRequestMsg struct {
	id, clock uint64
	from, to  backlog.Window // from.Hi is NoLo when nothing came before the hole
}

func parseRequest(msg []byte) (repairRequestMsg, error) {
	if len(msg) != requestLen || msg[0] != repairRequest {
		return repairRequestMsg{}, fmt.Errorf("request of %d bytes, want %d", len(msg), requestLen)
	}
	v := func(i int) int64 { return int64(binary.BigEndian.Uint64(msg[17+8*i:])) }
	return repairRequestMsg{
		id: binary.BigEndian.Uint64(msg[1:]), clock: binary.BigEndian.Uint64(msg[9:]),
		from: backlog.Window{Lo: v(0), Hi: v(1)}, to: backlog.Window{Lo: v(2), Hi: v(3)},
	}, nil
}

// encodeAnswer splits an answer into messages of at most max bytes.
func encodeAnswer(id, ring uint64, frames []peerFrame, truncated, early bool, max int) [][]byte {
	var out [][]byte
	var chunk uint16
	start := func() []byte {
		b := make([]byte, 0, max)
		b = append(b, repairAnswer)
		b = binary.BigEndian.AppendUint64(b, id)
		b = binary.BigEndian.AppendUint64(b, hostclock.ID())
		b = binary.BigEndian.AppendUint64(b, ring)
		b = binary.BigEndian.AppendUint16(b, chunk)
		return append(b, 0, 0, 0) // flags, count
	}
	b, n := start(), 0
	flush := func(last bool) {
		var flags byte
		if last {
			flags |= answerLast
			if truncated {
				flags |= answerTruncated
			}
			if early {
				flags |= answerEarly
			}
		}
		b[answerHeaderLen-3] = flags
		binary.BigEndian.PutUint16(b[answerHeaderLen-2:], uint16(n))
		out = append(out, b)
		chunk++
		b, n = start(), 0
	}
	for _, f := range frames {
		if len(b)+peerFrameHeader+len(f.data) > max {
			flush(false)
		}
		var fl byte
		if f.s.Exact {
			fl |= peerExact
		}
		if f.possible {
			fl |= peerPossible
		}
		b = append(b, fl)
		b = binary.BigEndian.AppendUint64(b, f.s.ID)
		b = binary.BigEndian.AppendUint64(b, uint64(f.s.Win.Lo))
		b = binary.BigEndian.AppendUint64(b, uint64(f.s.Win.Hi))
		b = binary.BigEndian.AppendUint64(b, uint64(f.rx))
		b = binary.BigEndian.AppendUint64(b, f.pos)
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.data)))
		b = append(b, f.data...)
		n++
	}
	flush(true)
	return out
}

// answerChunk is one decoded answer message.
type answerChunk struct {
	id, clock, ring uint64
	chunk           uint16
	last, truncated bool
	early           bool
	frames          []peerFrame // data aliases the message
}

func parseAnswer(msg []byte) (answerChunk, error) {
	if len(msg) < answerHeaderLen || msg[0] != repairAnswer {
		return answerChunk{}, fmt.Errorf("answer of %d bytes", len(msg))
	}
	a := answerChunk{
		id: binary.BigEndian.Uint64(msg[1:]), clock: binary.BigEndian.Uint64(msg[9:]), ring: binary.BigEndian.Uint64(msg[17:]),
		chunk: binary.BigEndian.Uint16(msg[25:]), last: msg[27]&answerLast != 0, truncated: msg[27]&answerTruncated != 0,
		early: msg[27]&answerEarly != 0,
	}
	count := int(binary.BigEndian.Uint16(msg[28:]))
	rest := msg[answerHeaderLen:]
	for range count {
		if len(rest) < peerFrameHeader {
			return answerChunk{}, errors.New("answer frame cut short")
		}
		fl := rest[0]
		f := peerFrame{
			s: backlog.Sighting{
				ID: binary.BigEndian.Uint64(rest[1:]), Exact: fl&peerExact != 0,
				Win: backlog.Window{Lo: int64(binary.BigEndian.Uint64(rest[9:])), Hi: int64(binary.BigEndian.Uint64(rest[17:]))},
			},
			possible: fl&peerPossible != 0,
			rx:       int64(binary.BigEndian.Uint64(rest[25:])),
			pos:      binary.BigEndian.Uint64(rest[33:]),
		}
		n := int(binary.BigEndian.Uint16(rest[41:]))
		if len(rest) < peerFrameHeader+n {
			return answerChunk{}, errors.New("answer frame cut short")
		}
		f.data = rest[peerFrameHeader : peerFrameHeader+n : peerFrameHeader+n]
		f.s.Size = n
		a.frames = append(a.frames, f)
		rest = rest[peerFrameHeader+n:]
	}
	if len(rest) != 0 {
		return answerChunk{}, errors.New("answer has trailing bytes")
	}
	return a, nil
}
