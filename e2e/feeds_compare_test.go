package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// Tests of the feed runs' independent comparison (compareFeedTopic): it
// must accept every topic a correct pair can write, and refuse a topic that
// lacks a frame, holds an unmarked duplicate or a frame out of order, even
// where the feed repeats itself.

// testSentence returns "$body*hh" with its checksum.
func testSentence(body string) string {
	var sum byte
	for i := 1; i < len(body); i++ {
		sum ^= body[i]
	}
	return fmt.Sprintf("%s*%02X", body, sum)
}

// noFixCycle is a receiver without a fix: the same sentences every cycle.
var noFixCycle = []string{
	testSentence("$GPGGA,,,,,,0,00,99.99,,,,,,"), testSentence("$GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"),
	testSentence("$GPGSV,1,1,00"), testSentence("$GPRMC,,V,,,,,,,,,,N"),
}

// cycles returns n frames of the cycle, 25 ms apart on the line.
func cycles(cycle []string, n int) []feedFrame {
	out := make([]feedFrame, n)
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = feedFrame{index: uint64(2 * i), at: t0.Add(time.Duration(i) * 25 * time.Millisecond), value: cycle[i%len(cycle)]}
	}
	return out
}

// published builds a topic: the frames as records, in order, each read 3 ms
// after its line time (a member that re-publishes a frame read it then
// too); a marked record is a possible duplicate.
type published []feedTopicRecord

func (p published) add(marked bool, member string, frames ...feedFrame) published {
	for _, f := range frames {
		p = append(p, feedTopicRecord{offset: int64(len(p)), value: f.value, member: member, possible: marked, rx: f.at.Add(3 * time.Millisecond)})
	}
	return p
}

// untimed drops the times of the topic's records and the frames: the
// comparison by content alone.
func untimed(exp []feedFrame, topic published) ([]feedFrame, published) {
	e, p := slices.Clone(exp), slices.Clone(topic)
	for i := range e {
		e[i].at = time.Time{}
	}
	for i := range p {
		p[i].rx = time.Time{}
	}
	return e, p
}

// seenByTimeOnly checks a loss that the comparison by content alone cannot
// see (the topic's records could be the frames, bytes for bytes) and that
// the read times give away.
func seenByTimeOnly(t *testing.T, loss string, exp []feedFrame, topic published) {
	t.Helper()
	if v := compareFeedTopic(untimed(exp, topic)); !v.ok {
		t.Errorf("by content alone, %s is not seen: want accepted, got %s", loss, v.problem)
	}
	if v := compareFeedTopic(exp, topic); v.ok {
		t.Errorf("%s: accepted", loss)
	} else {
		t.Logf("%s: %s", loss, v.problem)
	}
}

func without[T any](s []T, i int) []T {
	out := append([]T(nil), s[:i]...)
	return append(out, s[i+1:]...)
}

func TestFeedComparisonAccepts(t *testing.T) {
	e := cycles(noFixCycle, 24)
	a, b, c := feedFrame{value: "$A*41"}, feedFrame{value: "$B*42"}, feedFrame{value: "$C*43"}
	late := published{}.add(false, "a", e...)
	late[5].rx = e[5].at.Add(80 * time.Millisecond) // the same bytes come again 100 ms after it
	for _, tc := range []struct {
		name  string
		exp   []feedFrame
		topic published
		extra int
	}{
		{"every frame once", e, published{}.add(false, "a", e...), 0},
		{"a frame read late", e, late, 0},
		// A handover: b re-publishes, marked, the last cycle a had
		// committed.
		{"a marked replay", e, published{}.add(false, "a", e[:12]...).add(true, "b", e[8:12]...).add(false, "b", e[12:]...), 4},
		// The new active's marked records are the only copies: a had not
		// committed them.
		{"marked first copies", e, published{}.add(false, "a", e[:8]...).add(true, "b", e[8:12]...).add(false, "b", e[12:]...), 0},
		// A greedy walk takes the marked A as the second frame and then
		// has no place for the unmarked one.
		{"a marked repeat between copies", []feedFrame{a, a}, published{}.add(false, "a", a).add(true, "b", a).add(false, "b", a), 1},
		{"runs of one sentence", []feedFrame{a, a, a, b, b, c, a, a},
			published{}.add(false, "a", a, a, a, b).add(true, "b", a, a, b).add(false, "b", b, c, a, a), 3},
	} {
		v := compareFeedTopic(tc.exp, tc.topic)
		if !v.ok || v.extra != tc.extra {
			t.Errorf("%s: ok %v, extra %d (want %d): %s", tc.name, v.ok, v.extra, tc.extra, v.problem)
		}
	}
}

