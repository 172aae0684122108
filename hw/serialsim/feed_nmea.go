package serialsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// gpsCycler is the nmea-gps feed: a GPS receiver with a fix, talker GP,
// moving slowly over the sea. Each cycle it sends GGA, GSA, GSV (two or
// three), RMC, VTG and GLL, as receivers send their burst at the top of the
// second.
//
// GGA, RMC and GLL carry the time (hhmmss.ss, so at most 100 cycles a
// second) and the position, and never repeat. The satellites in view and in
// use (GSA, GSV) change every 30 to 120 s of feed time, so those sentences
// repeat byte for byte in between; speed and course (VTG) change every 10 to
// 60 s. The receiver's clock starts at an instant the seed chooses in 2025,
// not at the wall clock, so a seed gives the same bytes on every run.
type gpsCycler struct {
	rng   *rand.Rand
	rate  float64
	epoch time.Time // the UTC time of cycle 0

	lat, lon   float64 // degrees
	alt, alt0  float64 // antenna altitude above the geoid, metres
	geoid      float64 // geoid separation, metres
	sog, cog   float64 // knots, degrees true
	nextCourse uint64  // cycle of the next change of speed and course

	sky              []gpsSat // in view, by PRN
	used             []int    // PRNs in the fix, ascending
	pdop, hdop, vdop float64
	nextSky          uint64 // cycle of the next change of the satellites

	gsa []byte   // cached while the satellites do not change
	gsv [][]byte // likewise
	vtg []byte   // cached while speed and course do not change
}

type gpsSat struct{ prn, elev, az, snr int }

func newGPSCycler(c Config) *gpsCycler {
	rng := feedRand(c, 0x6e6d6561_67707300)
	g := &gpsCycler{
		rng:   rng,
		rate:  c.Rate,
		epoch: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(365*86400)) * time.Second),
		lat:   rng.Float64()*120 - 60,
		lon:   rng.Float64()*360 - 180,
		alt0:  5 + rng.Float64()*30,
		geoid: math.Round(rng.Float64()*1000-500) / 10,
	}
	g.alt = g.alt0
	g.cog = rng.Float64() * 360
	n := 6 + rng.IntN(7) // 6 to 12 in view: two or three GSV sentences
	for _, prn := range rng.Perm(32)[:n] {
		g.sky = append(g.sky, gpsSat{prn: prn + 1, elev: 5 + rng.IntN(81), az: rng.IntN(360), snr: 18 + rng.IntN(31)})
	}
	g.newCourse()
	g.newFix()
	g.nextCourse = g.cycles(10, 60)
	g.nextSky = g.cycles(30, 120)
	return g
}

// cycles returns a seeded number of cycles lasting from lo to hi seconds of
// feed time, at least 1.
func (g *gpsCycler) cycles(lo, hi float64) uint64 {
	return uint64(max(1, math.Round((lo+g.rng.Float64()*(hi-lo))*g.rate)))
}

func (g *gpsCycler) cycle(k uint64, dst [][]byte) [][]byte {
	if k > 0 {
		g.move()
	}
	if k >= g.nextCourse {
		g.newCourse()
		g.nextCourse = k + g.cycles(10, 60)
	}
	if k >= g.nextSky {
		g.changeSky()
		g.newFix()
		g.nextSky = k + g.cycles(30, 120)
	}
	if g.gsa == nil {
		g.gsa, g.gsv = g.buildGSA(), g.buildGSV()
	}
	if g.vtg == nil {
		g.vtg = sentence('$', "GPVTG", fmtF(g.cog, 1), "T", "", "M", fmtF(g.sog, 1), "N", fmtF(g.sog*1.852, 1), "K", "A")
	}
	// Round, not truncate: at most 100 cycles a second, every cycle gets
	// its own hundredth of a second.
	t := g.epoch.Add(time.Duration(math.Round(float64(k)*100/g.rate)) * 10 * time.Millisecond)
	hms := fmt.Sprintf("%02d%02d%02d.%02d", t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e7)
	lat, ns := nmeaAngle(g.lat, 2, "N", "S")
	lon, ew := nmeaAngle(g.lon, 3, "E", "W")
	dst = append(dst, sentence('$', "GPGGA", hms, lat, ns, lon, ew, "1", fmt.Sprintf("%02d", len(g.used)),
		fmtF(g.hdop, 2), fmtF(g.alt, 1), "M", fmtF(g.geoid, 1), "M", "", ""))
	dst = append(dst, g.gsa)
	dst = append(dst, g.gsv...)
	date := fmt.Sprintf("%02d%02d%02d", t.Day(), int(t.Month()), t.Year()%100)
	dst = append(dst, sentence('$', "GPRMC", hms, "A", lat, ns, lon, ew, fmtF(g.sog, 1), fmtF(g.cog, 1), date, "", "", "A"))
	dst = append(dst, g.vtg)
	dst = append(dst, sentence('$', "GPGLL", lat, ns, lon, ew, hms, "A", "A"))
	return dst
}

// move advances the position by one cycle at the current speed and course.
func (g *gpsCycler) move() {
	const metresPerDegree = 1852 * 60
	d := g.sog * 1852 / 3600 / g.rate
	rad := g.cog * math.Pi / 180
	g.lat += d * math.Cos(rad) / metresPerDegree
	g.lon += d * math.Sin(rad) / (metresPerDegree * math.Cos(g.lat*math.Pi/180))
	if g.lat > 80 || g.lat < -80 {
		g.lat = max(-80, min(80, g.lat))
		g.cog = math.Mod(540-g.cog, 360) // turn back from the pole
		g.vtg = nil
	}
	g.lon = math.Mod(g.lon+540, 360) - 180
	g.alt = max(g.alt0-5, min(g.alt0+5, g.alt+(g.rng.Float64()-0.5)*0.2))
}

