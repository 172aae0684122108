package framing

import (
	"strings"
	"testing"
)

// Sentences with checksums as published, so the checksum is not only
// checked against this package's own NMEAChecksum.
const (
	gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
	vdm = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"
)

func TestNMEAChecksumKnown(t *testing.T) {
	for _, s := range []string{gga, vdm} {
		star := strings.IndexByte(s, '*')
		if got, want := NMEAChecksum([]byte(s[1:star])), s[star+1:]; hexByte(got) != want {
			t.Errorf("NMEAChecksum(%q) = %s, want %s", s[1:star], hexByte(got), want)
		}
	}
	if got := string(AppendNMEA([]byte("x"), []byte(gga[1:len(gga)-3]))); got != "x"+gga+"\r\n" {
		t.Errorf("AppendNMEA = %q, want %q", got, "x"+gga+"\r\n")
	}
}

func hexByte(b byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// sentence returns "$"+body with its checksum, no line ending.
func sentence(body string) string {
	s := string(AppendNMEA(nil, []byte(body)))
	return s[:len(s)-2]
}

func TestNMEA(t *testing.T) {
	req := Config{Mode: ModeNMEA}
	opt := Config{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumOptional}
	max10 := Config{Mode: ModeNMEA, MaxFrame: 10}
	s10 := sentence("GPABCD") // 10 bytes: $ + 6 + *hh
	s11 := sentence("GPABCDE")
	vdmLower := vdm[:len(vdm)-2] + strings.ToLower(vdm[len(vdm)-2:])
	runDecodeCases(t, []decodeCase{
		{name: "valid CRLF", cfg: req, in: gga + "\r\n" + vdm + "\r\n", want: []string{gga, vdm}},
		{name: "LF only and CR only", cfg: req, in: gga + "\n" + vdm + "\r", want: []string{gga, vdm}},
		{name: "lower-case checksum digits", cfg: req, in: vdmLower + "\r\n", want: []string{vdmLower}},
		{name: "blank lines are not noise", cfg: req, in: "\r\n\r\n" + gga + "\r\n\n\n", want: []string{gga}},
		{name: "bad checksum", cfg: req, in: gga[:len(gga)-1] + "8\r\n" + vdm + "\r\n", want: []string{vdm}, drops: map[Reason]uint64{BadChecksum: 1}},
		{name: "bad hex digit", cfg: req, in: gga[:len(gga)-1] + "G\r\n", drops: map[Reason]uint64{BadChecksum: 1}},
		{name: "one checksum digit", cfg: req, in: gga[:len(gga)-1] + "\r\n", drops: map[Reason]uint64{BadChecksum: 1}},
		{name: "bytes after checksum", cfg: req, in: gga + " \r\n", drops: map[Reason]uint64{BadChecksum: 1}},
		{name: "second star", cfg: req, in: "$A*B" + gga[len(gga)-3:] + "\r\n", drops: map[Reason]uint64{BadChecksum: 1}},
		{name: "missing checksum required", cfg: req, in: "$GPXYZ,1\r\n" + gga + "\r\n", want: []string{gga}, drops: map[Reason]uint64{BadChecksum: 1}},
		{name: "missing checksum optional", cfg: opt, in: "$GPXYZ,1\r\n" + gga + "\r\n", want: []string{"$GPXYZ,1", gga}},
		{name: "bad checksum optional", cfg: opt, in: gga[:len(gga)-1] + "8\r\n", drops: map[Reason]uint64{BadChecksum: 1}},
		{name: "empty sentences", cfg: opt, in: "$\r\n$*00\r\n!\n", drops: map[Reason]uint64{Noise: 3}},
		{
			name: "garbage before, between and after counts per run", cfg: req,
			in:    "\x00junk\xff" + gga + "\r\nmore junk\r\nand more\r\n" + vdm + "\r\ntail",
			want:  []string{gga, vdm},
			drops: map[Reason]uint64{Resync: 1, Noise: 2},
		},
		{name: "start char cuts a sentence", cfg: req, in: "$GPGGA,1235" + gga + "\r\n", want: []string{gga}, drops: map[Reason]uint64{Truncated: 1}},
		{name: "bang cuts a sentence", cfg: req, in: "$GPGGA,1235" + vdm + "\r\n", want: []string{vdm}, drops: map[Reason]uint64{Truncated: 1}},
		{
			name: "control char drops the sentence", cfg: req,
			in:    "$GPGGA,\x01" + gga[7:] + "\r\n" + gga + "\r\n",
			want:  []string{gga},
			drops: map[Reason]uint64{Noise: 1},
		},
		{
			name: "control char, then a start char resyncs", cfg: req,
			in:    "$GP\x80GGA" + gga + "\r\n",
			want:  []string{gga},
			drops: map[Reason]uint64{Noise: 1},
		},
		{name: "exactly max", cfg: max10, in: s10 + "\r\n", want: []string{s10}},
		{name: "max+1", cfg: max10, in: s11 + "\r\n" + s10 + "\r\n", want: []string{s10}, drops: map[Reason]uint64{Oversize: 1}},
		{
			name: "oversize skips to the next start char", cfg: max10,
			in:    "$GPAAAAAAAAAAAAAAAAAAAAAAAA" + s10 + "\r\n",
			want:  []string{s10},
			drops: map[Reason]uint64{Oversize: 1},
		},
		{
			name: "default max 82", cfg: req,
			in:    sentence(strings.Repeat("A", 78)) + "\r\n" + sentence(strings.Repeat("A", 79)) + "\r\n",
			want:  []string{sentence(strings.Repeat("A", 78))},
			drops: map[Reason]uint64{Oversize: 1},
		},
		{name: "partial at reset", cfg: req, in: gga + "\r\n$GPGGA,12", reset: true, want: []string{gga}, drops: map[Reason]uint64{Truncated: 1}},
		{name: "noise at reset is not truncated", cfg: req, lead: gga + "\r\n", in: "junk", reset: true, drops: map[Reason]uint64{Noise: 1}},

		// A new decoder drops everything before the first start
		// character, which never occurs inside a sentence, and keeps the
		// sentence it starts. The tail of a sentence has none, so it can
		// never pass for one, checksum or not.
		{name: "start at a start character", cfg: req, in: gga + "\r\n", want: []string{gga}},
		{name: "start at a line ending", cfg: req, in: "\n" + gga + "\r\n", want: []string{gga}},
		{name: "start mid-sentence", cfg: req, in: gga[20:] + "\r\n" + vdm + "\r\n", want: []string{vdm}, drops: map[Reason]uint64{Resync: 1}},
		{name: "start after the checksum's star", cfg: opt, in: gga[len(gga)-2:] + "\r\n" + vdm + "\r\n", want: []string{vdm}, drops: map[Reason]uint64{Resync: 1}},
		{name: "start mid-sentence without checksum", cfg: opt, in: "PXYZ,1\r\n$GPXYZ,2\r\n", want: []string{"$GPXYZ,2"}, drops: map[Reason]uint64{Resync: 1}},
		{name: "resync then noise", cfg: req, in: "A,1*00\r\n" + gga + "\r\njunk\r\n", want: []string{gga}, drops: map[Reason]uint64{Resync: 1, Noise: 1}},
		{name: "reset while resyncing counts once", cfg: req, in: "junk", reset: true, drops: map[Reason]uint64{Resync: 1}},
	})
}

// A run of noise ends at Reset; what follows a Reset up to the first
// sentence is counted as resync, not noise.
func TestNMEANoiseRunEndsAtReset(t *testing.T) {
	d := mustNew(t, Config{Mode: ModeNMEA})
	feed(t, d, []byte(gga+"\r\njunk"))
	d.Reset()
	feed(t, d, []byte("junk"+gga+"\r\njunk"))
	want := countsFrom(map[Reason]uint64{Noise: 2, Resync: 1})
	if got := countsOf(d); got != want {
		t.Errorf("drops %v, want %v", got, want)
	}
}
