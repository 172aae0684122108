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

// Entry is one frame held in the ring.
type Entry struct {
	// Pos is the ring position: contiguous, assigned by Append, starting at 1.
	// Positions are never reused, not even after Reset.
	Pos uint64
	// ID is the frame's identity (feed sequence number or fingerprint).
	ID uint64
	// ReceivedAt is when the frame was read, in unix nanoseconds.
	ReceivedAt int64
	// Data aliases ring storage: it is valid until the next call that
	// mutates the ring (Append, TrimEcho, TrimThrough, ExpireEarlyEchoes,
	// Reset). Copy it to keep it. Its capacity is limited to its length.
	Data []byte
}

// TrimKind says what TrimEcho did with an echo.
type TrimKind uint8

const (
	// TrimMatchedHead: the echo matched the oldest entry, which was removed.
	TrimMatchedHead TrimKind = iota + 1
	// TrimMatchedAhead: the echo matched an entry within the look-ahead
	// window; it and every older entry were removed, the older ones counted
	// as skipped by the active.
	TrimMatchedAhead
	// TrimEarlyEcho: no entry in the window matched; the echo was added to
	// the early-echo set to suppress the frame when the local port delivers
	// it.
	TrimEarlyEcho
)

func (k TrimKind) String() string {
	switch k {
	case TrimMatchedHead:
		return "matched-head"
	case TrimMatchedAhead:
		return "matched-ahead"
	case TrimEarlyEcho:
		return "early-echo"
	}
	return fmt.Sprintf("TrimKind(%d)", uint8(k))
}

// TrimResult reports what one TrimEcho call did.
type TrimResult struct {
	Kind TrimKind
	// Pos and ReceivedAt are those of the matched entry (zero for an early
	// echo). ReceivedAt serves the echo-latency metric.
	Pos        uint64
	ReceivedAt int64
	// Skipped is how many older entries were removed as skipped by the
	// active: they had positions Pos-Skipped through Pos-1.
	Skipped int
	// Expired is how many early echoes this call expired by TTL.
	Expired int
	// Evicted reports that the early-echo set was full and its oldest echo
	// was evicted to make room for this one.
	Evicted bool
}

// Stats are the ring's cumulative counters (they survive Reset) and a few
// gauges. For any ring,
//
//	Appended = TrimmedByEcho + TrimmedByCommit + SkippedByActive +
//	           OverflowFrames + ResetFrames + Len
//	EarlyEchoes = EarlyEchoMatched + EarlyEchoExpired + EarlyEchoEvicted +
//	              ResetEarlyEchoes + EarlyEchoLen
type Stats struct {
	Appended        uint64 `json:"appended"`          // frames stored by Append
	TrimmedByEcho   uint64 `json:"trimmed_by_echo"`   // entries removed because their echo matched
	TrimmedByCommit uint64 `json:"trimmed_by_commit"` // entries removed by TrimThrough
	SkippedByActive uint64 `json:"skipped_by_active"` // older entries removed by a look-ahead match or a resync
	// Resyncs counts echoes matched beyond the look-ahead window by a
	// resynchronising scan (see TrimEcho).
	Resyncs uint64 `json:"resyncs"`

	EarlyEchoes      uint64 `json:"early_echoes"`       // echoes stored in the early-echo set
	EarlyEchoMatched uint64 `json:"early_echo_matched"` // appends suppressed by an early echo
	EarlyEchoExpired uint64 `json:"early_echo_expired"` // early echoes expired by TTL
	EarlyEchoEvicted uint64 `json:"early_echo_evicted"` // early echoes evicted because the set was full

	OverflowFrames uint64 `json:"overflow_frames"` // entries evicted to stay within the bounds
	OverflowBytes  uint64 `json:"overflow_bytes"`  // their payload bytes
	// OverflowGaps counts runs of contiguous overflowed positions: each
	// overflow that does not continue the previous run starts a new one.
	OverflowGaps uint64 `json:"overflow_gaps"`
	// FirstOverflowPos and LastOverflowPos are the positions of the first
	// and last entries ever evicted by overflow (0 if none). Gaps gives the
	// exact runs in between.
	FirstOverflowPos uint64 `json:"first_overflow_pos"`
	LastOverflowPos  uint64 `json:"last_overflow_pos"`

	Rejected      uint64 `json:"rejected"`       // frames longer than MaxBytes, never stored
	RejectedBytes uint64 `json:"rejected_bytes"` // their bytes

	ResetFrames      uint64 `json:"reset_frames"`       // entries dropped by Reset
	ResetEarlyEchoes uint64 `json:"reset_early_echoes"` // early echoes dropped by Reset

	// Gauges at the time of the call.
	Len          int   `json:"len"`            // entries held
	Bytes        int64 `json:"bytes"`          // payload bytes held
	EarlyEchoLen int   `json:"early_echo_len"` // early echoes held
}

