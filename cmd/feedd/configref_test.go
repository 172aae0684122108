package main

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/docs"
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/member"
)

// TestConfigurationReference checks docs/configuration.md against the code,
// so that the two cannot drift apart: the settings it lists are exactly the
// configuration's leaves; each default, environment variable and flag is
// the code's; and every rule written in one of the forms the page explains
// is tried against the validation (loadConfig): values just outside a bound
// must be refused with an error naming the setting, values listed as valid
// must be accepted.
func TestConfigurationReference(t *testing.T) {
	rows := readReference(t)
	leaves := configLeaves(reflect.TypeFor[member.Config](), "")
	settings := map[string]setting{}
	var probe member.Config
	for _, s := range settingsOf(&probe) {
		settings[s.path] = s
	}

	documented := map[string]docs.Setting{}
	for _, r := range rows {
		if _, dup := documented[r.Option]; dup {
			t.Errorf("line %d: %s is documented twice", r.Line, r.Option)
		}
		documented[r.Option] = r
	}
	for _, l := range leaves {
		if _, ok := documented[l]; !ok {
			t.Errorf("setting %s is missing from docs/configuration.md", l)
		}
	}
	for _, r := range rows {
		if !slices.Contains(leaves, r.Option) {
			t.Errorf("line %d: docs/configuration.md documents %s, which is not a setting", r.Line, r.Option)
		}
	}

	defaults := referenceDefaults(t)
	checked, prose := 0, 0
	for _, r := range rows {
		s, settable := settings[r.Option]
		// Spellings.
		wantEnv, wantFlag := "—", "—"
		if settable {
			wantEnv, wantFlag = "`"+s.envName()+"`", "`--"+s.path+"`"
		}
		if r.Env != wantEnv || r.Flag != wantFlag {
			t.Errorf("line %d: %s: environment %s and flag %s; the code has %s and %s", r.Line, r.Option, r.Env, r.Flag, wantEnv, wantFlag)
		}
		// Default.
		if want := defaults.allowed(r.Option); !slices.ContainsFunc(want, func(w string) bool {
			return r.Default == w || strings.HasPrefix(r.Default, w+" ")
		}) {
			t.Errorf("line %d: %s: default %q; the code's is %q", r.Line, r.Option, r.Default, want[0])
		}
		if !settable {
			continue // read from the file only: the rules are prose
		}
		// Rules.
		c, p := checkRules(t, r, s, defaults)
		checked += c
		prose += p
	}
	t.Logf("%d settings documented; %d rule checks run against loadConfig; %d rule clauses are prose", len(rows), checked, prose)
	if checked < 150 {
		t.Fatalf("only %d rule checks: the rule parser no longer understands the page", checked)
	}
}

// readReference parses the reference tables of docs/configuration.md with
// the parser the flags' help is read with.
func readReference(t *testing.T) []docs.Setting {
	t.Helper()
	rows, err := docs.Reference()
	if err != nil {
		t.Fatalf("docs/configuration.md: %v", err)
	}
	return rows
}

// configLeaves lists every YAML path of the configuration, including the
// fields of lists of records (pair.peers[].id), which only the file sets.
func configLeaves(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" || !sf.IsExported() {
			continue
		}
		if opts == "inline" {
			out = append(out, configLeaves(sf.Type, prefix)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		ft := sf.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
			out = append(out, configLeaves(ft, prefix+name+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, configLeaves(ft.Elem(), prefix+name+"[].")...)
		default:
			out = append(out, prefix+name)
		}
	}
	return out
}

// referenceBase is the smallest valid configuration; each rule check
// changes it with flag overrides. Its topic, ais-north, is the one the
// page's examples assume.
const referenceBase = requiredYAML + "  secret_env: FEEDD_TEST_PAIR_SECRET\n"

