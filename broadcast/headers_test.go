package broadcast

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The record header carries every field a member writes, read back the same
// by ParseRecordMeta, with and without a feed sequence and the mark.
func TestRecordHeaderRoundTrip(t *testing.T) {
	data := []byte("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47")
	fp := ingest.Fingerprint(data)
	rx := time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC).UnixNano()
	for _, w := range []RecordMeta{
		{Window: backlog.Window{Lo: 91873312000045, Hi: 91873314510210}, HasWindow: true},
		{FeedSeq: 123456, HasFeedSeq: true, Window: backlog.Window{Lo: backlog.NoLo, Hi: 7}, HasWindow: true, Possible: true},
		{FeedSeq: 0, HasFeedSeq: true, Window: backlog.Window{Lo: -5, Hi: 7}, HasWindow: true},
		{},
	} {
		w.Fingerprint, w.Member, w.ReceivedAt, w.Clock = fp, []byte("host-a.example"), rx, 0x5b0f1c2d3e4f6a7b
		v := w.Append(nil)
		m := ParseRecordMeta(&kgo.Record{Value: data, Headers: []kgo.RecordHeader{{Key: RecordHeader, Value: v}}})
		switch {
		case m.Format != RecordFormat || !bytes.HasPrefix(v, []byte(strconv.Itoa(RecordFormat)+" ")):
			t.Fatalf("%q: format %d", v, m.Format)
		case !m.HasFingerprint || m.Fingerprint != fp || m.BadFingerprint:
			t.Fatalf("%q: fingerprint %x (%v)", v, m.Fingerprint, m.HasFingerprint)
		case string(m.Member) != "host-a.example" || m.ReceivedAt != rx:
			t.Fatalf("%q: member %q, received %d", v, m.Member, m.ReceivedAt)
		case m.HasWindow != w.HasWindow || (w.HasWindow && (m.Clock != w.Clock || m.Window != w.Window)):
			t.Fatalf("%q: window %x %+v (%v)", v, m.Clock, m.Window, m.HasWindow)
		case m.Possible != w.Possible || m.HasFeedSeq != w.HasFeedSeq || m.FeedSeq != w.FeedSeq:
			t.Fatalf("%q: read as %+v", v, m)
		}
		id, exact := m.Identity(data)
		if want := map[bool]uint64{true: w.FeedSeq, false: fp}[w.HasFeedSeq]; id != want || exact != w.HasFeedSeq {
			t.Fatalf("%q: identity %d exact %v, want %d", v, id, exact, want)
		}
	}
}

// A topic keeps records of the earlier format until retention removes
// them: they read as they did.
func TestRecordMetaEarlierFormat(t *testing.T) {
	data := []byte("$TEST,9,x*")
	r := &kgo.Record{Value: data, Headers: []kgo.RecordHeader{
		{Key: HeaderFingerprint, Value: appendHex16(nil, 0xabc)},
		{Key: HeaderFeedSeq, Value: []byte("9")},
		{Key: HeaderMember, Value: []byte("b")},
		{Key: HeaderReceivedAt, Value: []byte("2026-01-02T15:04:05.123456789Z")},
		{Key: HeaderReadWindow, Value: []byte("5b0f1c2d3e4f6a7b/-/42")},
		{Key: HeaderPossibleDuplicate, Value: []byte("possible")},
	}}
	m := ParseRecordMeta(r)
	if m.Format != 0 || m.Fingerprint != 0xabc || m.FeedSeq != 9 || string(m.Member) != "b" || !m.Possible ||
		m.ReceivedAt != time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC).UnixNano() ||
		!m.HasWindow || m.Window != (backlog.Window{Lo: backlog.NoLo, Hi: 42}) {
		t.Fatalf("%+v", m)
	}
	if id, exact := m.Identity(data); id != 9 || !exact {
		t.Fatalf("identity %d exact %v", id, exact)
	}
}

// What a reader cannot trust it does not use: a record without feedd's
// header is identified by its value, a version this build does not know
// the same way, a field that does not parse is flagged.
func TestRecordMetaUnknownAndBad(t *testing.T) {
	data := []byte("$GPGLL,4916.45,N,12311.12,W,225444,A*31")
	for _, c := range []struct {
		name    string
		headers []kgo.RecordHeader
		format  int
		check   func(RecordMeta) bool
	}{
		{"none", nil, -1, func(m RecordMeta) bool { return !m.HasFingerprint && m.Member == nil }},
		{"other headers", []kgo.RecordHeader{{Key: "trace", Value: []byte("1")}}, -1, func(m RecordMeta) bool { return m.Member == nil }},
		{"later version", []kgo.RecordHeader{{Key: RecordHeader, Value: []byte("2 0000000000000abc a 1 5b0f/1/2 seq=4")}}, 2,
			func(m RecordMeta) bool { return !m.HasFingerprint && !m.HasFeedSeq && m.Member == nil }},
		{"not a version", []kgo.RecordHeader{{Key: RecordHeader, Value: []byte("x 0000000000000abc a")}}, 1 << 30,
			func(m RecordMeta) bool { return !m.HasFingerprint && m.Member == nil }},
		{"not how this version is written", []kgo.RecordHeader{{Key: RecordHeader, Value: []byte("01 0000000000000abc a 5 5b0f/1/2")}}, 1 << 30,
			func(m RecordMeta) bool { return !m.HasFingerprint && m.Member == nil }},
		{"bad fields", []kgo.RecordHeader{{Key: RecordHeader, Value: []byte("1 00xz a -3 5b0f/9/2 seq=q")}}, 1,
			func(m RecordMeta) bool {
				return m.BadFingerprint && m.BadFeedSeq && !m.HasWindow && m.ReceivedAt == 0 && string(m.Member) == "a"
			}},
		{"short, new fields", []kgo.RecordHeader{{Key: RecordHeader, Value: []byte("1 0000000000000abc a 5 5b0f/1/2 later=x dup")}}, 1,
			func(m RecordMeta) bool { return m.HasFingerprint && m.HasWindow && m.Possible && !m.HasFeedSeq }},
	} {
		m := ParseRecordMeta(&kgo.Record{Value: data, Headers: c.headers})
		if m.Format != c.format || !c.check(m) {
			t.Errorf("%s: %+v", c.name, m)
			continue
		}
		if id, exact := m.Identity(data); !m.HasFingerprint && (id != ingest.Fingerprint(data) || exact) {
			t.Errorf("%s: identity %x exact %v, want the value's fingerprint", c.name, id, exact)
		}
	}
}