// Gap is a run of contiguous positions evicted by overflow: frames this
// member read and dropped without having seen them committed. Whether they
// reached the topic is for the audit to establish; the ring reports the exact
// extent.
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

// initialSlots is the entry capacity of a new ring; it doubles as needed up
// to MaxFrames.
const initialSlots = 64

// Ring is the echo-trimmed backlog ring. It is not safe for concurrent use:
// one goroutine owns it.
//
// Entries are kept in columns (identity, receive time, payload end offset)
// that form a ring of slots; payload bytes live in an arena of fixed-size
// chunks (see arena). Position p is in slot head + (p - oldest position),
// wrapped, so lookups by position need no search.
type Ring struct {
	maxFrames int
	maxBytes  int64
	lookAhead int
	// scanCredit pays for resynchronising scans beyond the look-ahead
	// window: each miss earns lookAhead entries of scanning, so a scan of
	// the whole ring costs O(lookAhead) per echo, amortised.
	scanCredit int
	ttl        int64

	ids   []uint64
	times []int64
	ends  []uint64 // end offset of each entry's payload in the arena
	head  int      // slot of the oldest entry
	n     int      // entries held

	lastPos  uint64 // position of the newest entry ever appended
	headPrev uint64 // end offset of the entry before the oldest
	tail     uint64 // end offset of the newest entry
	bytes    int64

	ar    arena
	early earlyEchoes
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
	return newRing(c, chunkShiftFor(c.MaxBytes), initialSlots), nil
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

// newRing builds a ring from a validated config with chunks of 1<<shift
// bytes and room for slots entries to begin with.
func newRing(c Config, shift uint, slots int) *Ring {
	slots = min(slots, c.MaxFrames)
	return &Ring{
		maxFrames: c.MaxFrames,
		maxBytes:  c.MaxBytes,
		lookAhead: c.LookAhead,
		ttl:       int64(c.EarlyEchoTTL),
		ids:       make([]uint64, slots),
		times:     make([]int64, slots),
		ends:      make([]uint64, slots),
		ar:        newArena(shift),
		early:     newEarlyEchoes(c.EarlyEchoMax),
	}
}

// Append stores a copy of a frame read from the local port.
//
// Early echoes older than the TTL relative to receivedAt are expired first.
// Then, if id is in the early-echo set (the active's committed record was
// echoed before the local port delivered the frame), the frame is not stored:
// stored is false, the oldest early echo of id is removed and counted in
// EarlyEchoMatched. A frame longer than MaxBytes is rejected with an error
// wrapping ErrFrameTooLarge and counted. Otherwise the frame is stored at the
// next position, after evicting (and counting, see Gaps) as many of the
// oldest entries as needed to stay within MaxFrames and MaxBytes.
func (r *Ring) Append(id uint64, receivedAt int64, data []byte) (pos uint64, stored bool, err error) {
	if r.early.n > 0 {
		r.expireEarly(receivedAt)
		if r.early.take(id) {
			r.stats.EarlyEchoMatched++
			return 0, false, nil
		}
	}
	l := int64(len(data))
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
		start = r.ar.place(r.tail, len(data))
		r.ar.ensure(start, start+uint64(l))
		r.ar.write(start, data)
	}
	if r.n == len(r.ids) {
		r.growSlots()
	}
	s := r.slot(r.n)
	r.ids[s], r.times[s], r.ends[s] = id, receivedAt, start+uint64(l)
	r.n++
	r.lastPos++
	r.tail = start + uint64(l)
	r.bytes += l
	r.stats.Appended++
	return r.lastPos, true, nil
}

