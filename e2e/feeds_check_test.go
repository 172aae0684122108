package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// The independent reading of a feed run: what the simulator recorded,
// compared with what kcat (librdkafka, read_committed) reads from the topic,
// by code that shares nothing with the audit (broadcast/audit) or the
// members' identity. It answers one question exactly: is every frame that
// some port received intact in the topic, in feed order, with every other
// record marked "dup" (a possible duplicate) and repeating a frame the topic
// already had?
//
// Content alone cannot tell two copies of a repeated sentence apart, so a
// lost frame could hide behind a marked re-publication of another frame
// with the same bytes. The test can tell them apart where the members
// cannot: the simulator and the members share this host's clock, so a
// record can only be a frame that was on the line by the time the member
// read it (the simulator writes a frame to the ports when its last byte
// leaves the line, never before), and one read soon after it. The read time
// is the end of the record's line window, on the host's monotonic
// clock, where the record places its line times: the wall clock of
// the receive time can be stepped by time synchronisation while a feed runs (a
// loaded virtual machine's was seen to jump 0.47 s).

// feedFrame is one frame the topic owes: a recorded frame some port
// received intact, as the members' nmea framing returns it (the sentence
// without its line ending).
type feedFrame struct {
	index uint64    // its place in the record, counting every recorded frame
	at    time.Time // when its last byte left the line
	value string
	// writeBegun holds, for each port the simulator wrote the frame to, a
	// time before which its write had not begun: when the frame before it
	// on that port was written (each port's writes follow one another).
	// Zero where unknown.
	writeBegun []time.Time
}

// feedTopicRecord is one committed record as kcat printed it.
type feedTopicRecord struct {
	offset int64
	value  string
	member string
	// port is the simulator port of the member that published it, -1 if
	// not known. That is the port it was read on, but for a frame a
	// repair took from the peer: the topic does not say which frames
	// those are.
	port     int
	possible bool      // marked dup in its header
	rx       time.Time // when the member read it from its port (its header), until onLineClock
	// readClock and readMono are the clock and the end of the record's
	// line window: when the member's read of it returned, on that
	// host's monotonic clock. Zero without the header.
	readClock uint64
	readMono  int64
	// startMono is the start of the line window on the same clock
	// (0: unbounded), and startAt the same on the line clock (onLineClock;
	// zero when not known): the earliest the frame can have been on the
	// line, by what the member's port told it.
	startMono int64
	startAt   time.Time
}

// A record can only be a frame that was on the line when the member read
// it, and one it read before the same bytes came again or soon after the
// frame: its read span, from the frame's line time less feedClockSlack to
// the latest of feedReadLag after it, the next copy's line time (less
// feedClockSlack), and, on the member's port, the time before which the
// simulator had not begun to write the next copy there (less
// feedWriteSlack): on a loaded machine the simulator's writes, and so
// every copy on a port, may come well after their line times. The lower end keeps a lost frame from hiding behind a
// marked re-publication of an older frame with the same bytes; the upper
// end keeps it from hiding behind a shift of the placement by one cycle of
// a feed that repeats itself exactly (no-fix), which a later marked replay
// would absorb. A value sent only once has no upper end.
const (
	// feedClockSlack: the line time and a record's read time are on the
	// same monotonic clock, their origins taken a few microseconds apart;
	// a record without a read window falls back to its receive time, on the
	// wall clock.
	feedClockSlack = 10 * time.Millisecond
	// feedReadLag bounds how late a member reads a frame whose bytes come
	// again within it (a run of identical sentences): below the 100 ms
	// cycle of the GPS feeds, far above the few milliseconds members take.
	feedReadLag = 90 * time.Millisecond
	// feedSameRead: records of one member read this close together came
	// from one drain of its port (a member stamps every frame of one read
	// with the same time; a read that fills its buffer is followed at once
	// by the next).
	feedSameRead = 2 * time.Millisecond
	// feedWriteSlack: the simulator's write times and a record's read time
	// are on the same monotonic clock, their origins read back to back, a
	// few microseconds apart. It must stay small: a loaded simulator's
	// write and a member's read that returned just before it were seen 54
	// µs apart.
	feedWriteSlack = 20 * time.Microsecond
)

