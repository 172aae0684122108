package backlog

import (
	"errors"
	"fmt"
	"math"
)

// ErrFrameTooLarge is returned (wrapped) by Append for a frame longer than
// MaxBytes on its own. Such a frame is counted in Stats.Rejected and never
// stored.
var ErrFrameTooLarge = errors.New("backlog: frame larger than max_bytes")

// Window bounds the line time of a frame's last byte on this host's
// monotonic clock (package ingest/hostclock), in nanoseconds: the byte was on
// the line at some time t with Lo <= t <= Hi. Lo is NoLo when nothing bounds
// it from below (the frame's bytes may have waited in a buffer since before
// anyone was looking).
type Window struct{ Lo, Hi int64 }

// NoLo is Window.Lo when the line time is unbounded from below.
const NoLo int64 = math.MinInt64

// Known reports whether both ends of the window are bounded.
func (w Window) Known() bool { return w.Lo != NoLo && w.Hi != math.MaxInt64 }

// Frame is one frame read from the local port, as Append takes it.
type Frame struct {
	// ID is the frame's identity: the feed's sequence number when Exact,
	// otherwise a fingerprint of its bytes.
	ID    uint64
	Exact bool
	// Fingerprint is the fingerprint of Data, computed once when the frame
	// was read and carried into its record. It is kept only when Exact:
	// otherwise ID is the fingerprint already, and this field is ignored.
	Fingerprint uint64
	// Win bounds when the frame's last byte was on the line.
	Win Window
	// ReceivedAt is the wall time, in unix nanoseconds, at the instant
	// Win.Hi was read from the host clock (the read that completed the
	// frame): carried into the frame's record, never compared across hosts.
	ReceivedAt int64
	Data       []byte
}

// Echo is one committed record echoed back from the topic.
type Echo struct {
	// ID is the record's identity; Exact when it is a feed sequence
	// number (equal numbers are the same frame).
	ID    uint64
	Exact bool
	// Win bounds when the record's frame was on the line, converted to this
	// host's clock (the caller widens it by what it knows of the offset to
	// the producing member's clock).
	Win Window
	// Possible: the record is marked as a possible duplicate. Its number
	// may repeat one before it without any counter having wrapped.
	Possible bool
}

// Entry is one frame held in the ring.
type Entry struct {
	// Pos is the ring position: contiguous, assigned by Append, starting at 1.
	// Positions are never reused, not even after Reset.
	Pos uint64
	// ID is the frame's identity: the feed sequence number when Exact,
	// otherwise the fingerprint of its bytes.
	ID    uint64
	Exact bool
	// Fingerprint is the fingerprint of the frame's bytes: ID when not
	// Exact, the one the frame was appended with otherwise.
	Fingerprint uint64
	// Win bounds the frame's line time on this host's clock.
	Win Window
	// ReceivedAt is when the frame was read, in unix nanoseconds: its
	// window's end on the wall clock as the wall clock stands now (a step
	// of the wall clock since shifts it; it only labels records).
	ReceivedAt int64
	// Data aliases ring storage: it is valid until the next call that
	// mutates the ring (Append, TrimEcho, TrimThrough, ForgetEchoes, Settle,
	// Reset). Copy it to keep it. Its capacity is limited to its length.
	Data []byte
}

// TrimKind says what TrimEcho did with an echo.
type TrimKind uint8

const (
	// TrimMatched: the echo was certainly the frame of the entry at Pos
	// (or of an entry evicted by overflow); it and every older entry were
	// removed, the older ones counted as passed.
	TrimMatched TrimKind = iota + 1
	// TrimRemembered: no entry was certainly the echo's frame; the echo is
	// remembered, so that the frame is recognised if the port delivers it
	// later and an entry it may be is flushed as a possible duplicate.
	TrimRemembered
)

func (k TrimKind) String() string {
	switch k {
	case TrimMatched:
		return "matched"
	case TrimRemembered:
		return "remembered"
	}
	return fmt.Sprintf("TrimKind(%d)", uint8(k))
}

