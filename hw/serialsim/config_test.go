package serialsim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidationNamesField(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		field string
		cfg   Config
	}{
		{"Ports", Config{}},
		{"Ports", Config{Ports: -1}},
		{"LinkDir", Config{Ports: 1, LinkDir: "/tmp/a,b"}},
		{"LinkDir", Config{Ports: 1, LinkDir: "/tmp/a b"}},
		{"LinkDir", Config{Ports: 1, LinkDir: file}},
		{"Baud", Config{Ports: 1, Baud: -9600}},
		{"Baud", Config{Ports: 1, Baud: MaxBaud + 1}},
		{"DataBits", Config{Ports: 1, DataBits: 9}},
		{"Parity", Config{Ports: 1, Parity: Parity(9)}},
		{"StopBits", Config{Ports: 1, StopBits: 3}},
		{"Rate", Config{Ports: 1, Rate: -1}},
		{"FrameSize", Config{Ports: 1, FrameSize: MaxFrameSize + 1}},
		{"Replay", Config{Ports: 1, Replay: filepath.Join(dir, "missing")}},
		{"Replay", Config{Ports: 1, Replay: empty}},
		{"Replay", Config{Ports: 1, Replay: dir}},
		{"Feed", Config{Ports: 1, Feed: "gps"}},
		{"Feed", Config{Ports: 1, Feed: "alphabet"}},
		{"Feed", Config{Ports: 1, Feed: "alphabet:0"}},
		{"Feed", Config{Ports: 1, Feed: "alphabet:x"}},
		{"Feed", Config{Ports: 1, Feed: "alphabet:257"}},
		{"Feed", Config{Ports: 1, Feed: "no-fix:2"}},
		{"Feed", Config{Ports: 1, Feed: FeedAIS, Replay: file}},
		{"Rate", Config{Ports: 1, Feed: FeedNMEAGPS, Rate: 101}},
		{"FrameSize", Config{Ports: 1, Feed: FeedNoFix, FrameSize: 64}},
		{"Record", Config{Ports: 1, Record: dir}},
		{"MaxWriteDelay", Config{Ports: 1, MaxWriteDelay: -time.Millisecond}},
		{"QueueFrames", Config{Ports: 1, QueueFrames: -1}},
		{"StartTimeout", Config{Ports: 1, StartTimeout: -time.Second}},
		{"DrainTimeout", Config{Ports: 1, DrainTimeout: -time.Second}},
		{"Faults[0]", Config{Ports: 1, Faults: []Fault{{Kind: FaultUnplug, Port: 1, For: time.Second}}}},
		{"Faults[1]", Config{Ports: 2, Faults: []Fault{{Kind: FaultDrop, Port: 1, Rate: 0.5}, {Kind: FaultPause, Port: 0}}}},
		{"Faults[0]", Config{Ports: 2, Faults: []Fault{{Kind: FaultCorrupt, Port: 0, Rate: 2}}}},
		{"Faults[0]", Config{Ports: 2, Faults: []Fault{{Kind: "melt", Port: 0}}}},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("New(%+v) = %v, want a ConfigError for %s", c.cfg, err, c.field)
			continue
		}
		if !strings.Contains(err.Error(), "Config."+c.field) {
			t.Errorf("error %q does not name Config.%s", err, c.field)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := New(Config{Ports: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	if c.Baud != 115200 || c.DataBits != 8 || c.StopBits != 1 || c.Parity != ParityNone ||
		c.Rate != DefaultRate || c.FrameSize != DefaultFrameSize || c.StartSeq != 1 {
		t.Fatalf("defaults: %+v", c)
	}
	if c.Feed != FeedSeq || c.MaxWriteDelay != 20*time.Millisecond {
		t.Fatalf("defaults: feed %q, MaxWriteDelay %v", c.Feed, c.MaxWriteDelay)
	}
	for feed, rate := range map[string]float64{FeedNMEAGPS: 1, FeedNoFix: 1, FeedAIS: 1, "alphabet:2": 10} {
		s, err := New(Config{Ports: 1, Feed: feed})
		if err != nil {
			t.Fatal(err)
		}
		if c := s.Config(); c.Rate != rate || c.FrameSize != 0 {
			t.Errorf("feed %s: default rate %v, frame size %d; want %v cycles a second and no frame size", feed, c.Rate, c.FrameSize, rate)
		}
	}
	if got := c.BytesPerSecond(); got != 11520 {
		t.Fatalf("8N1 at 115200: %v bytes/s, want 11520", got)
	}
	c.Parity, c.StopBits, c.DataBits = ParityEven, 2, 7
	if got := c.BitsPerChar(); got != 11 {
		t.Fatalf("7E2: %v bits per char, want 11", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParseFault(t *testing.T) {
	good := map[string]Fault{
		"port=1,at=5s,kind=unplug,for=2s":  {Kind: FaultUnplug, Port: 1, At: 5 * time.Second, For: 2 * time.Second},
		"port=0,kind=corrupt,rate=0.01":    {Kind: FaultCorrupt, Port: 0, Rate: 0.01},
		"kind=drop,rate=5%,for=1s":         {Kind: FaultDrop, Port: AllPorts, Rate: 0.05, For: time.Second},
		"kind=pause, port=all, for=300ms":  {Kind: FaultPause, Port: AllPorts, For: 300 * time.Millisecond},
		"port=1,kind=baud,baud=9600":       {Kind: FaultBaud, Port: 1, Baud: 9600},
		"kind=baud,baud=4800,at=1s,for=2s": {Kind: FaultBaud, Port: AllPorts, Baud: 4800, At: time.Second, For: 2 * time.Second},
	}
	for spec, want := range good {
		got, err := ParseFault(spec)
		if err != nil || got != want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", spec, got, err, want)
			continue
		}
		again, err := ParseFault(got.String())
		if err != nil || again != got {
			t.Errorf("ParseFault(%q.String() = %q) = %+v, %v", spec, got.String(), again, err)
		}
	}
	bad := []struct{ spec, key, value string }{
		{"", "kind", ""},
		{"port=1", "kind", ""},
		{"kind=melt", "kind", "melt"},
		{"kind=unplug,port=x,for=1s", "port", "x"},
		{"kind=unplug,port=-1,for=1s", "port", "-1"},
		{"kind=unplug,at=soon,for=1s", "at", "soon"},
		{"kind=unplug,for=-1s", "for", "-1s"},
		{"kind=unplug", "for", ""},
		{"kind=pause,for=0s", "for", ""},
		{"kind=corrupt", "rate", ""},
		{"kind=corrupt,rate=1.5", "rate", "1.5"},
		{"kind=drop,rate=lots", "rate", "lots"},
		{"kind=unplug,for=1s,rate=0.1", "rate", "0.1"},
		{"kind=drop,rate=0.1,colour=red", "colour", "red"},
		{"kind=drop,rate=0.1,rate=0.2", "rate", "0.2"},
		{"kind=drop,rate", "rate", ""},
		{"kind=baud", "baud", ""},
		{"kind=baud,baud=0", "baud", "0"},
		{"kind=baud,baud=fast", "baud", "fast"},
		{"kind=baud,baud=9600,rate=0.5", "rate", "0.5"},
		{"kind=drop,rate=0.1,baud=9600", "baud", "9600"},
	}
	for _, c := range bad {
		_, err := ParseFault(c.spec)
		var fe *FaultSpecError
		if !errors.As(err, &fe) || fe.Key != c.key || fe.Value != c.value {
			t.Errorf("ParseFault(%q) = %v, want an error for key %q value %q", c.spec, err, c.key, c.value)
			continue
		}
		if !strings.Contains(err.Error(), c.key) || !strings.Contains(err.Error(), c.value) {
			t.Errorf("error %q does not name %s=%s", err, c.key, c.value)
		}
	}
}

func TestStartWithoutSocatSaysHowToInstall(t *testing.T) {
	s, err := New(Config{Ports: 1, Socat: "socat-that-is-not-installed"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Start(context.Background())
	if !errors.Is(err, ErrSocatNotFound) || !strings.Contains(err.Error(), "apt-get install socat") {
		t.Fatalf("Start without socat: %v", err)
	}
}

func TestFaultAPIValidation(t *testing.T) {
	s, err := New(Config{Ports: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Unplug(0, time.Second); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("Unplug before Start: %v", err)
	}
	if err := s.Pause(0, 0); err == nil || !strings.Contains(err.Error(), "duration") {
		t.Errorf("Pause(0, 0): %v", err)
	}
	if err := s.SetDrop(0, 1.5); err == nil || !strings.Contains(err.Error(), "fraction") {
		t.Errorf("SetDrop(0, 1.5): %v", err)
	}
}
