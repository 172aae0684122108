package backlog

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// model is a naive slice implementation of the ring's documented semantics,
// used as the oracle for property and fuzz tests.
type model struct {
	cfg     Config
	ents    []Entry // Data owned by the model
	early   []modelEcho
	lastPos uint64
	credit  int
	st      Stats
	gaps    []Gap
}

type modelEcho struct {
	id uint64
	at int64
}

func (m *model) bytes() int64 {
	var b int64
	for _, e := range m.ents {
		b += int64(len(e.Data))
	}
	return b
}

func (m *model) expire(now int64) int {
	ttl := int64(m.cfg.EarlyEchoTTL)
	c := 0
	for len(m.early) > 0 && now >= math.MinInt64+ttl && m.early[0].at < now-ttl {
		m.early = m.early[1:]
		c++
	}
	m.st.EarlyEchoExpired += uint64(c)
	return c
}

func (m *model) append(id uint64, at int64, data []byte) (uint64, bool, error) {
	m.expire(at)
	for i, e := range m.early {
		if e.id == id {
			m.early = slices.Delete(m.early, i, i+1)
			m.st.EarlyEchoMatched++
			return 0, false, nil
		}
	}
	if int64(len(data)) > m.cfg.MaxBytes {
		m.st.Rejected++
		m.st.RejectedBytes += uint64(len(data))
		return 0, false, ErrFrameTooLarge
	}
	for len(m.ents) >= m.cfg.MaxFrames || m.bytes()+int64(len(data)) > m.cfg.MaxBytes {
		m.evict()
	}
	m.lastPos++
	m.ents = append(m.ents, Entry{Pos: m.lastPos, ID: id, ReceivedAt: at, Data: bytes.Clone(data)})
	m.st.Appended++
	return m.lastPos, true, nil
}

func (m *model) evict() {
	e := m.ents[0]
	m.ents = m.ents[1:]
	l := uint64(len(e.Data))
	m.st.OverflowFrames++
	m.st.OverflowBytes += l
	if m.st.FirstOverflowPos == 0 {
		m.st.FirstOverflowPos = e.Pos
	}
	if n := len(m.gaps); n > 0 && m.gaps[n-1].LastPos+1 == e.Pos {
		g := &m.gaps[n-1]
		g.LastPos, g.LastID, g.LastReceivedAt = e.Pos, e.ID, e.ReceivedAt
		g.Bytes += l
	} else {
		m.st.OverflowGaps++
		m.gaps = append(m.gaps, Gap{FirstPos: e.Pos, LastPos: e.Pos, FirstID: e.ID, LastID: e.ID,
			FirstReceivedAt: e.ReceivedAt, LastReceivedAt: e.ReceivedAt, Bytes: l})
	}
	m.st.LastOverflowPos = e.Pos
}

func (m *model) trimEcho(id uint64, now int64) TrimResult {
	var res TrimResult
	res.Expired = m.expire(now)
	for i := 0; i < len(m.ents) && i < m.cfg.LookAhead; i++ {
		if m.ents[i].ID == id {
			res.Kind = TrimMatchedAhead
			if i == 0 {
				res.Kind = TrimMatchedHead
			}
			res.Pos, res.ReceivedAt, res.Skipped = m.ents[i].Pos, m.ents[i].ReceivedAt, i
			m.ents = m.ents[i+1:]
			m.st.TrimmedByEcho++
			m.st.SkippedByActive += uint64(i)
			return res
		}
	}
	if w := min(len(m.ents), m.cfg.LookAhead); len(m.ents) > w {
		m.credit = min(m.credit+m.cfg.LookAhead, len(m.ents))
		if m.credit >= len(m.ents)-w {
			m.credit = 0
			for i := w; i < len(m.ents); i++ {
				if m.ents[i].ID == id {
					res.Kind, res.Pos, res.ReceivedAt, res.Skipped = TrimMatchedAhead, m.ents[i].Pos, m.ents[i].ReceivedAt, i
					m.ents = m.ents[i+1:]
					m.st.TrimmedByEcho++
					m.st.SkippedByActive += uint64(i)
					m.st.Resyncs++
					return res
				}
			}
		}
	}
	res.Kind = TrimEarlyEcho
	if len(m.early) >= m.cfg.EarlyEchoMax {
		m.early = m.early[1:]
		m.st.EarlyEchoEvicted++
		res.Evicted = true
	}
	m.early = append(m.early, modelEcho{id, now})
	m.st.EarlyEchoes++
	return res
}

