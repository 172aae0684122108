package framing

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestModeRegistry fails while a mode lacks a part: a name, a decoder, an
// encoder, a default max_frame, an option that cannot be read or shown,
// a configuration among the tests' one-per-mode lists, or its rows in the
// docs.
func TestModeRegistry(t *testing.T) {
	if len(modes) == 0 {
		t.Fatal("no modes registered")
	}
	names := map[string]bool{}
	owner := map[string]string{} // option key -> mode
	for _, m := range modes {
		switch {
		case m.Name == "" || strings.ContainsAny(m.Name, ": "):
			t.Errorf("mode %q: a name must be non-empty, without ':' or spaces", m.Name)
		case names[m.Name]:
			t.Errorf("mode %s registered twice", m.Name)
		}
		names[m.Name] = true
		if m.Delivers == "" {
			t.Errorf("mode %s: no Delivers line", m.Name)
		}
		if m.DefaultMaxFrame <= 0 || m.DefaultMaxFrame > MaxFrameLimit {
			t.Errorf("mode %s: DefaultMaxFrame %d, want 1..%d", m.Name, m.DefaultMaxFrame, MaxFrameLimit)
		}
		if m.newDecoder == nil || m.appendFrame == nil || m.resyncs == nil {
			t.Errorf("mode %s: decoder %t, encoder %t, resyncs %t: each must be set",
				m.Name, m.newDecoder != nil, m.appendFrame != nil, m.resyncs != nil)
		}
		if (m.Arg == "") != (m.parseArg == nil) {
			t.Errorf("mode %s: Arg %q and parseArg set %t: the short form needs both", m.Name, m.Arg, m.parseArg != nil)
		}
		for _, o := range m.options {
			if o.key == "" || o.set == nil || o.resolve == nil || o.value == nil {
				t.Errorf("mode %s: option %q lacks a key, set, resolve or value", m.Name, o.key)
			}
			if prev, dup := owner[o.key]; dup {
				t.Errorf("option %s belongs to both %s and %s", o.key, prev, m.Name)
			}
			owner[o.key] = m.Name
		}
		if got, ok := LookupMode(m.Name); !ok || got.Name != m.Name {
			t.Errorf("LookupMode(%q) = %q, %t", m.Name, got.Name, ok)
		}
		if got, ok := LookupMode(m.spelling()); !ok || got.Name != m.Name {
			t.Errorf("LookupMode(%q) = %q, %t", m.spelling(), got.Name, ok)
		}
		if !slices.Contains(strings.Split(ModeList(), ", "), m.spelling()) {
			t.Errorf("ModeList() = %q lacks %s", ModeList(), m.spelling())
		}
		for what, list := range map[string][]Config{"allModes": allModes, "idleModes": idleModes} {
			if !slices.ContainsFunc(list, func(c Config) bool { return modeOf(t, c) == m.Name }) {
				t.Errorf("mode %s has no configuration in %s, which the decoder tests run over", m.Name, what)
			}
		}
	}
	if _, ok := LookupMode("lines:3"); ok {
		t.Error(`LookupMode("lines:3") found a mode: lines has no short form`)
	}

	// Every field of Config is the mode, max_frame, or an option of
	// exactly one mode, and each option's set reads its own field.
	typ := reflect.TypeFor[Config]()
	keys := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		keys[key] = true
		if key == "mode" || key == "max_frame" {
			continue
		}
		mode, ok := owner[key]
		if !ok {
			t.Errorf("Config.%s (%s) is an option of no mode: list it in the options of the mode that reads it", f.Name, key)
			continue
		}
		var c Config
		v := reflect.ValueOf(&c).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int:
			v.SetInt(1)
		default:
			t.Fatalf("Config.%s: kind %v; teach this test to set it", f.Name, v.Kind())
		}
		for _, o := range mustMode(mode).options {
			if o.key == key && !o.set(c) {
				t.Errorf("mode %s: option %s: set reports false for a Config that sets only Config.%s", mode, key, f.Name)
			}
			if o.key == key && o.set(Config{}) {
				t.Errorf("mode %s: option %s: set reports true for an empty Config", mode, key)
			}
		}
	}
	for key, mode := range owner {
		if !keys[key] {
			t.Errorf("mode %s: option %s is no YAML key of Config", mode, key)
		}
	}

	checkModeDocs(t)
}