func (g *gpsCycler) newCourse() {
	g.sog = math.Round((2+g.rng.Float64()*13)*10) / 10
	g.cog += g.rng.Float64()*60 - 30
	g.cog = math.Round(math.Mod(g.cog+360, 360)*10) / 10
	if g.cog >= 360 {
		g.cog = 0
	}
	g.vtg = nil
}

// changeSky moves the satellites a little, redraws their signal strengths,
// and sometimes lets one set and another rise.
func (g *gpsCycler) changeSky() {
	for i := range g.sky {
		s := &g.sky[i]
		s.elev = max(1, min(89, s.elev+g.rng.IntN(7)-3))
		s.az = (s.az + g.rng.IntN(11) - 5 + 360) % 360
		s.snr = 18 + g.rng.IntN(31)
	}
	if g.rng.IntN(3) == 0 && len(g.sky) > 6 {
		i := g.rng.IntN(len(g.sky))
		g.sky = slices.Delete(g.sky, i, i+1) // one sets
	}
	if g.rng.IntN(3) == 0 && len(g.sky) < 12 {
		for { // one rises
			prn := 1 + g.rng.IntN(32)
			if !slices.ContainsFunc(g.sky, func(s gpsSat) bool { return s.prn == prn }) {
				g.sky = append(g.sky, gpsSat{prn: prn, elev: 3 + g.rng.IntN(8), az: g.rng.IntN(360), snr: 18 + g.rng.IntN(10)})
				break
			}
		}
	}
}

// newFix picks the satellites in use (the highest, at least four, at most
// twelve) and the dilutions of precision, and drops the cached sentences.
func (g *gpsCycler) newFix() {
	slices.SortFunc(g.sky, func(a, b gpsSat) int { return a.prn - b.prn })
	byElev := slices.Clone(g.sky)
	slices.SortStableFunc(byElev, func(a, b gpsSat) int { return b.elev - a.elev })
	g.used = g.used[:0]
	for i, s := range byElev {
		if i < 4 || s.elev >= 15 {
			g.used = append(g.used, s.prn)
		}
	}
	slices.Sort(g.used)
	g.hdop = 0.5 + g.rng.Float64() + 3/float64(len(g.used))
	g.vdop = g.hdop * (1.2 + 0.5*g.rng.Float64())
	g.pdop = math.Hypot(g.hdop, g.vdop)
	g.gsa, g.gsv = nil, nil
}

func (g *gpsCycler) buildGSA() []byte {
	f := []string{"GPGSA", "A", "3"}
	for i := range 12 {
		if i < len(g.used) {
			f = append(f, fmt.Sprintf("%02d", g.used[i]))
		} else {
			f = append(f, "")
		}
	}
	f = append(f, fmtF(g.pdop, 2), fmtF(g.hdop, 2), fmtF(g.vdop, 2))
	return sentence('$', f...)
}

func (g *gpsCycler) buildGSV() [][]byte {
	total := (len(g.sky) + 3) / 4
	out := make([][]byte, 0, total)
	for m := range total {
		f := []string{"GPGSV", strconv.Itoa(total), strconv.Itoa(m + 1), fmt.Sprintf("%02d", len(g.sky))}
		for _, s := range g.sky[m*4 : min(len(g.sky), m*4+4)] {
			f = append(f, fmt.Sprintf("%02d", s.prn), fmt.Sprintf("%02d", s.elev), fmt.Sprintf("%03d", s.az), fmt.Sprintf("%02d", s.snr))
		}
		out = append(out, sentence('$', f...))
	}
	return out
}

// nmeaAngle formats |deg| as NMEA's (d)ddmm.mmmmm with degDigits digits of
// degrees, and the hemisphere letter.
func nmeaAngle(deg float64, degDigits int, pos, neg string) (string, string) {
	h := pos
	if deg < 0 {
		h, deg = neg, -deg
	}
	const unit = 100000 // 1e-5 minute
	total := int64(math.Round(deg * 60 * unit))
	d, m := total/(60*unit), total%(60*unit)
	return fmt.Sprintf("%0*d%02d.%05d", degDigits, d, m/unit, m%unit), h
}

func fmtF(v float64, decimals int) string { return strconv.FormatFloat(v, 'f', decimals, 64) }

// noFixCycler is the no-fix feed: a receiver with no fix and no time sends
// the same six sentences every cycle, forever.
type noFixCycler struct{}

var noFixSentences = [][]byte{
	[]byte("$GPGGA,,,,,,0,00,99.99,,,,,,*48\r\n"),
	[]byte("$GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99*30\r\n"),
	[]byte("$GPGSV,1,1,00*79\r\n"),
	[]byte("$GPRMC,,V,,,,,,,,,,N*53\r\n"),
	[]byte("$GPVTG,,,,,,,,,N*30\r\n"),
	[]byte("$GPGLL,,,,,,V,N*64\r\n"),
}

func (noFixCycler) cycle(_ uint64, dst [][]byte) [][]byte { return append(dst, noFixSentences...) }