func (m *model) trimThrough(pos uint64) int {
	k := 0
	for len(m.ents) > 0 && m.ents[0].Pos <= pos {
		m.ents = m.ents[1:]
		k++
	}
	m.st.TrimmedByCommit += uint64(k)
	return k
}

func (m *model) next(after uint64) (Entry, bool) {
	for _, e := range m.ents {
		if e.Pos > after {
			return e, true
		}
	}
	return Entry{}, false
}

func (m *model) reset() {
	m.st.ResetFrames += uint64(len(m.ents))
	m.st.ResetEarlyEchoes += uint64(len(m.early))
	m.ents, m.early, m.credit = nil, nil, 0
}

func (m *model) stats() Stats {
	s := m.st
	s.Len, s.Bytes, s.EarlyEchoLen = len(m.ents), m.bytes(), len(m.early)
	return s
}

// source supplies the choices of an operation sequence.
type source interface {
	intn(n int) int // in [0, n)
}

type randSource struct{ r *rand.Rand }

func (s randSource) intn(n int) int { return s.r.IntN(n) }

// byteSource reads choices from fuzz input; it yields zeros once exhausted.
type byteSource struct{ b []byte }

func (s *byteSource) intn(n int) int {
	if n <= 1 {
		return 0
	}
	v := 0
	for need := n - 1; need > 0; need >>= 8 {
		v <<= 8
		if len(s.b) > 0 {
			v |= int(s.b[0])
			s.b = s.b[1:]
		}
	}
	return v % n
}

// harness drives a Ring and a model with the same operations and compares
// them after every step.
type harness struct {
	t    testing.TB
	r    *Ring
	m    *model
	src  source
	now  int64
	seq  int
	step int

	alphabet int
}

