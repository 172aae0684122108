package framing

import (
	"fmt"
	"slices"
	"strings"
)

// modes is the registry: every framing mode, in the order that messages
// and help list them. Each row lives beside its decoder (linesMode in
// lines.go, and so on), so a new mode is a new file with its decoder,
// encoder and row, and one line here; a mode with options of its own also
// adds their fields to Config and settings. TestModeRegistry fails while a
// row lacks a part, a Config field belongs to no mode, or the docs do not
// describe the mode.
var modes = []*Mode{
	&linesMode,
	&nmeaMode,
	&stxetxMode,
	&fixedMode,
	&lengthPrefixMode,
	&slipMode,
	&cobsMode,
}

// Mode is one framing mode: everything the rest of feedd reads about it,
// and, unexported, how to validate its options, decode and encode it.
type Mode struct {
	// Name is the mode as written in framing.mode.
	Name string
	// Arg, when set, names the argument of a short form "Name:Arg" that
	// framing.mode also accepts, e.g. N in fixed:N.
	Arg string
	// Delivers says in one line what a frame of the mode is, as the mode
	// table of docs/framing.md says it (a test keeps the two alike).
	Delivers string
	// Delimiters are the bytes that start or end every frame on the
	// wire, which a probe counts to tell whether the mode fits a feed;
	// nil when no byte does (fixed, length-prefix).
	Delimiters []byte
	// DefaultMaxFrame is max_frame when the configuration leaves it
	// unset.
	DefaultMaxFrame int

	// parseArg reads the argument of the short form into r; set exactly
	// when Arg is.
	parseArg func(r *resolver, arg string)
	// options are the settings that only this mode reads, in the order
	// that validation reports them.
	options []option
	// newDecoder returns a decoder for settings resolved for this mode.
	newDecoder func(s settings) Decoder
	// appendFrame appends payload, framed, to dst, or says why the mode
	// cannot carry it (then dst is ignored). Payload is never empty nor
	// over max_frame: AppendFrame has refused those already.
	appendFrame func(s *settings, dst, payload []byte) (out []byte, whyNot string)
	// resyncs reports whether the mode, so configured, has a certain
	// frame boundary (see Config.Resyncs).
	resyncs func(s *settings) bool
}

// option is a setting under "framing:" that only one mode reads. Set
// under another mode it is an error, not silently ignored.
type option struct {
	// key is its YAML key under "framing:", e.g. "check".
	key string
	// set reports whether c sets it.
	set func(c Config) bool
	// resolve checks the value and applies it to r.s, or its default when
	// unset. It runs when the option's mode is the configured one, and
	// for a set option when the mode is invalid, so that one pass reports
	// every bad value.
	resolve func(r *resolver)
	// value is the resolved setting in canonical form (see
	// Config.Canonical), and whether that is its default.
	value func(s *settings) (v string, isDefault bool)
}

// spelling is the mode as lists of modes write it: fixed:N for fixed.
func (m *Mode) spelling() string {
	if m.Arg != "" {
		return m.Name + ":" + m.Arg
	}
	return m.Name
}

// Modes returns every framing mode, in the order that messages list them.
func Modes() []Mode {
	out := make([]Mode, len(modes))
	for i, m := range modes {
		out[i] = *m
		out[i].Delimiters = slices.Clone(m.Delimiters)
	}
	return out
}

// LookupMode returns the mode that framing.mode spells as mode, the short
// form (fixed:16) included; it does not check the short form's argument.
func LookupMode(mode string) (Mode, bool) {
	m, _, _ := lookupSpelled(mode)
	if m == nil {
		return Mode{}, false
	}
	out := *m
	out.Delimiters = slices.Clone(m.Delimiters)
	return out, true
}

// lookupSpelled finds the row for mode as written in framing.mode, and
// the short form's argument if mode is written so.
func lookupSpelled(mode string) (m *Mode, arg string, short bool) {
	name, a, isShort := strings.Cut(mode, ":")
	m = lookupMode(name)
	if m == nil || (isShort && m.parseArg == nil) {
		return nil, "", false
	}
	return m, a, isShort
}

func lookupMode(name string) *Mode {
	for _, m := range modes {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// mustMode returns the row of a mode that resolve accepted.
func mustMode(name string) *Mode {
	m := lookupMode(name)
	if m == nil {
		panic("framing: resolve accepted unknown mode " + name)
	}
	return m
}

// ModeList is every mode as framing.mode accepts it, for messages and
// help: "lines, nmea, stx-etx, fixed:N, ...".
func ModeList() string {
	names := make([]string, len(modes))
	for i, m := range modes {
		names[i] = m.spelling()
	}
	return strings.Join(names, ", ")
}

// always and never are resyncs for modes whose boundary does not depend
// on their options.
func always(*settings) bool { return true }
func never(*settings) bool  { return false }

// resolver validates a Config and applies its defaults, collecting every
// problem as a *ConfigError.
type resolver struct {
	c    Config
	s    settings
	errs []error
	// argBad: the short form's argument was bad, and said so; an option
	// it stands for need not also be reported missing.
	argBad bool
}

func (r *resolver) bad(field, format string, args ...any) {
	r.errs = append(r.errs, &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// mode reads framing.mode into r.s.mode, leaving it empty when it names
// no mode.
func (r *resolver) mode() *Mode {
	m, arg, short := lookupSpelled(r.c.Mode)
	if m == nil {
		r.bad("mode", "%q is not one of %s", r.c.Mode, ModeList())
		return nil
	}
	r.s.mode = m.Name
	if short {
		m.parseArg(r, arg)
	}
	return m
}

// options resolves every mode's options: the configured mode's, set or
// not, and any other mode's that is set, which is an error (or, when the
// mode is invalid, checked too).
func (r *resolver) options() {
	for _, m := range modes {
		for _, o := range m.options {
			set := o.set(r.c)
			switch {
			case r.s.mode == m.Name, r.s.mode == "" && set:
				o.resolve(r)
			case set:
				r.bad(o.key, "only applies to mode %s, not %s", m.Name, r.s.mode)
			}
		}
	}
}

// Setting is one framing setting in canonical form.
type Setting struct {
	// Key is its YAML key under "framing:", e.g. "max_frame".
	Key string
	// Value is its value with defaults applied and spelling normalised.
	Value string
	// Default reports that Value is what the setting takes when unset. A
	// setting without a default (size, length_bytes) never is.
	Default bool
}

// Canonical returns c's settings in canonical form, so that two
// configurations that frame a stream alike give the same list: mode (the
// short form resolved: fixed:16 is mode fixed and size 16), max_frame, then
// the mode's own options in a fixed order, each with defaults applied
// whether set or not. It fails as Validate does.
func (c Config) Canonical() ([]Setting, error) {
	s, err := c.resolve()
	if err != nil {
		return nil, err
	}
	m := mustMode(s.mode)
	out := []Setting{
		{Key: "mode", Value: m.Name},
		{Key: "max_frame", Value: fmt.Sprint(s.maxFrame), Default: s.maxFrame == m.DefaultMaxFrame},
	}
	for _, o := range m.options {
		v, isDefault := o.value(&s)
		out = append(out, Setting{Key: o.key, Value: v, Default: isDefault})
	}
	return out, nil
}
