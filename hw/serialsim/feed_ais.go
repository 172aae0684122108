package serialsim

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// aisCycler is the ais feed: what an AIS receiver on a quay hears, as
// !AIVDM sentences with armoured 6-bit payloads (ITU-R M.1371 layouts,
// synthetic content):
//
//   - a base station (type 4) every 10 s on channel A, without UTC (its
//     time fields say "not available"), so its sentence is the same byte
//     for byte every time;
//   - 3 to 5 vessels, each with its own interval: underway ones (type 1,
//     every 2 to 10 s) moving, with the UTC second and their radio state,
//     never repeating; moored ones (type 3, every 10 to 30 s) whose reports
//     alternate between channels A and B and otherwise never change, so
//     every other one recurs identically;
//   - every vessel's static and voyage data (type 5, every 30 to 60 s), in
//     two sentences sharing a sequential message id (0 to 9, one counter
//     for the receiver), also recurring identically once the id and the
//     channel come round again.
//
// Intervals are in feed time (a cycle lasts 1/Rate s); a cycle sends what
// falls due in it, and may be empty.
type aisCycler struct {
	rng      *rand.Rand
	rate     float64
	epochSec uint64 // the UTC second of cycle 0, for the underway reports
	stations []*aisStation
	seqID    int // the next multi-sentence message id, 0 to 9
}

type aisKind int

const (
	aisBase aisKind = iota
	aisUnderway
	aisMoored
)

type aisStation struct {
	kind         aisKind
	mmsi         uint64
	every, phase uint64 // position reports: cycles k with k%every == phase
	staticEvery  uint64 // static reports (vessels); 0: none
	staticPhase  uint64
	reports      uint64 // position reports sent, for the channel and the radio state

	lat, lon float64 // degrees
	sog, cog float64 // knots, degrees
	heading  int
	status   int    // navigational status
	radio    uint64 // the radio state moored vessels and the base station keep

	static string    // the armoured type 5 payload
	fill   int       // its fill bits
	cache  [2][]byte // the unchanging report of a moored vessel or the base station, per channel
}

var aisNames = []string{"NORTHERN STAR", "ALBATROS", "MARE NOSTRUM", "POLAR EXPRESS", "SEA BREEZE",
	"KESTREL", "ORION", "HARVEST MOON", "BALTIC TRADER", "CAPE WRATH"}
var aisPorts = []string{"ROTTERDAM", "HAMBURG", "ANTWERP", "GOTHENBURG", "FELIXSTOWE", "BREST", "BERGEN"}

func newAISCycler(c Config) *aisCycler {
	rng := feedRand(c, 0x61697376_646d0000)
	a := &aisCycler{rng: rng, rate: c.Rate, epochSec: uint64(rng.IntN(86400))}
	lat0, lon0 := 35+rng.Float64()*25, -10+rng.Float64()*35
	mid := 200 + rng.IntN(580) // a maritime identification digit group
	a.stations = append(a.stations, &aisStation{
		kind: aisBase, mmsi: uint64(mid*10000 + rng.IntN(10000)), // 00MIDXXXX
		every: a.cycles(10), phase: 0,
		lat: lat0, lon: lon0, radio: uint64(rng.IntN(1 << 19)),
	})
	names := rng.Perm(len(aisNames))
	n := 3 + rng.IntN(3)
	for i := range n {
		kind := aisUnderway
		if i == 1 || (i > 1 && rng.IntN(2) == 0) {
			kind = aisMoored
		}
		s := &aisStation{
			kind: kind, mmsi: uint64(mid*1000000 + rng.IntN(1000000)),
			lat: lat0 + rng.Float64()*0.4 - 0.2, lon: lon0 + rng.Float64()*0.4 - 0.2,
			heading: rng.IntN(360),
		}
		if kind == aisUnderway {
			s.every = a.cycles(float64(2 + rng.IntN(9)))
			s.status, s.sog, s.cog = 0, 4+rng.Float64()*16, rng.Float64()*360
			s.heading = int(s.cog)
		} else {
			s.every = a.cycles(float64(10 + rng.IntN(21)))
			s.status = []int{1, 5}[rng.IntN(2)] // at anchor or moored
			s.radio = uint64(rng.IntN(1 << 19))
		}
		s.phase = uint64(rng.IntN(int(s.every)))
		s.staticEvery = a.cycles(float64(30 + rng.IntN(31)))
		s.staticPhase = uint64(rng.IntN(int(s.staticEvery)))
		s.static, s.fill = a.staticPayload(s, aisNames[names[i%len(names)]])
		a.stations = append(a.stations, s)
	}
	return a
}

