package audit

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// The expected-feed audit compares the topic with the truth: the frames
// the feed sent, in feed order, each with what every port received of it
// (a simulator's record). Feeds without sequence numbers (NMEA, AIS) repeat
// sentences byte for byte, so a lost frame cannot be seen in the topic
// alone; against the feed it can.
//
// Compare aligns the two streams with an exact minimal diff over the frame
// bytes: the longest common subsequence, found with Myers' O(ND)
// algorithm. What the feed owes but the topic lacks is missing; what the
// topic holds beyond the alignment is extra, either a duplicate (its bytes
// are in the topic elsewhere) or foreign (no expected frame has them). A
// missing block whose frames are extra elsewhere is one move, reported
// once, unless the extra records are marked as possible duplicates of
// frames the topic has (see findMoves).
//
// With repeated frames several minimal alignments can be equally valid: a
// lost "$GPGSA" among five identical ones could be any of them. Among them
// Compare prefers (within a window around each difference, see refine)
// extra records that a member marked as possible duplicates, then missing
// frames that some port did not receive intact; then later copies as the
// extra ones and earlier frames as the missing ones. The number of
// differences does not depend on the choice.

// ExpectedFrame is one frame the topic owes: a recorded feed frame that at
// least one port received intact, as the members' framing decodes it.
type ExpectedFrame struct {
	// Index is the frame's position in the recorded feed (counting every
	// recorded frame, also those no port received).
	Index uint64
	// Data is the frame as the framing returns it: what a record's value
	// holds.
	Data string
	// Fates are what each port received of it, by port index ("delivered",
	// "dropped", ...).
	Fates []string
}

// deliveredEverywhere reports whether every port received the frame
// intact.
func (f *ExpectedFrame) deliveredEverywhere() bool {
	for _, x := range f.Fates {
		if x != fateDelivered {
			return false
		}
	}
	return true
}

// fateDelivered is serialsim.FateDelivered.
const fateDelivered = "delivered"

// TopicRecord is one committed data record, as the comparison needs it.
type TopicRecord struct {
	Offset int64
	Value  string
	Member string
	// PossibleDuplicate is set when the record carries the header
	// feedd-dup: possible.
	PossibleDuplicate bool
}

// ExpectOptions tune Compare.
type ExpectOptions struct {
	// MaxDifferences bounds the edit distance (missing plus extra frames)
	// searched for; beyond it Compare returns a *TooDifferentError.
	// Default DefaultMaxDifferences.
	MaxDifferences int
	// MaxListed bounds each list of runs (default DefaultMaxListed);
	// counts are always exact.
	MaxListed int
	// MaxFramesPerRun bounds the frames and records listed in each run
	// (default DefaultMaxFramesPerRun).
	MaxFramesPerRun int
	// End is the offset after the last record read: where frames missing
	// at the end of the feed belong.
	End int64
	// Feed describes the expected frames; it is copied into the report.
	Feed FeedInfo
}

// DefaultMaxFramesPerRun is how many frames or records each listed run
// shows, unless ExpectOptions.MaxFramesPerRun says otherwise.
const DefaultMaxFramesPerRun = 5