// referenceSupport holds settings a check needs besides the one it tries
// and beside those the page names (only with, required with), so that a
// value the rule allows is not refused for an unrelated reason: mtls needs
// its files, a SASL mechanism a user and a password source.
var referenceSupport = map[string][]override{
	"framing.sync":             {{"framing.size", "4"}},
	"pair.auth":                {{"pair.tls.ca_file", "ca.pem"}, {"pair.tls.cert_file", "a.pem"}, {"pair.tls.key_file", "a.key"}},
	"kafka.sasl.mechanism":     {{"kafka.sasl.username", "feedd"}, {"kafka.sasl.password_env", "KAFKA_PASSWORD"}},
	"kafka.sasl.username":      {{"kafka.sasl.password_env", "KAFKA_PASSWORD"}},
	"kafka.sasl.password_file": {{"kafka.sasl.username", "feedd"}},
	"kafka.sasl.password_env":  {{"kafka.sasl.username", "feedd"}},
	"pair.secret_file":         {{"pair.secret_env", ""}},
	"pair.preempt_delay":       {{"pair.preempt", "true"}},
}

// codeDefaults are the defaults as the code applies them.
type codeDefaults struct {
	cfg      member.Config
	byPath   map[string]string
	hostname string
}

func referenceDefaults(t *testing.T) codeDefaults {
	t.Helper()
	// The defaults of an empty configuration, and those derived from a
	// pipeline and a topic.
	plain := member.Config{}.WithDefaults()
	var named member.Config
	named.Pipeline, named.Kafka.Topic = "PIPELINE", "TOPIC"
	d := codeDefaults{cfg: named.WithDefaults(), byPath: map[string]string{}}
	for _, s := range settingsOf(&plain) {
		d.byPath[s.path] = formatValue(s.field)
	}
	d.hostname, _ = os.Hostname()
	return d
}

