package ftpair

import (
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	c := DefaultConfig()
	c.MemberID = "feed-a"
	return c
}

func TestDefaultConfigIsValid(t *testing.T) {
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Weight != 1 || c.ActiveGoal != 1 || c.HeartbeatInterval != 100*time.Millisecond ||
		c.PreparationInterval != 300*time.Millisecond || c.ActivationInterval != 500*time.Millisecond ||
		c.Preempt || c.PreemptDelay != 0 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	c.Preempt = true
	c.ApplyDefaults()
	if c.PreemptDelay != DefaultPreemptDelay {
		t.Fatalf("preempt_delay default = %v", c.PreemptDelay)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidateNamesFields(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   []string // each must appear in the error
	}{
		{"missing id", func(c *Config) { c.MemberID = "" }, []string{"member_id: is required"}},
		{"id with space", func(c *Config) { c.MemberID = "feed a" }, []string{"member_id:", "must not contain"}},
		{"id too long", func(c *Config) { c.MemberID = strings.Repeat("x", 65) }, []string{"member_id:", "longer than 64"}},
		{"weight zero", func(c *Config) { c.Weight = 0 }, []string{"pair.weight: 0 is out of range [1, 65535]"}},
		{"weight too big", func(c *Config) { c.Weight = 70000 }, []string{"pair.weight: 70000 is out of range"}},
		{"goal zero", func(c *Config) { c.ActiveGoal = 0 }, []string{"pair.active_goal: 0 is out of range [1, 64]"}},
		{"goal negative", func(c *Config) { c.ActiveGoal = -1 }, []string{"pair.active_goal:"}},
		{"heartbeat zero", func(c *Config) { c.HeartbeatInterval = 0 }, []string{"pair.heartbeat_interval: 0s must be at least 1ms"}},
		{"preparation not above heartbeat", func(c *Config) { c.PreparationInterval = 100 * ms },
			[]string{"pair.preparation_interval: 100ms must be greater than pair.heartbeat_interval (100ms)"}},
		{"activation not above preparation", func(c *Config) { c.ActivationInterval = 300 * ms },
			[]string{"pair.activation_interval: 300ms must be greater than pair.preparation_interval (300ms)"}},
		{"activation below two heartbeats", func(c *Config) {
			c.HeartbeatInterval, c.PreparationInterval, c.ActivationInterval = 100*ms, 150*ms, 160*ms
		}, []string{"pair.activation_interval: 160ms must be at least twice pair.heartbeat_interval (100ms)"}},
		{"negative preempt delay", func(c *Config) { c.PreemptDelay = -time.Second }, []string{"pair.preempt_delay: -1s must not be negative"}},
		{"preempt delay below activation", func(c *Config) { c.Preempt, c.PreemptDelay = true, 100*ms },
			[]string{"pair.preempt_delay: 100ms must be at least pair.activation_interval (500ms)"}},
		{"several at once", func(c *Config) { c.Weight, c.ActiveGoal = -3, 100 },
			[]string{"pair.weight:", "pair.active_goal:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "pair.") && !strings.HasPrefix(line, "member_id:") {
					t.Errorf("error line %q does not name a field", line)
				}
			}
			// NewNode applies the defaults first, which fills in zeros.
			zeroFilled := tc.name == "heartbeat zero" || tc.name == "weight zero" || tc.name == "goal zero"
			if _, err := NewNode(c, 1, time.Time{}); (err == nil) != zeroFilled {
				t.Errorf("NewNode: %v", err)
			}
		})
	}
}

func TestNewNodeAppliesDefaults(t *testing.T) {
	n, err := NewNode(Config{MemberID: "a"}, 1, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Config(); got.ActivationInterval != DefaultActivationInterval || got.Weight != 1 || got.ActiveGoal != 1 {
		t.Fatalf("defaults not applied: %+v", got)
	}
}
