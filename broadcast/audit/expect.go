package audit

import "time"

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
// lost "$GPGSA" among five identical ones could be any of them. Among all
// of them (see weigh) Compare takes one with as many extra records marked
// by a member as possible duplicates as any has, then as many missing
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
	// Span describes what was read, as in Report; RunExpect fills it.
	Span
	// BeforeRecording counts the records produced (their timestamp) more
	// than a second before the recording started: the topic may hold an
	// earlier run of the feed.
	BeforeRecording int64 `json:"records_before_recording"`

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
	return (&comparison{exp: expected, topic: topic, o: o}).compare()
}

// compare runs the comparison; c holds the inputs and the options, with
// their defaults.
func (c *comparison) compare() (*ExpectReport, error) {
	if err := c.alignWeighed(); err != nil {
		return nil, err
	}
	c.slideExtra()
	c.slideMissing()
	c.neighbours()
	c.findMoves()
	return c.report(), nil
}

// alignWeighed interns the frames, aligns them and weighs the alignment.
func (c *comparison) alignWeighed() error {
	expected, topic := c.exp, c.topic
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
	c.lost = make([]bool, len(expected))
	for i := range expected {
		c.a[i] = intern(expected[i].Data)
		c.lost[i] = !expected[i].deliveredEverywhere()
	}
	c.b = make([]int32, len(topic))
	for j := range topic {
		c.b[j] = intern(topic[j].Value)
	}
	var err error
	if c.ma, c.mb, err = align(c.a, c.b, c.o.MaxDifferences); err != nil {
		return err
	}
	c.weigh()
	return nil
}

// comparison holds the two streams as interned frame ids and their
// alignment.
type comparison struct {
	exp    []ExpectedFrame
	topic  []TopicRecord
	o      ExpectOptions
	a, b   []int32 // frame ids: expected, topic
	lost   []bool  // lost[i]: some port did not receive frame i intact
	marked []bool  // marked[j]: record j is marked possible (weigh)
	ma, mb []int32 // the alignment (see align)
	// maxWeighedCells and frontTable override the bounds of weigh, and
	// everyRow has it compute every row (tests); weighedNear is the
	// difference count when only windows around the differences were
	// weighed.
	maxWeighedCells int64
	frontTable      int
	everyRow        bool
	weighedNear     int
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