func formatValue(v reflect.Value) string {
	if v.Type() == reflect.TypeFor[time.Duration]() {
		return time.Duration(v.Int()).String()
	}
	if v.Kind() == reflect.Slice {
		var parts []string
		for i := range v.Len() {
			parts = append(parts, fmt.Sprint(v.Index(i).Interface()))
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v.Interface())
}

// allowed returns what the default cell may begin with (it may go on with
// an explanation): the code's default in backticks, "—" where the code has
// none (an empty or zero value may also be written out), or, for defaults
// derived from other settings or applied where the setting is used, their
// description, computed here from the code.
func (d codeDefaults) allowed(option string) []string {
	withPreempt := d.cfg.Pair.Core
	withPreempt.Preempt, withPreempt.PreemptDelay = true, 0
	withPreempt.ApplyDefaults()
	memberID := "host name"
	if d.cfg.MemberID != d.hostname {
		memberID = "(the code no longer defaults member_id to the host name)"
	}
	derived := map[string]string{
		"member_id":              memberID,
		"kafka.transactional_id": "`" + strings.Replace(d.cfg.Kafka.TransactionalIDFor("PIPELINE"), "PIPELINE", "<pipeline>", 1) + "`",
		"kafka.control_topic":    "`" + strings.Replace(d.cfg.Kafka.ControlTopic, "TOPIC", "<topic>", 1) + "`",
		"framing.max_frame":      fmt.Sprintf("`%d` for nmea, `%d` otherwise", framing.DefaultNMEAMaxFrame, framing.DefaultMaxFrame),
		"framing.nmea_checksum":  "`" + framing.NMEAChecksumRequired + "`",
		"framing.check":          "`" + framing.CheckNone + "`",
		"pair.preempt_delay":     fmt.Sprintf("`%v` with `pair.preempt: true`", withPreempt.PreemptDelay),
	}
	if s, ok := derived[option]; ok {
		return []string{s}
	}
	v, ok := d.byPath[option]
	switch {
	case !ok: // a field of a list of records: no default
		return []string{"—"}
	case v == "" || v == "0" || v == "0s":
		return []string{"—", "`" + v + "`"}
	}
	return []string{"`" + v + "`"}
}

// A check is one loadConfig call.
type ruleCheck struct {
	what    string     // the clause, for messages
	set     []override // the setting tried, and its context
	refuse  bool       // must be refused (else accepted)
	mention []string   // a refusal must name one of these
}

var (
	reBound      = regexp.MustCompile("^(>|≥|≤|<) (-?[0-9][0-9a-zµ.]*)$")
	reCross      = regexp.MustCompile("^(>|≥|≤|<) (?:([0-9]+) × )?`([a-z_.]+)`$")
	reRange      = regexp.MustCompile("^(-?[0-9][0-9a-z.]*) to (-?[0-9][0-9a-z.]*)$")
	reBackticked = regexp.MustCompile("`([^`]*)`")
)

// checkRules tries each rule clause of a row and returns how many checks
// ran and how many clauses are prose.
func checkRules(t *testing.T, r docs.Setting, s setting, d codeDefaults) (checked, prose int) {
	t.Helper()
	path := writeConfig(t, referenceBase)
	kind := s.field.Type()
	isDuration := kind == reflect.TypeFor[time.Duration]()
	support := referenceSupport[r.Option]

	// Row context: "only with" settings apply to every check of the row.
	var context []override
	var contextKeys []string
	clauses := strings.Split(r.Valid, "; ")
	for _, c := range clauses {
		if rest, ok := strings.CutPrefix(c, "only with "); ok {
			for _, kv := range contextPairs(t, r, rest, d) {
				context = append(context, kv)
				contextKeys = append(contextKeys, kv.path)
			}
		}
	}
	base := append(slices.Clone(support), context...)
	mention := append([]string{r.Option}, contextKeys...)

	var checks []ruleCheck
	add := func(what string, refuse bool, value string, extra ...override) {
		set := append(slices.Clone(base), extra...)
		set = append(set, override{r.Option, value})
		checks = append(checks, ruleCheck{what: what, set: set, refuse: refuse, mention: mention})
	}
	// own lower bound, for cross-setting checks
	var ownLow int64
	for _, c := range clauses {
		if m := reBound.FindStringSubmatch(c); m != nil && (m[1] == "≥" || m[1] == ">") {
			ownLow = parseNumber(t, r, m[2], isDuration)
		}
	}

	for _, c := range clauses {
		switch {
		case c == "required":
			add(c, true, "")
		case strings.HasPrefix(c, "required with "):
			pairs := contextPairs(t, r, strings.TrimPrefix(c, "required with "), d)
			m := ruleCheck{what: c, set: append(append(slices.Clone(base), pairs...), override{r.Option, ""}), refuse: true, mention: mention}
			for _, p := range pairs {
				m.mention = append(m.mention, p.path)
			}
			checks = append(checks, m)
		case strings.HasPrefix(c, "only with "):
			// Refused when the other setting lacks the value.
			value := someValidValue(clauses, isDuration, kind.Kind())
			if value == "" {
				prose++
				continue
			}
			var off []override
			for _, kv := range contextPairs(t, r, strings.TrimPrefix(c, "only with "), d) {
				off = append(off, override{kv.path, otherValue(t, kv, d)})
			}
			set := append(append(slices.Clone(support), off...), override{r.Option, value})
			checks = append(checks, ruleCheck{what: c, set: set, refuse: true, mention: mention})
		case strings.HasPrefix(c, "one of "):
			items := strings.Split(strings.TrimPrefix(c, "one of "), ", ")
			for _, it := range items {
				if strings.ContainsAny(it, " `") {
					t.Errorf("line %d: %s: %q in %q is not a plain value (move explanations after a ';')", r.Line, r.Option, it, c)
				}
				add(c, false, it)
			}
			if kind.Kind() == reflect.String {
				add(c, true, "bogus")
				break
			}
			nums := make([]int64, len(items))
			for i, it := range items {
				nums[i] = parseNumber(t, r, it, false)
			}
			lo, hi := slices.Min(nums), slices.Max(nums)
			add(c, true, strconv.FormatInt(hi+1, 10))
			if lo-1 != 0 {
				add(c, true, strconv.FormatInt(lo-1, 10))
			}
			for n := lo + 1; n < hi; n++ {
				if !slices.Contains(nums, n) {
					add(c, true, strconv.FormatInt(n, 10))
					break
				}
			}
		case reBound.MatchString(c):
			m := reBound.FindStringSubmatch(c)
			n := parseNumber(t, r, m[2], isDuration)
			switch m[1] {
			case ">":
				if n == 0 {
					add(c, true, formatNumber(-1, isDuration)) // 0 is the default
				} else {
					add(c, true, formatNumber(n, isDuration))
				}
				add(c, false, formatNumber(n+1, isDuration))
			case "≥":
				refuseIfNonzero(add, c, n-1, isDuration)
				add(c, false, formatNumber(n, isDuration))
			case "≤":
				add(c, true, formatNumber(n+1, isDuration))
				add(c, false, formatNumber(n, isDuration))
			case "<":
				add(c, true, formatNumber(n, isDuration))
				add(c, false, formatNumber(n-1, isDuration))
			}
		case reRange.MatchString(c):
			m := reRange.FindStringSubmatch(c)
			lo, hi := parseNumber(t, r, m[1], isDuration), parseNumber(t, r, m[2], isDuration)
			refuseIfNonzero(add, c, lo-1, isDuration)
			add(c, true, formatNumber(hi+1, isDuration))
			add(c, false, formatNumber(lo, isDuration))
			add(c, false, formatNumber(hi, isDuration))
		case reCross.MatchString(c):
			m := reCross.FindStringSubmatch(c)
			other := m[3]
			factor := int64(1)
			if m[2] != "" {
				factor, _ = strconv.ParseInt(m[2], 10, 64)
			}
			v := crossValue(t, r, other, isDuration, d)
			if (m[1] == ">" || m[1] == "≥") && v*factor < ownLow {
				v = (ownLow + factor - 1) / factor
			}
			bound := v * factor
			var refuse int64
			switch m[1] {
			case ">", "<":
				refuse = bound
			case "≥":
				refuse = bound - 1
			case "≤":
				refuse = bound + 1
			}
			add(c, true, formatNumber(refuse, isDuration), override{other, formatNumber(v, isDuration)})
		case strings.Contains(c, "`host:port`"):
			if kind.Kind() == reflect.Slice {
				add(c, true, "127.0.0.1:9092,nohost")
			} else {
				add(c, true, "nohost")
			}
			add(c, false, "127.0.0.1:7999")
			if strings.Contains(c, "`off`") {
				add(c, false, "off")
			}
		case c == "true or false":
			add(c, true, "maybe")
			add(c, false, "false")
		case strings.HasPrefix(c, "rejects "):
			for _, m := range reBackticked.FindAllStringSubmatch(c, -1) {
				add(c, true, m[1])
			}
		case strings.HasPrefix(c, "accepts "):
			for _, m := range reBackticked.FindAllStringSubmatch(c, -1) {
				add(c, false, m[1])
			}
		default:
			prose++
		}
	}

	// A pair also refuses the framings that cannot find where a frame
	// starts (documented under framing.mode, a rule across settings): the
	// framing options' own rules are those of a member running alone.
	role := member.ModeAuto
	if strings.HasPrefix(r.Option, "framing.") {
		role = member.ModeActive
	}
	for _, ch := range checks {
		_, err := loadConfig(path, ch.set, noEnv, role)
		switch {
		case ch.refuse && err == nil:
			t.Errorf("line %d: %s: %q says %v is refused, but loadConfig accepts it", r.Line, r.Option, ch.what, ch.set)
		case ch.refuse && !mentionsAny(err.Error(), ch.mention):
			t.Errorf("line %d: %s: %q: %v is refused with %q, which names none of %v", r.Line, r.Option, ch.what, ch.set, err, ch.mention)
		case !ch.refuse && err != nil:
			t.Errorf("line %d: %s: %q says %v is valid, but loadConfig refuses it: %v", r.Line, r.Option, ch.what, ch.set, err)
		}
	}
	return len(checks), prose
}

func mentionsAny(msg string, names []string) bool {
	for _, n := range names {
		if strings.Contains(msg, n+":") || strings.Contains(msg, n+" ") {
			return true
		}
	}
	return false
}

// refuseIfNonzero adds a refusal check of n, unless n is zero, which
// means "the default" and is accepted.
func refuseIfNonzero(add func(string, bool, string, ...override), what string, n int64, isDuration bool) {
	if n != 0 {
		add(what, true, formatNumber(n, isDuration))
	}
}

// contextPairs reads `key: value` and `key` (meaning: set at all) from a
// clause; a key without a value takes a valid value of that setting.
func contextPairs(t *testing.T, r docs.Setting, text string, d codeDefaults) []override {
	t.Helper()
	var out []override
	for _, m := range reBackticked.FindAllStringSubmatch(text, -1) {
		key, value, ok := strings.Cut(m[1], ": ")
		if !ok {
			value = setValueFor(key)
		}
		if _, known := d.byPath[key]; !known {
			t.Errorf("line %d: %s: %q names %s, which is not a setting", r.Line, r.Option, text, key)
		}
		out = append(out, override{key, value})
	}
	if len(out) == 0 {
		t.Errorf("line %d: %s: %q names no setting in backticks", r.Line, r.Option, text)
	}
	return out
}

// setValueFor is a value that counts as "set" for a setting named without a
// value in "only with" or "required with".
func setValueFor(key string) string {
	switch key {
	case "kafka.sasl.mechanism":
		return "PLAIN"
	}
	return "x"
}

// otherValue is a value of kv.path other than kv.value, for showing that a
// setting is refused without it: the zero value, unless the setting is
// required, then another of its allowed values.
func otherValue(t *testing.T, kv override, d codeDefaults) string {
	t.Helper()
	switch kv.path {
	case "framing.mode":
		if kv.value == framing.ModeLines {
			return framing.ModeNMEA
		}
		return framing.ModeLines
	case "kafka.tls.enabled":
		return "false"
	}
	return ""
}

// someValidValue picks a value the row's own clauses allow.
func someValidValue(clauses []string, isDuration bool, k reflect.Kind) string {
	for _, c := range clauses {
		if rest, ok := strings.CutPrefix(c, "one of "); ok {
			return strings.Split(rest, ", ")[0]
		}
		if m := reBound.FindStringSubmatch(c); m != nil && m[1] == "≥" {
			return m[2]
		}
		if rest, ok := strings.CutPrefix(c, "accepts "); ok {
			if m := reBackticked.FindStringSubmatch(rest); m != nil {
				return m[1]
			}
		}
	}
	switch {
	case k == reflect.Bool:
		return "true"
	case k == reflect.String:
		return "x"
	}
	return ""
}

// crossValue is the value another setting is given for a check of a bound
// it sets: its default, or 100 (of its unit) when it has none.
func crossValue(t *testing.T, r docs.Setting, other string, isDuration bool, d codeDefaults) int64 {
	t.Helper()
	v, ok := d.byPath[other]
	if !ok {
		t.Fatalf("line %d: %s: the rule names %s, which is not a setting", r.Line, r.Option, other)
	}
	n := parseNumber(t, r, v, isDuration)
	if n == 0 {
		n = 100
		if isDuration {
			n = int64(100 * time.Millisecond)
		}
	}
	return n
}

func parseNumber(t *testing.T, r docs.Setting, s string, isDuration bool) int64 {
	t.Helper()
	if isDuration {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("line %d: %s: %q is not a duration", r.Line, r.Option, s)
		}
		return int64(d)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("line %d: %s: %q is not a number", r.Line, r.Option, s)
	}
	return n
}

func formatNumber(n int64, isDuration bool) string {
	if isDuration {
		return time.Duration(n).String()
	}
	return strconv.FormatInt(n, 10)
}