// TrimResult reports what one TrimEcho call did.
type TrimResult struct {
	Kind TrimKind
	// Pos and ReceivedAt are those of the matched entry (zero otherwise,
	// and for an entry that overflowed). ReceivedAt serves the
	// echo-latency metric.
	Pos        uint64
	ReceivedAt int64
	// Passed is how many older entries were removed because a committed
	// frame certainly came after them (counted in Stats.Passed or
	// Stats.Skipped).
	Passed int
	// Realigned: the match passed over entries, or came after echoes that
	// matched nothing certainly: the two members' streams had differed
	// and now agree again.
	Realigned bool
	// Forgotten reports that the echo memory was full and its oldest echo
	// was forgotten to make room for this one.
	Forgotten bool
}

// Stats are the ring's cumulative counters (they survive Reset) and a few
// gauges. For any ring,
//
//	Appended = TrimmedByEcho + TrimmedByCommit + Passed + Skipped +
//	           OverflowFrames + ResetFrames + Len
//	OverflowFrames = OverflowResolved + OverflowLost + LimboLen
//	Remembered = Recognised + Forgotten + ResetEchoes + MemoryLen
type Stats struct {
	Appended        uint64 `json:"appended"`          // frames stored by Append
	TrimmedByEcho   uint64 `json:"trimmed_by_echo"`   // entries removed because an echo was certainly their frame
	TrimmedByCommit uint64 `json:"trimmed_by_commit"` // entries removed by TrimThrough
	// Passed counts entries removed because a committed frame certainly
	// came after them on the line, while a remembered echo may have been
	// theirs: repeats of identical bytes whose records could not be told
	// apart, most likely in the topic.
	Passed uint64 `json:"passed"`
	// Skipped counts entries removed because a committed frame certainly
	// came after them and no echo could have been theirs: frames the active
	// never published (its port lost them).
	Skipped uint64 `json:"skipped"`
	// Behind counts frames Append did not store because a committed frame
	// certainly came after them (the local port delivered them late).
	Behind uint64 `json:"behind"`

	Echoes      uint64 `json:"echoes"`       // TrimEcho calls
	Matched     uint64 `json:"matched"`      // echoes certainly matched to an entry (or an overflowed one)
	Realigned   uint64 `json:"realigned"`    // matches after the streams had differed (see TrimResult)
	Remembered  uint64 `json:"remembered"`   // echoes remembered for lack of a certain match
	Recognised  uint64 `json:"recognised"`   // appends not stored: a remembered echo was certainly their frame
	Forgotten   uint64 `json:"forgotten"`    // remembered echoes forgotten by TTL or because the memory was full
	ResetEchoes uint64 `json:"reset_echoes"` // remembered echoes dropped by Reset

	OverflowFrames uint64 `json:"overflow_frames"` // entries evicted to stay within the bounds
	OverflowBytes  uint64 `json:"overflow_bytes"`  // their payload bytes
	// OverflowResolved counts evicted entries later found to lie behind a
	// committed frame: they reached the topic, or the active never had
	// them; either way not a gap this member caused.
	OverflowResolved uint64 `json:"overflow_resolved"`
	// OverflowLost counts evicted entries settled as lost: this member
	// became (or was) the one to publish them and no longer had them.
	OverflowLost uint64 `json:"overflow_lost"`
	// OverflowGaps counts runs of contiguous lost positions.
	OverflowGaps uint64 `json:"overflow_gaps"`
	// FirstLostPos and LastLostPos are the positions of the first and last
	// entries ever settled as lost (0 if none). Gaps gives the runs.
	FirstLostPos uint64 `json:"first_lost_pos"`
	LastLostPos  uint64 `json:"last_lost_pos"`

	Rejected      uint64 `json:"rejected"`       // frames longer than MaxBytes, never stored
	RejectedBytes uint64 `json:"rejected_bytes"` // their bytes

	ResetFrames uint64 `json:"reset_frames"` // entries dropped by Reset

	// NumbersBack counts feed sequence numbers that did not grow, on this
	// member's port or in the echo: a counter that wrapped, or a sender
	// that restarted its count. From the first, a number is taken for a
	// frame only where line time agrees (sameNumber).
	NumbersBack uint64 `json:"numbers_back"`
	// NumbersBackSoon counts those on the port that came back within the
	// pass margin plus NumberedLate of the previous time: frames with one
	// number that close cannot be told apart.
	NumbersBackSoon uint64 `json:"numbers_back_soon"`

	// Gauges at the time of the call.
	Len       int   `json:"len"`        // entries held
	Bytes     int64 `json:"bytes"`      // payload bytes held
	MemoryLen int   `json:"memory_len"` // echoes remembered
	LimboLen  int   `json:"limbo_len"`  // evicted entries whose fate is not known yet
}

