package ingest

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/ingest/framing"
)

func TestLineErrorFilter(t *testing.T) {
	// 'a', a literal 0xFF, a framing error on 'q', a break, 'z'; fed in
	// every split so marks cut across reads are handled.
	marked := []byte{'a', 0xFF, 0xFF, 0xFF, 0x00, 'q', 0xFF, 0x00, 0x00, 'z'}
	for _, tc := range []struct {
		parity bool
		want   []byte
	}{
		{false, []byte{'a', 0xFF, 'q', 0x00, 'z'}}, // without parity checking a member reads 'q'
		{true, []byte{'a', 0xFF, 0x00, 0x00, 'z'}}, // with it, a 0x00
	} {
		for cut := 0; cut <= len(marked); cut++ {
			f := LineErrorFilter{ParityChecked: tc.parity}
			got := f.Filter(nil, marked[:cut])
			got = f.Filter(got, marked[cut:])
			if !bytes.Equal(got, tc.want) || f.Errors() != 2 {
				t.Fatalf("parity %v, cut at %d: got % x with %d errors; want % x with 2", tc.parity, cut, got, f.Errors(), tc.want)
			}
		}
	}
}

// nmeaStream returns n simulator sentences.
func nmeaStream(n int, size int) []byte {
	rng := rand.New(rand.NewPCG(4, 5))
	var out []byte
	for i := range n {
		ms := int64(1_700_000_000_000 + i)
		pad := make([]byte, serialsim.PaddingLen(uint64(i+1), ms, size))
		for k := range pad {
			pad[k] = 'A' + byte(rng.IntN(26))
		}
		out = serialsim.AppendFrame(out, uint64(i+1), ms, pad)
	}
	return out
}

func garbage(n int) []byte {
	rng := rand.New(rand.NewPCG(6, 7))
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(rng.Uint32())
	}
	return out
}

// escapeFF doubles each 0xFF, as the kernel does on a port opened with
// OpenSerialMarked.
func escapeFF(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte{0xFF}, []byte{0xFF, 0xFF})
}

func probeOf(t *testing.T, sc SerialConfig, mode string, chunks ...[]byte) ProbeReport {
	t.Helper()
	if sc.Device == "" {
		sc.Device = "/dev/ttyTEST"
	}
	p, err := NewProbe(sc, framing.Config{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		// Reads of odd sizes, as a port delivers them.
		for len(c) > 0 {
			n := min(len(c), 777)
			p.Write(c[:n])
			c = c[n:]
		}
	}
	return p.Report(2 * time.Second)
}

func TestProbeVerdicts(t *testing.T) {
	clean := nmeaStream(200, 64)
	// Opened in the middle of a sentence: the first one is cut.
	midStream := clean[23:]
	long := nmeaStream(50, 120)
	lineErrors := []byte{}
	for i, c := range clean {
		if i%40 == 0 {
			lineErrors = append(lineErrors, 0xFF, 0x00, c^0x10) // a framing error
			continue
		}
		lineErrors = append(lineErrors, c)
	}
	for _, tc := range []struct {
		name  string
		mode  string
		input []byte
		kind  string
		words []string
	}{
		{"clean nmea", "nmea", midStream, VerdictOK, []string{"fit"}},
		{"clean nmea read as lines", "lines", midStream, VerdictOK, nil},
		{"nmea read as stx-etx", "stx-etx", clean, VerdictFraming, []string{"framing.mode: nmea"}},
		{"nmea read as cobs", "cobs", clean, VerdictFraming, []string{"framing.mode: nmea"}},
		{"sentences over max_frame", "nmea", long, VerdictMaxFrame, []string{"framing.max_frame"}},
		{"garbage read as nmea", "nmea", escapeFF(garbage(8000)), VerdictLineSettings, []string{"baud rate", "115200 8N1"}},
		{"garbage read as lines", "lines", escapeFF(garbage(8000)), VerdictLineSettings, []string{"baud rate"}},
		{"driver marks line errors", "nmea", lineErrors, VerdictLineErrors, []string{"framing or parity errors", "serial.baud"}},
		{"silent", "nmea", nil, VerdictSilent, []string{"cable"}},
		{"a few bytes", "nmea", clean[:20], VerdictTooLittle, []string{"--duration"}},
		{"no framing configured", "", clean, VerdictNoFraming, []string{"framing.mode: nmea"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := probeOf(t, SerialConfig{Baud: 115200}, tc.mode, tc.input)
			if r.Verdict.Kind != tc.kind {
				t.Fatalf("verdict %q (%s); want %q\nreport %+v", r.Verdict.Kind, r.Verdict.Text, tc.kind, r)
			}
			for _, w := range tc.words {
				if !strings.Contains(r.Verdict.Text, w) {
					t.Errorf("verdict %q does not mention %q", r.Verdict.Text, w)
				}
			}
		})
	}
}

func TestProbeCounts(t *testing.T) {
	clean := nmeaStream(100, 64)
	r := probeOf(t, SerialConfig{Baud: 9600}, "nmea", clean)
	if r.Bytes != uint64(len(clean)) || r.LineErrors != 0 || r.Delimiters != 200 {
		t.Fatalf("bytes %d (want %d), line errors %d, delimiters %d (want 200: CR and LF each)", r.Bytes, len(clean), r.LineErrors, r.Delimiters)
	}
	if r.BytesPerSecond != float64(len(clean))/2 || r.LineCapacity != 960 {
		t.Fatalf("rate %.1f B/s, capacity %.1f B/s; want %.1f and 960 (9600 baud, 10 bits a character)", r.BytesPerSecond, r.LineCapacity, float64(len(clean))/2)
	}
	byMode := map[string]FramerReport{}
	for _, f := range r.Framers {
		if _, seen := byMode[f.Mode]; !seen {
			byMode[f.Mode] = f // the configured framer comes first
		}
	}
	if f := byMode["nmea"]; !f.Configured || f.Frames != 100 || f.InvalidTotal() != 0 || f.FramesPerSecond != 50 {
		t.Fatalf("configured nmea framer: %+v", f)
	}
	// A probe opens the port in the middle of the feed: a line framer
	// cannot trust the first line, and drops it (resync).
	if f := byMode["lines"]; f.Configured || f.Frames != 99 || f.Invalid["resync"] != 1 {
		t.Fatalf("lines candidate: %+v", f)
	}
	if f := byMode["stx-etx"]; f.Frames != 0 || f.Invalid["resync"] == 0 {
		t.Fatalf("stx-etx on NMEA text finds no frame and counts its search for one: %+v", f)
	}
	// The configured mode is not run twice when its settings equal a
	// candidate's.
	r = probeOf(t, SerialConfig{Baud: 9600}, "lines", clean)
	n := 0
	for _, f := range r.Framers {
		if f.Mode == "lines" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("lines appears %d times in %+v", n, r.Framers)
	}
}
