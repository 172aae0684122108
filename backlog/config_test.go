package backlog

import (
	"strings"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	got := Config{}.WithDefaults()
	want := Config{MaxFrames: 1 << 20, MaxBytes: 128 << 20, LookAhead: 256, EchoMemory: 1 << 16,
		EchoMemoryTTL: time.Minute, PassMargin: 100 * time.Millisecond, RepairTimeout: time.Second, RepairPatience: 30 * time.Second, CrossCheck: CrossCheckAuto}
	if got != want {
		t.Fatalf("Config{}.WithDefaults() = %+v; want %+v", got, want)
	}
	set := Config{MaxFrames: 5, MaxBytes: 6, LookAhead: 7, EchoMemory: 8, EchoMemoryTTL: 9, PassMargin: 10, RepairTimeout: 12, RepairPatience: 13, CrossCheck: CrossCheckOff, LineByteTime: 11}
	if got := set.WithDefaults(); got != set {
		t.Fatalf("WithDefaults changed set fields: %+v", got)
	}
	neg := Config{MaxFrames: -1}
	if got := neg.WithDefaults(); got.MaxFrames != -1 {
		t.Fatalf("WithDefaults replaced a negative value: %+v", got)
	}
	if err := want.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{}.WithDefaults()
	tests := []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"max_frames zero", func(c *Config) { c.MaxFrames = 0 }, []string{"backlog.max_frames: must be > 0"}},
		{"max_frames too large", func(c *Config) { c.MaxFrames = LimitMaxFrames + 1 }, []string{"backlog.max_frames: must be <= 1073741824"}},
		{"max_bytes negative", func(c *Config) { c.MaxBytes = -1 }, []string{"backlog.max_bytes: must be > 0"}},
		{"max_bytes above 1 GiB", func(c *Config) { c.MaxBytes = LimitMaxBytes + 1 }, []string{"backlog.max_bytes: must be <= 1073741824 (1 GiB)"}},
		{"cross_check unknown", func(c *Config) { c.CrossCheck = "yes" }, []string{`backlog.cross_check: "yes" is not one of auto, on, off`}},
		{"look_ahead zero", func(c *Config) { c.LookAhead = 0 }, []string{"backlog.look_ahead: must be > 0"}},
		{"look_ahead too large", func(c *Config) { c.LookAhead = LimitLookAhead + 1 }, []string{"backlog.look_ahead: must be <= 1048576"}},
		{"echo_memory zero", func(c *Config) { c.EchoMemory = 0 }, []string{"backlog.echo_memory: must be > 0"}},
		{"echo_memory too large", func(c *Config) { c.EchoMemory = LimitEchoMemory + 1 }, []string{"backlog.echo_memory: must be <= 16777216"}},
		{"echo_memory_ttl negative", func(c *Config) { c.EchoMemoryTTL = -time.Second }, []string{"backlog.echo_memory_ttl: must be > 0"}},
		{"pass_margin negative", func(c *Config) { c.PassMargin = -time.Second }, []string{"backlog.pass_margin: must be >= 0"}},
		{"repair_patience under repair_timeout", func(c *Config) { c.RepairPatience = c.RepairTimeout / 2 }, []string{"backlog.repair_patience: must be 0"}},
		{"repair_patience too long", func(c *Config) { c.RepairPatience = 11 * time.Minute }, []string{"backlog.repair_patience: must be 0"}},
		{"line time negative", func(c *Config) { c.LineByteTime = -1 }, []string{"backlog: the line's character time"}},
		{"all at once", func(c *Config) {
			*c = Config{MaxFrames: -1, MaxBytes: -1, LookAhead: -1, EchoMemory: -1, EchoMemoryTTL: -1, PassMargin: -1}
		},
			[]string{"backlog.max_frames", "backlog.max_bytes", "backlog.look_ahead", "backlog.echo_memory", "backlog.echo_memory_ttl", "backlog.pass_margin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate(%+v) = nil", c)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("Validate = %q; want %d errors", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d = %q; want prefix %q", i, lines[i], w)
				}
			}
			// New fills zero fields with defaults first; anything else
			// invalid must fail.
			_, err = New(c)
			if wantErr := c.WithDefaults().Validate() != nil; (err != nil) != wantErr {
				t.Errorf("New(%+v) error = %v; want error %v", c, err, wantErr)
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	r, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if r.maxFrames != DefaultMaxFrames || r.maxBytes != DefaultMaxBytes || r.lookAhead != DefaultLookAhead ||
		r.mem.max != DefaultEchoMemory || r.memTTL != int64(DefaultEchoMemoryTTL) || r.margin != int64(DefaultPassMargin) ||
		r.ar.size != 64<<10 {
		t.Fatalf("New(Config{}) = %+v", r)
	}
}

func TestChunkShiftFor(t *testing.T) {
	for _, tt := range []struct {
		maxBytes int64
		want     uint
	}{{128 << 20, 16}, {1 << 20, 16}, {512 << 10, 16}, {256 << 10, 15}, {8 << 10, 10}, {100, 8}, {1, 8}} {
		if got := chunkShiftFor(tt.maxBytes); got != tt.want {
			t.Errorf("chunkShiftFor(%d) = %d; want %d", tt.maxBytes, got, tt.want)
		}
	}
}

func TestWidenNeverNarrows(t *testing.T) {
	for _, w := range []Window{{0, 0}, {-1, 0}, {-(1 << 17), 0}, {-(1 << 17) - 1, 0}, {-4_000_000_000, 7}, {-5_000_000_000, 7}, {NoLo, 9}} {
		got := widen(w)
		if got.Hi != w.Hi || got.Lo > w.Lo {
			t.Errorf("widen(%+v) = %+v: narrower", w, got)
		}
		if w.Lo != NoLo && got.Lo != NoLo && w.Lo-got.Lo >= 1<<widthShift {
			t.Errorf("widen(%+v) = %+v: wider than one unit", w, got)
		}
		r := &Ring{sl: newSlots()}
		b := r.sl.ensure(0, got.Hi)
		b.meta[0] = packMeta(got, true)
		b.setHi(0, got.Hi)
		if r.window(0) != got || !r.exact(0) {
			t.Errorf("packed %+v reads back as %+v exact %v", got, r.window(0), r.exact(0))
		}
	}
}