// readLagAllowances returns, for each record, how much later than
// feedReadLag after its frame's line time it may have been read: a member
// that stalled (a loaded machine) drains what its port's buffer kept in
// one read, and the frames after a record in that read were all on the
// line after its frame. So its frame is at most as old as the line time
// that m+1 consecutive frames of the feed span, m being the records read
// after it in the same read.
//
// The last frame of a read is as fresh as any only if the port had it as
// soon as the simulator wrote it, and on a loaded machine the relay between
// the simulator's pseudo-terminal and the member's may hold the bytes back
// (93 ms was seen). A frame the feed sent once, published unmarked earlier
// in the same drain, bounds how old a record after it can be: a topic in
// feed order has that record's frame after the one sent once, and the
// placement takes the records in order anyway, so the span reaching back
// to that frame's line time lets through no order the placement would
// refuse; what it gives up is only the upper end's guard against a shift
// by a cycle, within the drain and after that frame. The frame sent once
// may have been read by the other member (a repair publishes the peer's
// frames under the publisher's id): its place in the topic, not its port,
// is what the bound rests on.
func readLagAllowances(exp []feedFrame, recs []feedTopicRecord) []time.Duration {
	sameDrain := func(r, next feedTopicRecord) bool {
		return r.member == next.member && !next.rx.Before(r.rx) && next.rx.Sub(r.rx) <= feedSameRead
	}
	after := make([]int, len(recs))
	longest := 0
	for j := len(recs) - 2; j >= 0; j-- {
		if sameDrain(recs[j], recs[j+1]) {
			after[j] = after[j+1] + 1
			longest = max(longest, after[j])
		}
	}
	// span[m]: the longest line time m consecutive frames after one take.
	span := make([]time.Duration, min(longest, len(exp))+1)
	for m := 1; m < len(span); m++ {
		for i := 0; i+m < len(exp); i++ {
			span[m] = max(span[m], exp[i+m].at.Sub(exp[i].at))
		}
	}
	allow := make([]time.Duration, len(recs))
	for j, m := range after {
		allow[j] = span[min(m, len(span)-1)]
	}
	// sentOnce: the line time of each value the feed sent once.
	sentOnce := map[string]time.Time{}
	copies := map[string]int{}
	for _, f := range exp {
		copies[f.value]++
		sentOnce[f.value] = f.at
	}
	// since: the line time of the latest frame sent once that the current
	// drain has published unmarked so far (zero: none yet).
	var since time.Time
	for j, r := range recs {
		if j == 0 || !sameDrain(recs[j-1], r) {
			since = time.Time{}
		}
		// A marked record may be a repeat, placed anywhere; it bounds
		// nothing.
		if at := sentOnce[r.value]; copies[r.value] == 1 && !r.possible && at.After(since) {
			since = at
		}
		if !since.IsZero() {
			allow[j] = max(allow[j], r.rx.Sub(since)-feedReadLag)
		}
	}
	return allow
}

// readFeedRecord reads the simulator's record file and returns the frames
// the topic owes, in feed order, and the number of frames recorded.
func readFeedRecord(path string) (serialsim.RecordHeader, []feedFrame, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return serialsim.RecordHeader{}, nil, 0, err
	}
	defer f.Close()
	h, recorded, err := serialsim.ReadRecord(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return h, nil, 0, err
	}
	var owed []feedFrame
	lastWritten := make([]time.Time, h.Ports)
	for _, r := range recorded {
		begun := slices.Clone(lastWritten)
		for p, pf := range r.Ports {
			if pf.Written > 0 {
				lastWritten[p] = h.Started.Add(pf.Written)
			}
		}
		delivered := false
		for _, p := range r.Ports {
			delivered = delivered || p.Fate == serialsim.FateDelivered
		}
		if !delivered {
			continue
		}
		v, err := nmeaSentenceValue(r.Data)
		if err != nil {
			return h, nil, 0, fmt.Errorf("recorded frame %d: %v", r.Index, err)
		}
		owed = append(owed, feedFrame{index: r.Index, at: h.Started.Add(r.At), value: v, writeBegun: begun})
	}
	return h, owed, len(recorded), nil
}

