package framing

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// scripted returns one scripted result per Read.
type scripted []struct {
	data string
	err  error
}

func (s *scripted) Read(p []byte) (int, error) {
	if len(*s) == 0 {
		return 0, io.EOF
	}
	r := (*s)[0]
	*s = (*s)[1:]
	return copy(p, r.data), r.err
}

func scanAll(t *testing.T, sc *Scanner) (frames []string, timeouts int, err error) {
	t.Helper()
	for range 1000 {
		f, ok, err := sc.Next()
		switch {
		case ok:
			frames = append(frames, string(f))
		case err != nil:
			return frames, timeouts, err
		default:
			timeouts++
		}
	}
	t.Fatal("Scanner did not stop")
	return
}

func TestScannerOneByteReads(t *testing.T) {
	d := mustNew(t, Config{Mode: ModeNMEA})
	in := gga + "\r\njunk" + vdm + "\r\n$GPGGA,1"
	frames, timeouts, err := scanAll(t, NewScanner(iotest.OneByteReader(strings.NewReader(in)), d))
	if err != io.EOF || timeouts != 0 {
		t.Fatalf("err %v, timeouts %d", err, timeouts)
	}
	if len(frames) != 2 || frames[0] != gga || frames[1] != vdm {
		t.Fatalf("frames %q", frames)
	}
	// The sentence cut off by EOF is truncated, not left pending.
	if c := countsOf(d); c != countsFrom(map[Reason]uint64{Noise: 1, Truncated: 1}) {
		t.Errorf("drops %v", c)
	}
}

func TestScannerTimeouts(t *testing.T) {
	d := mustNew(t, Config{Mode: ModeLines})
	r := &scripted{{"\nab", nil}, {"", nil}, {"c\nd", nil}, {"", nil}, {"e\n", nil}}
	sc := NewScanner(r, d)
	var got []string
	for _, want := range []struct {
		frame string
		ok    bool
		err   error
	}{
		{"", false, nil}, // "ab" then a timeout
		{"abc", true, nil},
		{"", false, nil},
		{"de", true, nil},
		{"", false, io.EOF},
		{"", false, io.EOF}, // sticky
	} {
		f, ok, err := sc.Next()
		if string(f) != want.frame || ok != want.ok || err != want.err {
			t.Fatalf("after %q: Next() = %q, %v, %v; want %q, %v, %v", got, f, ok, err, want.frame, want.ok, want.err)
		}
		if ok {
			got = append(got, string(f))
		}
	}
	if d.Drops().Total() != 0 {
		t.Errorf("drops %v", countsOf(d))
	}
}

func TestScannerDataWithError(t *testing.T) {
	boom := errors.New("boom")
	d := mustNew(t, Config{Mode: ModeLines})
	r := &scripted{{"\na\nb\nc", boom}}
	sc := NewScanner(r, d)
	frames, _, err := scanAll(t, sc)
	if err != boom || strings.Join(frames, ",") != "a,b" {
		t.Fatalf("frames %q, err %v", frames, err)
	}
	if c := d.Drops().Count(Truncated); c != 1 {
		t.Errorf("Truncated = %d, want 1", c)
	}

	// Reset after a reconnect counts nothing twice, and the decoder
	// resyncs: a new stream starting at a line boundary loses nothing.
	sc.Reset(strings.NewReader("\nx\n"))
	frames, _, err = scanAll(t, sc)
	if err != io.EOF || strings.Join(frames, ",") != "x" {
		t.Fatalf("after Reset: frames %q, err %v", frames, err)
	}
	if c := countsOf(d); c != countsFrom(map[Reason]uint64{Truncated: 1}) {
		t.Errorf("after Reset: drops %v, want truncated=1", c)
	}
}

func TestScannerResetMidFrame(t *testing.T) {
	d := mustNew(t, Config{Mode: ModeLines})
	sc := NewScanner(&scripted{{"\na\nhalf", nil}, {"", nil}}, d)
	if f, ok, _ := sc.Next(); !ok || string(f) != "a" {
		t.Fatalf("Next = %q, %v", f, ok)
	}
	if f, ok, err := sc.Next(); ok || err != nil {
		t.Fatalf("Next = %q, %v, %v; want a timeout", f, ok, err)
	}
	// The reconnected port delivers the rest of a line whose head was
	// lost: it is dropped, not delivered as a frame of its own.
	sc.Reset(strings.NewReader(" a line\nb\n"))
	if f, ok, _ := sc.Next(); !ok || string(f) != "b" {
		t.Fatalf("after Reset: Next = %q, %v", f, ok)
	}
	if c := countsOf(d); c != countsFrom(map[Reason]uint64{Truncated: 1, Resync: 1}) {
		t.Errorf("drops %v, want truncated=1 for the discarded half line, resync=1 for the tail after Reset", c)
	}
}

// stuck is a Decoder that breaks the contract by consuming nothing.
type stuck struct{ drops Drops }

func (*stuck) Decode([]byte) (int, []byte, bool) { return 0, nil, false }
func (*stuck) Reset()                            {}
func (*stuck) Idle()                             {}
func (s *stuck) Drops() *Drops                   { return &s.drops }

func TestScannerBrokenDecoder(t *testing.T) {
	_, _, err := NewScanner(strings.NewReader("x"), &stuck{}).Next()
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("err %v, want io.ErrNoProgress", err)
	}
}
