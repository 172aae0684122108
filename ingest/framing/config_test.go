package framing

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidateAccepts(t *testing.T) {
	for _, c := range []Config{
		{Mode: ModeLines},
		{Mode: ModeLines, MaxFrame: MaxFrameLimit},
		{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumOptional, MaxFrame: 200},
		{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumRequired},
		{Mode: ModeSTXETX, Check: CheckLRC},
		{Mode: ModeSTXETX, Check: CheckNone},
		{Mode: "fixed:16"},
		{Mode: "fixed:16", Size: 16},
		{Mode: ModeFixed, Size: 4096},
		{Mode: ModeFixed, Size: 8, Sync: "aa55AA55aa55AA55"},
		{Mode: ModeLengthPrefix, LengthBytes: 4},
		{Mode: ModeSLIP},
		{Mode: ModeCOBS, MaxFrame: 1},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
		if _, err := New(c); err != nil {
			t.Errorf("New(%+v): %v", c, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		cfg    Config
		fields []string // every field the error must name, in order
	}{
		{Config{}, []string{"mode"}},
		{Config{Mode: "foo"}, []string{"mode"}},
		{Config{Mode: "Lines"}, []string{"mode"}},
		{Config{Mode: "fixed:"}, []string{"mode"}},
		{Config{Mode: "fixed:0"}, []string{"mode"}},
		{Config{Mode: "fixed:-3"}, []string{"mode"}},
		{Config{Mode: "fixed:x"}, []string{"mode"}},
		{Config{Mode: ModeLines, MaxFrame: -1}, []string{"max_frame"}},
		{Config{Mode: ModeLines, MaxFrame: MaxFrameLimit + 1}, []string{"max_frame"}},
		{Config{Mode: ModeNMEA, NMEAChecksum: "yes"}, []string{"nmea_checksum"}},
		{Config{Mode: ModeLines, NMEAChecksum: NMEAChecksumOptional}, []string{"nmea_checksum"}},
		{Config{Mode: ModeSTXETX, Check: "crc"}, []string{"check"}},
		{Config{Mode: ModeNMEA, Check: CheckXOR}, []string{"check"}},
		{Config{Mode: ModeFixed}, []string{"size"}},
		{Config{Mode: ModeFixed, Size: -1}, []string{"size"}},
		{Config{Mode: "fixed:4", Size: 5}, []string{"size"}},
		{Config{Mode: ModeFixed, Size: 5000}, []string{"size"}},
		{Config{Mode: ModeFixed, Size: 10, MaxFrame: 8}, []string{"size"}},
		{Config{Mode: ModeLines, Size: 10}, []string{"size"}},
		{Config{Mode: "fixed:4", Sync: "AA5"}, []string{"sync"}},
		{Config{Mode: "fixed:4", Sync: "ZZ"}, []string{"sync"}},
		{Config{Mode: "fixed:4", Sync: strings.Repeat("AA", MaxSyncBytes+1)}, []string{"sync"}},
		{Config{Mode: ModeSLIP, Sync: "AA"}, []string{"sync"}},
		{Config{Mode: ModeLengthPrefix}, []string{"length_bytes"}},
		{Config{Mode: ModeLengthPrefix, LengthBytes: 3}, []string{"length_bytes"}},
		{Config{Mode: ModeCOBS, LengthBytes: 2}, []string{"length_bytes"}},
		{
			Config{Mode: ModeLines, MaxFrame: -5, Check: CheckXOR, LengthBytes: 1},
			[]string{"max_frame", "check", "length_bytes"},
		},
	} {
		err := tc.cfg.Validate()
		if err == nil {
			t.Errorf("%+v: no error", tc.cfg)
			continue
		}
		var fields []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var ce *ConfigError
			if !errors.As(e, &ce) {
				t.Errorf("%+v: %v is not a *ConfigError", tc.cfg, e)
				continue
			}
			fields = append(fields, ce.Field)
			if !strings.HasPrefix(e.Error(), "framing."+ce.Field+": ") {
				t.Errorf("%+v: %q does not start with the field's YAML path", tc.cfg, e)
			}
		}
		if !slices.Equal(fields, tc.fields) {
			t.Errorf("%+v: error %q names fields %q, want %q", tc.cfg, err, fields, tc.fields)
		}
		if _, nerr := New(tc.cfg); nerr == nil || nerr.Error() != err.Error() {
			t.Errorf("New(%+v) error %v, want %v", tc.cfg, nerr, err)
		}
		if _, aerr := tc.cfg.AppendFrame(nil, []byte("x")); aerr == nil {
			t.Errorf("AppendFrame with %+v: no error", tc.cfg)
		}
	}
}

func TestValidateModeMessage(t *testing.T) {
	err := Config{Mode: "foo"}.Validate()
	want := `framing.mode: "foo" is not one of lines, nmea, stx-etx, fixed:N, length-prefix, slip, cobs`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want settings
	}{
		{Config{Mode: ModeNMEA}, settings{mode: ModeNMEA, maxFrame: DefaultNMEAMaxFrame}},
		{Config{Mode: ModeLines}, settings{mode: ModeLines, maxFrame: DefaultMaxFrame}},
		{Config{Mode: ModeSTXETX}, settings{mode: ModeSTXETX, maxFrame: DefaultMaxFrame, check: checkNone}},
		{Config{Mode: "fixed:7", Sync: "0102"}, settings{mode: ModeFixed, maxFrame: DefaultMaxFrame, size: 7, sync: [MaxSyncBytes]byte{1, 2}, syncLen: 2}},
	} {
		got, err := tc.cfg.resolve()
		if err != nil || got != tc.want {
			t.Errorf("%+v: resolved to %+v, %v; want %+v", tc.cfg, got, err, tc.want)
		}
	}
}

func TestReasons(t *testing.T) {
	want := []string{"bad_checksum", "oversize", "truncated", "noise", "resync"}
	var got []string
	for _, r := range Reasons {
		got = append(got, r.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("Reasons = %q, want %q", got, want)
	}
	if s := Reason(9).String(); s != "Reason(9)" {
		t.Errorf("Reason(9) = %q", s)
	}
	var d Drops
	d.add(Noise)
	d.add(Noise)
	d.add(Oversize)
	if d.Count(Noise) != 2 || d.Count(Oversize) != 1 || d.Total() != 3 || d.Count(Reason(-1)) != 0 || d.Count(Reason(5)) != 0 {
		t.Errorf("counts: noise %d oversize %d total %d", d.Count(Noise), d.Count(Oversize), d.Total())
	}
}

func TestResyncs(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{Mode: ModeLines}, true},
		{Config{Mode: ModeNMEA}, true},
		{Config{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumOptional}, true},
		{Config{Mode: ModeSTXETX}, true},
		{Config{Mode: ModeSTXETX, Check: CheckLRC}, true},
		{Config{Mode: "fixed:8", Sync: "AA55"}, true},
		{Config{Mode: ModeFixed, Size: 8, Sync: "7E"}, true},
		{Config{Mode: ModeSLIP}, true},
		{Config{Mode: ModeCOBS}, true},
		// No certain boundary.
		{Config{Mode: "fixed:8"}, false},
		{Config{Mode: ModeLengthPrefix, LengthBytes: 2}, false},
		// Invalid.
		{Config{Mode: "morse"}, false},
		{Config{Mode: ModeLines, MaxFrame: -1}, false},
	} {
		if got := tc.cfg.Resyncs(); got != tc.want {
			t.Errorf("%+v: Resyncs() = %v, want %v", tc.cfg, got, tc.want)
		}
	}
}