// TrimEcho handles one committed record echoed back from Kafka, seen at now.
//
// Early echoes older than the TTL relative to now are expired first. If id
// matches the oldest entry, that entry is removed. Otherwise the oldest match
// among the oldest LookAhead entries is removed with every entry older than
// it, those counted as skipped by the active. With no match, id joins the
// early-echo set (evicting, and counting, its oldest echo if full).
func (r *Ring) TrimEcho(id uint64, now int64) TrimResult {
	var res TrimResult
	if r.early.n > 0 {
		res.Expired = r.expireEarly(now)
	}
	if r.n > 0 {
		if r.ids[r.head] == id {
			res.Kind, res.Pos, res.ReceivedAt = TrimMatchedHead, r.headPos(), r.times[r.head]
			r.drop(1)
			r.stats.TrimmedByEcho++
			return res
		}
		w := min(r.n, r.lookAhead)
		s := r.head
		for k := 1; k < w; k++ {
			if s++; s == len(r.ids) {
				s = 0
			}
			if r.ids[s] == id {
				res.Kind, res.Pos, res.ReceivedAt = TrimMatchedAhead, r.headPos()+uint64(k), r.times[s]
				res.Skipped = k
				r.drop(k + 1)
				r.stats.TrimmedByEcho++
				r.stats.SkippedByActive += uint64(k)
				return res
			}
		}
	}
	if res, ok := r.resync(id, res); ok {
		return res
	}
	res.Kind = TrimEarlyEcho
	if r.early.push(id, now) {
		res.Evicted = true
		r.stats.EarlyEchoEvicted++
	}
	r.stats.EarlyEchoes++
	return res
}