func (a *aisCycler) cycles(seconds float64) uint64 {
	return uint64(max(1, math.Round(seconds*a.rate)))
}

func (a *aisCycler) cycle(k uint64, dst [][]byte) [][]byte {
	for _, s := range a.stations {
		if k%s.every == s.phase {
			dst = append(dst, a.report(k, s))
		}
		if s.staticEvery != 0 && k%s.staticEvery == s.staticPhase {
			dst = a.appendStatic(dst, s)
		}
	}
	return dst
}

// report returns station s's position report in cycle k.
func (a *aisCycler) report(k uint64, s *aisStation) []byte {
	ch := int(s.reports % 2)
	if s.kind == aisBase {
		ch = 0
	}
	s.reports++
	if s.cache[ch] != nil {
		return s.cache[ch]
	}
	var b aisBits
	switch s.kind {
	case aisBase:
		b.u(4, 6)
		b.u(0, 2)
		b.u(s.mmsi, 30)
		b.u(0, 14) // year: not available
		b.u(0, 4)  // month
		b.u(0, 5)  // day
		b.u(24, 5) // hour
		b.u(60, 6) // minute
		b.u(60, 6) // second
		b.u(1, 1)  // position accuracy: high
		b.lonLat(s.lon, s.lat)
		b.u(7, 4) // EPFD: surveyed
		b.u(0, 10)
		b.u(0, 1)
		b.u(s.radio, 19)
	case aisUnderway:
		dt := float64(s.every) / a.rate
		if s.reports > 1 {
			s.move(dt, a.stations[0])
		}
		second := (a.epochSec + uint64(float64(k)/a.rate)) % 60
		slotTimeout := uint64(7 - (s.reports-1)%8)
		// SOTDMA state: UTC direct, the slot timeout counting down, a
		// slot number as the sub-message.
		b.positionReport(1, s, second, slotTimeout<<14|uint64(a.rng.IntN(2250)))
	case aisMoored:
		b.positionReport(3, s, 60, s.radio)
	}
	payload, fill := b.armour()
	out := sentence('!', "AIVDM", "1", "1", "", aisChannel(ch), payload, strconv.Itoa(fill))
	if s.kind != aisUnderway {
		s.cache[ch] = out
	}
	return out
}

// appendStatic appends station s's type 5 message in two sentences.
func (a *aisCycler) appendStatic(dst [][]byte, s *aisStation) [][]byte {
	id := strconv.Itoa(a.seqID)
	a.seqID = (a.seqID + 1) % 10
	ch := aisChannel(int(s.reports % 2))
	const split = 60 // "!AIVDM,2,1,n,c," + 60 + ",0*hh\r\n" is 82 bytes
	return append(dst,
		sentence('!', "AIVDM", "2", "1", id, ch, s.static[:split], "0"),
		sentence('!', "AIVDM", "2", "2", id, ch, s.static[split:], strconv.Itoa(s.fill)))
}

// staticPayload builds a vessel's type 5 (static and voyage related data)
// payload: 424 bits, 71 characters with 2 fill bits.
func (a *aisCycler) staticPayload(s *aisStation, name string) (string, int) {
	rng := a.rng
	var b aisBits
	b.u(5, 6)
	b.u(0, 2)
	b.u(s.mmsi, 30)
	b.u(0, 2)                                 // AIS version
	b.u(uint64(9000000+rng.IntN(999999)), 30) // IMO number
	call := make([]byte, 0, 7)
	for range 4 + rng.IntN(3) {
		call = append(call, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rng.IntN(36)])
	}
	b.text(string(call), 7)
	b.text(name, 20)
	b.u(uint64([]int{30, 52, 60, 70, 80}[rng.IntN(5)]), 8) // ship type
	b.u(uint64(20+rng.IntN(150)), 9)                       // to bow
	b.u(uint64(10+rng.IntN(40)), 9)                        // to stern
	b.u(uint64(3+rng.IntN(15)), 6)                         // to port
	b.u(uint64(3+rng.IntN(15)), 6)                         // to starboard
	b.u(1, 4)                                              // EPFD: GPS
	b.u(uint64(1+rng.IntN(12)), 4)                         // ETA month
	b.u(uint64(1+rng.IntN(28)), 5)                         // day
	b.u(uint64(rng.IntN(24)), 5)                           // hour
	b.u(uint64(rng.IntN(60)), 6)                           // minute
	b.u(uint64(30+rng.IntN(120)), 8)                       // draught, 1/10 m
	b.text(aisPorts[rng.IntN(len(aisPorts))], 20)
	b.u(0, 1) // DTE ready
	b.u(0, 1)
	return b.armour()
}

