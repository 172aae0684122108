package broadcast

import (
	"bytes"
	"strconv"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/internal/decimal"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record headers. Every value is ASCII text, so `kcat -C -f '%h %s\n'` shows
// them as they are; docs/kafka.md is the reference.
const (
	// HeaderFingerprint is the frame's 64-bit fingerprint (ingest.Fingerprint
	// of the record value), 16 lower-case hexadecimal digits.
	HeaderFingerprint = "feedd-fp"
	// HeaderFeedSeq is the feed's own sequence number in decimal, present
	// only when it is the frame's identity.
	HeaderFeedSeq = "feedd-seq"
	// HeaderMember is the id of the member that read and produced the frame.
	HeaderMember = "feedd-member"
	// HeaderReceivedAt is when that member read the frame from its port, in
	// RFC 3339 with nanoseconds, UTC.
	HeaderReceivedAt = "feedd-rx"
	// HeaderReadWindow bounds when the frame's last byte was on the serial
	// line, on the host clock of the member that read it:
	// "<clock>/<lo>/<hi>", the clock's id (package ingest/hostclock) in 16
	// hexadecimal digits and the bounds in decimal nanoseconds of that
	// clock, lo "-" when unbounded. The other member recognises the frame
	// by it (docs/decisions/0010).
	HeaderReadWindow = "feedd-rxw"
	// HeaderTimestamp is, on a control keepalive, when the active member
	// produced it, in RFC 3339 with nanoseconds, UTC. Data records do not
	// carry it.
	HeaderTimestamp = "feedd-ts"
	// HeaderPossibleDuplicate is "possible" on a record that a member
	// published when it took over without being able to tell whether the
	// previous active had already committed the same frame: the frame is
	// in the topic at least once, perhaps twice. Consumers that must not
	// see a frame twice drop such a record when it repeats one just before
	// it; `feedd audit` counts them.
	HeaderPossibleDuplicate = "feedd-dup"
)

// headersPerRecord is the most headers a record carries.
const headersPerRecord = 6

// appendReadWindow appends the value of HeaderReadWindow.
func appendReadWindow(b, clock []byte, w backlog.Window) []byte {
	b = append(b, clock...)
	b = append(b, '/')
	if w.Lo == backlog.NoLo {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, w.Lo, 10)
	}
	b = append(b, '/')
	return strconv.AppendInt(b, w.Hi, 10)
}

// parseReadWindow parses what appendReadWindow wrote.
func parseReadWindow(v []byte) (clock uint64, w backlog.Window, ok bool) {
	i := bytes.IndexByte(v, '/')
	if i < 0 {
		return 0, w, false
	}
	j := bytes.IndexByte(v[i+1:], '/')
	if j < 0 {
		return 0, w, false
	}
	j += i + 1
	if clock, ok = parseHex16(v[:i]); !ok {
		return 0, w, false
	}
	var err error
	if lo := v[i+1 : j]; len(lo) == 1 && lo[0] == '-' {
		w.Lo = backlog.NoLo
	} else if w.Lo, err = strconv.ParseInt(string(lo), 10, 64); err != nil {
		return 0, w, false
	}
	if w.Hi, err = strconv.ParseInt(string(v[j+1:]), 10, 64); err != nil || (w.Lo != backlog.NoLo && w.Lo > w.Hi) {
		return 0, w, false
	}
	return clock, w, true
}

// appendHex16 appends v as exactly 16 lower-case hexadecimal digits.
func appendHex16(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(v>>uint(shift))&0xf])
	}
	return b
}

// parseHex16 parses what appendHex16 wrote (any 1 to 16 hex digits).
func parseHex16(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

func appendRFC3339(b []byte, unixNano int64) []byte {
	return time.Unix(0, unixNano).UTC().AppendFormat(b, time.RFC3339Nano)
}

// recordIdentity computes, from a record read back from the topic, the
// identity (*ingest.Frame).Identity gave the frame: the feed sequence when
// the record carries one (exact), the fingerprint otherwise. A record
// without feedd headers (written by something else) is identified by the
// fingerprint of its value, which is what a member that read the same bytes
// computed.
func recordIdentity(r *kgo.Record) (id uint64, exact bool) {
	var fp uint64
	haveFP := false
	for i := range r.Headers {
		h := &r.Headers[i]
		switch h.Key {
		case HeaderFeedSeq:
			if v, ok := decimal.Parse(h.Value); ok {
				return v, true
			}
		case HeaderFingerprint:
			fp, haveFP = parseHex16(h.Value)
		}
	}
	if haveFP {
		return fp, false
	}
	return ingest.Fingerprint(r.Value), false
}

// headerValue returns the value of the first header named key.
func headerValue(r *kgo.Record, key string) []byte {
	for i := range r.Headers {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value
		}
	}
	return nil
}