// resync looks for id beyond the look-ahead window once enough misses have
// paid for a scan of the rest of the ring. Without it, a ring whose oldest
// look_ahead entries will never be echoed (the active missed a long run of
// frames, or the port delivered stale frames committed before the echo
// consumer started) would turn every later echo into an early echo and never
// trim again. A match removes the entry and everything older, counted as
// skipped by the active.
func (r *Ring) resync(id uint64, res TrimResult) (TrimResult, bool) {
	w := min(r.n, r.lookAhead)
	if r.n <= w {
		return res, false
	}
	r.scanCredit = min(r.scanCredit+r.lookAhead, r.n)
	if r.scanCredit < r.n-w {
		return res, false
	}
	r.scanCredit = 0
	for k := w; k < r.n; k++ {
		if s := r.slot(k); r.ids[s] == id {
			res.Kind, res.Pos, res.ReceivedAt = TrimMatchedAhead, r.headPos()+uint64(k), r.times[s]
			res.Skipped = k
			r.drop(k + 1)
			r.stats.TrimmedByEcho++
			r.stats.SkippedByActive += uint64(k)
			r.stats.Resyncs++
			return res, true
		}
	}
	return res, false
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

// ExpireEarlyEchoes expires the early echoes older than the TTL relative to
// now and returns how many. TrimEcho and Append do this themselves; a caller
// may also call it on a timer so that the set drains while the feed and the
// topic are quiet.
func (r *Ring) ExpireEarlyEchoes(now int64) int {
	if r.early.n == 0 {
		return 0
	}
	return r.expireEarly(now)
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

// EarlyEchoLen returns the number of early echoes held.
func (r *Ring) EarlyEchoLen() int { return r.early.n }

// Stats returns the counters and gauges.
func (r *Ring) Stats() Stats {
	s := r.stats
	s.Len, s.Bytes, s.EarlyEchoLen = r.n, r.bytes, r.early.n
	return s
}

// Gaps appends to dst the most recent overflow gaps (at most MaxGaps),
// oldest first, and returns the extended slice.
func (r *Ring) Gaps(dst []Gap) []Gap {
	if len(r.gaps) < MaxGaps {
		return append(dst, r.gaps...)
	}
	dst = append(dst, r.gaps[r.gapAt:]...)
	return append(dst, r.gaps[:r.gapAt]...)
}

// Footprint estimates the memory the ring holds, in bytes: the entry columns,
// the payload chunks (spares included) and the early-echo set.
func (r *Ring) Footprint() int64 {
	return int64(len(r.ids))*(8+8+8) + r.ar.footprint() + r.early.footprint()
}

// Reset drops every entry and early echo: a rejoining member starts a fresh
// ring. Counters persist (the dropped entries and echoes are counted in
// ResetFrames and ResetEarlyEchoes), positions keep counting from LastPos,
// so a cursor or commit position from before the reset never addresses a new
// entry, and payload memory is released.
func (r *Ring) Reset() {
	r.stats.ResetFrames += uint64(r.n)
	r.stats.ResetEarlyEchoes += uint64(r.early.n)
	r.n, r.head, r.bytes, r.scanCredit = 0, 0, 0, 0
	r.ar.releaseAll()
	// Start the next frame on a fresh chunk.
	if r.tail&r.ar.mask != 0 {
		r.tail = (r.tail | r.ar.mask) + 1
	}
	r.headPrev = r.tail
	r.early.reset()
}

func (r *Ring) headPos() uint64 { return r.lastPos + 1 - uint64(r.n) }

// slot returns the slot of the i-th oldest entry (0 <= i < len(r.ids)).
func (r *Ring) slot(i int) int {
	s := r.head + i
	if s >= len(r.ids) {
		s -= len(r.ids)
	}
	return s
}

// entry returns the i-th oldest entry (0 <= i < r.n).
func (r *Ring) entry(i int) Entry {
	s := r.slot(i)
	prev := r.headPrev
	if i > 0 {
		p := s - 1
		if p < 0 {
			p = len(r.ids) - 1
		}
		prev = r.ends[p]
	}
	end := r.ends[s]
	return Entry{
		Pos:        r.headPos() + uint64(i),
		ID:         r.ids[s],
		ReceivedAt: r.times[s],
		Data:       r.ar.bytes(r.ar.startFor(prev, end), end),
	}
}

// drop removes the k oldest entries (0 < k <= r.n).
func (r *Ring) drop(k int) {
	prev, s := r.headPrev, r.head
	var b uint64
	for range k {
		end := r.ends[s]
		b += end - r.ar.startFor(prev, end)
		prev = end
		if s++; s == len(r.ids) {
			s = 0
		}
	}
	r.head, r.n, r.headPrev = s, r.n-k, prev
	r.bytes -= int64(b)
	r.ar.release(prev)
}

// evictOldest drops the oldest entry for lack of room, recording it.
func (r *Ring) evictOldest() {
	s := r.head
	end := r.ends[s]
	l := end - r.ar.startFor(r.headPrev, end)
	r.recordOverflow(r.headPos(), r.ids[s], r.times[s], l)
	r.drop(1)
}

func (r *Ring) recordOverflow(pos, id uint64, at int64, l uint64) {
	st := &r.stats
	st.OverflowFrames++
	st.OverflowBytes += l
	if st.FirstOverflowPos == 0 {
		st.FirstOverflowPos = pos
	}
	if st.LastOverflowPos != 0 && st.LastOverflowPos+1 == pos {
		g := &r.gaps[(r.gapAt+len(r.gaps)-1)%len(r.gaps)]
		g.LastPos, g.LastID, g.LastReceivedAt = pos, id, at
		g.Bytes += l
	} else {
		st.OverflowGaps++
		g := Gap{FirstPos: pos, LastPos: pos, FirstID: id, LastID: id, FirstReceivedAt: at, LastReceivedAt: at, Bytes: l}
		if len(r.gaps) < MaxGaps {
			r.gaps = append(r.gaps, g)
		} else {
			r.gaps[r.gapAt] = g
			r.gapAt = (r.gapAt + 1) % MaxGaps
		}
	}
	st.LastOverflowPos = pos
}

// expireEarly expires early echoes older than the TTL relative to now.
func (r *Ring) expireEarly(now int64) int {
	cutoff := int64(math.MinInt64)
	if now >= math.MinInt64+r.ttl {
		cutoff = now - r.ttl
	}
	c := r.early.expire(cutoff)
	r.stats.EarlyEchoExpired += uint64(c)
	return c
}

// growSlots doubles the entry columns (up to MaxFrames); they are full.
func (r *Ring) growSlots() {
	nc := min(2*len(r.ids), r.maxFrames)
	ids, times, ends := make([]uint64, nc), make([]int64, nc), make([]uint64, nc)
	copy(ids[copy(ids, r.ids[r.head:]):], r.ids[:r.head])
	copy(times[copy(times, r.times[r.head:]):], r.times[:r.head])
	copy(ends[copy(ends, r.ends[r.head:]):], r.ends[:r.head])
	r.ids, r.times, r.ends, r.head = ids, times, ends, 0
}
