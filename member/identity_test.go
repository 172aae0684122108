package member

import (
	"encoding/hex"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/framing"
)

func mustFrameIdentity(t *testing.T, f framing.Config, s ingest.SequenceConfig) link.Identity {
	t.Helper()
	id, err := FrameIdentity(f, s)
	if err != nil {
		t.Fatalf("%+v %+v: %v", f, s, err)
	}
	return id
}

// An invalid framing configuration has no identity: the error says why.
func TestPairIdentityInvalidFraming(t *testing.T) {
	_, err := FrameIdentity(framing.Config{Mode: "morse"}, ingest.SequenceConfig{})
	if err == nil || !strings.Contains(err.Error(), "framing.mode") {
		t.Errorf("FrameIdentity of mode morse: %v; want an error naming framing.mode", err)
	}
}

// TestPairIdentityDigest: equivalent settings give one digest (an option
// left out and its default, fixed:N and fixed with size N, the sync in
// either case); every setting that decides a frame's identity changes it.
func TestPairIdentityDigest(t *testing.T) {
	same := [][2]framing.Config{
		{{Mode: "nmea"}, {Mode: "nmea", MaxFrame: framing.DefaultNMEAMaxFrame, NMEAChecksum: "required"}},
		{{Mode: "lines"}, {Mode: "lines", MaxFrame: framing.DefaultMaxFrame}},
		{{Mode: "stx-etx"}, {Mode: "stx-etx", Check: "none"}},
		{{Mode: "fixed:16"}, {Mode: "fixed", Size: 16}},
		{{Mode: "fixed", Size: 8, Sync: "aa55"}, {Mode: "fixed:8", Sync: "AA55"}},
	}
	for _, p := range same {
		a, b := mustFrameIdentity(t, p[0], ingest.SequenceConfig{}), mustFrameIdentity(t, p[1], ingest.SequenceConfig{})
		if a != b {
			t.Errorf("%+v and %+v: different identities %v, %v", p[0], p[1], a, b)
		}
	}

	base := framing.Config{Mode: "nmea"}
	variants := []struct {
		f framing.Config
		s ingest.SequenceConfig
	}{
		{base, ingest.SequenceConfig{}},
		{base, ingest.SequenceConfig{NMEAField: 1}},
		{base, ingest.SequenceConfig{NMEAField: 2}},
		{base, ingest.SequenceConfig{Regex: `,(\d+),`}},
		{base, ingest.SequenceConfig{Regex: `,(\d+)\*`}},
		{framing.Config{Mode: "nmea", MaxFrame: 100}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "nmea", NMEAChecksum: "optional"}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "lines"}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "stx-etx"}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "stx-etx", Check: "xor"}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "stx-etx", Check: "lrc"}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "fixed:8"}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "fixed:9"}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "fixed:8", Sync: "AA"}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "length-prefix", LengthBytes: 1}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "length-prefix", LengthBytes: 2}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "slip"}, ingest.SequenceConfig{}},
		{framing.Config{Mode: "cobs"}, ingest.SequenceConfig{}},
	}
	seen := map[[32]byte]int{}
	for i, v := range variants {
		if err := v.f.Validate(); err != nil {
			t.Fatalf("variant %d: %v", i, err)
		}
		id := mustFrameIdentity(t, v.f, v.s)
		if j, dup := seen[id.Digest]; dup {
			t.Errorf("variants %d and %d share a digest: %+v / %+v", j, i, variants[j], v)
		}
		seen[id.Digest] = i
		if !strings.HasPrefix(id.Description, "framing ") || !strings.HasSuffix(id.Description, ", identity v2") {
			t.Errorf("variant %d: description %q", i, id.Description)
		}
	}
}