// ExpectReport is what the comparison of the topic with the recorded feed
// found. Feed indexes count the recorded frames; offsets are those of the
// topic's partition 0.
type ExpectReport struct {
	// Topic, Partitions, LogStart, From, End, Records, ControlRecords and
	// Followed describe what was read, as in Report; RunExpect fills them.
	Topic          string `json:"topic"`
	Partitions     int    `json:"partitions"`
	LogStart       int64  `json:"log_start_offset"`
	From           int64  `json:"from_offset"`
	End            int64  `json:"end_offset"`
	Records        int64  `json:"records"`
	ControlRecords int64  `json:"control_records"`
	Followed       bool   `json:"followed"`

	// Feed describes the record file and what the framing made of it.
	Feed FeedInfo `json:"feed"`

	Totals ExpectTotals `json:"totals"`
	// Missing lists runs of expected frames absent from the topic, in feed
	// order; MissingRuns counts them all.
	Missing     []MissingRun `json:"missing"`
	MissingRuns int64        `json:"missing_runs"`
	// Extra lists runs of records the feed does not account for, in
	// offset order; ExtraRuns counts them all.
	Extra     []ExtraRun `json:"extra"`
	ExtraRuns int64      `json:"extra_runs"`
	// Moved lists blocks of expected frames found elsewhere in the topic,
	// in feed order; MovedRuns counts them all.
	Moved     []Move `json:"moved"`
	MovedRuns int64  `json:"moved_runs"`

	// Truncated is set when some list was cut short.
	Truncated bool `json:"truncated"`
	// Clean is true when nothing is missing, nothing is moved and every
	// extra record is a duplicate marked possible; Problems says what made
	// it false, one line each.
	Clean    bool     `json:"clean"`
	Problems []string `json:"problems"`
	Notes    []string `json:"notes"`
}

// FeedInfo describes the recorded feed.
type FeedInfo struct {
	// Source names the record file, as given.
	Source string `json:"source,omitempty"`
	// Generator and Seed are the simulator's feed; Ports its port count.
	Generator string    `json:"generator,omitempty"`
	Seed      uint64    `json:"seed"`
	Ports     int       `json:"ports"`
	Started   time.Time `json:"started,omitzero"`
	// Framing is the framing mode the frames were decoded with.
	Framing string `json:"framing"`
	// Frames counts the recorded frames; Undelivered those no port
	// received intact (the topic does not owe them); Undecodable those
	// delivered but for which the framing returns no frame (the members
	// drop them too); Split those the framing returns as more than one
	// frame.
	Frames      int64 `json:"frames"`
	Undelivered int64 `json:"undelivered"`
	Undecodable int64 `json:"undecodable"`
	Split       int64 `json:"split"`
}

// ExpectTotals are the comparison's counts. Expected = Matched + Missing +
// Reordered; InTopic = Matched + Reordered + Duplicates + Foreign.
type ExpectTotals struct {
	Expected int64 `json:"expected"`
	InTopic  int64 `json:"in_topic"`
	Matched  int64 `json:"matched"`
	Missing  int64 `json:"missing"`
	// Duplicates are extra records whose bytes are in the topic elsewhere
	// (matched to an expected frame, or moved); split by whether they carry
	// the possible-duplicate mark.
	Duplicates         int64 `json:"duplicates"`
	DuplicatesMarked   int64 `json:"duplicates_marked_possible"`
	DuplicatesUnmarked int64 `json:"duplicates_not_marked"`
	// Reordered counts expected frames found away from their place.
	Reordered int64 `json:"reordered"`
	// Foreign counts extra records whose bytes are no expected frame's.
	Foreign int64 `json:"foreign"`
	// MarkedPossible counts every record marked as a possible duplicate,
	// wherever it is (most are matched: the mark only says "perhaps").
	MarkedPossible int64 `json:"marked_possible"`
}

// FrameBrief shows one expected frame.
type FrameBrief struct {
	Index uint64 `json:"index"`
	// Data is the frame's start, escaped as a Go string literal without its
	// quotes; Cut says it was abbreviated; Size is its full length.
	Data string `json:"data"`
	Cut  bool   `json:"cut,omitempty"`
	Size int    `json:"size"`
	// Ports are what each port received of it, by port index.
	Ports []string `json:"ports"`
}

