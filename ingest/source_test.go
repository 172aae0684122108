package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedd/feedd/ingest/framing"
)

// step is one Read of a scripted port: data, an error, or (neither) a read
// timeout. Each Read advances the fake clock by tick.
type step struct {
	data string
	err  error
}

type scriptedPort struct {
	steps  []step
	clock  *fakeClock
	tick   time.Duration
	onDone func()
	closed bool
}

func (p *scriptedPort) Read(b []byte) (int, error) {
	p.clock.advance(p.tick)
	if len(p.steps) == 0 {
		p.onDone()
		return 0, nil
	}
	s := p.steps[0]
	p.steps = p.steps[1:]
	return copy(b, s.data), s.err
}

func (p *scriptedPort) Close() error { p.closed = true; return nil }

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

type collected struct {
	data    string
	seq     uint64
	feedSeq uint64
	hasFeed bool
	fp      uint64
	at      time.Time
	hole    Hole
}

// runScript runs a Source over a sequence of scripted ports (one per open)
// and returns the frames it produced. Opens beyond the script fail with
// ENOENT; the run ends when the last port's script is exhausted.
func runScript(t *testing.T, sc SerialConfig, fc framing.Config, qc SequenceConfig, ports [][]step) (*Source, []collected) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	opened := 0
	open := func(SerialConfig) (Port, error) {
		if opened == len(ports) {
			cancel()
			return nil, fmt.Errorf("serial device test: %w", ErrDeviceMissing)
		}
		p := &scriptedPort{steps: ports[opened], clock: clock, tick: 10 * time.Millisecond, onDone: func() {}}
		opened++
		if opened == len(ports) {
			p.onDone = cancel
		}
		return p, nil
	}
	if sc.Device == "" {
		sc.Device = "/dev/test"
	}
	sc.ReconnectMin = time.Millisecond
	src, err := NewSource(sc, fc, qc, SourceOptions{Open: open, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	var got []collected
	err = src.Run(ctx, func(f *Frame) {
		got = append(got, collected{string(f.Data), f.Seq, f.FeedSeq, f.HasFeedSeq, f.Fingerprint, f.ReceivedAt, f.Hole})
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return src, got
}

func TestSourceFramesAndIdentity(t *testing.T) {
	// A line framer cannot tell whether the port opened at a line's
	// start: the stream begins with a line ending, as a port opened between
	// two lines of a running feed does.
	ports := [][]step{{
		{data: "\n$FDSEQ,1,a*"},
		{data: "00\r\n$FDSEQ,2"},
		{}, // a read timeout in the middle of a frame
		{data: ",b*00\r\nhello\n"},
	}}
	_, got := runScript(t, SerialConfig{}, framing.Config{Mode: "lines"}, SequenceConfig{NMEAField: 1}, ports)
	want := []string{"$FDSEQ,1,a*00", "$FDSEQ,2,b*00", "hello"}
	if len(got) != len(want) {
		t.Fatalf("got %d frames %+v; want %d", len(got), got, len(want))
	}
	for i, g := range got {
		if g.data != want[i] {
			t.Errorf("frame %d = %q; want %q", i, g.data, want[i])
		}
		if g.seq != uint64(i+1) {
			t.Errorf("frame %d local seq = %d; want %d", i, g.seq, i+1)
		}
		if g.fp != Fingerprint([]byte(want[i])) {
			t.Errorf("frame %d fingerprint = %x; want %x", i, g.fp, Fingerprint([]byte(want[i])))
		}
	}
	if !got[0].hasFeed || got[0].feedSeq != 1 || !got[1].hasFeed || got[1].feedSeq != 2 || got[2].hasFeed {
		t.Errorf("feed sequence numbers wrong: %+v", got)
	}
	if !got[1].at.After(got[0].at) {
		t.Errorf("receive time did not advance: %v then %v", got[0].at, got[1].at)
	}
}

func TestSourceReconnectsAfterDisconnect(t *testing.T) {
	ports := [][]step{
		{{data: "\none\ntw"}, {err: syscall.EIO}},
		{{data: "o\nthree\n"}},
	}
	src, got := runScript(t, SerialConfig{}, framing.Config{Mode: "lines"}, SequenceConfig{}, ports)
	var frames []string
	for _, g := range got {
		frames = append(frames, g.data)
	}
	// "tw" was cut off by the disconnect: the half frame is dropped, not
	// glued to the first bytes read after the reconnect; and "o", the tail
	// of "two" read after the reconnect, is not a frame the other member
	// has: the framer drops it up to the first line ending (resync).
	if strings.Join(frames, ",") != "one,three" {
		t.Fatalf("frames = %q; want one, three", frames)
	}
	h := src.Health()
	if h.Reconnects != 1 {
		t.Errorf("reconnects = %d; want 1", h.Reconnects)
	}
	if got := src.Drops().Count(framing.Truncated); got != 1 {
		t.Errorf("truncated drops = %d; want 1", got)
	}
	if got := src.Drops().Count(framing.Resync); got != 1 {
		t.Errorf("resync drops = %d; want 1 (the reopen in the middle of a line)", got)
	}
	if got[1].seq != 2 {
		t.Errorf("local sequence restarted across a reconnect: %d", got[1].seq)
	}
	if got[0].hole != NoHole || got[1].hole != HoleReopened {
		t.Errorf("holes = %v, %v; want none, then reopened before three", got[0].hole, got[1].hole)
	}
	if n := src.HoleCount(HoleReopened); n != 1 || h.Holes != 1 {
		t.Errorf("reopened holes = %d, all holes = %d; want 1 and 1", n, h.Holes)
	}
}

func TestSourceMarksSequenceSkips(t *testing.T) {
	ports := [][]step{{{data: "\n$FDSEQ,1,a*00\r\n$FDSEQ,2,b*00\r\n$FDSEQ,5,c*00\r\n$FDSEQ,6,d*00\r\n$FDSEQ,1,e*00\r\n"}}}
	_, got := runScript(t, SerialConfig{}, framing.Config{Mode: "lines"}, SequenceConfig{NMEAField: 1}, ports)
	var holes []string
	for _, g := range got {
		holes = append(holes, fmt.Sprintf("%d:%v", g.feedSeq, g.hole))
	}
	// 3 and 4 are missing; going back to 1 is the sender restarting.
	if want := "1:none 2:none 5:sequence 6:none 1:none"; strings.Join(holes, " ") != want {
		t.Fatalf("holes %q; want %s", holes, want)
	}
}

func TestSourceMarksFramesAfterDroppedInput(t *testing.T) {
	// The second sentence fails its checksum: the third follows a hole.
	ports := [][]step{{{data: "\n$GPAAA,1*4B\r\n$GPBBB,2*00\r\n$GPCCC,3*4B\r\n$GPDDD,4*4B\r\n"}}}
	_, got := runScript(t, SerialConfig{}, framing.Config{Mode: "nmea"}, SequenceConfig{}, ports)
	var holes []string
	for _, g := range got {
		holes = append(holes, g.data+":"+g.hole.String())
	}
	want := "$GPAAA,1*4B:none $GPCCC,3*4B:dropped $GPDDD,4*4B:none"
	if strings.Join(holes, " ") != want {
		t.Fatalf("frames = %q; want %s", holes, want)
	}
}

func TestSourceReportsQuietLine(t *testing.T) {
	// 10ms per read, quiet after 200ms: 30 timeouts make the line quiet.
	steps := []step{{data: "\na\n"}}
	for range 30 {
		steps = append(steps, step{})
	}
	ports := [][]step{steps}
	sc := SerialConfig{QuietAfter: 200 * time.Millisecond, ReadTimeout: 10 * time.Millisecond}
	src, _ := runScript(t, sc, framing.Config{Mode: "lines"}, SequenceConfig{}, ports)
	if h := src.Health(); !h.Quiet {
		t.Fatalf("line not reported quiet after 300ms of silence: %+v", h)
	}

	// A frame ends the quiet period; the port cannot tell whether the
	// sender or the line was silent, so the frame follows a hole.
	steps = append(steps, step{data: "b\n"})
	src, got := runScript(t, sc, framing.Config{Mode: "lines"}, SequenceConfig{}, [][]step{steps})
	if h := src.Health(); h.Quiet || h.Frames != 2 {
		t.Fatalf("after a frame the line should not be quiet: %+v", h)
	}
	if got[1].hole != HoleQuiet {
		t.Fatalf("frame after the quiet line: hole %v, want quiet", got[1].hole)
	}
}

func TestSourceRetriesMissingDevice(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	failures := 0
	open := func(c SerialConfig) (Port, error) {
		if failures < 3 {
			failures++
			return OpenSerial(c) // the device really is missing
		}
		clock := &fakeClock{}
		return &scriptedPort{steps: []step{{data: "\nx\n"}}, clock: clock, onDone: func() {}}, nil
	}
	sc := SerialConfig{Device: "/dev/feedd-test-does-not-exist", ReconnectMin: time.Millisecond, ReconnectMax: 2 * time.Millisecond}
	src, err := NewSource(sc, framing.Config{Mode: "lines"}, SequenceConfig{}, SourceOptions{Open: open})
	if err != nil {
		t.Fatal(err)
	}
	var frames []string
	err = src.Run(ctx, func(f *Frame) { frames = append(frames, string(f.Data)); cancel() })
	if err != nil {
		t.Fatalf("Run without fail_fast returned %v; want it to keep retrying", err)
	}
	if len(frames) != 1 || frames[0] != "x" {
		t.Fatalf("frames = %q; want [x] once the device appeared", frames)
	}
	if h := src.Health(); h.OpenFailures != 3 {
		t.Errorf("open failures = %d; want 3", h.OpenFailures)
	}
}

func TestSourceFailFastOnMissingDevice(t *testing.T) {
	sc := SerialConfig{Device: "/dev/feedd-test-does-not-exist", FailFast: true}
	src, err := NewSource(sc, framing.Config{Mode: "lines"}, SequenceConfig{}, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(t.Context(), func(*Frame) {})
	if !errors.Is(err, ErrDeviceMissing) || !strings.Contains(err.Error(), sc.Device) {
		t.Fatalf("Run = %v; want ErrDeviceMissing naming %s", err, sc.Device)
	}
}

func TestSerialConfigErrorsNameTheField(t *testing.T) {
	valid := SerialConfig{Device: "/dev/ttyS0"}.WithDefaults()
	if err := valid.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	tests := []struct {
		field  string
		mutate func(*SerialConfig)
	}{
		{"serial.device", func(c *SerialConfig) { c.Device = "" }},
		{"serial.baud", func(c *SerialConfig) { c.Baud = -1 }},
		{"serial.data_bits", func(c *SerialConfig) { c.DataBits = 9 }},
		{"serial.parity", func(c *SerialConfig) { c.Parity = "sometimes" }},
		{"serial.stop_bits", func(c *SerialConfig) { c.StopBits = 3 }},
		{"serial.flow_control", func(c *SerialConfig) { c.FlowControl = "xonxoff" }},
		{"serial.read_timeout", func(c *SerialConfig) { c.ReadTimeout = -time.Second }},
		{"serial.quiet_after", func(c *SerialConfig) { c.QuietAfter = time.Millisecond }},
		{"serial.reconnect_min", func(c *SerialConfig) { c.ReconnectMin = -1 }},
		{"serial.reconnect_max", func(c *SerialConfig) { c.ReconnectMax = time.Millisecond }},
	}
	for _, tt := range tests {
		c := valid
		tt.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.field+":") {
			t.Errorf("%s: Validate = %v; want an error starting with %q", tt.field, err, tt.field+":")
		}
	}
}

func TestBitsPerChar(t *testing.T) {
	if got := (SerialConfig{DataBits: 8, Parity: "none", StopBits: 1}).BitsPerChar(); got != 10 {
		t.Errorf("8N1 = %d bits; want 10", got)
	}
	if got := (SerialConfig{DataBits: 7, Parity: "even", StopBits: 2}).BitsPerChar(); got != 11 {
		t.Errorf("7E2 = %d bits; want 11", got)
	}
}
