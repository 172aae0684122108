package backlog

import (
	"strings"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	got := Config{}.WithDefaults()
	want := Config{MaxFrames: 1 << 20, MaxBytes: 128 << 20, LookAhead: 256, EarlyEchoMax: 4096, EarlyEchoTTL: 30 * time.Second}
	if got != want {
		t.Fatalf("Config{}.WithDefaults() = %+v; want %+v", got, want)
	}
	set := Config{MaxFrames: 5, MaxBytes: 6, LookAhead: 7, EarlyEchoMax: 8, EarlyEchoTTL: 9}
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
		{"look_ahead zero", func(c *Config) { c.LookAhead = 0 }, []string{"backlog.look_ahead: must be > 0"}},
		{"look_ahead too large", func(c *Config) { c.LookAhead = LimitLookAhead + 1 }, []string{"backlog.look_ahead: must be <= 1048576"}},
		{"early_echo_max zero", func(c *Config) { c.EarlyEchoMax = 0 }, []string{"backlog.early_echo_max: must be > 0"}},
		{"early_echo_max too large", func(c *Config) { c.EarlyEchoMax = LimitEarlyEchoMax + 1 }, []string{"backlog.early_echo_max: must be <= 16777216"}},
		{"early_echo_ttl negative", func(c *Config) { c.EarlyEchoTTL = -time.Second }, []string{"backlog.early_echo_ttl: must be > 0"}},
		{"all at once", func(c *Config) {
			*c = Config{MaxFrames: -1, MaxBytes: -1, LookAhead: -1, EarlyEchoMax: -1, EarlyEchoTTL: -1}
		},
			[]string{"backlog.max_frames", "backlog.max_bytes", "backlog.look_ahead", "backlog.early_echo_max", "backlog.early_echo_ttl"}},
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
		r.early.max != DefaultEarlyEchoMax || r.ttl != int64(DefaultEarlyEchoTTL) || r.ar.size != 64<<10 {
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