// MissingRun is a run of consecutive expected frames absent from the topic.
type MissingRun struct {
	FirstIndex uint64 `json:"first_index"`
	LastIndex  uint64 `json:"last_index"`
	Count      int64  `json:"count"`
	// The run belongs after the record at AfterOffset (-1: before the
	// first expected frame found) and before the one at BeforeOffset (the
	// end offset: after the last).
	AfterOffset  int64 `json:"after_offset"`
	BeforeOffset int64 `json:"before_offset"`
	// AtStart and AtEnd say the run opens or closes the expected feed: the
	// audit may have started after it (--from, retention), or the members
	// may not have committed it yet.
	AtStart bool         `json:"at_start"`
	AtEnd   bool         `json:"at_end"`
	Frames  []FrameBrief `json:"frames"`
}

// ExtraRun is a run of consecutive records that are not expected there.
type ExtraRun struct {
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
	Count       int64 `json:"count"`
	// AfterIndex is the feed index of the expected frame just before the
	// run (-1: none).
	AfterIndex int64         `json:"after_index"`
	Records    []ExtraRecord `json:"records"`
}

// Kinds of ExtraRecord.
const (
	KindDuplicate = "duplicate"
	KindForeign   = "foreign"
)

// ExtraRecord is one record of an ExtraRun.
type ExtraRecord struct {
	Offset int64  `json:"offset"`
	Member string `json:"member"`
	// Kind is KindDuplicate or KindForeign.
	Kind string `json:"kind"`
	// MarkedPossible: the record carries feedd-dup: possible.
	MarkedPossible bool `json:"marked_possible"`
	// DuplicateOf is, for a duplicate, the copy of its frame nearest to it
	// in the topic.
	DuplicateOf *FrameAt `json:"duplicate_of,omitempty"`
	Data        string   `json:"data"`
	Cut         bool     `json:"cut,omitempty"`
	Size        int      `json:"size"`
}

// FrameAt is an expected frame and the record holding it.
type FrameAt struct {
	Index  uint64 `json:"index"`
	Offset int64  `json:"offset"`
}

// Move is a block of consecutive expected frames found, in order, away from
// where they belong.
type Move struct {
	FirstIndex uint64 `json:"first_index"`
	LastIndex  uint64 `json:"last_index"`
	Count      int64  `json:"count"`
	// They belong between AfterOffset and BeforeOffset, as for MissingRun,
	// and are at FirstOffset to LastOffset.
	AfterOffset  int64 `json:"after_offset"`
	BeforeOffset int64 `json:"before_offset"`
	FirstOffset  int64 `json:"first_offset"`
	LastOffset   int64 `json:"last_offset"`
	// Shift is how many records lie between where they belong and where
	// they are: positive when they came later, negative when earlier.
	Shift int64 `json:"shift"`
	// MarkedPossible counts the moved records marked as possible
	// duplicates.
	MarkedPossible int64        `json:"marked_possible"`
	Frames         []FrameBrief `json:"frames"`
}

// Compare aligns the topic's records, in offset order, with the expected
// frames, in feed order, and reports what is missing, extra and moved. It
// returns a *TooDifferentError when the two differ by more than
// o.MaxDifferences frames.
func Compare(expected []ExpectedFrame, topic []TopicRecord, o ExpectOptions) (*ExpectReport, error) {
	if o.MaxDifferences <= 0 {
		o.MaxDifferences = DefaultMaxDifferences
	}
	if o.MaxListed <= 0 {
		o.MaxListed = DefaultMaxListed
	}
	if o.MaxFramesPerRun <= 0 {
		o.MaxFramesPerRun = DefaultMaxFramesPerRun
	}
	c := &comparison{exp: expected, topic: topic, o: o}
	ids := make(map[string]int32)
	intern := func(s string) int32 {
		id, ok := ids[s]
		if !ok {
			id = int32(len(ids))
			ids[s] = id
		}
		return id
	}
	c.a = make([]int32, len(expected))
	for i := range expected {
		c.a[i] = intern(expected[i].Data)
	}
	c.feedIDs = int32(len(ids))
	c.b = make([]int32, len(topic))
	for j := range topic {
		c.b[j] = intern(topic[j].Value)
	}
	var err error
	if c.ma, c.mb, err = align(c.a, c.b, o.MaxDifferences); err != nil {
		return nil, err
	}
	c.refine()
	c.slideExtra()
	c.slideMissing()
	c.neighbours()
	c.findMoves()
	return c.report(), nil
}

