package serialsim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Feed names for Config.Feed. FeedAlphabet takes its alphabet size after a
// colon: "alphabet:3".
const (
	FeedSeq      = "seq"
	FeedNMEAGPS  = "nmea-gps"
	FeedNoFix    = "no-fix"
	FeedAIS      = "ais"
	FeedAlphabet = "alphabet"
	// FeedSeqWrap takes the count after a colon: "seq-wrap:64" numbers
	// its sentences 0 to 63 and starts again.
	FeedSeqWrap = "seq-wrap"
	// FeedReplay is what a record file names the feed of a Replay run.
	FeedReplay = "replay"
	// MaxAlphabet is the largest alphabet of the alphabet feed.
	MaxAlphabet = 256
)

// FeedInfo describes one generated feed.
type FeedInfo struct {
	// Name is what Config.Feed takes; "alphabet:K" stands for alphabet:1
	// to alphabet:MaxAlphabet.
	Name string
	// Summary says what the feed sends, in one line.
	Summary string
	// Unit is what Config.Rate counts for this feed: "frames" (spread
	// evenly) or "cycles" (bursts, one every 1/Rate seconds, each starting
	// on the second and sent back to back).
	Unit string
	// DefaultRate is Config.Rate's default for this feed.
	DefaultRate float64
	// MaxRate, when not 0, is the highest Rate the feed accepts.
	MaxRate float64
}

// feedKind is a FeedInfo and the constructor of its generator.
type feedKind struct {
	FeedInfo
	// arg says whether the name takes ":N", from 1 to maxArg (zero:
	// MaxAlphabet).
	arg    bool
	maxArg int
	new    func(c Config, arg int) feed
}

// feedKinds is the table of generated feeds: a new feed is one file and one
// row here.
var feedKinds = []feedKind{
	{FeedInfo: FeedInfo{Name: FeedSeq, Unit: "frames", DefaultRate: DefaultRate,
		Summary: "unique sequenced $FDSEQ sentences, evenly spread"},
		new: newSeqFeed},
	{FeedInfo: FeedInfo{Name: FeedNMEAGPS, Unit: "cycles", DefaultRate: 1, MaxRate: 100,
		Summary: "a GPS receiver with a fix: GGA, GSA, GSV x2-3, RMC, VTG, GLL; GSA and GSV repeat for 30-120 s"},
		new: func(c Config, _ int) feed { return newBurstFeed(c, newGPSCycler(c)) }},
	{FeedInfo: FeedInfo{Name: FeedNoFix, Unit: "cycles", DefaultRate: 1,
		Summary: "a GPS receiver with no fix and no time: the same six sentences every cycle"},
		new: func(c Config, _ int) feed { return newBurstFeed(c, noFixCycler{}) }},
	{FeedInfo: FeedInfo{Name: FeedAIS, Unit: "cycles", DefaultRate: 1,
		Summary: "AIS !AIVDM: vessels reporting at their own intervals, a base station, two-part static reports"},
		new: func(c Config, _ int) feed { return newBurstFeed(c, newAISCycler(c)) }},
	{FeedInfo: FeedInfo{Name: FeedAlphabet + ":K", Unit: "cycles", DefaultRate: 10,
		Summary: "stress: bursts of " + strconv.Itoa(alphabetBurst) + " sentences drawn from K fixed ones, runs of identical frames"},
		arg: true,
		new: func(c Config, k int) feed { return newBurstFeed(c, newAlphabetCycler(c, k)) }},
	{FeedInfo: FeedInfo{Name: FeedSeqWrap + ":N", Unit: "frames", DefaultRate: DefaultRate,
		Summary: "$FDSEQ sentences, evenly spread, whose number counts 0 to N-1 and starts again (a counter that wraps)"},
		arg: true, maxArg: 1 << 30,
		new: newWrappingSeqFeed},
}