// move advances an underway vessel by dt seconds; one that strays more
// than half a degree from the base station turns back, so that vessels stay
// within the receiver's range however long the feed runs.
func (s *aisStation) move(dt float64, base *aisStation) {
	const metresPerDegree = 1852 * 60
	d := s.sog * 1852 / 3600 * dt
	rad := s.cog * math.Pi / 180
	s.lat += d * math.Cos(rad) / metresPerDegree
	s.lon += d * math.Sin(rad) / (metresPerDegree * math.Cos(s.lat*math.Pi/180))
	if math.Abs(s.lat-base.lat) > 0.5 || math.Abs(s.lon-base.lon) > 0.5 {
		s.cog = math.Atan2(base.lon-s.lon, base.lat-s.lat) * 180 / math.Pi
		s.cog = math.Mod(s.cog+360, 360)
		s.heading = int(s.cog) % 360
	}
}

func aisChannel(i int) string { return [2]string{"A", "B"}[i] }

// aisBits accumulates a message's bits, most significant first.
type aisBits struct{ b []byte }

func (a *aisBits) u(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		a.b = append(a.b, byte(v>>i)&1)
	}
}

// i writes v in n bits two's complement.
func (a *aisBits) i(v int64, n int) { a.u(uint64(v)&(1<<n-1), n) }

// text writes s in n 6-bit characters, padded with '@'.
func (a *aisBits) text(s string, n int) {
	for k := range n {
		c := byte('@')
		if k < len(s) {
			c = s[k]
		}
		if c >= 64 {
			c -= 64
		}
		a.u(uint64(c&63), 6)
	}
}

// lonLat writes a position in 1/10000 minute: 28 bits of longitude, 27 of
// latitude.
func (a *aisBits) lonLat(lon, lat float64) {
	a.i(int64(math.Round(lon*600000)), 28)
	a.i(int64(math.Round(lat*600000)), 27)
}

// positionReport writes a type 1, 2 or 3 report: 168 bits.
func (a *aisBits) positionReport(typ uint64, s *aisStation, second, radio uint64) {
	a.u(typ, 6)
	a.u(0, 2)
	a.u(s.mmsi, 30)
	a.u(uint64(s.status), 4)
	a.i(0, 8) // rate of turn: not turning
	a.u(uint64(math.Round(s.sog*10)), 10)
	a.u(1, 1) // position accuracy: high
	a.lonLat(s.lon, s.lat)
	cog := uint64(math.Round(s.cog*10)) % 3600
	if s.kind == aisMoored {
		cog = 3600 // not available
	}
	a.u(cog, 12)
	a.u(uint64(s.heading), 9)
	a.u(second, 6)
	a.u(0, 2) // manoeuvre indicator
	a.u(0, 3)
	a.u(0, 1) // RAIM
	a.u(radio, 19)
}

// armour returns the payload characters and the fill bits added to reach a
// multiple of six.
func (a *aisBits) armour() (string, int) {
	fill := (6 - len(a.b)%6) % 6
	bits := append(a.b, make([]byte, fill)...)
	out := make([]byte, 0, len(bits)/6)
	for i := 0; i < len(bits); i += 6 {
		var v byte
		for _, bit := range bits[i : i+6] {
			v = v<<1 | bit
		}
		if v < 40 {
			out = append(out, v+48)
		} else {
			out = append(out, v+56)
		}
	}
	return string(out), fill
}