// comparison holds the two streams as interned frame ids and their
// alignment.
type comparison struct {
	exp     []ExpectedFrame
	topic   []TopicRecord
	o       ExpectOptions
	a, b    []int32 // frame ids: expected, topic
	feedIDs int32   // ids below it are some expected frame's
	ma, mb  []int32 // the alignment (see align)
	// moveA and moveB number the move each frame belongs to (index in
	// moves), or -1.
	moveA, moveB []int32
	moves        []moveSpan
	// prevB[i] is the record matched to the nearest matched frame before
	// frame i, nextB[i] the one matched to the nearest at or after it (-1,
	// len(b): none); prevA[j] the frame matched to the nearest matched
	// record before record j.
	prevB, nextB, prevA []int32
}

// moveSpan is a move: expected frames [a, a+n) are topic records [b, b+n).
type moveSpan struct{ a, b, n int }

// maxSlide bounds how far an edit is slid among equal frames in search of
// a better-placed equivalent: a run of identical frames can be as long as
// the feed.
const maxSlide = 4096

// slideExtra moves each run of extra records among equal records so that
// it holds as many records marked possible as it can, and otherwise lies as
// late as it can: of two copies, the later is the duplicate.
func (c *comparison) slideExtra() {
	marked := func(j int) int {
		if c.topic[j].PossibleDuplicate {
			return 1
		}
		return 0
	}
	slideRuns(c.b, c.mb, c.ma, marked, true)
}

// slideMissing moves each run of missing frames among equal frames so that
// it holds as many frames some port did not receive intact as it can, and
// otherwise lies as early as it can.
func (c *comparison) slideMissing() {
	lost := func(i int) int {
		if c.exp[i].deliveredEverywhere() {
			return 0
		}
		return 1
	}
	slideRuns(c.a, c.ma, c.mb, lost, false)
}

// slideRuns slides every run of unmatched elements of x (m[i] < 0) along
// x while the alignment stays valid and minimal: a run [s, e) moves up by
// one when x[s-1] is matched and equal to x[e-1], the match passing to
// x[e-1], and down likewise. Of the positions reachable it takes the one
// whose run scores most, ties going to the latest (late) or the earliest.
// other is the alignment seen from the other stream.
func slideRuns(x, m, other []int32, score func(int) int, late bool) {
	n := len(x)
	for s := 0; s < n; {
		if m[s] >= 0 {
			s++
			continue
		}
		e := s
		for e < n && m[e] < 0 {
			e++
		}
		up := 0
		for up < maxSlide && s-up-1 >= 0 && m[s-up-1] >= 0 && x[s-up-1] == x[e-up-1] {
			up++
		}
		down := 0
		for down < maxSlide && e+down < n && m[e+down] >= 0 && x[s+down] == x[e+down] {
			down++
		}
		if up == 0 && down == 0 {
			s = e
			continue
		}
		runLen := e - s
		cur := 0
		for i := s - up; i < e-up; i++ {
			cur += score(i)
		}
		best, bestScore := s-up, cur
		for p := s - up + 1; p <= s+down; p++ {
			cur += score(p+runLen-1) - score(p-1)
			if cur > bestScore || (late && cur == bestScore) {
				best, bestScore = p, cur
			}
		}
		for ; s > best; s, e = s-1, e-1 { // up by one
			i := m[s-1]
			m[e-1], other[i], m[s-1] = i, int32(e-1), -1
		}
		for ; s < best; s, e = s+1, e+1 { // down by one
			i := m[e]
			m[s], other[i], m[e] = i, int32(s), -1
		}
		s = e
	}
}

