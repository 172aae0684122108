package serialsim

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEncodeParseRoundTrip(t *testing.T) {
	for _, size := range []int{0, 20, DefaultFrameSize, MaxNMEALength, 200} {
		f := EncodeFrame(42, 1763700000123, size)
		if !bytes.HasPrefix(f, []byte("$FDSEQ,42,1763700000123,")) || !bytes.HasSuffix(f, []byte("\r\n")) {
			t.Fatalf("size %d: unexpected frame %q", size, f)
		}
		if fixed := len("$FDSEQ,42,1763700000123,*hh\r\n"); size >= fixed && len(f) != size {
			t.Errorf("size %d: frame is %d bytes: %q", size, len(f), f)
		}
		got, err := ParseFrame(f)
		if err != nil {
			t.Fatalf("size %d: ParseFrame(%q): %v", size, f, err)
		}
		if got.Seq != 42 || got.UnixMilli != 1763700000123 {
			t.Errorf("size %d: parsed %+v", size, got)
		}
		if seq, ok := ParseSeq(f); !ok || seq != 42 {
			t.Errorf("size %d: ParseSeq = %d, %v", size, seq, ok)
		}
	}
}

func TestChecksumIsXORBetweenDollarAndStar(t *testing.T) {
	f := AppendFrame(nil, 7, 1000, []byte("PAD"))
	body := "FDSEQ,7,1000,PAD"
	var want byte
	for i := 0; i < len(body); i++ {
		want ^= body[i]
	}
	wantSuffix := "*" + string(hexDigits[want>>4]) + string(hexDigits[want&15]) + "\r\n"
	if string(f) != "$"+body+wantSuffix {
		t.Fatalf("AppendFrame = %q, want %q", f, "$"+body+wantSuffix)
	}
	// Lower-case hex digits and a bare "\n" are accepted too.
	lower := []byte(strings.ToLower(string(f[len(f)-4:len(f)-2])) + "\n")
	if _, ok := ParseSeq(append(append([]byte(nil), f[:len(f)-4]...), lower...)); !ok {
		t.Errorf("lower-case checksum rejected")
	}
}

func TestParseRejects(t *testing.T) {
	good := EncodeFrame(5, 1000, 64)
	flip := append([]byte(nil), good...)
	flip[10] ^= 0x01
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"empty":         {nil, ErrNotSentence},
		"no dollar":     {good[1:], ErrNotSentence},
		"bad checksum":  {flip, ErrBadChecksum},
		"other type":    {gpggaSentence(), ErrNotSeqFrame},
		"no star":       {[]byte("$FDSEQ,1,2,3\r\n"), ErrNotSentence},
		"truncated":     {good[:len(good)-5], ErrNotSentence},
		"non-hex check": {[]byte("$FDSEQ,1,2,*ZZ\r\n"), ErrNotSentence},
	}
	for name, c := range cases {
		_, err := ParseFrame(c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: ParseFrame(%q) error = %v, want %v", name, c.in, err, c.want)
		}
		if _, ok := ParseSeq(c.in); ok {
			t.Errorf("%s: ParseSeq(%q) accepted", name, c.in)
		}
	}
}

// gpggaSentence returns a valid NMEA sentence of another type.
func gpggaSentence() []byte {
	body := "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
	c := Checksum([]byte(body))
	return []byte("$" + body + "*" + string(hexDigits[c>>4]) + string(hexDigits[c&15]) + "\r\n")
}

func TestDefaultFramePassesNMEALimit(t *testing.T) {
	// Largest sequence and a 13-digit time: still within 82 bytes.
	f := EncodeFrame(^uint64(0), 9999999999999, DefaultFrameSize)
	if len(f) > MaxNMEALength {
		t.Fatalf("default frame %q is %d bytes, over %d", f, len(f), MaxNMEALength)
	}
}

func TestCorruptFailsChecksumKeepsFraming(t *testing.T) {
	f := EncodeFrame(123456, 1763700000123, DefaultFrameSize)
	for seed := uint64(0); seed < 5000; seed++ {
		c, ok := corrupt(f, seed)
		if !ok {
			t.Fatalf("seed %d: nothing corrupted", seed)
		}
		if len(c) != len(f) || c[0] != '$' || c[len(c)-5] != '*' || !bytes.HasSuffix(c, []byte("\r\n")) {
			t.Fatalf("seed %d: framing changed: %q", seed, c)
		}
		if bytes.Equal(c, f) {
			t.Fatalf("seed %d: frame unchanged", seed)
		}
		if bytes.ContainsAny(c[1:len(c)-5], "$*!\r\n") {
			t.Fatalf("seed %d: corruption made a framing byte: %q", seed, c)
		}
		if _, ok := ParseSeq(c); ok {
			t.Fatalf("seed %d: corrupted frame %q passes its checksum", seed, c)
		}
	}
	if c1, _ := corrupt(f, 99); !bytes.Equal(c1, must(corrupt(f, 99))) {
		t.Fatalf("corrupt is not deterministic for a seed")
	}
	if _, ok := corrupt([]byte("\r\n"), 1); ok {
		t.Fatalf("corrupted an empty line")
	}
}

func must(b []byte, _ bool) []byte { return b }

// TestCorruptKeepsEncapsulationFraming: an AIS sentence ('!' start) is
// corrupted like a '$' sentence: only between '!' and '*', always failing
// its checksum.
func TestCorruptKeepsEncapsulationFraming(t *testing.T) {
	f := []byte("!AIVDM,1,1,,A,405i1fh000HttPWLt`QhbAW01I>i,0*34\r\n")
	if _, err := SentenceBody(f); err != nil {
		t.Fatalf("SentenceBody(%q): %v", f, err)
	}
	if _, err := ParseFrame(append([]byte{'!'}, EncodeFrame(1, 2, 64)[1:]...)); !errors.Is(err, ErrNotSeqFrame) {
		t.Fatalf("ParseFrame of a '!' FDSEQ: %v", err)
	}
	for seed := uint64(0); seed < 2000; seed++ {
		c, _ := corrupt(f, seed)
		if len(c) != len(f) || c[0] != '!' || c[len(c)-5] != '*' || bytes.ContainsAny(c[1:len(c)-5], "$*!\r\n") {
			t.Fatalf("seed %d: framing changed: %q", seed, c)
		}
		if _, err := SentenceBody(c); !errors.Is(err, ErrBadChecksum) {
			t.Fatalf("seed %d: %q: %v, want a checksum mismatch", seed, c, err)
		}
	}
}

func TestAppendSentence(t *testing.T) {
	if got := string(AppendSentence([]byte("x"), '$', []byte("GPGSV,1,1,00"))); got != "x$GPGSV,1,1,00*79\r\n" {
		t.Fatalf("AppendSentence = %q", got)
	}
}

func TestIDSet(t *testing.T) {
	var s idSet
	for _, id := range []uint64{1, 2, 3, 5, 4, 10, 8, 9, 7, 3} {
		s.add(id)
	}
	if got := s.ids(); !equalIDs(got, []uint64{1, 2, 3, 4, 5, 7, 8, 9, 10}) || len(s.r) != 2 {
		t.Fatalf("ids = %v ranges %v", got, s.r)
	}
	for _, id := range []uint64{10, 8, 1, 6} {
		s.remove(id)
	}
	if got := s.ids(); !equalIDs(got, []uint64{2, 3, 4, 5, 7, 9}) || s.n != 6 {
		t.Fatalf("after remove: ids = %v n=%d ranges %v", got, s.n, s.r)
	}
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