// The echo reads every record of the topic: reading its header must not
// allocate, nor writing it (into a grown buffer).
func TestRecordHeaderAllocations(t *testing.T) {
	w := RecordMeta{Fingerprint: 7, FeedSeq: 42, HasFeedSeq: true, Member: []byte("a"), ReceivedAt: time.Now().UnixNano(),
		Clock: 1, Window: backlog.Window{Lo: 1, Hi: 2}, HasWindow: true, Possible: true}
	buf := make([]byte, 0, 256)
	r := &kgo.Record{Value: []byte("x"), Headers: []kgo.RecordHeader{{Key: RecordHeader, Value: w.Append(nil)}}}
	var m RecordMeta
	if n := testing.AllocsPerRun(100, func() {
		buf = w.Append(buf[:0])
		m = ParseRecordMeta(r)
	}); n != 0 {
		t.Fatalf("%v allocations a record", n)
	}
	if !m.HasFeedSeq || !m.Possible {
		t.Fatalf("%+v", m)
	}
}

// FuzzRecordMeta: any header value parses without panicking, and what a
// member writes reads back as written.
func FuzzRecordMeta(f *testing.F) {
	f.Add([]byte("1 0123456789abcdef a 1767366305123456789 5b0f1c2d3e4f6a7b/91873312000045/91873314510210 seq=123456 dup"), "b", uint64(5), int64(3), int64(9), true)
	f.Add([]byte("1 0123456789abcdef"), "", uint64(0), int64(-1), int64(0), false)
	f.Add([]byte("2"), "x y", uint64(1), int64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, v []byte, member string, seq uint64, lo, hi int64, possible bool) {
		ParseRecordMeta(&kgo.Record{Headers: []kgo.RecordHeader{{Key: RecordHeader, Value: v}}})

		if member == "" || bytes.ContainsAny([]byte(member), " ") {
			return
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		w := RecordMeta{Fingerprint: seq * 31, FeedSeq: seq, HasFeedSeq: seq%3 != 0, Member: []byte(member), ReceivedAt: 1 + int64(seq>>2),
			Clock: seq ^ 0x5b0f, Window: backlog.Window{Lo: lo, Hi: hi}, HasWindow: true, Possible: possible}
		m := ParseRecordMeta(&kgo.Record{Headers: []kgo.RecordHeader{{Key: RecordHeader, Value: w.Append(nil)}}})
		if !w.HasFeedSeq {
			w.FeedSeq = 0
		}
		w.Format, w.HasFingerprint = RecordFormat, true
		if !bytes.Equal(m.Member, w.Member) {
			t.Fatalf("member %q read back as %q", w.Member, m.Member)
		}
		m.Member, w.Member = nil, nil
		if !reflect.DeepEqual(m, w) {
			t.Fatalf("%+v read back as %+v", w, m)
		}
	})
}

// BenchmarkRecordHeader writes and reads back the header of a sequenced
// frame, as the active and the echo do for every record.
func BenchmarkRecordHeader(b *testing.B) {
	w := RecordMeta{Fingerprint: 0x3f9c0b1d2e4a5968, FeedSeq: 88211, HasFeedSeq: true, Member: []byte("host-a"),
		ReceivedAt: 1763768729367123456, Clock: 0x5b0f1c2d3e4f6a7b, Window: backlog.Window{Lo: 91873312000045, Hi: 91873314510210}, HasWindow: true}
	r := &kgo.Record{Headers: []kgo.RecordHeader{{Key: RecordHeader}}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = w.Append(buf[:0])
		r.Headers[0].Value = buf
		if m := ParseRecordMeta(r); !m.HasFeedSeq {
			b.Fatal(m)
		}
	}
}

// The record header separates its fields with spaces: a member id with one
// would shift them (the echo would take its own records for another
// member's), so New refuses it, as the configuration already does.
func TestMemberIDWithSpaceRefused(t *testing.T) {
	for _, id := range []string{"a b", "x dup", "tab\there"} {
		if _, err := New(testConfig("127.0.0.1:1", "feed"), Options{Pipeline: "test", Member: id}); err == nil || !strings.Contains(err.Error(), "spaces") {
			t.Errorf("member %q: %v", id, err)
		}
	}
}