// TestFeedComparisonRefuses is the comparison's negative self-test: a topic
// that lacks any one frame fails, wherever the frame is, also next to a
// marked replay of the frames around it; and so do an unmarked duplicate, a
// marked record that repeats nothing, a foreign record, two frames swapped.
func TestFeedComparisonRefuses(t *testing.T) {
	e := cycles(noFixCycle, 24)
	whole := published{}.add(false, "a", e...)
	for i := range e {
		if v := compareFeedTopic(e, without(whole, i)); v.ok {
			t.Errorf("frame %d dropped: accepted", i)
		} else if i == 5 {
			t.Logf("frame 5 dropped: %s", v.problem)
		}
	}
	// b took over after a had committed e[:12], and re-published e[8:12]
	// marked; then one of the records that are not marked is lost. Only
	// a's copy of e[11] may go: b's marked copy is the same frame, in its
	// place (b's copies of e[8:11] come after e[11]: out of order).
	handover := published{}.add(false, "a", e[:12]...).add(true, "b", e[8:12]...).add(false, "b", e[12:]...)
	for i, r := range handover {
		if r.possible {
			continue
		}
		v := compareFeedTopic(e, without(handover, i))
		if still := i == 11; v.ok != still {
			t.Errorf("handover: record %d (%s) dropped: accepted %v, want %v: %s", i, r.value, v.ok, still, v.problem)
		}
	}
	// e[12] lost right after b's marked copy of e[8], which has its bytes:
	// by content alone, that copy could be e[12]; it was read 100 ms too
	// early to be.
	seenByTimeOnly(t, "e[12] lost behind a marked copy of e[8]", e, without(handover, 16))
	// The first active flushed e[:12] marked (it cannot know what the
	// topic had), then e[12] was lost; a marked replay of e[32:40] comes
	// later. By content alone the placement can leave the marked e[9:12]
	// over, take a's e[13:40] one cycle early (for e[9:36]) and catch up on
	// the replay, which then stands in for e[36:40]. Each of those records
	// was read 100 ms after the frame it would be, when the same bytes had
	// come again: it cannot be.
	long := cycles(noFixCycle, 48)
	shifted := published{}.add(true, "b", long[:12]...).add(false, "a", long[13:40]...).add(true, "b", long[32:40]...).add(false, "b", long[40:]...)
	seenByTimeOnly(t, "e[12] lost between marked records", long, shifted)
	// The last frame lost: the topic ends early.
	if v := compareFeedTopic(e, whole[:len(whole)-1]); v.ok || !strings.Contains(v.problem, "topic ends") {
		t.Errorf("last frame dropped: ok %v: %s", v.ok, v.problem)
	}

	a, b, c := feedFrame{value: "$A*41"}, feedFrame{value: "$B*42"}, feedFrame{value: "$C*43"}
	for _, tc := range []struct {
		name  string
		exp   []feedFrame
		topic published
	}{
		// A walk that only looks for each frame after the last one found
		// accepts this: the foreign C is in the way.
		{"a foreign record", []feedFrame{a, b}, published{}.add(false, "a", a, c, b)},
		{"a foreign record marked", []feedFrame{a, b}, published{}.add(false, "a", a).add(true, "b", c).add(false, "b", b)},
		{"an unmarked duplicate", []feedFrame{a, b}, published{}.add(false, "a", a, b).add(false, "b", b)},
		{"a marked record that repeats no earlier one", []feedFrame{a, b}, published{}.add(true, "b", b).add(false, "a", a, b)},
		{"two frames swapped", []feedFrame{a, b, a, b}, published{}.add(false, "a", a, a, b, b)},
		// Every value is in the topic, and more copies than the feed has,
		// but the run of three A is two.
		{"one of a run lost", []feedFrame{a, a, a, b, a}, published{}.add(false, "a", a, a, b).add(true, "b", b, a).add(false, "b", a)},
	} {
		if v := compareFeedTopic(tc.exp, tc.topic); v.ok {
			t.Errorf("%s: accepted", tc.name)
		} else {
			t.Logf("%s: %s", tc.name, v.problem)
		}
	}
}