// nmeaSentenceValue checks that data is one whole NMEA 0183 sentence ('$'
// or '!', a body, '*', the checksum of the body in two hexadecimal digits,
// CR LF) and returns it without the line ending, as a record holds it.
func nmeaSentenceValue(data []byte) (string, error) {
	s, ok := bytes.CutSuffix(data, []byte("\r\n"))
	if !ok || len(s) < 4 || (s[0] != '$' && s[0] != '!') || s[len(s)-3] != '*' {
		return "", fmt.Errorf("not an NMEA sentence: %q", data)
	}
	var sum byte
	for _, c := range s[1 : len(s)-3] {
		if c < 0x20 || c > 0x7e || c == '$' || c == '!' || c == '*' {
			return "", fmt.Errorf("byte %q inside the sentence %q", c, data)
		}
		sum ^= c
	}
	want, err := strconv.ParseUint(string(s[len(s)-2:]), 16, 8)
	if err != nil || byte(want) != sum {
		return "", fmt.Errorf("checksum of %q: the body gives %02X", data, sum)
	}
	return string(s), nil
}

// kcatReadTopic reads every committed record of partition 0 with kcat, its
// values and headers in kcat's JSON envelope (-J).
func kcatReadTopic(ctx context.Context, bootstrap, topic string) ([]feedTopicRecord, []byte, error) {
	cmd := exec.CommandContext(ctx, "kcat", "-C", "-b", bootstrap, "-t", topic, "-p", "0",
		"-X", "isolation.level=read_committed", "-o", "beginning", "-e", "-q", "-J")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, out.Bytes(), fmt.Errorf("kcat: %v: %s", err, errb.String())
	}
	recs, err := parseKcatJSON(bytes.NewReader(out.Bytes()))
	return recs, out.Bytes(), err
}

// parseKcatJSON parses kcat -J output, one envelope a line. kcat prints the
// headers as a JSON array of alternating names and values (or, in some
// releases, as an object).
func parseKcatJSON(r io.Reader) ([]feedTopicRecord, error) {
	var recs []feedTopicRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var env struct {
			Partition int32           `json:"partition"`
			Offset    int64           `json:"offset"`
			Headers   json.RawMessage `json:"headers"`
			Payload   *string         `json:"payload"`
		}
		if err := json.Unmarshal(line, &env); err != nil {
			return nil, fmt.Errorf("kcat: %v in %q", err, line)
		}
		if env.Payload == nil {
			return nil, fmt.Errorf("kcat: offset %d: a record without a value", env.Offset)
		}
		hdrs, err := kcatHeaders(env.Headers)
		if err != nil {
			return nil, fmt.Errorf("kcat: offset %d: headers %s: %v", env.Offset, env.Headers, err)
		}
		rec := feedTopicRecord{offset: env.Offset, value: *env.Payload, port: -1}
		found := false
		for _, h := range hdrs {
			if h[0] != "feedd" {
				continue
			}
			found = true
			if err := rec.parseHeader(h[1]); err != nil {
				return nil, fmt.Errorf("kcat: offset %d: header feedd %q: %v", env.Offset, h[1], err)
			}
		}
		if !found {
			return nil, fmt.Errorf("kcat: offset %d: no feedd header", env.Offset)
		}
		recs = append(recs, rec)
	}
	return recs, sc.Err()
}