// Gap is a run of contiguous positions evicted by overflow and settled as
// lost: frames this member read, was the one to publish, and no longer had.
type Gap struct {
	FirstPos, LastPos               uint64
	FirstID, LastID                 uint64
	FirstReceivedAt, LastReceivedAt int64
	Bytes                           uint64
}

// Frames returns the number of frames in the gap.
func (g Gap) Frames() uint64 { return g.LastPos - g.FirstPos + 1 }

// MaxGaps is how many of the most recent overflow gaps a Ring remembers.
const MaxGaps = 64

// Ring is the echo-trimmed backlog ring. It is not safe for concurrent use:
// one goroutine owns it.
//
// Entries are kept in columns (identity, line time, window width, payload
// end offset, and the fingerprint of an entry whose identity is a feed
// sequence number) cut into blocks of slots (see slots); payload bytes live
// in an arena of fixed-size chunks (see arena). Position p is in the slot
// the position itself names, so lookups by position need no search, and the
// windows grow with the position, so lookups by time are a binary search.
type Ring struct {
	maxFrames int
	maxBytes  int64
	lookAhead int
	// scanCredit pays for scans beyond the look-ahead window for an echo
	// with a feed sequence number: each miss earns lookAhead entries of
	// scanning, so a scan of the whole ring costs O(lookAhead) per echo,
	// amortised.
	scanCredit int
	memTTL     int64
	margin     int64
	byteTime   int64
	// numberSlack bounds how far apart two sightings of one frame with a
	// feed sequence number can be: the pass margin plus NumberedLate.
	numberSlack int64
	// numbersCameBack: a feed sequence number did not grow, on the port or
	// in the echo (noteNumber); lastAppended and lastEchoed are the
	// latest numbers of each.
	numbersCameBack          bool
	lastAppended, lastEchoed uint64
	haveAppended, haveEchoed bool
	// lastAppendedAt and backAt are the line times (ends of the windows)
	// of the latest numbered frame appended and of the latest one whose
	// number came back.
	lastAppendedAt, backAt int64

	sl slots
	n  int // entries held

	lastPos  uint64 // position of the newest entry ever appended
	headPrev uint64 // end offset of the entry before the oldest
	tail     uint64 // end offset of the newest entry
	bytes    int64
	lastWin  Window // window of the newest entry ever appended
	// wallOffset is the wall clock minus the host clock at the newest
	// frame's read: an entry's receive time is its window's end plus it.
	// Keeping one offset instead of a column per entry keeps the ring's
	// memory within 1.3 times the payload; the receive time only labels
	// records and latencies.
	wallOffset int64

	// passBefore: every entry whose window ends before it lies behind a
	// committed frame (the newest committed frame's earliest line time,
	// less the pass margin). It only grows.
	passBefore int64
	// forgottenHi is the latest line time of any forgotten echo, or of a
	// record this member may not have seen (Unseen): an entry that may be
	// such a frame (its window starts before) is possibly in the topic.
	forgottenHi int64
	// uncertain: an echo was remembered since the last certain match.
	uncertain bool

	ar    arena
	mem   echoMemory
	limbo limbo
	stats Stats
	gaps  []Gap // ring of the most recent gaps; once full, the oldest is at gapAt
	gapAt int
}

// New returns an empty ring. Zero fields of c take their defaults
// (Config.WithDefaults) before c is validated.
func New(c Config) (*Ring, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newRing(c, chunkShiftFor(c.MaxBytes)), nil
}

// chunkShiftFor picks the arena chunk size: 64 KiB, smaller for a small
// byte budget (at most an eighth of it), never below 256 bytes.
func chunkShiftFor(maxBytes int64) uint {
	shift := uint(16)
	for shift > 8 && int64(1)<<shift > maxBytes/8 {
		shift--
	}
	return shift
}

