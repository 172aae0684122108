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

// The record format. Every data record carries one header, RecordHeader,
// whose value is text (ASCII but for the member id, which may hold other
// printable characters) so that `kcat -C -f '%h %s\n'` shows it as it is:
// fields separated by one space, the format version first.
//
//	1 <fingerprint> <member> <received> <clock>/<lo>/<hi> [seq=<n>] [dup]
//
// fingerprint is ingest.Fingerprint of the record value in 16 lower-case
// hexadecimal digits; member the id of the member that produced the
// record; received when the frame was read from a port (by the peer, for a
// frame repaired from the peer), in decimal Unix nanoseconds; clock/lo/hi
// the line window, on the producing member's host clock (a repaired frame's
// translated to it): the clock's id, package ingest/hostclock, in 16
// hexadecimal digits and the bounds in decimal nanoseconds of that clock,
// lo "-" when unbounded (the other member recognises the frame by it,
// decision 0010). seq= is the feed's own sequence number, present only when
// it is the frame's identity; dup marks a frame published when the member
// could not tell whether the topic already held it (the frame is in the
// topic at least once, perhaps twice; consumers that must not see a frame
// twice drop such a record when it repeats one just before it). Readers
// ignore fields they do not know, so fields can be added within a version.
// docs/kafka.md is the reference; docs/decisions/0017 says why one header.
const (
	// RecordHeader is the key of the header every data record carries.
	RecordHeader = "feedd"
	// RecordFormat is the format version this build writes.
	RecordFormat = 1
)

// The headers of the format before RecordFormat 1, one per field, each
// value ASCII text. Members still read them: a topic holds such records
// until retention removes them. HeaderMember and HeaderTimestamp are also
// the headers of the control topic's keepalives, which keep that form.
const (
	// HeaderFingerprint is the frame's fingerprint, 16 hexadecimal digits.
	HeaderFingerprint = "feedd-fp"
	// HeaderFeedSeq is the feed's own sequence number in decimal.
	HeaderFeedSeq = "feedd-seq"
	// HeaderMember is the id of the member that produced the record.
	HeaderMember = "feedd-member"
	// HeaderReceivedAt is the receive time in RFC 3339 with nanoseconds.
	HeaderReceivedAt = "feedd-rx"
	// HeaderReadWindow is the line window, "<clock>/<lo>/<hi>".
	HeaderReadWindow = "feedd-rxw"
	// HeaderTimestamp is, on a control keepalive, when the active member
	// produced it, in RFC 3339 with nanoseconds, UTC.
	HeaderTimestamp = "feedd-ts"
	// HeaderPossibleDuplicate is "possible" on a possible duplicate.
	HeaderPossibleDuplicate = "feedd-dup"
)

// possibleField is the field that marks a possible duplicate.
const possibleField = "dup"

// RecordMeta is what a data record's header says about its frame.
type RecordMeta struct {
	// Format is the version of the header the record carries: RecordFormat,
	// 0 for the headers before it, -1 for none (a record something else
	// wrote). A version this build does not know leaves every other field
	// unset.
	Format         int
	Fingerprint    uint64
	HasFingerprint bool
	FeedSeq        uint64
	HasFeedSeq     bool
	// Member aliases the record's header.
	Member []byte
	// ReceivedAt is in Unix nanoseconds, 0 when not given.
	ReceivedAt int64
	Clock      uint64
	Window     backlog.Window
	HasWindow  bool
	Possible   bool
	// BadFingerprint and BadFeedSeq: the field is there but does not parse.
	BadFingerprint, BadFeedSeq bool
}

// ParseRecordMeta reads the header of a data record, in either format. It
// does not allocate: the echo reads every record of the topic with it.
func ParseRecordMeta(r *kgo.Record) RecordMeta {
	m := RecordMeta{Format: -1}
	for i := range r.Headers {
		h := &r.Headers[i]
		if h.Key == RecordHeader {
			m.parse(h.Value)
			return m
		}
	}
	for i := range r.Headers {
		h := &r.Headers[i]
		switch h.Key {
		case HeaderFingerprint:
			m.Format = 0
			m.setFingerprint(h.Value)
		case HeaderFeedSeq:
			m.Format = 0
			m.setFeedSeq(h.Value)
		case HeaderMember:
			m.Format = 0
			m.Member = h.Value
		case HeaderReceivedAt:
			m.Format = 0
			if t, err := time.Parse(time.RFC3339Nano, string(h.Value)); err == nil {
				m.ReceivedAt = t.UnixNano()
			}
		case HeaderReadWindow:
			m.Format = 0
			m.Clock, m.Window, m.HasWindow = parseReadWindow(h.Value)
		case HeaderPossibleDuplicate:
			m.Format = 0
			m.Possible = string(h.Value) == string(possibleValue)
		}
	}
	return m
}