// checkModeDocs: docs/framing.md describes every mode in both its tables,
// the mode table in the row's own words; docs/configuration.md lists it
// among the values of framing.mode; and every other list of the modes
// (a line naming most of them, in the README, the example configurations
// or this package's docs) names them all.
func checkModeDocs(t *testing.T) {
	t.Helper()
	read := func(path string) []string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\n")
	}
	named := func(line string, m *Mode) bool {
		return regexp.MustCompile(`(^|[^a-z-])` + regexp.QuoteMeta(m.Name) + `($|[^a-z-])`).MatchString(line)
	}

	framing := read("../../docs/framing.md")
	for _, m := range modes {
		cell := "| `" + m.spelling() + "`"
		want := cell + " | " + m.Delivers + " |"
		if !slices.ContainsFunc(framing, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("docs/framing.md: the mode table has no row starting %q", want)
		}
		rows := 0
		for _, l := range framing {
			if rest, ok := strings.CutPrefix(l, cell); ok && (strings.HasPrefix(rest, " |") || strings.HasPrefix(rest, " with")) {
				rows++
			}
		}
		if rows < 2 {
			t.Errorf("docs/framing.md: mode %s starts %d table rows; want one in the mode table and one in the table of certain boundaries", m.spelling(), rows)
		}
	}

	modeRow := false
	for _, l := range read("../../docs/configuration.md") {
		if strings.HasPrefix(l, "| `framing.mode` |") {
			modeRow = true
			for _, m := range modes {
				if !named(l, m) {
					t.Errorf("docs/configuration.md: the framing.mode row does not list %s", m.spelling())
				}
			}
		}
	}
	if !modeRow {
		t.Error("docs/configuration.md has no row for framing.mode")
	}

	lists, err := filepath.Glob("../../deploy/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range append(lists, "../../README.md", "doc.go") {
		for i, l := range read(path) {
			var missing []string
			for _, m := range modes {
				if !named(l, m) {
					missing = append(missing, m.Name)
				}
			}
			if len(missing) > 0 && len(modes)-len(missing) >= 5 {
				t.Errorf("%s:%d lists the framing modes but not %s", path, i+1, strings.Join(missing, ", "))
			}
		}
	}
}

func modeOf(t *testing.T, c Config) string {
	t.Helper()
	s, err := c.resolve()
	if err != nil {
		t.Fatalf("%+v: %v", c, err)
	}
	return s.mode
}

// awkwardPayloads hold every mode's delimiter, escape and start bytes; a
// mode that cannot carry one must refuse it. The 8- and 64-byte ones fit
// the fixed sizes of allModes and idleModes.
var awkwardPayloads = [][]byte{
	{0x00, slipEnd, slipEsc, stx, etx, '\n', '\r', 'A'},
	bytes.Repeat([]byte{0x00, slipEnd, slipEsc, slipEscEnd, stx, etx, '\n', '$'}, 8),
	[]byte("a\rb"),
	{slipEnd},
	{0x00},
	{0x00, 0x00},
	bytes.Repeat([]byte{0xA5}, 300), // a full COBS block and more
}