// newRing builds a ring from a validated config with chunks of 1<<chunkShift
// bytes.
func newRing(c Config, chunkShift uint) *Ring {
	return &Ring{
		maxFrames:   c.MaxFrames,
		maxBytes:    c.MaxBytes,
		lookAhead:   c.LookAhead,
		memTTL:      int64(c.EchoMemoryTTL),
		margin:      int64(c.PassMargin),
		numberSlack: int64(c.PassMargin + NumberedLate),
		backAt:      math.MinInt64,
		byteTime:    int64(c.LineByteTime),
		sl:          newSlots(),
		lastWin:     Window{Lo: NoLo, Hi: math.MinInt64},
		passBefore:  math.MinInt64,
		forgottenHi: math.MinInt64,
		ar:          newArena(chunkShift),
		mem:         newEchoMemory(c.EchoMemory),
		limbo:       newLimbo(limboMax),
	}
}

// Append stores a copy of a frame read from the local port.
//
// The frame is not stored (stored is false) if a remembered echo was
// certainly this frame, which is then in the topic already (counted in
// Recognised; every older entry is passed over), or if a committed frame
// certainly came after it (counted in Behind). A frame longer than MaxBytes
// is rejected with an error wrapping ErrFrameTooLarge and counted. Otherwise
// the frame is stored at the next position, after evicting as many of the
// oldest entries as needed to stay within MaxFrames and MaxBytes.
//
// Windows must come in line order; Append narrows each to what the previous
// frame's window implies (a later frame cannot end before an earlier one).
// f is passed by reference because a Frame does not fit in the registers
// of a call: copied onto the stack, it cost more than a third of Append's
// time. Append does not keep f.
func (r *Ring) Append(f *Frame) (pos uint64, stored bool, err error) {
	if f.Exact {
		r.notePortNumber(f.ID, f.Win.Hi)
	}
	w := f.Win
	w.Lo = max(w.Lo, r.lastWin.Lo)
	w.Hi = max(w.Hi, r.lastWin.Hi, w.Lo)
	w = widen(w)
	r.wallOffset = f.ReceivedAt - f.Win.Hi
	if r.mem.n > 0 {
		r.expireMemory(w.Hi)
		if node := r.certainEcho(f.ID, f.Exact, w, len(f.Data)); node >= 0 {
			r.mem.remove(node)
			r.stats.Recognised++
			r.lastWin = w
			r.pass(r.n)
			r.limbo.resolveAll(&r.stats)
			r.uncertain = false
			return 0, false, nil
		}
	}
	if w.Hi < r.passBefore && !f.Exact {
		r.stats.Behind++
		r.lastWin = w
		return 0, false, nil
	}
	l := int64(len(f.Data))
	if l > r.maxBytes {
		r.stats.Rejected++
		r.stats.RejectedBytes += uint64(l)
		return 0, false, fmt.Errorf("%w: %d bytes, max_bytes is %d", ErrFrameTooLarge, l, r.maxBytes)
	}
	for r.n >= r.maxFrames || r.bytes+l > r.maxBytes {
		r.evictOldest()
	}

	start := r.tail
	if l > 0 {
		start = r.ar.place(r.tail, len(f.Data))
		r.ar.ensure(start, start+uint64(l))
		r.ar.write(start, f.Data)
	}
	p := r.lastPos + 1
	b, o := r.sl.ensure(p, w.Hi), p&blockMask
	b.ids[o], b.meta[o], b.ends[o] = f.ID, packMeta(w, f.Exact), uint32(start+uint64(l))
	b.setHi(o, w.Hi)
	if f.Exact {
		b.fingerprints()[o] = f.Fingerprint
	}
	r.n++
	r.lastPos = p
	r.lastWin = w
	r.tail = start + uint64(l)
	r.bytes += l
	r.stats.Appended++
	return r.lastPos, true, nil
}

// TrimThrough removes every entry with Pos <= pos (the active's own ring
// after a successful commit) and returns how many it removed.
func (r *Ring) TrimThrough(pos uint64) int {
	if r.n == 0 || pos < r.headPos() {
		return 0
	}
	k := r.n
	if d := pos - r.headPos(); d < uint64(k) {
		k = int(d) + 1
	}
	r.drop(k)
	r.stats.TrimmedByCommit += uint64(k)
	return k
}