// maxMoveCandidates bounds the places looked at for each block when
// searching where a missing block went.
const maxMoveCandidates = 256

// findMoves pairs missing frames with extra records that hold the same
// frames in the same order: first whole missing runs found inside an extra
// run, then whole extra runs found inside a missing run (the longest runs
// first, as the likeliest to have moved as blocks), then single frames
// left over (consecutive ones joined into blocks). Each takes the candidate
// nearest to where the frames belong. Records marked possible whose frame
// is matched elsewhere are left out: with repeated frames, a lost frame
// and a member's re-publication of an equal one are otherwise
// indistinguishable from a move, and the mark says which it is.
func (c *comparison) findMoves() {
	c.moveA, c.moveB = make([]int32, len(c.a)), make([]int32, len(c.b))
	for i := range c.moveA {
		c.moveA[i] = -1
	}
	for j := range c.moveB {
		c.moveB[j] = -1
	}
	// A record marked possible whose frame is matched elsewhere is what
	// its member said it might be, a duplicate: it is no candidate.
	kept := make(map[int32]bool)
	for j, i := range c.mb {
		if i >= 0 {
			kept[c.b[j]] = true
		}
	}
	candidate := func(j int) bool { return c.mb[j] < 0 && !(c.topic[j].PossibleDuplicate && kept[c.b[j]]) }
	freeA := func(i int) bool { return c.ma[i] < 0 && c.moveA[i] < 0 }
	freeB := func(j int) bool { return candidate(j) && c.moveB[j] < 0 }
	extraAt := positionsByID(c.b, candidate)
	missingAt := positionsByID(c.a, func(i int) bool { return c.ma[i] < 0 })
	if len(extraAt) == 0 || len(missingAt) == 0 {
		return
	}
	// fits reports whether x[p:p+n] are free and equal to y[q:q+n].
	fits := func(x []int32, free func(int) bool, p int, y []int32, q, n int) bool {
		if p < 0 || p+n > len(x) {
			return false
		}
		for k := range n {
			if !free(p+k) || x[p+k] != y[q+k] {
				return false
			}
		}
		return true
	}

	// Whole missing runs inside extra runs, the longest first.
	for _, r := range longestFirst(runs(len(c.a), freeA)) {
		s, n := r.s, r.e-r.s
		if p, ok := nearest(extraAt[c.a[s]], c.insertionB(s), func(p int) bool { return fits(c.b, freeB, p, c.a, s, n) }); ok {
			c.addMove(s, p, n)
		}
	}
	// Whole extra runs inside missing runs, the longest first.
	for _, r := range longestFirst(runs(len(c.b), freeB)) {
		s, n := r.s, r.e-r.s
		if p, ok := nearest(missingAt[c.b[s]], c.insertionA(s), func(p int) bool { return fits(c.a, freeA, p, c.b, s, n) }); ok {
			c.addMove(p, s, n)
		}
	}
	// Single frames.
	first := len(c.moves)
	for j := range c.b {
		if !freeB(j) {
			continue
		}
		if i, ok := nearest(missingAt[c.b[j]], c.insertionA(j), freeA); ok {
			c.addMove(i, j, 1)
		}
	}
	c.joinSingles(first)
}

func (c *comparison) addMove(a, b, n int) {
	id := int32(len(c.moves))
	c.moves = append(c.moves, moveSpan{a: a, b: b, n: n})
	for k := range n {
		c.moveA[a+k], c.moveB[b+k] = id, id
	}
}