// parseHeader reads the record's "feedd" header as docs/kafka.md gives
// it, on its own rather than with the members' code:
// "1 <fingerprint> <member> <received, Unix ns> <clock>/<lo>/<hi> [seq=<n>] [dup]".
// It is stricter than a consumer should be (an unknown field is an error):
// it checks what this build's members write.
func (rec *feedTopicRecord) parseHeader(v string) error {
	f := strings.Split(v, " ")
	if len(f) < 5 || f[0] != "1" {
		return fmt.Errorf("not format 1 with five fields")
	}
	if len(f[1]) != 16 {
		return fmt.Errorf("fingerprint %q", f[1])
	}
	if _, err := strconv.ParseUint(f[1], 16, 64); err != nil {
		return fmt.Errorf("fingerprint: %v", err)
	}
	rec.member = f[2]
	ns, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || ns <= 0 {
		return fmt.Errorf("receive time %q", f[3])
	}
	rec.rx = time.Unix(0, ns).UTC()
	if rec.readClock, rec.startMono, rec.readMono, err = parseReadWindow(f[4]); err != nil {
		return fmt.Errorf("line window: %v", err)
	}
	for _, x := range f[5:] {
		switch {
		case x == "dup":
			rec.possible = true
		case strings.HasPrefix(x, "seq="):
		default:
			return fmt.Errorf("unknown field %q", x)
		}
	}
	return nil
}

// parseReadWindow reads the clock and the bounds of a line window
// ("clock/lo/hi": the clock id in hex, then nanoseconds on it; lo is "-",
// returned as 0, when unbounded).
func parseReadWindow(v string) (clock uint64, lo, hi int64, err error) {
	parts := strings.Split(v, "/")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("%q is not clock/lo/hi", v)
	}
	if clock, err = strconv.ParseUint(parts[0], 16, 64); err != nil {
		return 0, 0, 0, fmt.Errorf("clock of %q: %v", v, err)
	}
	if parts[1] != "-" {
		if lo, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("start of %q: %v", v, err)
		}
	}
	if hi, err = strconv.ParseInt(parts[2], 10, 64); err != nil {
		return 0, 0, 0, fmt.Errorf("end of %q: %v", v, err)
	}
	return clock, lo, hi, nil
}

// lateDeliveries counts the records of frames the feed sent once whose
// read window starts after the frame's line time: the port handed the
// bytes over later than the latency bound the member reads it with (on a
// loaded machine the relay between the simulator's pseudo-terminal and the
// member's can hold them back). A member's windows, and every rule that
// rests on them, assume the bound holds; a run that fails with many of
// these failed on the machine as much as on feedd. It returns how many
// records it could judge, how many were late, and the latest by how much.
func lateDeliveries(owed []feedFrame, recs []feedTopicRecord) (judged, late int, worst time.Duration) {
	copies := map[string]int{}
	at := map[string]time.Time{}
	for _, f := range owed {
		copies[f.value]++
		at[f.value] = f.at
	}
	for _, r := range recs {
		if copies[r.value] != 1 || r.startAt.IsZero() {
			continue
		}
		judged++
		if d := r.startAt.Sub(at[r.value]); d > feedClockSlack {
			late++
			worst = max(worst, d)
		}
	}
	return judged, late, worst
}

// onLineClock restates each record's read time on the record's line clock
// (its Started plus monotonic time since), from the end of its receive timew
// window when that is on the clock the record was taken on. It returns how
// many records kept their wall-clock receive time instead: those without the
// header or from another host, or all of them for a record written without
// its monotonic origin.
func onLineClock(h serialsim.RecordHeader, recs []feedTopicRecord) (wall int) {
	for i := range recs {
		r := &recs[i]
		if h.Clock == 0 || h.StartedMono == 0 || r.readClock != h.Clock {
			wall++
			continue
		}
		r.rx = h.Started.Add(time.Duration(r.readMono - h.StartedMono))
		if r.startMono != 0 {
			r.startAt = h.Started.Add(time.Duration(r.startMono - h.StartedMono))
		}
	}
	return wall
}