// TestFeedComparisonSize: a campaign run's size (tens of thousands of
// frames) is compared quickly, with the duplicates in it.
func TestFeedComparisonSize(t *testing.T) {
	e := cycles(noFixCycle, 40000)
	topic := published{}
	for i := 0; i < len(e); i += 5000 {
		topic = topic.add(false, "a", e[i:i+5000]...)
		if i > 0 {
			topic = topic.add(true, "b", e[i-3:i]...)
		}
	}
	start := time.Now()
	if v := compareFeedTopic(e, topic); !v.ok || v.extra != 21 {
		t.Fatalf("ok %v, extra %d: %s", v.ok, v.extra, v.problem)
	}
	if v := compareFeedTopic(e, without(topic, 20000)); v.ok {
		t.Fatal("a frame dropped in the middle: accepted")
	}
	t.Logf("two comparisons of %d frames with %d records: %v", len(e), len(topic), time.Since(start).Round(time.Millisecond))
}

// TestFeedRecordOwed: the frames owed are those some port received intact,
// without their line ending; a recorded frame that is no valid sentence is
// an error.
func TestFeedRecordOwed(t *testing.T) {
	write := func(frames ...serialsim.RecordedFrame) string {
		path := filepath.Join(t.TempDir(), "feed.record")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w, err := serialsim.NewRecordWriter(f, serialsim.RecordHeader{Ports: 2, Baud: 4800, Feed: "no-fix"})
		if err != nil {
			t.Fatal(err)
		}
		for i, fr := range frames {
			fr.Index = uint64(i)
			if err := w.Write(fr); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	fate := func(a, b serialsim.Fate) []serialsim.PortFate { return []serialsim.PortFate{{Fate: a}, {Fate: b}} }
	s0, s1 := noFixCycle[0], noFixCycle[1]
	path := write(
		serialsim.RecordedFrame{Data: []byte(s0 + "\r\n"), Ports: fate(serialsim.FateDelivered, serialsim.FateDelivered)},
		serialsim.RecordedFrame{Data: []byte(s1 + "\r\n"), Ports: fate(serialsim.FateDropped, serialsim.FatePaused)},
		serialsim.RecordedFrame{Data: []byte(s1 + "\r\n"), Ports: fate(serialsim.FateOverflow, serialsim.FateDelivered)},
		serialsim.RecordedFrame{Data: []byte(s0 + "\r\n"), Ports: fate(serialsim.FateUnplugged, serialsim.FateUnplugged)},
	)
	_, owed, recorded, err := readFeedRecord(path)
	if err != nil || recorded != 4 || len(owed) != 2 || owed[0].index != 0 || owed[0].value != s0 || owed[1].index != 2 || owed[1].value != s1 {
		t.Fatalf("recorded %d, owed %+v, %v", recorded, owed, err)
	}
	bad := write(serialsim.RecordedFrame{Data: []byte("$GPGSV,1,1,00*00\r\n"), Ports: fate(serialsim.FateDelivered, serialsim.FateDelivered)})
	if _, _, _, err := readFeedRecord(bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a bad checksum: %v", err)
	}
}

// TestKcatJSON: kcat's JSON envelope, headers as an array (kcat 1.7) or an
// object.
func TestKcatJSON(t *testing.T) {
	out := `{"topic":"e2e","partition":0,"offset":7,"tstype":"create","ts":1,"broker":0,"headers":["feedd","1 00000000000000ff b 1796299200500000000 d31600e02c7b739f/28362568900933/28362625786181 dup"],"key":null,"payload":"$GPGSV,1,1,00*79"}
{"topic":"e2e","partition":0,"offset":8,"tstype":"create","ts":1,"broker":0,"headers":{"feedd":"1 0123456789abcdef a 1796299201000000000 00000000000000ff/-/99 seq=8"},"key":null,"payload":"!AIVDM,1,1,,A,1,0*00"}
`
	recs, err := parseKcatJSON(strings.NewReader(out))
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	want := []feedTopicRecord{
		{7, "$GPGSV,1,1,00*79", "b", -1, true, t0.Add(500 * time.Millisecond), 0xd31600e02c7b739f, 28362625786181, 28362568900933, time.Time{}},
		{8, "!AIVDM,1,1,,A,1,0*00", "a", -1, false, t0.Add(time.Second), 0xff, 99, 0, time.Time{}},
	}
	if err != nil || len(recs) != 2 || recs[0] != want[0] || recs[1] != want[1] {
		t.Fatalf("%+v, %v", recs, err)
	}
	bad := strings.Replace(out, "d31600e02c7b739f/", "d31600e02c7b739f:", 1)
	if _, err := parseKcatJSON(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line window") {
		t.Fatalf("a malformed line window: %v", err)
	}
}

// TestReadTimesOnLineClock: a record is placed by when its read returned on
// the host's monotonic clock, where the simulator's line times are, not by
// its receive time: a step of the wall clock while the feed runs must neither
// refuse a frame read in time nor let a late one pass. Records without a
// window on the record's clock, and records read against a record written
// without its monotonic origin, keep their receive time.
func TestReadTimesOnLineClock(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 0, 5, 34, 0, time.UTC)
	const clock, mono0 = 0xd31600e02c7b739f, int64(28_000_000_000_000)
	h := serialsim.RecordHeader{Started: t0, Clock: clock, StartedMono: mono0}
	owed := []feedFrame{{index: 0, at: t0.Add(100 * time.Millisecond), value: "A"}, {index: 1, at: t0.Add(200 * time.Millisecond), value: "A"}}
	// Both read 3 ms after their line time, while the wall clock ran 470 ms
	// ahead: by its receive time the first is no frame's (it is past the next A's
	// line time, so it could only be the second, which is then left over).
	stepped := func() []feedTopicRecord {
		return []feedTopicRecord{
			{offset: 0, value: "A", member: "b", rx: t0.Add(573 * time.Millisecond), readClock: clock, readMono: mono0 + int64(103*time.Millisecond)},
			{offset: 1, value: "A", member: "b", rx: t0.Add(673 * time.Millisecond), readClock: clock, readMono: mono0 + int64(203*time.Millisecond)},
		}
	}
	if v := compareFeedTopic(owed, stepped()); v.ok {
		t.Fatalf("by the stepped wall clock the topic fits: the test shows nothing")
	}
	recs := stepped()
	if wall := onLineClock(h, recs); wall != 0 || !recs[0].rx.Equal(t0.Add(103*time.Millisecond)) {
		t.Fatalf("%d on the wall clock, first read at %v", wall, recs[0].rx)
	}
	if v := compareFeedTopic(owed, recs); !v.ok {
		t.Fatalf("on the line clock: %s", v.problem)
	}
	// A late read stays late on the line clock, whatever the receive time says.
	late := stepped()
	late[0].readMono += int64(time.Second)
	late[1].readMono += int64(time.Second)
	late[0].rx, late[1].rx = t0.Add(103*time.Millisecond), t0.Add(203*time.Millisecond)
	onLineClock(h, late)
	if v := compareFeedTopic(owed, late); v.ok {
		t.Fatalf("frames read a second after their line time fit")
	}
	other := stepped()
	other[1].readClock = 1
	if wall := onLineClock(h, other); wall != 1 || !other[1].rx.Equal(t0.Add(673*time.Millisecond)) {
		t.Fatalf("a window on another clock: %d on the wall clock, read at %v", wall, other[1].rx)
	}
	if wall := onLineClock(serialsim.RecordHeader{Started: t0}, stepped()); wall != 2 {
		t.Fatalf("a record without its monotonic origin: %d of 2 on the wall clock", wall)
	}
}

// TestSoleCopies: a record is the sole copy of its frame unless another
// record with its bytes was read between the frame's line time and the next
// time the feed sent those bytes: a member stopped with SIGSTOP reads its
// port's buffer seconds late, and that late copy may be in the topic.
func TestSoleCopies(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 2, 34, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	owed := []feedFrame{
		{index: 0, at: at(0), value: "A"}, {index: 1, at: at(1000), value: "B"},
		{index: 2, at: at(10000), value: "A"}, {index: 3, at: at(11000), value: "B"},
	}
	recs := []feedTopicRecord{
		{offset: 0, value: "A", rx: at(2)},
		{offset: 1, value: "B", rx: at(1002)},
		{offset: 2, value: "A", rx: at(1800), possible: true}, // the first A, read late
		{offset: 3, value: "A", rx: at(10002)},
		{offset: 4, value: "B", rx: at(11001)},
		{offset: 5, value: "B", rx: at(11003), possible: true}, // the second B, read by both
	}
	if got, want := soleCopies(recs, owed), []int{1, 3}; !slices.Equal(got, want) {
		t.Fatalf("sole copies %v, want %v", got, want)
	}
}

// TestFeedComparisonStalledReader: a member that stalls (a loaded machine)
// drains its port's buffer in one read, every frame of it stamped with the
// same time, long after the oldest was on the line. The comparison must
// take such a read as the frames it is, and still refuse it when it lacks
// one.
func TestFeedComparisonStalledReader(t *testing.T) {
	exp := cycles(noFixCycle, 40) // 25 ms apart: a cycle every 100 ms
	stalled := func(frames []feedFrame) published {
		var p published
		p = p.add(false, "a", exp[:20]...)
		at := exp[31].at.Add(3 * time.Millisecond) // 300 ms after exp[20]
		for _, f := range frames {
			p = append(p, feedTopicRecord{offset: int64(len(p)), value: f.value, member: "a", rx: at})
		}
		return p.add(false, "a", exp[32:]...)
	}
	if v := compareFeedTopic(exp, stalled(exp[20:32])); !v.ok {
		t.Fatalf("a stalled read of frames 20 to 31 refused: %s", v.problem)
	}
	lacking := slices.Concat(exp[20:25], exp[26:32])
	if v := compareFeedTopic(exp, stalled(lacking)); v.ok {
		t.Fatal("a stalled read without frame 25 accepted")
	}
	// The same frames read one by one, each 300 ms late, are not a drain
	// of a buffer: only the last frame of a read may be that late.
	var late published
	late = late.add(false, "a", exp[:20]...)
	for i, f := range exp[20:32] {
		late = append(late, feedTopicRecord{offset: int64(len(late)), value: f.value, member: "a", rx: exp[31].at.Add(time.Duration(3+5*i) * time.Millisecond)})
	}
	late = late.add(false, "a", exp[32:]...)
	if v := compareFeedTopic(exp, late); v.ok {
		t.Fatal("frames read one by one 300 ms after the line accepted")
	}
}

// TestFeedComparisonLateSimulator: on a loaded machine the simulator's
// writes to a port stall too, and a member reading that port may read a
// frame long after its line time, yet before the next copy of its bytes
// was written there: the last frame of its read, with nothing after it
// (TestFeedComparisonStalledReader's allowance does not apply). The
// comparison must take it as that frame, and still refuse it when read
// after the next copy's write began, or on the other port, whose writes
// were on time.
func TestFeedComparisonLateSimulator(t *testing.T) {
	exp := cycles(noFixCycle, 40) // a cycle every 100 ms: frame 24 repeats frame 20
	stall := exp[20].at.Add(140 * time.Millisecond)
	for i := range exp {
		exp[i].writeBegun = []time.Time{exp[i].at, exp[i].at}
		if i > 20 && i < 32 {
			exp[i].writeBegun[0] = stall // port 0's writer stalled after frame 20
		}
	}
	topic := func(port int, read20 time.Duration) published {
		member := []string{"a", "b"}[port]
		p := published{}.add(false, member, exp[:20]...)
		p = append(p, feedTopicRecord{offset: 20, value: exp[20].value, member: member, port: port, rx: exp[20].at.Add(read20)})
		for _, f := range exp[21:32] {
			p = append(p, feedTopicRecord{offset: int64(len(p)), value: f.value, member: member, port: port, rx: exp[31].at.Add(5 * time.Millisecond)})
		}
		return p.add(false, member, exp[32:]...)
	}
	if v := compareFeedTopic(exp, topic(0, 130*time.Millisecond)); !v.ok {
		t.Fatalf("frame 20 read 130 ms late on port 0, before frame 24's write there began: %s", v.problem)
	}
	if v := compareFeedTopic(exp, topic(0, 141*time.Millisecond)); v.ok {
		t.Fatal("frame 20 read on port 0 after frame 24's write there began accepted")
	}
	if v := compareFeedTopic(exp, topic(1, 130*time.Millisecond)); v.ok {
		t.Fatal("frame 20 read 130 ms late on port 1, whose writes were on time, accepted")
	}
}

// TestFeedComparisonLateLastCopies: the feed stops (the ports paused) and
// the last copies of the cycle's sentences come back in one read 120 ms
// after the last one's line time, the bytes held up between the simulator
// and the member: no later copy of them reached a port, so nothing can
// hide behind the late read. A record missing among them is still
// refused, and so is an earlier cycle standing in for a lost last one.
func TestFeedComparisonLateLastCopies(t *testing.T) {
	exp := cycles(noFixCycle, 40)
	for i := range exp {
		exp[i].writeBegun = []time.Time{exp[i].at, exp[i].at}
	}
	late := exp[39].at.Add(120 * time.Millisecond)
	topic := func(frames ...feedFrame) published {
		p := published{}.add(false, "a", exp[:36]...)
		for _, f := range frames {
			p = append(p, feedTopicRecord{offset: int64(len(p)), value: f.value, member: "a", rx: late})
		}
		return p
	}
	if v := compareFeedTopic(exp, topic(exp[36:]...)); !v.ok {
		t.Fatalf("the last cycle read in one read 120 ms late refused: %s", v.problem)
	}
	for i := 36; i < 40; i++ {
		if v := compareFeedTopic(exp, topic(without(exp[36:], i-36)...)); v.ok {
			t.Fatalf("the late read without frame %d accepted", i)
		}
	}
	// The last cycle lost, and the one before it published late in its
	// place: the topic lacks four frames.
	p := published{}.add(false, "a", exp[:32]...)
	for _, f := range exp[32:36] {
		p = append(p, feedTopicRecord{offset: int64(len(p)), value: f.value, member: "a", rx: late})
	}
	if v := compareFeedTopic(exp, p); v.ok {
		t.Fatal("the cycle before the last, read late, accepted for the lost last cycle")
	}
}

// TestFeedComparisonLateRelay: on a loaded machine the relay between the
// simulator's pseudo-terminal and the member's can hold bytes back, so the
// last frame of a drain may be read later than feedReadLag, with the next
// copy of its bytes written to the port long before. A frame the feed sent
// once, read earlier in the same drain, shows how late the drain is; the
// record after it is then taken as its frame. Without such a frame in its
// drain the late record is still refused, and a drain that lacks a frame
// still leaves it missing.
func TestFeedComparisonLateRelay(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 15, 43, 0, 0, time.UTC)
	exp := make([]feedFrame, 40)
	for i := range exp {
		value := testSentence("$GPVTG,143.9,T,,M,11.0,N,20.4,K,A") // repeats every other frame
		if i%2 == 0 {
			value = testSentence(fmt.Sprintf("$GPRMC,%06d", i)) // sent once
		}
		at := t0.Add(time.Duration(i) * 25 * time.Millisecond)
		exp[i] = feedFrame{index: uint64(i), at: at, value: value, writeBegun: []time.Time{at, at}}
	}
	// a reads frames 20 to 23 in one drain 95 ms after frame 23's line
	// time, 0.3 ms apart; the rest 3 ms after the line.
	drained := func(frames []int) published {
		p := published{}
		for _, f := range exp[:20] {
			p = append(p, feedTopicRecord{offset: int64(len(p)), value: f.value, member: "a", rx: f.at.Add(3 * time.Millisecond)})
		}
		read := exp[23].at.Add(95 * time.Millisecond)
		for k, i := range frames {
			p = append(p, feedTopicRecord{offset: int64(len(p)), value: exp[i].value, member: "a",
				rx: read.Add(time.Duration(k) * 300 * time.Microsecond)})
		}
		for _, f := range exp[24:] {
			p = append(p, feedTopicRecord{offset: int64(len(p)), value: f.value, member: "a", rx: f.at.Add(3 * time.Millisecond)})
		}
		return p
	}
	if v := compareFeedTopic(exp, drained([]int{20, 21, 22, 23})); !v.ok {
		t.Fatalf("a drain read 95 ms late, with frame 22 (sent once) before its last frame, refused: %s", v.problem)
	}
	if v := compareFeedTopic(exp, drained([]int{20, 21, 23})); v.ok {
		t.Fatal("the late drain without frame 22 accepted")
	}
	// Only frame 23 read late, alone: nothing shows its read was late
	// rather than a later copy's.
	alone := drained([]int{20, 21, 22, 23})
	for j := 20; j < 23; j++ {
		alone[j].rx = exp[j].at.Add(3 * time.Millisecond)
	}
	if v := compareFeedTopic(exp, alone); v.ok {
		t.Fatal("frame 23 read 95 ms late in a read of its own, its next copy written long before, accepted")
	}
	// Frame 23 read 3 ms after the drain: another read, which frame 22
	// bounds nothing for.
	apart := drained([]int{20, 21, 22, 23})
	apart[23].rx = apart[22].rx.Add(3 * time.Millisecond)
	if v := compareFeedTopic(exp, apart); v.ok {
		t.Fatal("frame 23 read late in a read after the drain's accepted")
	}
	// Frames 20 and 22 marked possible: a marked record may be a repeat
	// placed anywhere, so it bounds nothing, and frame 21 read 145 ms
	// late has nothing to show for it.
	marked := drained([]int{20, 21, 22, 23})
	marked[20].possible, marked[22].possible = true, true
	if v := compareFeedTopic(exp, marked); v.ok {
		t.Fatal("a late drain whose frames sent once are marked possible accepted")
	}
}

// TestLateDeliveries: a record of a frame sent once whose read window
// starts after the frame's line time was handed over later than the port's
// bound; a repeated frame's records, and those without a window start, are
// not judged.
func TestLateDeliveries(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	owed := []feedFrame{
		{index: 0, at: t0, value: "$A"},
		{index: 1, at: t0.Add(100 * time.Millisecond), value: "$B"},
		{index: 2, at: t0.Add(200 * time.Millisecond), value: "$R"},
		{index: 3, at: t0.Add(300 * time.Millisecond), value: "$R"},
		{index: 4, at: t0.Add(400 * time.Millisecond), value: "$C"},
	}
	recs := []feedTopicRecord{
		{value: "$A", startAt: t0.Add(-40 * time.Millisecond)}, // in time
		{value: "$B", startAt: t0.Add(700 * time.Millisecond)}, // 600 ms late
		{value: "$R", startAt: t0.Add(time.Second)},            // repeated: not judged
		{value: "$C"}, // no window start
	}
	judged, late, worst := lateDeliveries(owed, recs)
	if judged != 2 || late != 1 || worst != 600*time.Millisecond {
		t.Fatalf("judged %d, late %d, worst %v; want 2, 1, 600ms", judged, late, worst)
	}
}