// joinSingles joins the single-frame moves from moves[first:] that
// continue one another in both streams.
func (c *comparison) joinSingles(first int) {
	singles := slices.Clone(c.moves[first:])
	if len(singles) < 2 {
		return
	}
	slices.SortFunc(singles, func(x, y moveSpan) int { return x.a - y.a })
	c.moves = c.moves[:first]
	for _, m := range singles {
		if k := len(c.moves) - 1; k >= first {
			last := &c.moves[k]
			if last.a+last.n == m.a && last.b+last.n == m.b {
				last.n++
				continue
			}
		}
		c.moves = append(c.moves, m)
	}
	for k := first; k < len(c.moves); k++ {
		m := c.moves[k]
		for i := range m.n {
			c.moveA[m.a+i], c.moveB[m.b+i] = int32(k), int32(k)
		}
	}
}

// neighbours computes, once the alignment is final, each frame's and each
// record's nearest matched neighbours.
func (c *comparison) neighbours() {
	c.prevB, c.nextB = make([]int32, len(c.a)), make([]int32, len(c.a))
	last := int32(-1)
	for i := range c.a {
		c.prevB[i] = last
		if c.ma[i] >= 0 {
			last = c.ma[i]
		}
	}
	next := int32(len(c.b))
	for i := len(c.a) - 1; i >= 0; i-- {
		if c.ma[i] >= 0 {
			next = c.ma[i]
		}
		c.nextB[i] = next
	}
	c.prevA = make([]int32, len(c.b))
	last = -1
	for j := range c.b {
		c.prevA[j] = last
		if c.mb[j] >= 0 {
			last = c.mb[j]
		}
	}
}

// insertionB is the topic position where expected frame i belongs: just
// after the record matched to the nearest matched frame before it.
func (c *comparison) insertionB(i int) int { return int(c.prevB[i]) + 1 }

// insertionA is the expected position a topic record j stands at: just
// after the frame matched to the nearest matched record before it.
func (c *comparison) insertionA(j int) int { return int(c.prevA[j]) + 1 }

// positionsByID lists, for each id, the positions i of x where keep(i), in
// increasing order.
func positionsByID(x []int32, keep func(int) bool) map[int32][]int {
	out := make(map[int32][]int)
	for i, id := range x {
		if keep(i) {
			out[id] = append(out[id], i)
		}
	}
	return out
}

// nearest returns the position in the sorted list ps nearest to want for
// which ok holds, looking at no more than maxMoveCandidates of them.
func nearest(ps []int, want int, ok func(int) bool) (int, bool) {
	hi, _ := slices.BinarySearch(ps, want)
	lo := hi - 1
	for range maxMoveCandidates {
		switch {
		case lo < 0 && hi >= len(ps):
			return 0, false
		case hi < len(ps) && (lo < 0 || ps[hi]-want <= want-ps[lo]):
			if p := ps[hi]; ok(p) {
				return p, true
			}
			hi++
		default:
			if p := ps[lo]; ok(p) {
				return p, true
			}
			lo--
		}
	}
	return 0, false
}

type span struct{ s, e int }

// longestFirst collects the runs, the longest first (in order among equals).
func longestFirst(seq func(yield func(int, int) bool)) []span {
	var out []span
	for s, e := range seq {
		out = append(out, span{s, e})
	}
	slices.SortStableFunc(out, func(x, y span) int { return (y.e - y.s) - (x.e - x.s) })
	return out
}

// runs yields the maximal runs [s, e) of positions below n where in holds.
func runs(n int, in func(int) bool) func(yield func(int, int) bool) {
	return func(yield func(int, int) bool) {
		for s := 0; s < n; {
			if !in(s) {
				s++
				continue
			}
			e := s + 1
			for e < n && in(e) {
				e++
			}
			if !yield(s, e) {
				return
			}
			s = e
		}
	}
}