// possibleValue is the value of HeaderPossibleDuplicate.
var possibleValue = []byte("possible")

// parse reads a RecordHeader value. The echo parses every record of the
// topic, so numbers are read from the bytes directly.
func (m *RecordMeta) parse(v []byte) {
	field, v := nextField(v)
	if len(field) != 1 || field[0] != '0'+RecordFormat {
		m.Format = 1 << 30 // not a version this build knows
		if n, ok := decimal.Parse(field); ok && n < 1<<30 && n != RecordFormat {
			m.Format = int(n)
		}
		return
	}
	m.Format = RecordFormat
	for n := 0; len(v) > 0; n++ {
		field, v = nextField(v)
		switch n {
		case 0:
			m.setFingerprint(field)
		case 1:
			m.Member = field
		case 2:
			if t, ok := parseInt64(field); ok && t > 0 {
				m.ReceivedAt = t
			}
		case 3:
			m.Clock, m.Window, m.HasWindow = parseReadWindow(field)
		default:
			if s, ok := bytes.CutPrefix(field, []byte("seq=")); ok {
				m.setFeedSeq(s)
			} else if string(field) == possibleField {
				m.Possible = true
			}
		}
	}
}

func (m *RecordMeta) setFingerprint(v []byte) {
	if fp, ok := parseHex16(v); ok && len(v) == 16 {
		m.Fingerprint, m.HasFingerprint = fp, true
	} else {
		m.BadFingerprint = true
	}
}

func (m *RecordMeta) setFeedSeq(v []byte) {
	if s, ok := decimal.Parse(v); ok {
		m.FeedSeq, m.HasFeedSeq = s, true
	} else {
		m.BadFeedSeq = true
	}
}

// parseInt64 parses what strconv.AppendInt wrote.
func parseInt64(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := decimal.Parse(b)
	switch {
	case !ok || u > 1<<63:
		return 0, false
	case neg:
		return int64(-u), true
	case u == 1<<63:
		return 0, false
	}
	return int64(u), true
}

// nextField splits v at its first space.
func nextField(v []byte) (field, rest []byte) {
	if i := bytes.IndexByte(v, ' '); i >= 0 {
		return v[:i], v[i+1:]
	}
	return v, nil
}

// Append appends the RecordHeader value that says m, in RecordFormat: the
// fingerprint, member, receive time and window always, the feed sequence
// when m has one, the mark when m is possible. A member's records always
// have a window; for m without one (tests of readers) the field is "-",
// which no reader takes for a window.
func (m *RecordMeta) Append(b []byte) []byte {
	b = strconv.AppendInt(b, RecordFormat, 10)
	b = append(b, ' ')
	b = appendHex16(b, m.Fingerprint)
	b = append(b, ' ')
	b = append(b, m.Member...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, m.ReceivedAt, 10)
	b = append(b, ' ')
	if m.HasWindow {
		b = appendReadWindow(b, m.Clock, m.Window)
	} else {
		b = append(b, '-')
	}
	if m.HasFeedSeq {
		b = append(b, " seq="...)
		b = strconv.AppendUint(b, m.FeedSeq, 10)
	}
	if m.Possible {
		b = append(b, ' ')
		b = append(b, possibleField...)
	}
	return b
}

// appendReadWindow appends a line window as "<clock>/<lo>/<hi>".
func appendReadWindow(b []byte, clock uint64, w backlog.Window) []byte {
	b = appendHex16(b, clock)
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
	if lo := v[i+1 : j]; len(lo) == 1 && lo[0] == '-' {
		w.Lo = backlog.NoLo
	} else if w.Lo, ok = parseInt64(lo); !ok {
		return 0, w, false
	}
	if w.Hi, ok = parseInt64(v[j+1:]); !ok || (w.Lo != backlog.NoLo && w.Lo > w.Hi) {
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
		d := hexDigit[c]
		if d > 15 {
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// hexDigit is the value of each hexadecimal digit, 0xff for other bytes.
var hexDigit = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = byte(10 + i)
	}
	return t
}()

func appendRFC3339(b []byte, unixNano int64) []byte {
	return time.Unix(0, unixNano).UTC().AppendFormat(b, time.RFC3339Nano)
}

// Identity computes, from a record read back from the topic, the identity
// (*ingest.Frame).Identity gave the frame: the feed sequence when the
// record carries one (exact), the fingerprint otherwise. A record without
// feedd's header (written by something else) is identified by the
// fingerprint of its value, which is what a member that read the same bytes
// computed.
func (m *RecordMeta) Identity(value []byte) (id uint64, exact bool) {
	switch {
	case m.HasFeedSeq:
		return m.FeedSeq, true
	case m.HasFingerprint:
		return m.Fingerprint, false
	}
	return ingest.Fingerprint(value), false
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
