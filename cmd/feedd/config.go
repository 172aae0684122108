package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Settings are read in this order, each overriding the last: the built-in
// defaults, the YAML file, FEEDD_* environment variables, command-line flags.
// Every leaf of the configuration has all three spellings, derived from its
// YAML path so they cannot drift apart:
//
//	serial.read_timeout  ->  FEEDD_SERIAL_READ_TIMEOUT  ->  --serial.read_timeout

// loadYAML decodes a configuration file into cfg, refusing unknown fields so
// that a misspelt key is an error rather than a silently ignored setting.
func loadYAML(path string, cfg any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// setting is one leaf of the configuration tree.
type setting struct {
	path  string // YAML path, e.g. serial.device
	field reflect.Value
	help  string
}

func (s setting) envName() string {
	return "FEEDD_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(s.path))
}

// settingsOf lists the leaves of the struct cfg points to.
func settingsOf(cfg any) []setting {
	var out []setting
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if name == "-" || !sf.IsExported() {
				continue
			}
			fv := v.Field(i)
			if opts == "inline" {
				walk(fv, prefix)
				continue
			}
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			path := prefix + name
			if sf.Type.Kind() == reflect.Struct && sf.Type != reflect.TypeFor[time.Duration]() {
				walk(fv, path+".")
				continue
			}
			if settable(sf.Type) {
				out = append(out, setting{path: path, field: fv, help: sf.Tag.Get("help")})
			}
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "")
	return out
}

func settable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// set parses text into the setting's field.
func (s setting) set(text string) error {
	f := s.field
	var err error
	switch {
	case f.Type() == reflect.TypeFor[time.Duration]():
		var d time.Duration
		if d, err = time.ParseDuration(text); err == nil {
			f.SetInt(int64(d))
		}
	case f.Kind() == reflect.String:
		f.SetString(text)
	case f.Kind() == reflect.Bool:
		var b bool
		if b, err = strconv.ParseBool(text); err == nil {
			f.SetBool(b)
		}
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		var n int64
		if n, err = strconv.ParseInt(text, 10, 64); err == nil {
			f.SetInt(n)
		}
	case f.Kind() == reflect.Uint64:
		var n uint64
		if n, err = strconv.ParseUint(text, 10, 64); err == nil {
			f.SetUint(n)
		}
	case f.Kind() == reflect.Float64:
		var x float64
		if x, err = strconv.ParseFloat(text, 64); err == nil {
			f.SetFloat(x)
		}
	case f.Kind() == reflect.Slice:
		var parts []string
		for p := range strings.SplitSeq(text, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	}
	if err != nil {
		return fmt.Errorf("%s: cannot use %q: %w", s.path, text, errors.Unwrap(err))
	}
	return nil
}

// applyEnv sets every leaf whose FEEDD_* variable is present.
func applyEnv(settings []setting, lookup func(string) (string, bool)) error {
	for _, s := range settings {
		if v, ok := lookup(s.envName()); ok {
			if err := s.set(v); err != nil {
				return fmt.Errorf("%s: %w", s.envName(), err)
			}
		}
	}
	return nil
}

// override is a flag given on the command line, applied after the file and
// the environment have been read.
type override struct{ path, value string }

// overrideFlag records --<path>=value without applying it yet.
type overrideFlag struct {
	path    string
	isBool  bool
	pending *[]override
}

func (f *overrideFlag) String() string { return "" }
func (f *overrideFlag) Set(v string) error {
	*f.pending = append(*f.pending, override{f.path, v})
	return nil
}
func (f *overrideFlag) IsBoolFlag() bool { return f.isBool }

func applyOverrides(settings []setting, pending []override) error {
	byPath := make(map[string]setting, len(settings))
	for _, s := range settings {
		byPath[s.path] = s
	}
	for _, o := range pending {
		if err := byPath[o.path].set(o.value); err != nil {
			return fmt.Errorf("--%w", err)
		}
	}
	return nil
}