// report builds the report from the alignment and the moves.
func (c *comparison) report() *ExpectReport {
	r := &ExpectReport{End: c.o.End, Feed: c.o.Feed}
	t := &r.Totals
	t.Expected, t.InTopic = int64(len(c.a)), int64(len(c.b))
	for _, x := range c.topic {
		if x.PossibleDuplicate {
			t.MarkedPossible++
		}
	}
	for i := range c.a {
		if c.ma[i] >= 0 {
			t.Matched++
		}
	}
	prevB, nextB := c.prevB, func(i int) int32 {
		if i >= len(c.a) {
			return int32(len(c.b))
		}
		return c.nextB[i]
	}
	offsetAfter := func(p int32) int64 {
		if p < 0 {
			return -1
		}
		return c.topic[p].Offset
	}
	offsetBefore := func(p int32) int64 {
		if int(p) >= len(c.b) {
			return c.o.End
		}
		return c.topic[p].Offset
	}

	missing := func(i int) bool { return c.ma[i] < 0 && c.moveA[i] < 0 }
	var atStart, atEnd bool
	for s, e := range runs(len(c.a), missing) {
		t.Missing += int64(e - s)
		r.MissingRuns++
		next := nextB(e)
		run := MissingRun{
			FirstIndex: c.exp[s].Index, LastIndex: c.exp[e-1].Index, Count: int64(e - s),
			AfterOffset: offsetAfter(prevB[s]), BeforeOffset: offsetBefore(next),
			AtStart: prevB[s] < 0, AtEnd: int(next) == len(c.b),
		}
		atStart, atEnd = atStart || run.AtStart, atEnd || run.AtEnd
		if len(r.Missing) >= c.o.MaxListed {
			r.Truncated = true
			continue
		}
		run.Frames = c.briefs(s, e, &r.Truncated)
		r.Missing = append(r.Missing, run)
	}

	for _, m := range c.moves {
		t.Reordered += int64(m.n)
	}
	moves := slices.Clone(c.moves)
	slices.SortFunc(moves, func(x, y moveSpan) int { return x.a - y.a })
	r.MovedRuns = int64(len(moves))
	for _, m := range moves {
		if len(r.Moved) >= c.o.MaxListed {
			r.Truncated = true
			break
		}
		ins := int(prevB[m.a]) + 1
		mv := Move{
			FirstIndex: c.exp[m.a].Index, LastIndex: c.exp[m.a+m.n-1].Index, Count: int64(m.n),
			AfterOffset: offsetAfter(prevB[m.a]), BeforeOffset: offsetBefore(nextB(m.a + m.n)),
			FirstOffset: c.topic[m.b].Offset, LastOffset: c.topic[m.b+m.n-1].Offset,
		}
		if m.b >= ins {
			mv.Shift = int64(m.b - ins)
		} else {
			mv.Shift = -int64(ins - (m.b + m.n))
		}
		for k := range m.n {
			if c.topic[m.b+k].PossibleDuplicate {
				mv.MarkedPossible++
			}
		}
		mv.Frames = c.briefs(m.a, m.a+m.n, &r.Truncated)
		r.Moved = append(r.Moved, mv)
	}

	extra := func(j int) bool { return c.mb[j] < 0 && c.moveB[j] < 0 }
	copies := c.copiesOfExtras(extra)
	for s, e := range runs(len(c.b), extra) {
		r.ExtraRuns++
		listed := len(r.Extra) < c.o.MaxListed
		if !listed {
			r.Truncated = true
		}
		run := ExtraRun{FirstOffset: c.topic[s].Offset, LastOffset: c.topic[e-1].Offset, Count: int64(e - s), AfterIndex: -1}
		if i := c.insertionA(s); i > 0 {
			run.AfterIndex = int64(c.exp[i-1].Index)
		}
		for j := s; j < e; j++ {
			x := &c.topic[j]
			rec := ExtraRecord{Offset: x.Offset, Member: x.Member, MarkedPossible: x.PossibleDuplicate, Kind: KindForeign}
			if p, ok := nearest(copies[c.b[j]], j, func(int) bool { return true }); ok {
				rec.Kind = KindDuplicate
				t.Duplicates++
				if x.PossibleDuplicate {
					t.DuplicatesMarked++
				} else {
					t.DuplicatesUnmarked++
				}
				i := c.mb[p]
				if i < 0 {
					m := c.moves[c.moveB[p]]
					i = int32(m.a + p - m.b)
				}
				rec.DuplicateOf = &FrameAt{Index: c.exp[i].Index, Offset: c.topic[p].Offset}
			} else {
				t.Foreign++
			}
			if !listed {
				continue
			}
			if len(run.Records) >= c.o.MaxFramesPerRun {
				r.Truncated = true
				continue
			}
			rec.Data, rec.Cut = abbreviate(x.Value)
			rec.Size = len(x.Value)
			run.Records = append(run.Records, rec)
		}
		if listed {
			r.Extra = append(r.Extra, run)
		}
	}
	c.verdict(r, atStart, atEnd)
	return r
}

