package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/feedd/feedd/member"
	"gopkg.in/yaml.v3"
)

// Settings are read in this order, each overriding the last: the built-in
// defaults, the YAML file, FEEDD_* environment variables, command-line flags.
// Every leaf of the configuration has all three spellings, derived from its
// YAML path so they cannot drift apart:
//
//	serial.read_timeout  ->  FEEDD_SERIAL_READ_TIMEOUT  ->  --serial.read_timeout

// loadConfig builds the configuration from the file named by --config (or
// FEEDD_CONFIG), the environment and the flags already parsed into pending,
// applies the defaults and validates it for the given --role.
func loadConfig(path string, pending []override, lookupEnv func(string) (string, bool), role string) (member.Config, error) {
	cfg, err := readConfig(path, pending, lookupEnv)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate(role)
}

// readConfig is loadConfig without the validation, for commands that use
// only some sections (feedd probe and feedd ports need no Kafka or pair).
func readConfig(path string, pending []override, lookupEnv func(string) (string, bool)) (member.Config, error) {
	var cfg member.Config
	if path == "" {
		path, _ = lookupEnv("FEEDD_CONFIG")
	}
	if path != "" {
		if err := loadYAML(path, &cfg); err != nil {
			return cfg, err
		}
	}
	settings := settingsOf(&cfg)
	if err := applyEnv(settings, lookupEnv); err != nil {
		return cfg, err
	}
	if err := applyOverrides(settings, pending); err != nil {
		return cfg, err
	}
	return cfg.WithDefaults(), nil
}

// loadYAML decodes a configuration file into cfg, refusing unknown fields so
// that a misspelt key is an error rather than a silently ignored setting.
// Every unknown key is reported at once, by its YAML path and line, with
// the nearest setting it may have meant.
func loadYAML(path string, cfg any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if errs := unknownKeys(&root, reflect.TypeOf(cfg).Elem(), "", reflect.TypeOf(cfg).Elem()); len(errs) > 0 {
		return fmt.Errorf("config file %s: %w", path, errors.Join(errs...))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// unknownKeys returns an error for each key under the mapping n that names
// no field of the struct type t, prefix being n's YAML path and root the
// whole file's type. Values of the wrong kind are left to the decoder.
func unknownKeys(n *yaml.Node, t reflect.Type, prefix string, root reflect.Type) []error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return unknownKeys(n.Content[0], t, prefix, root)
	case yaml.AliasNode:
		return unknownKeys(n.Alias, t, prefix, root)
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return nil
		}
	default:
		return nil
	}
	fields := map[string]reflect.Type{}
	var names []string
	var collect func(t reflect.Type)
	collect = func(t reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name, inline, ok := yamlField(sf)
			switch {
			case !ok:
			case inline:
				collect(sf.Type)
			default:
				fields[name] = sf.Type
				names = append(names, name)
			}
		}
	}
	collect(t)
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ft, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("line %d: %s%s: unknown setting", k.Line, prefix, k.Value)
			if near := nearestName(k.Value, names); near != "" {
				msg += fmt.Sprintf(" (did you mean %s%s?)", prefix, near)
			} else if elsewhere := settingsNamed(root, k.Value); len(elsewhere) > 0 && len(elsewhere) <= 3 {
				// A setting of its section written at another level,
				// such as baud at the top.
				msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(elsewhere, " or "))
			}
			errs = append(errs, errors.New(msg))
			continue
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
			errs = append(errs, unknownKeys(v, ft, prefix+k.Value+".", root)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && v.Kind == yaml.SequenceNode:
			for j, item := range v.Content {
				errs = append(errs, unknownKeys(item, ft.Elem(), fmt.Sprintf("%s%s[%d].", prefix, k.Value, j), root)...)
			}
		}
	}
	return errs
}

// settingsNamed returns the YAML paths of the settings of the struct type
// root whose own key is name, top-level ones excepted.
func settingsNamed(root reflect.Type, name string) []string {
	var paths []string
	for _, s := range settingsOf(reflect.New(root).Interface()) {
		if i := strings.LastIndex(s.path, "."); i > 0 && s.path[i+1:] == name {
			paths = append(paths, s.path)
		}
	}
	return paths
}

// yamlField returns the YAML key of a struct field, whether the field is
// inlined into its parent, and whether the field is read from YAML at all.
func yamlField(sf reflect.StructField) (name string, inline, ok bool) {
	name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if name == "-" || !sf.IsExported() {
		return "", false, false
	}
	if opts == "inline" {
		return "", true, true
	}
	if name == "" {
		name = strings.ToLower(sf.Name)
	}
	return name, false, true
}

// nearestName returns the name nearest to s by edit distance, if one is
// near enough to be a misspelling of it.
func nearestName(s string, names []string) string {
	best, bestD := "", max(2, len(s)/3)+1
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// setting is one leaf of the configuration tree.
type setting struct {
	path  string // YAML path, e.g. serial.device
	field reflect.Value
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
			name, inline, ok := yamlField(sf)
			if !ok {
				continue
			}
			fv := v.Field(i)
			if inline {
				walk(fv, prefix)
				continue
			}
			path := prefix + name
			if sf.Type.Kind() == reflect.Struct && sf.Type != reflect.TypeFor[time.Duration]() {
				walk(fv, path+".")
				continue
			}
			if settable(sf.Type) {
				out = append(out, setting{path: path, field: fv})
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

// toolVariables are FEEDD_* variables that feedd's own tools and tests
// read, not a member: the tests' Apache Kafka installation.
var toolVariables = []string{"FEEDD_KAFKA_HOME"}

// unknownEnvWarnings names the FEEDD_* variables of environ that look like
// a setting of one of the configuration's sections (FEEDD_SERIAL_…) but
// name none, such as a misspelt one that a start would silently ignore.
// Variables the configuration itself names (pair.secret_env,
// kafka.sasl.password_env) are not settings and are left alone, as are
// FEEDD_* variables outside the sections, which other tools may use.
func unknownEnvWarnings(environ []string, cfg *member.Config) []string {
	known := map[string]bool{}
	sections := map[string]bool{}
	var names []string
	for _, s := range settingsOf(cfg) {
		known[s.envName()] = true
		names = append(names, s.envName())
		if section, _, ok := strings.Cut(s.path, "."); ok {
			sections["FEEDD_"+strings.ToUpper(section)+"_"] = true
		}
		if strings.HasSuffix(s.path, "_env") && s.field.Kind() == reflect.String {
			known[s.field.String()] = true
		}
	}
	for _, name := range toolVariables {
		known[name] = true
	}
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if known[name] || !strings.HasPrefix(name, "FEEDD_") {
			continue
		}
		for section := range sections {
			if strings.HasPrefix(name, section) {
				w := name + " is set but names no setting, so it is ignored"
				switch near := nearestName(name, names); {
				case near == "":
				case strings.HasPrefix(near, name+"_") && (strings.HasSuffix(near, "_ENV") || strings.HasSuffix(near, "_FILE")):
					// The value itself is never a setting: say where
					// it goes, not that it was misspelt.
					w += " (" + near + " names where the value is read from)"
				default:
					w += " (did you mean " + near + "?)"
				}
				warnings = append(warnings, w)
				break
			}
		}
	}
	slices.Sort(warnings)
	return warnings
}