// ForgetEchoes forgets the remembered echoes that have outlived the memory's
// TTL by now (host clock) and returns how many. TrimEcho and Append do this
// themselves; a caller may also call it on a timer so that the memory drains
// while the feed and the topic are quiet.
func (r *Ring) ForgetEchoes(now int64) int {
	if r.mem.n == 0 {
		return 0
	}
	return r.expireMemory(now)
}

// PossiblyPublished reports whether an entry may already be in the topic:
// a remembered (or forgotten) echo may be its frame, or a committed frame
// came after it within the pass margin. A member flushing its ring marks
// such an entry's record as a possible duplicate.
//
// An entry with a feed sequence number is possibly published only if an
// echo of that number is remembered that may be its frame (mayBeNumber):
// nothing without its number can have been its record.
func (r *Ring) PossiblyPublished(e Entry) bool {
	if e.Win.Lo <= r.forgottenHi || !e.Exact && e.Win.Hi < r.passBefore+r.margin {
		return true
	}
	for node := r.mem.first(e.ID); node >= 0; node = r.mem.same[node] {
		if r.mem.exact[node] == e.Exact && r.mayBe(r.mem.win[node], e.Win, e.Exact) {
			return true
		}
	}
	return false
}

// mayBe reports whether two sightings of one identity, in windows a and b,
// may be one frame: for a feed sequence number, mayBeNumber; for a
// fingerprint, overlapping windows.
func (r *Ring) mayBe(a, b Window, exact bool) bool {
	if exact {
		return mayBeNumber(a, b, r.numberSlack, r.numbersCameBack)
	}
	return overlaps(a, b)
}

// Echoed says what the echoes read so far say of a frame the ring does not
// hold: a peer's copy of one this member's port lost, offered for a hole in
// its stream. certain: a remembered echo is certainly that frame, so the
// topic holds it; possible: the topic may hold it, as PossiblyPublished says
// of an entry. A feed sequence number is certain only where both windows
// lie within slack of each other, end to end (the peer's frame may be far
// older than an arriving one, and a counter may wrap); further off, the
// same number is possible. The
// memory is left as it is: the frame is not the ring's, and the same hole
// may be asked about again.
func (r *Ring) Echoed(s Sighting, slack int64) (certain, possible bool) {
	if r.mem.n > 0 {
		for node := r.mem.first(s.ID); node >= 0; node = r.mem.same[node] {
			echo := Sighting{ID: s.ID, Exact: r.mem.exact[node], Win: r.mem.win[node], Size: s.Size}
			if echo.Exact == s.Exact && certainlySame(echo, s, slack, r.byteTime) {
				return true, true
			}
		}
	}
	return false, r.PossiblyPublished(Entry{ID: s.ID, Exact: s.Exact, Win: s.Win})
}

// Unseen says that records of frames that ended on the line before t (host
// clock) may have been committed without this member seeing their echoes
// (its echo consumer started reading after them): entries whose windows
// begin before t are possibly published.
func (r *Ring) Unseen(t int64) { r.forgottenHi = max(r.forgottenHi, t) }

// Settle declares every evicted entry whose fate is still open lost, and
// records the runs in Gaps. A member calls it when it goes live, and while
// it is live: from then on nobody else will publish what it evicted.
func (r *Ring) Settle() int {
	return r.limbo.settle(r)
}

// Next returns the oldest entry with Pos > after: a flush cursor that stays
// valid while appends and trims continue. It does not scan.
func (r *Ring) Next(after uint64) (Entry, bool) {
	if r.n == 0 || after >= r.lastPos {
		return Entry{}, false
	}
	i := 0
	if hp := r.headPos(); after >= hp {
		i = int(after - hp + 1)
	}
	return r.entry(i), true
}

// Get returns the entry at pos, if it is held.
func (r *Ring) Get(pos uint64) (Entry, bool) {
	if r.n == 0 || pos < r.headPos() || pos > r.lastPos {
		return Entry{}, false
	}
	return r.entry(int(pos - r.headPos())), true
}

// Oldest returns the oldest entry held.
func (r *Ring) Oldest() (Entry, bool) {
	if r.n == 0 {
		return Entry{}, false
	}
	return r.entry(0), true
}

