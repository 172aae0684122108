package serialsim

import (
	"math/rand/v2"
	"time"
)

// seqFeed is the default feed: unique sequenced FDSEQ sentences, one every
// 1/Rate seconds, padded to FrameSize with seeded random capital letters and
// digits.
type seqFeed struct {
	size     int
	periodNS float64
	n        uint64 // frames generated
	rng      *rand.Rand
	pad      []byte
	// wrap, when not 0, is the count of the sentences' numbers: frame id
	// carries id mod wrap (the seq-wrap feed).
	wrap uint64
}

func newSeqFeed(c Config, _ int) feed {
	return &seqFeed{size: c.FrameSize, periodNS: 1e9 / c.Rate, rng: feedRand(c, 0x70616464_696e6700)}
}

func newWrappingSeqFeed(c Config, n int) feed {
	f := newSeqFeed(c, 0).(*seqFeed)
	f.wrap = uint64(n)
	return f
}

func (f *seqFeed) notBefore() float64 { return float64(f.n) * f.periodNS }

func (f *seqFeed) next(id uint64, start time.Time) ([]byte, bool) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	ms := start.UnixMilli()
	num := id
	if f.wrap > 0 {
		num = id % f.wrap
	}
	f.pad = f.pad[:0]
	for range PaddingLen(num, ms, f.size) {
		f.pad = append(f.pad, alphabet[f.rng.IntN(len(alphabet))])
	}
	f.n++
	return AppendFrame(make([]byte, 0, f.size+8), num, ms, f.pad), true
}