// copiesOfExtras lists, for the frame id of every extra record, the topic
// positions of its copies that are not extra: matched or moved.
func (c *comparison) copiesOfExtras(extra func(int) bool) map[int32][]int {
	want := make(map[int32][]int)
	for j, id := range c.b {
		if extra(j) {
			want[id] = nil
		}
	}
	for j, id := range c.b {
		if ps, ok := want[id]; ok && !extra(j) {
			want[id] = append(ps, j)
		}
	}
	return want
}

func (c *comparison) briefs(s, e int, truncated *bool) []FrameBrief {
	var out []FrameBrief
	for i := s; i < e; i++ {
		if len(out) >= c.o.MaxFramesPerRun {
			*truncated = true
			break
		}
		f := &c.exp[i]
		data, cut := abbreviate(f.Data)
		out = append(out, FrameBrief{Index: f.Index, Data: data, Cut: cut, Size: len(f.Data), Ports: nonNil(f.Fates)})
	}
	return nonNil(out)
}

func (c *comparison) verdict(r *ExpectReport, atStart, atEnd bool) {
	t := &r.Totals
	if t.Missing > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d expected frame(s) missing in %d run(s)", t.Missing, r.MissingRuns))
	}
	if t.Reordered > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d frame(s) out of place in %d move(s)", t.Reordered, r.MovedRuns))
	}
	if t.DuplicatesUnmarked > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d duplicate record(s) not marked possible", t.DuplicatesUnmarked))
	}
	if t.Foreign > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d foreign record(s): no expected frame has their bytes", t.Foreign))
	}
	r.Clean = len(r.Problems) == 0
	if t.DuplicatesMarked > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d duplicate(s) marked possible (feedd-dup): a member published them "+
			"without being sure they were not in the topic yet; allowed", t.DuplicatesMarked))
	}
	if atStart {
		r.Notes = append(r.Notes, "frames are missing before the first expected frame found: "+
			"if the audit started after the feed (--from, --start end) or retention deleted them, that is expected")
	}
	if atEnd {
		r.Notes = append(r.Notes, "frames are missing after the last expected frame found: "+
			"the members may not have committed them yet (audit again once the feed has stopped)")
	}
	if r.Feed.Undecodable > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d delivered frame(s) yield no frame with framing %s: the members drop them too, "+
			"so the topic does not owe them; if that is many, the framing does not match the feed", r.Feed.Undecodable, r.Feed.Framing))
	}
	r.Problems, r.Notes = nonNil(r.Problems), nonNil(r.Notes)
	r.Missing, r.Extra, r.Moved = nonNil(r.Missing), nonNil(r.Extra), nonNil(r.Moved)
	for i := range r.Extra {
		r.Extra[i].Records = nonNil(r.Extra[i].Records)
	}
}

// abbreviatedBytes is how much of a frame a report shows.
const abbreviatedBytes = 64

// abbreviate returns the start of s escaped as a Go string literal without
// its quotes, and whether it was cut.
func abbreviate(s string) (string, bool) {
	cut := len(s) > abbreviatedBytes
	if cut {
		s = s[:abbreviatedBytes]
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1], cut
}