// Len returns the number of entries held.
func (r *Ring) Len() int { return r.n }

// Bytes returns the payload bytes held.
func (r *Ring) Bytes() int64 { return r.bytes }

// LastPos returns the position of the newest entry ever appended (0 if
// none). It keeps counting across Reset.
func (r *Ring) LastPos() uint64 { return r.lastPos }

// MemoryLen returns the number of echoes remembered.
func (r *Ring) MemoryLen() int { return r.mem.n }

// Stats returns the counters and gauges.
func (r *Ring) Stats() Stats {
	s := r.stats
	s.Len, s.Bytes, s.MemoryLen, s.LimboLen = r.n, r.bytes, r.mem.n, r.limbo.n
	return s
}

// Gaps appends to dst the most recent gaps settled as lost (at most
// MaxGaps), oldest first, and returns the extended slice.
func (r *Ring) Gaps(dst []Gap) []Gap {
	if len(r.gaps) < MaxGaps {
		return append(dst, r.gaps...)
	}
	dst = append(dst, r.gaps[r.gapAt:]...)
	return append(dst, r.gaps[:r.gapAt]...)
}

// Footprint estimates the memory the ring holds, in bytes: the entry columns,
// the payload chunks (spares included), the echo memory and the limbo.
func (r *Ring) Footprint() int64 {
	return r.sl.footprint() + r.ar.footprint() + r.mem.footprint() + r.limbo.footprint()
}

// Reset drops every entry and remembered echo: a rejoining member starts a
// fresh ring. Counters persist (the dropped entries and echoes are counted
// in ResetFrames and ResetEchoes), positions keep counting from LastPos, so
// a cursor or commit position from before the reset never addresses a new
// entry, and payload memory is released. Evicted entries whose fate is open
// stay open: what was evicted before the reset may still be found published.
func (r *Ring) Reset() {
	r.stats.ResetFrames += uint64(r.n)
	r.stats.ResetEchoes += uint64(r.mem.n)
	r.n, r.bytes, r.scanCredit = 0, 0, 0
	r.uncertain = false
	r.ar.releaseAll()
	r.sl.release(r.lastPos + 1)
	// Start the next frame on a fresh chunk.
	if r.tail&r.ar.mask != 0 {
		r.tail = (r.tail | r.ar.mask) + 1
	}
	r.headPrev = r.tail
	r.mem.reset()
}

// A window's width is kept in 16 bits: units of 2^17 ns (131 µs), rounded
// up, so that a stored window is never narrower than the one given (a wider
// window is less certain, never wrong). Wider than widthUnbounded units
// (4.3 s, a reader that stalled) the window is kept unbounded below. The top
// bit says the identity is exact.
const (
	widthShift     = 17
	widthUnbounded = 0x7fff
	exactBit       = 0x8000
)

// widen rounds a window's width up to what packMeta keeps.
func widen(w Window) Window {
	if w.Lo == NoLo {
		return w
	}
	units := (uint64(w.Hi-w.Lo) + 1<<widthShift - 1) >> widthShift
	if units >= widthUnbounded {
		return Window{Lo: NoLo, Hi: w.Hi}
	}
	return Window{Lo: w.Hi - int64(units<<widthShift), Hi: w.Hi}
}

// packMeta encodes a window widened by widen, and the exactness.
func packMeta(w Window, exact bool) uint16 {
	m := uint16(widthUnbounded)
	if w.Lo != NoLo {
		m = uint16(uint64(w.Hi-w.Lo) >> widthShift)
	}
	if exact {
		m |= exactBit
	}
	return m
}

func (r *Ring) window(p uint64) Window { return r.sl.block(p).window(p & blockMask) }

func (r *Ring) exact(p uint64) bool { return r.sl.block(p).exact(p & blockMask) }

func (r *Ring) id(p uint64) uint64 { return r.sl.block(p).ids[p&blockMask] }

// hi returns the end of the window of the entry at p.
func (r *Ring) hi(p uint64) int64 { return r.sl.block(p).hi(p & blockMask) }

