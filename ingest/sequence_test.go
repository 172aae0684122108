package ingest

import (
	"strconv"
	"strings"
	"testing"
)

func TestSequenceExtractor(t *testing.T) {
	tests := []struct {
		name   string
		cfg    SequenceConfig
		frame  string
		want   uint64
		wantOK bool
	}{
		{"nmea field 1", SequenceConfig{NMEAField: 1}, "$FDSEQ,42,1700000000000,xx*3A", 42, true},
		{"nmea last field before checksum", SequenceConfig{NMEAField: 3}, "$FDSEQ,42,17,977*3A", 977, true},
		{"nmea field absent", SequenceConfig{NMEAField: 5}, "$FDSEQ,42*3A", 0, false},
		{"nmea field empty", SequenceConfig{NMEAField: 2}, "$FDSEQ,42,,x*3A", 0, false},
		{"nmea field not a number", SequenceConfig{NMEAField: 1}, "$FDSEQ,4x2*3A", 0, false},
		{"nmea field overflows uint64", SequenceConfig{NMEAField: 1}, "$FDSEQ,18446744073709551616*00", 0, false},
		{"nmea max uint64", SequenceConfig{NMEAField: 1}, "$FDSEQ,18446744073709551615*00", 18446744073709551615, true},
		{"nmea without checksum", SequenceConfig{NMEAField: 1}, "$FDSEQ,7", 7, true},
		{"regex", SequenceConfig{Regex: `seq=(\d+)`}, "tick AAPL seq=1234 px=1.5", 1234, true},
		{"regex no match", SequenceConfig{Regex: `seq=(\d+)`}, "tick AAPL px=1.5", 0, false},
		{"regex optional group unmatched", SequenceConfig{Regex: `x(\d+)?`}, "x", 0, false},
		{"none configured", SequenceConfig{}, "$FDSEQ,42*3A", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := NewSequenceExtractor(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := x.Extract([]byte(tt.frame))
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("Extract(%q) = %d, %v; want %d, %v", tt.frame, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestSequenceConfigErrorsNameTheField(t *testing.T) {
	tests := []struct {
		cfg  SequenceConfig
		want string
	}{
		{SequenceConfig{NMEAField: -1}, "sequence.nmea_field"},
		{SequenceConfig{Regex: "("}, "sequence.regex"},
		{SequenceConfig{Regex: `\d+`}, "sequence.regex"},
		{SequenceConfig{Regex: `(\d)(\d)`}, "sequence.regex"},
		{SequenceConfig{NMEAField: 1, Regex: `(\d+)`}, "sequence:"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v; want an error naming %s", tt.cfg, err, tt.want)
		}
	}
}

func TestNMEAFieldExtractionDoesNotAllocate(t *testing.T) {
	x, _ := NewSequenceExtractor(SequenceConfig{NMEAField: 1})
	frame := []byte("$FDSEQ,123456789,1700000000000,padding*3A")
	if n := testing.AllocsPerRun(100, func() { x.Extract(frame) }); n != 0 {
		t.Fatalf("Extract allocates %v times per frame", n)
	}
}

func FuzzSequenceExtract(f *testing.F) {
	f.Add([]byte("$FDSEQ,42,1700000000000,xx*3A"), uint8(1))
	f.Add([]byte("$GPGGA,,,,*00"), uint8(3))
	f.Add([]byte(",,,,,"), uint8(4))
	f.Add([]byte("*"), uint8(1))
	f.Add([]byte("$X,99999999999999999999999*00"), uint8(1))
	f.Fuzz(func(t *testing.T, frame []byte, field uint8) {
		x, err := NewSequenceExtractor(SequenceConfig{NMEAField: int(field%8) + 1})
		if err != nil {
			t.Fatal(err)
		}
		seq, ok := x.Extract(frame)
		if !ok {
			return
		}
		// What was extracted must be the field's digits, verbatim.
		raw := string(nmeaField(frame, int(field%8)+1))
		if raw == "" || strings.TrimLeft(raw, "0123456789") != "" {
			t.Fatalf("extracted %d from non-numeric field %q", seq, raw)
		}
		if strings.TrimLeft(raw, "0") != "" && strings.TrimLeft(raw, "0") != strconv.FormatUint(seq, 10) {
			t.Fatalf("extracted %d from field %q", seq, raw)
		}
	})
}
