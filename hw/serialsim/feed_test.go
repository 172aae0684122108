package serialsim

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// feedConfig returns cfg with New's defaults applied.
func feedConfig(tb testing.TB, cfg Config) Config {
	tb.Helper()
	if cfg.Ports == 0 {
		cfg.Ports = 1
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s.Config()
}

// feedStart is the start time the tests give the feeds: the seq feed's
// time field comes from it, the others ignore it.
var feedStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// genFrames returns the first n frames of cfg's feed, as the source would
// place them on the line from feedStart, and each one's due time.
func genFrames(tb testing.TB, cfg Config, n int) (frames [][]byte, dues []time.Duration) {
	tb.Helper()
	c := feedConfig(tb, cfg)
	kind, arg, err := lookupFeed(c.Feed)
	if err != nil {
		tb.Fatal(err)
	}
	line := newPlanner(kind.new(c, arg), c, feedStart)
	for i := range n {
		data, due, ok := line.next(c.StartSeq + uint64(i))
		if !ok {
			tb.Fatalf("feed %s ended after %d frames", c.Feed, i)
		}
		frames = append(frames, data)
		dues = append(dues, due.Sub(feedStart))
	}
	return frames, dues
}

// genCycles returns cycles 0 to n-1 of a burst feed, each cycle's
// sentences copied.
func genCycles(tb testing.TB, cfg Config, n int) [][][]byte {
	tb.Helper()
	c := feedConfig(tb, cfg)
	kind, arg, err := lookupFeed(c.Feed)
	if err != nil {
		tb.Fatal(err)
	}
	b, ok := kind.new(c, arg).(*burstFeed)
	if !ok {
		tb.Fatalf("feed %s is not a burst feed", c.Feed)
	}
	out := make([][][]byte, n)
	var buf [][]byte
	for k := range out {
		buf = b.c.cycle(uint64(k), buf[:0])
		out[k] = slices.Clone(buf)
	}
	return out
}

// fieldsOf checks that s is a valid NMEA sentence of at most 82 bytes with
// its CR LF and returns its fields.
func fieldsOf(tb testing.TB, s []byte) []string {
	tb.Helper()
	if !bytes.HasSuffix(s, []byte("\r\n")) || len(s) > MaxNMEALength {
		tb.Fatalf("%q: want at most %d bytes ending in CR LF", s, MaxNMEALength)
	}
	body, err := SentenceBody(s)
	if err != nil {
		tb.Fatalf("%q: %v", s, err)
	}
	return strings.Split(string(body), ",")
}

var everyFeed = []string{FeedSeq, FeedNMEAGPS, FeedNoFix, FeedAIS, "alphabet:3"}

func TestFeedsSendValidSentences(t *testing.T) {
	for _, name := range everyFeed {
		frames, _ := genFrames(t, Config{Feed: name, Seed: 3}, 2000)
		for _, f := range frames {
			if name == FeedSeq {
				if _, err := ParseFrame(f); err != nil {
					t.Fatalf("seq: %q: %v", f, err)
				}
				continue
			}
			fieldsOf(t, f)
		}
	}
}

func TestNoFixRepeatsItsCycleByteForByte(t *testing.T) {
	want := "$GPGGA,,,,,,0,00,99.99,,,,,,*48\r\n$GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99*30\r\n$GPGSV,1,1,00*79\r\n" +
		"$GPRMC,,V,,,,,,,,,,N*53\r\n$GPVTG,,,,,,,,,N*30\r\n$GPGLL,,,,,,V,N*64\r\n"
	for k, c := range genCycles(t, Config{Feed: FeedNoFix}, 100) {
		if got := string(bytes.Join(c, nil)); got != want {
			t.Fatalf("cycle %d:\n%s\nwant\n%s", k, got, want)
		}
	}
	for _, s := range noFixSentences {
		fieldsOf(t, s) // the checksums are right
	}
}

func TestNMEAGPSRepetitionStructure(t *testing.T) {
	for _, rate := range []float64{1, 10} {
		t.Run(fmt.Sprintf("rate=%v", rate), func(t *testing.T) {
			const n = 1200
			cycles := genCycles(t, Config{Feed: FeedNMEAGPS, Rate: rate, Seed: 42}, n)
			seen := map[string]int{} // GGA, RMC and GLL sentences
			var gsaChanges, gsvChanges, vtgChanges []int
			var prevTime time.Time
			for k, c := range cycles {
				var types []string
				for _, s := range c {
					types = append(types, fieldsOf(t, s)[0])
				}
				gsv := len(c) - 5
				if gsv < 2 || gsv > 3 || !slices.Equal(types, slices.Concat([]string{"GPGGA", "GPGSA"},
					slices.Repeat([]string{"GPGSV"}, gsv), []string{"GPRMC", "GPVTG", "GPGLL"})) {
					t.Fatalf("cycle %d: sentences %v", k, types)
				}
				for _, s := range [][]byte{c[0], c[2+gsv], c[4+gsv]} {
					if prev, ok := seen[string(s)]; ok {
						t.Fatalf("cycle %d repeats %q of cycle %d", k, s, prev)
					}
					seen[string(s)] = k
				}
				gga, gsa := fieldsOf(t, c[0]), fieldsOf(t, c[1])
				used := 0
				for _, f := range gsa[3:15] {
					if f != "" {
						used++
					}
				}
				if gga[7] != fmt.Sprintf("%02d", used) || gga[8] != gsa[16] {
					t.Fatalf("cycle %d: GGA says %s satellites, HDOP %s; GSA uses %d, HDOP %s", k, gga[7], gga[8], used, gsa[16])
				}
				for m, s := range c[2 : 2+gsv] {
					if f := fieldsOf(t, s); f[1] != strconv.Itoa(gsv) || f[2] != strconv.Itoa(m+1) {
						t.Fatalf("cycle %d: GSV %d of %d reads %q", k, m+1, gsv, s)
					}
				}
				rmc := fieldsOf(t, c[2+gsv])
				tm, err := time.Parse("020106150405.00", rmc[9]+rmc[1])
				if err != nil {
					t.Fatalf("cycle %d: RMC date and time %q %q: %v", k, rmc[9], rmc[1], err)
				}
				if step := time.Duration(float64(time.Second) / rate); k > 0 && tm.Sub(prevTime) != step {
					t.Fatalf("cycle %d: time %v, %v after the previous cycle's, want %v", k, tm, tm.Sub(prevTime), step)
				}
				prevTime = tm
				if k == 0 {
					continue
				}
				prev := cycles[k-1]
				if !bytes.Equal(c[1], prev[1]) {
					gsaChanges = append(gsaChanges, k)
				}
				if !bytes.Equal(bytes.Join(c[2:2+gsv], nil), bytes.Join(prev[2:len(prev)-3], nil)) {
					gsvChanges = append(gsvChanges, k)
				}
				if !bytes.Equal(c[3+gsv], prev[len(prev)-2]) {
					vtgChanges = append(vtgChanges, k)
				}
			}
			// The satellites change every 30 to 120 s of feed time, GSA
			// and GSV together; speed and course every 10 to 60 s.
			seconds := float64(n) / rate
			if !slices.Equal(gsaChanges, gsvChanges) {
				t.Errorf("GSA changed in cycles %v, GSV in %v", gsaChanges, gsvChanges)
			}
			if lo, hi := int(seconds/120)-1, int(seconds/30)+1; len(gsvChanges) < lo || len(gsvChanges) > hi {
				t.Errorf("the GSV group changed %d times in %v s: %v", len(gsvChanges), seconds, gsvChanges)
			}
			for i := 1; i < len(gsvChanges); i++ {
				if gap := float64(gsvChanges[i]-gsvChanges[i-1]) / rate; gap < 30 || gap > 120 {
					t.Errorf("the GSV group changed %v s after its previous change", gap)
				}
			}
			if len(vtgChanges) < int(seconds/60)-1 || len(vtgChanges) > int(seconds/10)+1 {
				t.Errorf("VTG changed %d times in %v s", len(vtgChanges), seconds)
			}
			if same := n - 1 - len(gsaChanges); same < (n-1)*9/10 {
				t.Errorf("GSA is the same as in the cycle before in only %d of %d cycles", same, n-1)
			}
			t.Logf("GSA changed %d times, the GSV group %d, VTG %d in %d cycles; GGA, RMC and GLL never repeat", len(gsaChanges), len(gsvChanges), len(vtgChanges), n)
		})
	}
}

func TestAISStationsAndPayloads(t *testing.T) {
	const n = 600
	cycles := genCycles(t, Config{Feed: FeedAIS, Seed: 7}, n)
	type report struct {
		k   int
		typ uint64
		s   string
	}
	byMMSI := map[uint64][]report{}
	count := map[string]int{}
	nextID := -1
	for k, c := range cycles {
		for i := 0; i < len(c); i++ {
			f := fieldsOf(t, c[i])
			count[string(c[i])]++
			if len(f) != 7 || f[0] != "AIVDM" || (f[4] != "A" && f[4] != "B") {
				t.Fatalf("cycle %d: %q", k, c[i])
			}
			payload, fill := f[5], f[6]
			if f[1] == "2" {
				if i+1 >= len(c) {
					t.Fatalf("cycle %d: part 1 of 2 ends the cycle: %q", k, c[i])
				}
				g := fieldsOf(t, c[i+1])
				id, _ := strconv.Atoi(f[3])
				if f[2] != "1" || g[1] != "2" || g[2] != "2" || g[3] != f[3] || g[4] != f[4] || f[6] != "0" {
					t.Fatalf("cycle %d: two-part message %q %q", k, c[i], c[i+1])
				}
				if nextID >= 0 && id != nextID {
					t.Fatalf("cycle %d: message id %d, want %d", k, id, nextID)
				}
				nextID = (id + 1) % 10
				payload, fill = payload+g[5], g[6]
				i++
			} else if f[1] != "1" || f[2] != "1" || f[3] != "" {
				t.Fatalf("cycle %d: %q", k, c[i])
			}
			nfill, _ := strconv.Atoi(fill)
			bits, err := aisUnarmour(payload, nfill)
			if err != nil {
				t.Fatalf("cycle %d: %q: %v", k, c[i], err)
			}
			typ, mmsi := bitsValue(bits[:6]), bitsValue(bits[8:38])
			want := map[uint64]int{1: 168, 3: 168, 4: 168, 5: 424}[typ]
			if want == 0 || len(bits) != want {
				t.Fatalf("cycle %d: type %d message of %d bits: %q", k, typ, len(bits), c[i])
			}
			if typ != 5 {
				byMMSI[mmsi] = append(byMMSI[mmsi], report{k, typ, string(c[i])})
			}
		}
	}
	if len(byMMSI) < 4 || len(byMMSI) > 6 {
		t.Fatalf("%d stations, want a base station and 3 to 5 vessels", len(byMMSI))
	}
	kinds := map[uint64]int{}
	for mmsi, rs := range byMMSI {
		kinds[rs[0].typ]++
		for i := 2; i < len(rs); i++ {
			if rs[i].k-rs[i-1].k != rs[1].k-rs[0].k {
				t.Fatalf("station %d reports at cycles %d, %d, %d: not at a steady interval", mmsi, rs[0].k, rs[i-1].k, rs[i].k)
			}
		}
		distinct := map[string]bool{}
		for _, r := range rs {
			distinct[r.s] = true
		}
		switch rs[0].typ {
		case 4: // the base station: one sentence, again and again
			if len(distinct) != 1 || len(rs) < n/10 {
				t.Errorf("base station %d: %d reports, %d distinct", mmsi, len(rs), len(distinct))
			}
		case 3: // moored: two sentences, one per channel
			if len(distinct) != 2 || len(rs) < 4 {
				t.Errorf("moored vessel %d: %d reports, %d distinct", mmsi, len(rs), len(distinct))
			}
		case 1: // underway: never the same twice
			if len(distinct) != len(rs) {
				t.Errorf("underway vessel %d: %d reports, %d distinct", mmsi, len(rs), len(distinct))
			}
		}
	}
	if kinds[4] != 1 || kinds[3] < 1 || kinds[1] < 1 {
		t.Errorf("stations by message type: %v", kinds)
	}
	repeated := 0
	for _, c := range count {
		if c > 1 {
			repeated++
		}
	}
	if repeated < 3 {
		t.Errorf("only %d sentences recur identically", repeated)
	}
}

func bitsValue(bits []byte) uint64 {
	var v uint64
	for _, b := range bits {
		v = v<<1 | uint64(b)
	}
	return v
}

// aisUnarmour decodes armoured payload characters into bits, one per byte,
// dropping the fill bits at the end: the inverse of aisBits.armour.
func aisUnarmour(payload string, fill int) ([]byte, error) {
	bits := make([]byte, 0, 6*len(payload))
	for i := 0; i < len(payload); i++ {
		c := payload[i]
		var v byte
		switch {
		case c >= 48 && c < 88:
			v = c - 48
		case c >= 96 && c < 120:
			v = c - 56
		default:
			return nil, fmt.Errorf("payload character %q at %d is not armoured 6-bit", c, i)
		}
		for k := 5; k >= 0; k-- {
			bits = append(bits, v>>k&1)
		}
	}
	if fill < 0 || fill > 5 || fill > len(bits) {
		return nil, fmt.Errorf("fill bits %d", fill)
	}
	return bits[:len(bits)-fill], nil
}

func TestAlphabetRepeatsInRuns(t *testing.T) {
	for _, k := range []int{1, 3, 20} {
		cycles := genCycles(t, Config{Feed: "alphabet:" + strconv.Itoa(k), Seed: 5}, 200)
		distinct := map[string]bool{}
		longest, run := 0, 0
		var prev []byte
		for _, c := range cycles {
			if len(c) != alphabetBurst {
				t.Fatalf("alphabet:%d: a cycle of %d sentences, want %d", k, len(c), alphabetBurst)
			}
			for _, s := range c {
				fieldsOf(t, s)
				distinct[string(s)] = true
				if bytes.Equal(s, prev) {
					run++
				} else {
					run = 1
				}
				longest, prev = max(longest, run), s
			}
		}
		if len(distinct) != k || longest < 4 {
			t.Errorf("alphabet:%d: %d distinct sentences, longest run of identical frames %d", k, len(distinct), longest)
		}
	}
}

func TestFeedsAreDeterminedBySeed(t *testing.T) {
	for _, name := range everyFeed {
		a, da := genFrames(t, Config{Feed: name, Seed: 11}, 500)
		b, db := genFrames(t, Config{Feed: name, Seed: 11}, 500)
		c, _ := genFrames(t, Config{Feed: name, Seed: 12}, 500)
		if !slices.EqualFunc(a, b, bytes.Equal) || !slices.Equal(da, db) {
			t.Errorf("%s: two runs with seed 11 differ", name)
		}
		if name != FeedNoFix && slices.EqualFunc(a, c, bytes.Equal) {
			t.Errorf("%s: seeds 11 and 12 give the same frames", name)
		}
	}
}

// TestBurstsStartOnTheCycle: a burst feed's cycle starts on its period, its
// sentences go back to back at the line rate, and a line too slow for the
// cycle sends cycles back to back.
func TestBurstsStartOnTheCycle(t *testing.T) {
	for _, c := range []struct {
		feed      string
		baud      int
		rate      float64
		saturated bool
	}{
		{FeedNMEAGPS, 115200, 1, false},
		{FeedNMEAGPS, 38400, 4, false},
		{FeedNMEAGPS, 4800, 2, true}, // about 450 bytes a cycle, 480 a second
		{FeedNoFix, 4800, 2, false},
		{"alphabet:3", 115200, 10, false},
		{"alphabet:3", 9600, 10, true},
	} {
		cfg := feedConfig(t, Config{Feed: c.feed, Baud: c.baud, Rate: c.rate})
		charNS := 1e9 / cfg.BytesPerSecond()
		frames, dues := genFrames(t, cfg, 300)
		cycles := genCycles(t, cfg, 100)
		i, lastEnd := 0, time.Duration(0)
		for k, cy := range cycles {
			for j, s := range cy {
				if i == len(frames) {
					break
				}
				if !bytes.Equal(frames[i], s) {
					t.Fatalf("%s: frame %d is not sentence %d of cycle %d", c.feed, i, j, k)
				}
				start := dues[i] - time.Duration(float64(len(s))*charNS)
				want := lastEnd // back to back
				if j == 0 && !c.saturated {
					want = time.Duration(float64(k) * 1e9 / c.rate)
				}
				if d := start - want; d < -time.Microsecond || d > time.Microsecond {
					t.Fatalf("%s at %d baud, %v cycles/s: sentence %d of cycle %d starts at %v, want %v", c.feed, c.baud, c.rate, j, k, start, want)
				}
				lastEnd = dues[i]
				i++
			}
		}
	}
}

// TestSeqWrapCountsRound: the seq-wrap feed's numbers count 0 to N-1 and
// start again, and its sentences stay distinct (their time field differs).
func TestSeqWrapCountsRound(t *testing.T) {
	frames, _ := genFrames(t, Config{Feed: FeedSeqWrap + ":5", Rate: 100}, 12)
	var got []uint64
	for _, b := range frames {
		f, err := ParseFrame(b)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		got = append(got, f.Seq)
		if len(b) != len(frames[0]) {
			t.Fatalf("%q is %d bytes, want %d like the first", b, len(b), len(frames[0]))
		}
	}
	if first := frames[0][1:]; bytes.Equal(first, frames[5][1:]) {
		t.Fatalf("frames 0 and 5 are the same sentence %q", first)
	}
	var want []uint64
	start := feedConfig(t, Config{Feed: FeedSeqWrap + ":5", Rate: 100}).StartSeq
	for i := range uint64(12) {
		want = append(want, (start+i)%5)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("numbers %v, want %v", got, want)
	}
	if _, _, err := lookupFeed(FeedSeqWrap); err == nil {
		t.Fatal("seq-wrap without a count accepted")
	}
}