// Every mode carries frames through its encoder and decoder unchanged,
// whole or split anywhere, and refuses with ErrUnencodable what it cannot
// carry, leaving dst as it was.
func TestModesRoundTrip(t *testing.T) {
	for _, c := range slices.Concat(allModes, idleModes) {
		m := mustMode(modeOf(t, c))
		if m.newDecoder == nil || m.appendFrame == nil {
			continue // TestModeRegistry reports it
		}
		lead, leadResyncs := leadFor(t, c)
		stream := slices.Clone(lead)
		var want [][]byte
		add := func(payload []byte) {
			t.Helper()
			before := len(stream)
			out, err := c.AppendFrame(stream, payload)
			if err != nil {
				if !errors.Is(err, ErrUnencodable) || len(out) != before || !bytes.Equal(out, stream) {
					t.Fatalf("%s: refusing %q: %v, and dst changed from %d to %d bytes", c.Mode, payload, err, before, len(out))
				}
				return
			}
			if frame := out[before:]; m.Delimiters != nil &&
				bytes.IndexByte(m.Delimiters, frame[0]) < 0 && bytes.IndexByte(m.Delimiters, frame[len(frame)-1]) < 0 {
				t.Errorf("%s: frame %q on the wire neither starts nor ends with one of the delimiters %q", c.Mode, frame, m.Delimiters)
			}
			stream = out
			want = append(want, slices.Clone(payload))
		}
		for i := range 4 {
			n := 8 + 4*i
			s, _ := c.resolve()
			if s.mode == ModeFixed {
				n = s.size
			}
			frame := appendTestFrame(t, c, nil, i, n)
			d := mustNew(t, c)
			got := feed(t, d, lead, frame)
			if len(got) != 1 {
				t.Fatalf("%s: test frame %q decoded to %q", c.Mode, frame, quoteFrames(got))
			}
			add(got[0])
		}
		for _, p := range awkwardPayloads {
			add(p)
		}

		for seed := range uint64(20) {
			d := mustNew(t, c)
			chunks := [][]byte{stream}
			if seed > 0 {
				chunks = randomChunks(stream, seed)
			}
			got := feed(t, d, chunks...)
			if !equalFrames(got, want) {
				t.Fatalf("%+v, seed %d: frames\n got %q\nwant %q", c, seed, quoteFrames(got), quoteFrames(want))
			}
			if cs := countsOf(d); cs != (counts{Resync: leadResyncs}) {
				t.Fatalf("%+v, seed %d: drops %v, want %d resync", c, seed, cs, leadResyncs)
			}
		}
	}
}

// Canonical lists mode, max_frame and the mode's options, and reads back
// as the same settings.
func TestCanonical(t *testing.T) {
	for _, c := range slices.Concat(allModes, idleModes, []Config{
		{Mode: ModeNMEA, NMEAChecksum: NMEAChecksumOptional},
		{Mode: ModeSTXETX, Check: CheckLRC, MaxFrame: DefaultMaxFrame},
		{Mode: ModeFixed, Size: 16, Sync: "aa55"},
	}) {
		want, err := c.resolve()
		if err != nil {
			t.Fatal(err)
		}
		canon, err := c.Canonical()
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		wantKeys := []string{"mode", "max_frame"}
		for _, o := range mustMode(want.mode).options {
			wantKeys = append(wantKeys, o.key)
		}
		var keys []string
		var back Config
		for _, s := range canon {
			keys = append(keys, s.Key)
			setYAMLField(t, &back, s.Key, s.Value)
		}
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("%+v: Canonical keys %q, want %q", c, keys, wantKeys)
		}
		if got, err := back.resolve(); err != nil || got != want {
			t.Errorf("%+v: Canonical %+v reads back as %+v, %v; want %+v", c, canon, got, err, want)
		}
	}
	if _, err := (Config{Mode: "morse"}).Canonical(); err == nil {
		t.Error("Canonical of an invalid mode: no error")
	}
}

func setYAMLField(t *testing.T, c *Config, key, value string) {
	t.Helper()
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if k, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); k != key {
			continue
		}
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			f.SetString(value)
		case reflect.Int:
			n, err := strconv.Atoi(value)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			f.SetInt(int64(n))
		}
		return
	}
	t.Fatalf("no Config field has YAML key %s", key)
}