// Feeds lists the generated feeds Config.Feed selects, the default first.
func Feeds() []FeedInfo {
	out := make([]FeedInfo, len(feedKinds))
	for i, k := range feedKinds {
		out[i] = k.FeedInfo
	}
	return out
}

// lookupFeed parses a Config.Feed value.
func lookupFeed(name string) (*feedKind, int, error) {
	base, argText, hasArg := strings.Cut(name, ":")
	for i := range feedKinds {
		k := &feedKinds[i]
		kb, _, _ := strings.Cut(k.Name, ":")
		if kb != base {
			continue
		}
		if !k.arg {
			if hasArg {
				return nil, 0, fmt.Errorf("feed %q takes no argument", base)
			}
			return k, 0, nil
		}
		n, err := strconv.Atoi(argText)
		if most := cmp.Or(k.maxArg, MaxAlphabet); !hasArg || err != nil || n < 1 || n > most {
			return nil, 0, fmt.Errorf("%q: want %s with %s from 1 to %d", name, k.Name, k.Name[len(kb)+1:], most)
		}
		return k, n, nil
	}
	names := make([]string, len(feedKinds))
	for i, k := range feedKinds {
		names[i] = k.Name
	}
	return nil, 0, fmt.Errorf("unknown feed %q (want %s)", name, strings.Join(names, ", "))
}

// A feed produces the frames of the line, in feed order. Only the source
// goroutine uses it.
type feed interface {
	// notBefore returns the earliest line time, in nanoseconds from the
	// start of the feed, at which the next frame's first byte may go out.
	// The source sends it then, or as soon as the line is free.
	notBefore() float64
	// next returns the next frame, id its id, whose first byte goes out on
	// the line at start; ok is false when the feed has ended.
	next(id uint64, start time.Time) (data []byte, ok bool)
}

// A cycler generates a burst feed one cycle at a time: cycle k is what the
// receiver sends, back to back, at the start of its k-th cycle (k counts
// from 0; feed time k/Rate seconds). A cycle may be empty, but never many
// in a row.
type cycler interface {
	cycle(k uint64, dst [][]byte) [][]byte
}

// burstFeed sends each cycle of a cycler at the start of its period: the
// first sentence of cycle k not before k/Rate seconds, the others right
// after it. Sentences are never changed once returned, so a cycler may
// return the same slice again for a sentence that repeats.
type burstFeed struct {
	c        cycler
	periodNS float64
	k        uint64   // next cycle to generate
	buf      [][]byte // the current cycle
	i        int      // next sentence in buf
	startNS  float64  // the current cycle's start
}

func newBurstFeed(c Config, cy cycler) *burstFeed {
	return &burstFeed{c: cy, periodNS: 1e9 / c.Rate}
}

func (b *burstFeed) fill() {
	for b.i >= len(b.buf) {
		b.buf = b.c.cycle(b.k, b.buf[:0])
		b.startNS = float64(b.k) * b.periodNS
		b.k++
		b.i = 0
	}
}

func (b *burstFeed) notBefore() float64 {
	b.fill()
	if b.i == 0 {
		return b.startNS
	}
	return 0
}

func (b *burstFeed) next(uint64, time.Time) ([]byte, bool) {
	b.fill()
	d := b.buf[b.i]
	b.i++
	return d, true
}

// feedRand returns a generator's random source: seeded by Config.Seed and a
// stream of the generator's own, so that feeds do not share numbers with the
// fault decisions.
func feedRand(c Config, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(c.Seed, stream))
}

// sentence builds an NMEA sentence from start ('$' or '!') and the body's
// fields, with its checksum and CR LF.
func sentence(start byte, fields ...string) []byte {
	n := 0
	for _, f := range fields {
		n += len(f) + 1
	}
	body := make([]byte, 0, n)
	for i, f := range fields {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, f...)
	}
	return AppendSentence(make([]byte, 0, len(body)+6), start, body)
}