// newHarness picks a small configuration, so that bounds, holes, chunk
// crossings and multi-chunk frames all happen often.
func newHarness(t testing.TB, src source, large bool) *harness {
	c := Config{
		MaxFrames:    1 + src.intn(40),
		MaxBytes:     int64(1 + src.intn(600)),
		LookAhead:    1 + src.intn(8),
		EarlyEchoMax: 1 + src.intn(6),
		EarlyEchoTTL: time.Duration(1 + src.intn(60)),
	}
	shift := uint(2 + src.intn(5))
	alphabet := 12
	if large {
		alphabet = 80
		c.MaxFrames = 1 + src.intn(300)
		c.MaxBytes = int64(1 + src.intn(20000))
		c.LookAhead = 1 + src.intn(40)
		c.EarlyEchoMax = 1 + src.intn(100)
		c.EarlyEchoTTL = time.Duration(1 + src.intn(5000))
		shift = uint(6 + src.intn(5))
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	slots := 1 + src.intn(4)
	return &harness{t: t, r: newRing(c, shift, slots), m: &model{cfg: c}, src: src, now: 1000, alphabet: alphabet}
}

func (h *harness) fail(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("step %d (cfg %+v, chunk %d): %s", h.step, h.m.cfg, h.r.ar.size, fmt.Sprintf(format, args...))
}

func (h *harness) pickID() uint64 {
	// Mostly an identity near the front of the ring, so that echoes match
	// at the head and within the window; otherwise one of a small alphabet,
	// so that duplicates and early echoes are common.
	if n := len(h.m.ents); n > 0 && h.src.intn(3) > 0 {
		return h.m.ents[h.src.intn(min(n, h.m.cfg.LookAhead+2))].ID
	}
	return uint64(h.src.intn(h.alphabet))
}

func (h *harness) pickData() []byte {
	var n int
	switch k := h.src.intn(10); {
	case k == 0:
		n = 0
	case k == 1:
		n = h.src.intn(int(h.m.cfg.MaxBytes) + 8) // up to oversize
	case k == 2:
		n = h.src.intn(4*int(h.r.ar.size) + 1) // multi-chunk
	default:
		n = 1 + h.src.intn(int(h.r.ar.size)) // within a chunk
	}
	d := make([]byte, n)
	h.seq++
	for i := range d {
		d[i] = byte(h.seq*31 + i)
	}
	return d
}

func (h *harness) do() {
	h.step++
	h.now += int64(h.src.intn(15)) - 2 // mostly forward, sometimes back
	switch k := h.src.intn(100); {
	case k < 45:
		id, data := h.pickID(), h.pickData()
		at := h.now
		pos, stored, err := h.r.Append(id, at, data)
		mpos, mstored, merr := h.m.append(id, at, data)
		if pos != mpos || stored != mstored || (err == nil) != (merr == nil) || (err != nil && !errors.Is(err, ErrFrameTooLarge)) {
			h.fail("Append(%d, %d, %d bytes) = %d, %v, %v; model %d, %v, %v", id, at, len(data), pos, stored, err, mpos, mstored, merr)
		}
	case k < 80:
		id := h.pickID()
		got, want := h.r.TrimEcho(id, h.now), h.m.trimEcho(id, h.now)
		if got != want {
			h.fail("TrimEcho(%d, %d) = %+v; model %+v", id, h.now, got, want)
		}
	case k < 88:
		pos := uint64(max(0, int(h.m.lastPos)-h.src.intn(2*h.m.cfg.MaxFrames+2)+2))
		if got, want := h.r.TrimThrough(pos), h.m.trimThrough(pos); got != want {
			h.fail("TrimThrough(%d) = %d; model %d", pos, got, want)
		}
	case k < 92:
		got, want := h.r.ExpireEarlyEchoes(h.now), h.m.expire(h.now)
		if got != want {
			h.fail("ExpireEarlyEchoes(%d) = %d; model %d", h.now, got, want)
		}
	case k < 94:
		h.r.Reset()
		h.m.reset()
	default:
		after := uint64(max(0, int(h.m.lastPos)-h.src.intn(h.m.cfg.MaxFrames+3)+1))
		got, ok := h.r.Next(after)
		want, wok := h.m.next(after)
		if ok != wok || !sameEntry(got, want) {
			h.fail("Next(%d) = %+v, %v; model %+v, %v", after, got, ok, want, wok)
		}
		got, ok = h.r.Get(after)
		wok = len(h.m.ents) > 0 && after >= h.m.ents[0].Pos && after <= h.m.lastPos
		if wok {
			want = h.m.ents[after-h.m.ents[0].Pos]
		} else {
			want = Entry{}
		}
		if ok != wok || !sameEntry(got, want) {
			h.fail("Get(%d) = %+v, %v; model %+v, %v", after, got, ok, want, wok)
		}
	}
	h.check()
}

func sameEntry(a, b Entry) bool {
	return a.Pos == b.Pos && a.ID == b.ID && a.ReceivedAt == b.ReceivedAt && bytes.Equal(a.Data, b.Data)
}

// check compares the whole observable state and the internal invariants.
func (h *harness) check() {
	h.t.Helper()
	r, m := h.r, h.m
	if r.Len() != len(m.ents) || r.Bytes() != m.bytes() || r.LastPos() != m.lastPos || r.EarlyEchoLen() != len(m.early) {
		h.fail("Len %d Bytes %d LastPos %d EarlyEchoLen %d; model %d %d %d %d",
			r.Len(), r.Bytes(), r.LastPos(), r.EarlyEchoLen(), len(m.ents), m.bytes(), m.lastPos, len(m.early))
	}
	i := 0
	for e, ok := r.Next(0); ok; e, ok = r.Next(e.Pos) {
		if i >= len(m.ents) || !sameEntry(e, m.ents[i]) {
			h.fail("entry %d = %+v; model %v", i, e, m.ents)
		}
		if cap(e.Data) != len(e.Data) {
			h.fail("entry %d: Data capacity %d > length %d", i, cap(e.Data), len(e.Data))
		}
		i++
	}
	if i != len(m.ents) {
		h.fail("iterated %d entries; model %d", i, len(m.ents))
	}
	o, ok := r.Oldest()
	if ok != (len(m.ents) > 0) || (ok && !sameEntry(o, m.ents[0])) {
		h.fail("Oldest = %+v, %v", o, ok)
	}
	var early []modelEcho
	r.early.each(func(id uint64, at int64) { early = append(early, modelEcho{id, at}) })
	if !slices.Equal(early, m.early) {
		h.fail("early echoes %v; model %v", early, m.early)
	}
	distinct := map[uint64]bool{}
	for _, e := range m.early {
		distinct[e.id] = true
	}
	if r.early.used != len(distinct) {
		h.fail("early index holds %d keys; want %d", r.early.used, len(distinct))
	}
	if got, want := r.Stats(), m.stats(); got != want {
		h.fail("Stats\n got %+v\nwant %+v", got, want)
	}
	s := r.Stats()
	if s.Appended != s.TrimmedByEcho+s.TrimmedByCommit+s.SkippedByActive+s.OverflowFrames+s.ResetFrames+uint64(s.Len) {
		h.fail("frame accounting does not add up: %+v", s)
	}
	if s.EarlyEchoes != s.EarlyEchoMatched+s.EarlyEchoExpired+s.EarlyEchoEvicted+s.ResetEarlyEchoes+uint64(s.EarlyEchoLen) {
		h.fail("early-echo accounting does not add up: %+v", s)
	}
	wantGaps := m.gaps[max(0, len(m.gaps)-MaxGaps):]
	if got := r.Gaps(nil); !slices.Equal(got, wantGaps) && !(len(got) == 0 && len(wantGaps) == 0) {
		h.fail("Gaps %v; model %v", got, wantGaps)
	}
	// I4: within bounds, and the memory held is bounded by the payload.
	if r.Len() > m.cfg.MaxFrames || r.Bytes() > m.cfg.MaxBytes {
		h.fail("bounds exceeded: %d frames, %d bytes", r.Len(), r.Bytes())
	}
	if held := int64(r.ar.n) << r.ar.shift; held > 2*r.Bytes()+3*int64(r.ar.size) {
		h.fail("arena holds %d bytes in %d chunks for %d payload bytes", held, r.ar.n, r.Bytes())
	}
	if len(r.ids) > m.cfg.MaxFrames {
		h.fail("%d slots for max_frames %d", len(r.ids), m.cfg.MaxFrames)
	}
}

func TestPropertyAgainstModel(t *testing.T) {
	seeds, steps := 600, 400
	if testing.Short() {
		seeds = 100
	}
	for seed := range seeds {
		src := randSource{rand.New(rand.NewPCG(uint64(seed), 0x6665656464))}
		h := newHarness(t, src, seed%4 == 3)
		n := steps
		if seed%10 == 0 {
			n *= 10
		}
		for range n {
			h.do()
		}
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
}

func FuzzOps(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x40\x03\x02\x01\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0"))
	f.Add(bytes.Repeat([]byte{7, 200, 13, 90, 1, 0, 255, 33}, 40))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4, 5, 60, 70, 80, 90, 99}, 60))
	f.Fuzz(func(t *testing.T, in []byte) {
		src := &byteSource{b: in}
		h := newHarness(t, src, len(in) > 0 && in[0]&1 == 1)
		for len(src.b) > 0 {
			h.do()
		}
	})
}
