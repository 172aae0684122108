package framing

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestAppendFrameRefuses(t *testing.T) {
	for _, tc := range []struct {
		cfg     Config
		payload string
	}{
		{Config{Mode: ModeLines}, ""},
		{Config{Mode: ModeLines}, "a\nb"},
		{Config{Mode: ModeLines}, "ab\r"},
		{Config{Mode: ModeLines, MaxFrame: 2}, "abc"},
		{Config{Mode: ModeNMEA}, "GPGGA*00"},
		{Config{Mode: ModeNMEA}, "$GPGGA,1"},
		{Config{Mode: ModeNMEA}, gga[:len(gga)-1] + "0"},
		{Config{Mode: ModeNMEA}, gga + "\r"},
		{Config{Mode: ModeNMEA}, "$GP$GGA"},
		{Config{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumOptional}, "$"},
		{Config{Mode: ModeSTXETX}, "a\x02"},
		{Config{Mode: ModeSTXETX}, "a\x03"},
		{Config{Mode: "fixed:3"}, "ab"},
		{Config{Mode: "fixed:3"}, "abcd"},
		{Config{Mode: ModeLengthPrefix, LengthBytes: 1}, strings.Repeat("x", 256)},
		{Config{Mode: ModeLengthPrefix, LengthBytes: 2, MaxFrame: 1 << 17}, strings.Repeat("x", 1<<16)},
		{Config{Mode: ModeSLIP, MaxFrame: 1}, "ab"},
		{Config{Mode: ModeCOBS}, ""},
	} {
		dst := []byte("keep")
		got, err := tc.cfg.AppendFrame(dst, []byte(tc.payload))
		if !errors.Is(err, ErrUnencodable) {
			t.Errorf("%+v, %q: error %v, want ErrUnencodable", tc.cfg, tc.payload, err)
		}
		if string(got) != "keep" {
			t.Errorf("%+v, %q: dst changed to %q", tc.cfg, tc.payload, got)
		}
	}
}

func TestAppendFrameWire(t *testing.T) {
	for _, tc := range []struct {
		cfg           Config
		payload, wire string
	}{
		{Config{Mode: ModeLines}, "ab", "ab\n"},
		{Config{Mode: ModeNMEA}, gga, gga + "\r\n"},
		{Config{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumOptional}, "$GPX,1", "$GPX,1\r\n"},
		{Config{Mode: ModeSTXETX}, "AB", "\x02AB\x03"},
		{Config{Mode: ModeSTXETX, Check: CheckXOR}, "AB", "\x02AB\x03\x00"},
		{Config{Mode: ModeSTXETX, Check: CheckLRC}, "AB", "\x02AB\x03\x7a"},
		{Config{Mode: "fixed:2", Sync: "AA55"}, "xy", "\xaa\x55xy"},
		{Config{Mode: ModeLengthPrefix, LengthBytes: 1}, "ab", "\x02ab"},
		{Config{Mode: ModeLengthPrefix, LengthBytes: 2}, "ab", "\x00\x02ab"},
		{Config{Mode: ModeLengthPrefix, LengthBytes: 4}, "ab", "\x00\x00\x00\x02ab"},
		{Config{Mode: ModeSLIP}, "a\xc0\xdb", "\xc0a\xdb\xdc\xdb\xdd\xc0"},
		{Config{Mode: ModeCOBS}, "\x11\x22\x00\x33", "\x03\x11\x22\x02\x33\x00"},
	} {
		got, err := tc.cfg.AppendFrame([]byte(">"), []byte(tc.payload))
		if err != nil || string(got) != ">"+tc.wire {
			t.Errorf("%+v, %q: got %q, %v; want %q", tc.cfg, tc.payload, got, err, ">"+tc.wire)
			continue
		}
		lead, _ := leadFor(t, tc.cfg)
		frames := feed(t, mustNew(t, tc.cfg), lead, got[1:])
		if len(frames) != 1 || !bytes.Equal(frames[0], []byte(tc.payload)) {
			t.Errorf("%+v: %q decodes to %q", tc.cfg, got[1:], frames)
		}
	}
}