func TestPairIdentityDescription(t *testing.T) {
	for _, c := range []struct {
		f    framing.Config
		s    ingest.SequenceConfig
		want string
	}{
		{framing.Config{Mode: "nmea"}, ingest.SequenceConfig{NMEAField: 1}, "framing nmea, sequence nmea_field=1, identity v2"},
		{framing.Config{Mode: "nmea"}, ingest.SequenceConfig{}, "framing nmea, no sequence, identity v2"},
		{framing.Config{Mode: "nmea", MaxFrame: 120, NMEAChecksum: "optional"}, ingest.SequenceConfig{},
			"framing nmea max_frame=120 nmea_checksum=optional, no sequence, identity v2"},
		{framing.Config{Mode: "fixed:16", Sync: "aa55"}, ingest.SequenceConfig{Regex: `^(\d+)`},
			`framing fixed size=16 sync=AA55, sequence regex="^(\\d+)", identity v2`},
		{framing.Config{Mode: "length-prefix", LengthBytes: 2}, ingest.SequenceConfig{}, "framing length-prefix length_bytes=2, no sequence, identity v2"},
	} {
		if got := mustFrameIdentity(t, c.f, c.s).Description; got != c.want {
			t.Errorf("%+v %+v: %q, want %q", c.f, c.s, got, c.want)
		}
	}
	long := mustFrameIdentity(t, framing.Config{Mode: "lines"}, ingest.SequenceConfig{Regex: "(" + strings.Repeat("x", 500) + ")"})
	if len(long.Description) > 120 || !strings.Contains(long.Description, "…") {
		t.Errorf("long regex: %d bytes: %q", len(long.Description), long.Description)
	}
}

// TestPairIdentityCoversEveryField fails when framing.Config or
// ingest.SequenceConfig gains a field: decide whether it changes a frame's
// identity, cover it (a framing option through its mode's row, whose
// value Canonical lists; a sequence setting in identitySettings), bump
// identityScheme if existing settings now identify frames differently,
// then list it here.
func TestPairIdentityCoversEveryField(t *testing.T) {
	known := map[reflect.Type][]string{
		reflect.TypeFor[framing.Config]():        {"Mode", "MaxFrame", "NMEAChecksum", "Check", "Size", "Sync", "LengthBytes"},
		reflect.TypeFor[ingest.SequenceConfig](): {"NMEAField", "Regex"},
	}
	for typ, fields := range known {
		for i := range typ.NumField() {
			if name := typ.Field(i).Name; !slices.Contains(fields, name) {
				t.Errorf("%v.%s is not covered by the frame identity digest (member/identity.go)", typ, name)
			}
		}
	}
}

// TestPairIdentityDigestPinned pins the digest of one configuration per
// framing mode and option: a member must pair with a member of the release
// before it, so a refactoring of how the settings are read must not move a
// digest. A change here is a change of identity scheme: bump
// identityScheme, then update the table.
func TestPairIdentityDigestPinned(t *testing.T) {
	for _, c := range []struct {
		f    framing.Config
		s    ingest.SequenceConfig
		want string // the digest's first 8 bytes, in hex
	}{
		{framing.Config{Mode: "lines"}, ingest.SequenceConfig{}, "1f7397e187ffcca4"},
		{framing.Config{Mode: "nmea"}, ingest.SequenceConfig{}, "2ff9c70c8299cde3"},
		{framing.Config{Mode: "nmea"}, ingest.SequenceConfig{NMEAField: 1}, "dbe890418328ac31"},
		{framing.Config{Mode: "nmea", MaxFrame: 120, NMEAChecksum: "optional"}, ingest.SequenceConfig{}, "928008018aa2896a"},
		{framing.Config{Mode: "stx-etx"}, ingest.SequenceConfig{}, "98f1d1af01f70d85"},
		{framing.Config{Mode: "stx-etx", Check: "xor"}, ingest.SequenceConfig{}, "ba5ac2049420f97c"},
		{framing.Config{Mode: "stx-etx", Check: "lrc"}, ingest.SequenceConfig{}, "a70da787738a7c2e"},
		{framing.Config{Mode: "fixed:16", Sync: "aa55"}, ingest.SequenceConfig{}, "0f3aca41597e889d"},
		{framing.Config{Mode: "fixed", Size: 8}, ingest.SequenceConfig{}, "884f231a8eaf290f"},
		{framing.Config{Mode: "length-prefix", LengthBytes: 2}, ingest.SequenceConfig{}, "6656374ae45e8390"},
		{framing.Config{Mode: "length-prefix", LengthBytes: 4, MaxFrame: 65536}, ingest.SequenceConfig{}, "39ea35ab3b5aea70"},
		{framing.Config{Mode: "slip", MaxFrame: 1500}, ingest.SequenceConfig{}, "aa4ea79fea99c8a4"},
		{framing.Config{Mode: "cobs"}, ingest.SequenceConfig{}, "16585024f11d45b0"},
	} {
		id := mustFrameIdentity(t, c.f, c.s)
		if got := hex.EncodeToString(id.Digest[:8]); got != c.want {
			t.Errorf("%+v %+v: digest %s…, pinned %s…", c.f, c.s, got, c.want)
		}
	}
}