func kcatHeaders(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		if len(list)%2 != 0 {
			return nil, fmt.Errorf("an odd number of names and values")
		}
		out := make([][2]string, 0, len(list)/2)
		for i := 0; i < len(list); i += 2 {
			out = append(out, [2]string{list[i], list[i+1]})
		}
		return out, nil
	}
	var obj map[string]string
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	var out [][2]string
	for k, v := range obj {
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// feedVerdict is what compareFeedTopic found.
type feedVerdict struct {
	ok bool
	// expected and records are the sizes of the two streams.
	expected, records int
	// extra are the records beyond the expected frames (all marked
	// possible repeats when ok); marked counts every record marked.
	extra, marked int
	// problem says, when not ok, where the topic stops fitting the feed.
	problem string
}

// compareFeedTopic decides exactly whether the topic is the feed: whether
// the expected frames can be placed, in order, on records of equal value,
// each read within its frame's read span (readSpan), such that every record
// left over is marked dup (a possible duplicate) and repeats the value of a record
// before it.
//
// Repeated sentences make a greedy walk wrong both ways (a marked record
// may be the only copy of a frame, or a repeat of one; an unmarked record
// must be a frame), so it keeps every placement at once: after each record,
// the set of how many expected frames the records so far can account for
// (a bit set, one bit per count: O(records × frames / 64)). An unmarked
// record, or a marked one whose value the topic has not had yet, must be
// the next frame of some placement; a marked repeat may also be left over.
func compareFeedTopic(exp []feedFrame, recs []feedTopicRecord) feedVerdict {
	v := feedVerdict{expected: len(exp), records: len(recs)}
	n := len(exp)
	words := (n + 1 + 63) / 64
	// byValue lists, for each value, the expected frames that have it, in
	// feed order, with their read spans.
	type candidate struct {
		i      int
		lo, hi time.Time
		// next is the next copy's feedFrame.writeBegun: the span ends
		// no earlier on a port.
		next []time.Time
	}
	// end is the end of c's span for a record read on port.
	end := func(c candidate, port int) time.Time {
		if port >= 0 && port < len(c.next) && !c.next[port].IsZero() {
			if w := c.next[port].Add(-feedWriteSlack); w.After(c.hi) {
				return w
			}
		}
		return c.hi
	}
	byValue := map[string][]candidate{}
	last := map[string]int{}
	for i, f := range exp {
		c := candidate{i: i, lo: f.at.Add(-feedClockSlack), hi: f.at.Add(feedReadLag)}
		cs := byValue[f.value]
		if k, ok := last[f.value]; ok {
			// The previous copy's span ends when this one was on the line.
			if end := f.at.Add(-feedClockSlack); end.After(cs[k].hi) {
				cs[k].hi = end
			}
			cs[k].next = f.writeBegun
		}
		last[f.value] = len(cs)
		byValue[f.value] = append(cs, c)
	}
	// The last owed copy of a value (the only one, for a value the feed
	// sent once) has no later copy that reached a port: no shift of the
	// placement can land on one, so it may be read as late as a loaded
	// machine reads it. The lower end still keeps an older copy from
	// standing in for it.
	for _, cs := range byValue {
		cs[len(cs)-1].hi = time.Unix(1<<40, 0)
	}
	reach := make([]uint64, words)
	reach[0] = 1 // no record read: no frame accounted for
	moved := make([]uint64, words)
	seen := map[string]bool{}
	allow := readLagAllowances(exp, recs)
	for j, r := range recs {
		if r.possible {
			v.marked++
		}
		optional := r.possible && seen[r.value]
		seen[r.value] = true
		if optional {
			copy(moved, reach)
		} else {
			clear(moved)
		}
		// The frames this record can be: its value's whose read span holds
		// its time. Both ends of the spans grow with the frames (a port's
		// writes follow one another), so they are a run of the value's
		// list.
		cs := byValue[r.value]
		late := r.rx.Add(-allow[j])
		k := sort.Search(len(cs), func(k int) bool { return !end(cs[k], r.port).Before(late) })
		for ; k < len(cs) && !cs[k].lo.After(r.rx); k++ {
			i := cs[k].i
			if reach[i/64]&(1<<(i%64)) != 0 {
				moved[(i+1)/64] |= 1 << ((i + 1) % 64)
			}
		}
		if !slices.ContainsFunc(moved, func(w uint64) bool { return w != 0 }) {
			v.problem = fmt.Sprintf("the record at offset %d (%q, member %s, read %s, marked possible %v) fits no placement: "+
				"it is not the next expected frame of any (of those it can be by its time), and %s; the next expected frames were %s",
				r.offset, r.value, r.member, r.rx.Format("15:04:05.000"), r.possible, leftOverReason(r), describeNext(exp, reach))
			return v
		}
		reach, moved = moved, reach
	}
	if reach[n/64]&(1<<(n%64)) == 0 {
		hi := highestBit(reach)
		v.problem = fmt.Sprintf("the topic ends with %d of the %d expected frames accounted for at most: "+
			"frame %d of the record (%q) and %d after it are not in the topic in order",
			hi, n, exp[hi].index, exp[hi].value, n-hi-1)
		return v
	}
	v.ok, v.extra = true, len(recs)-n
	return v
}

// leftOverReason says why a record that is no placement's next frame
// cannot be left over either.
func leftOverReason(r feedTopicRecord) string {
	if !r.possible {
		return "it is not marked dup (a possible duplicate)"
	}
	return "it repeats no record before it"
}

// describeNext names the expected frames the placements alive before a
// record were waiting for (a few of them).
func describeNext(exp []feedFrame, reach []uint64) string {
	var parts []string
	for w, x := range reach {
		for x != 0 && len(parts) < 4 {
			b := bits.TrailingZeros64(x)
			x &^= 1 << b
			i := w*64 + b
			if i < len(exp) {
				parts = append(parts, fmt.Sprintf("frame %d of the record (%q, on the line at %s)", exp[i].index, exp[i].value, exp[i].at.Format("15:04:05.000")))
			} else {
				parts = append(parts, "none (all accounted for)")
			}
		}
	}
	return strings.Join(parts, ", ")
}

func highestBit(set []uint64) int {
	for w := len(set) - 1; w >= 0; w-- {
		if set[w] != 0 {
			return w*64 + 63 - bits.LeadingZeros64(set[w])
		}
	}
	return -1
}

// soleCopies returns the records that are the only copy of their frame in
// the topic: unmarked, and no other record with the same bytes was read
// between that frame's line time and the next time the feed sent the same
// bytes (a member stopped with SIGSTOP reads what its port buffered when it
// continues, seconds late, and a repair may publish that copy), nor within
// soleCopyWindow of it (two members read the same frame within milliseconds
// of each other). Removing one from the topic loses a frame, which
// compareFeedTopic must see.
func soleCopies(recs []feedTopicRecord, owed []feedFrame) []int {
	sent := map[string][]time.Time{}
	for _, f := range owed {
		sent[f.value] = append(sent[f.value], f.at)
	}
	byValue := map[string][]int{}
	for j, r := range recs {
		byValue[r.value] = append(byValue[r.value], j)
	}
	var out []int
	for j, r := range recs {
		if r.possible {
			continue
		}
		lo, hi := r.rx.Add(-soleCopyWindow), r.rx.Add(soleCopyWindow)
		at := sent[r.value]
		next, _ := slices.BinarySearchFunc(at, r.rx, func(t, rx time.Time) int { return t.Compare(rx) })
		if next > 0 && at[next-1].Before(lo) {
			lo = at[next-1]
		}
		if next == len(at) {
			hi = time.Unix(1<<40, 0)
		} else if at[next].After(hi) {
			hi = at[next]
		}
		sole := true
		for _, k := range byValue[r.value] {
			if k != j && !recs[k].rx.Before(lo) && recs[k].rx.Before(hi) {
				sole = false
				break
			}
		}
		if sole {
			out = append(out, j)
		}
	}
	return out
}

// soleCopyWindow: see soleCopies.
const soleCopyWindow = 80 * time.Millisecond

// kcatReadTimeout bounds one reading of the topic with kcat.
const kcatReadTimeout = 2 * time.Minute