// end returns where the payload of the entry in slot o of b ends in the
// arena. Only the low 32 bits are stored, and the tail supplies the rest:
// every entry held ends less than 2^32 bytes before the tail, since a hole
// is always shorter than the frame after it (tail - headPrev < 2 * MaxBytes
// <= 2 * LimitMaxBytes).
func (r *Ring) end(b *slotBlock, o uint64) uint64 {
	return r.tail - uint64(uint32(r.tail)-b.ends[o&blockMask])
}

func (r *Ring) headPos() uint64 { return r.lastPos + 1 - uint64(r.n) }

// slot returns the position, and so the slot, of the i-th oldest entry.
func (r *Ring) slot(i int) uint64 { return r.headPos() + uint64(i) }

// entry returns the i-th oldest entry (0 <= i < r.n).
func (r *Ring) entry(i int) Entry {
	p := r.slot(i)
	b, o := r.sl.block(p), p&blockMask
	start, end := r.extentIn(i, b, o)
	e := Entry{
		Pos:         p,
		ID:          b.ids[o],
		Exact:       b.exact(o),
		Fingerprint: b.ids[o],
		Win:         b.window(o),
		Data:        r.ar.bytes(start, end),
	}
	e.ReceivedAt = e.Win.Hi + r.wallOffset
	if e.Exact {
		e.Fingerprint = b.fps[o]
	}
	return e
}

// size returns the payload length of the i-th oldest entry.
func (r *Ring) size(i int) int {
	p := r.slot(i)
	start, end := r.extentIn(i, r.sl.block(p), p&blockMask)
	return int(end - start)
}

// extentIn returns where the i-th oldest entry's payload lies in the arena;
// the entry is in slot o of b.
func (r *Ring) extentIn(i int, b *slotBlock, o uint64) (start, end uint64) {
	prev := r.headPrev
	switch {
	case i == 0:
	case o > 0:
		prev = r.end(b, o-1)
	default:
		p := r.slot(i) - 1
		prev = r.end(r.sl.block(p), p&blockMask)
	}
	end = r.end(b, o)
	return r.ar.startFor(prev, end), end
}

// drop removes the k oldest entries (0 < k <= r.n).
func (r *Ring) drop(k int) {
	prev, p := r.headPrev, r.headPos()
	blk := r.sl.block(p)
	var b uint64
	for range k {
		o := p & blockMask
		if o == 0 {
			blk = r.sl.block(p)
		}
		end := r.end(blk, o)
		b += end - r.ar.startFor(prev, end)
		prev = end
		p++
	}
	r.n, r.headPrev = r.n-k, prev
	r.bytes -= int64(b)
	r.ar.release(prev)
	r.sl.release(p)
}

// evictOldest drops the oldest entry for lack of room; its fate stays open
// in the limbo until an echo or a settlement decides it.
func (r *Ring) evictOldest() {
	p := r.headPos()
	b, o := r.sl.block(p), p&blockMask
	end := r.end(b, o)
	l := end - r.ar.startFor(r.headPrev, end)
	r.stats.OverflowFrames++
	r.stats.OverflowBytes += l
	r.limbo.push(r, limboEntry{
		pos: p, id: b.ids[o], at: b.hi(o) + r.wallOffset, bytes: l,
		win: b.window(o),
	})
	r.drop(1)
}

// recordLost adds one lost position to the gap runs.
func (r *Ring) recordLost(e limboEntry) {
	st := &r.stats
	st.OverflowLost++
	if st.FirstLostPos == 0 {
		st.FirstLostPos = e.pos
	}
	if st.LastLostPos != 0 && st.LastLostPos+1 == e.pos {
		g := &r.gaps[(r.gapAt+len(r.gaps)-1)%len(r.gaps)]
		g.LastPos, g.LastID, g.LastReceivedAt = e.pos, e.id, e.at
		g.Bytes += e.bytes
	} else {
		st.OverflowGaps++
		g := Gap{FirstPos: e.pos, LastPos: e.pos, FirstID: e.id, LastID: e.id, FirstReceivedAt: e.at, LastReceivedAt: e.at, Bytes: e.bytes}
		if len(r.gaps) < MaxGaps {
			r.gaps = append(r.gaps, g)
		} else {
			r.gaps[r.gapAt] = g
			r.gapAt = (r.gapAt + 1) % MaxGaps
		}
	}
	st.LastLostPos = e.pos
}
