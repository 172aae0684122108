package ftpair

import (
	"bytes"
	"reflect"
	"testing"
)

func TestHeartbeatWireRoundTrip(t *testing.T) {
	for _, hb := range []Heartbeat{
		{From: "a", Incarnation: 1, Seq: 1, Weight: 1},
		{From: "feed-b", Incarnation: 1<<63 + 5, Seq: 1 << 40, Weight: MaxWeight, Role: RoleActive, Slot: 3,
			Term: 99, Feed: FeedNoisy, Kafka: KafkaFailing, HoldOff: true, HandoverTo: "c", TakeoverFrom: "d"},
		{From: "x", Role: RoleActivating, Feed: FeedQuiet},
		{From: "a", Incarnation: 7, Seq: 12, Weight: 1, Role: RoleActive, Term: 3,
			Heard: []HeardHeartbeat{{From: "b", Incarnation: 1<<62 + 1, Seq: 40}, {From: "c", Incarnation: 2, Seq: 1}}},
	} {
		b, err := hb.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != HeartbeatWireVersion {
			t.Fatalf("version byte %d", b[0])
		}
		var got Heartbeat
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%v: %v", hb, err)
		}
		if !reflect.DeepEqual(got, hb) {
			t.Fatalf("round trip: got %v, want %v", got, hb)
		}
		// Later versions append fields: a decoder ignores trailing bytes.
		if err := got.UnmarshalBinary(append(b, 1, 2, 3)); err != nil || !reflect.DeepEqual(got, hb) {
			t.Fatalf("with trailing bytes: %v %v", got, err)
		}
		// Every truncation is an error, never a panic, but the one that
		// ends where a sender from before Heard ended its heartbeats.
		before := len(mustMarshal(Heartbeat{From: hb.From, Incarnation: hb.Incarnation, Seq: hb.Seq, Weight: hb.Weight,
			Role: hb.Role, Slot: hb.Slot, Term: hb.Term, Feed: hb.Feed, Kafka: hb.Kafka, HoldOff: hb.HoldOff,
			HandoverTo: hb.HandoverTo, TakeoverFrom: hb.TakeoverFrom})) - 1
		for i := range b {
			err := new(Heartbeat).UnmarshalBinary(b[:i])
			if i != before && err == nil {
				t.Fatalf("truncated to %d bytes: no error", i)
			}
			if i == before && err != nil {
				t.Fatalf("as a sender before Heard encoded it: %v", err)
			}
		}
	}
}

func TestHeartbeatWireRejects(t *testing.T) {
	good := mustMarshal(Heartbeat{From: "a", Weight: 1})
	// version, len("a"), "a", incarnation, seq, weight, role, ...
	badRole := bytes.Clone(good)
	badRole[6] = 7
	badFeed := bytes.Clone(good)
	badFeed[9] = 9
	for name, b := range map[string][]byte{
		"empty":       nil,
		"bad version": append([]byte{9}, good[1:]...),
		"bad role":    badRole,
		"bad feed":    badFeed,
		"no sender":   mustMarshal(Heartbeat{Weight: 1}),
	} {
		if err := new(Heartbeat).UnmarshalBinary(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := (Heartbeat{From: string(bytes.Repeat([]byte("x"), 300))}).MarshalBinary(); err == nil {
		t.Error("a 300-byte member id was encoded")
	}
	if _, err := (Heartbeat{From: "a", Slot: -1}).MarshalBinary(); err == nil {
		t.Error("a negative slot was encoded")
	}
}

func mustMarshal(h Heartbeat) []byte {
	b, err := h.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzHeartbeatWire(f *testing.F) {
	f.Add(mustMarshal(Heartbeat{From: "a", Incarnation: 3, Seq: 9, Weight: 2, Role: RoleActive, HandoverTo: "b"}))
	f.Add([]byte{1, 0})
	f.Add(mustMarshal(Heartbeat{From: "b", Seq: 2, Weight: 1, Heard: []HeardHeartbeat{{From: "a", Incarnation: 3, Seq: 9}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h Heartbeat
		if err := h.UnmarshalBinary(data); err != nil {
			return
		}
		b, err := h.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", h, err)
		}
		var h2 Heartbeat
		if err := h2.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(h2, h) {
			t.Fatalf("re-decode: %v %v, want %v", h2, err, h)
		}
	})
}
