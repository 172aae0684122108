package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/feedd/feedd/docs"
	"github.com/feedd/feedd/member"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// These tests check the command line as a person and a script meet it:
// help, version, the flags' descriptions and defaults, completion, man
// pages and exit statuses.

// feedd runs "feedd args..." in this process and returns its exit status
// and output.
func feedd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{
		{"help", "run"}, {"run", "-h"}, {"run", "--help"}, {"--help"}, {"-h"}, {"help"}, {"help", "probe"}, {"audit", "--help"},
	} {
		code, out, errs := feedd(t, args...)
		if code != 0 || errs != "" {
			t.Errorf("feedd %q: exit %d, stderr %q; want 0 and nothing on stderr", args, code, errs)
		}
		if !strings.Contains(out, "Usage:\n") || !strings.Contains(out, "Flags:\n") {
			t.Errorf("feedd %q: no Usage: and Flags: on stdout:\n%s", args, out)
		}
	}
	_, run, _ := feedd(t, "help", "run")
	_, runH, _ := feedd(t, "run", "-h")
	if run != runH || !strings.Contains(run, "feedd run [flags]") || !strings.Contains(run, "--serial.baud int") {
		t.Errorf("feedd help run and feedd run -h differ or lack run's flags:\n%s\n---\n%s", run, runH)
	}
	if _, probe, _ := feedd(t, "help", "probe"); !strings.Contains(probe, "feedd probe [flags]") {
		t.Errorf("feedd help probe is not probe's help:\n%s", probe)
	}
}

func TestVersion(t *testing.T) {
	want := "feedd " + versionDetail() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if code, out, errs := feedd(t, args...); code != 0 || out != want || errs != "" {
			t.Errorf("feedd %q: exit %d, stdout %q, stderr %q; want 0 and %q", args, code, out, errs, want)
		}
	}
}

// flagLineRE is a line of a Flags: section: the flag, its value's type if
// it takes one, and its description.
var flagLineRE = regexp.MustCompile(`^  (?:-\w, |    )--([\w.-]+)(?: \w+)?\s{2,}(\S.*)$`)

// TestEveryFlagIsDescribedWithItsDefault reads the help of every command as
// a person does and checks that each flag has a description that says its
// default, spelt out ("(default: none)") where leaving it out sets nothing.
func TestEveryFlagIsDescribedWithItsDefault(t *testing.T) {
	var walk func(c *cobra.Command)
	commandsSeen := 0
	walk = func(c *cobra.Command) {
		if c.Hidden && c.Name() != "gen-man" {
			return // __complete: cobra's, for the shells
		}
		commandsSeen++
		path := strings.Fields(c.CommandPath())[1:]
		code, out, _ := feedd(t, append(path, "--help")...)
		if code != 0 {
			t.Errorf("%s --help: exit %d", c.CommandPath(), code)
		}
		_, section, _ := strings.Cut(out, "\nFlags:\n")
		section, _, _ = strings.Cut(section, "\n\n")
		var names, descs []string
		for l := range strings.Lines(section) {
			l = strings.TrimRight(l, "\n")
			if m := flagLineRE.FindStringSubmatch(l); m != nil {
				names, descs = append(names, m[1]), append(descs, m[2])
			} else if strings.HasPrefix(l, "        ") && len(descs) > 0 {
				descs[len(descs)-1] += " " + strings.TrimSpace(l) // a description of several lines
			} else {
				t.Errorf("%s --help: not a flag line: %q", c.CommandPath(), l)
			}
		}
		lines := len(names)
		for i, desc := range descs {
			if !strings.Contains(desc, "(default") || strings.HasPrefix(desc, "(default") {
				t.Errorf("%s --%s: %q does not describe the flag and its default", c.CommandPath(), names[i], desc)
			}
		}
		visible := 0
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				visible++
			}
		})
		if lines != visible || visible == 0 {
			t.Errorf("%s --help lists %d flags; the command has %d", c.CommandPath(), lines, visible)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(io.Discard, io.Discard, commands()...))
	if commandsSeen < 16 { // feedd, 11 commands, help, completion and its shells
		t.Fatalf("only %d commands walked", commandsSeen)
	}
}

// TestSettingFlagsAreDescribedByTheReference: a setting's flag says what
// docs/configuration.md says of it, first sentence and default, so the two
// cannot drift apart.
func TestSettingFlagsAreDescribedByTheReference(t *testing.T) {
	rows, err := docs.Reference()
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := newRoot(io.Discard, io.Discard, commands()...).Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, r := range rows {
		f := run.Flags().Lookup(r.Option)
		if r.Flag == "—" {
			if f != nil {
				t.Errorf("--%s exists; the reference says %s has no flag", r.Option, r.Option)
			}
			continue
		}
		if f == nil {
			t.Errorf("feedd run has no flag for %s", r.Option)
			continue
		}
		checked++
		if !strings.HasPrefix(f.Usage, r.Summary()+" (env "+strings.Trim(r.Env, "`")+")") || r.Summary() == "" {
			t.Errorf("--%s: help %q; the reference's first sentence is %q", r.Option, f.Usage, r.Summary())
		}
		wantDefault := "(default: none)"
		if d := r.ShownDefault(); d != "" {
			wantDefault = "(default " + d + ")"
			if f.Value.Type() == "string" && r.DefaultIsValue() {
				wantDefault = "(default \"" + d + "\")"
			} else if f.Value.Type() == "string" {
				wantDefault = "(default: " + d + ")"
			}
		}
		if line := flagLine(f); !strings.Contains(line, wantDefault) {
			t.Errorf("--%s: %q does not show the reference's default %s", r.Option, line, wantDefault)
		}
	}
	if checked < 80 {
		t.Fatalf("only %d setting flags checked", checked)
	}
}

// TestProbeListsOnlyWhatItReads: probe and ports read only the serial: and
// framing: sections, so they neither list nor accept the others' flags.
func TestProbeListsOnlyWhatItReads(t *testing.T) {
	_, help, _ := feedd(t, "probe", "--help")
	for _, want := range []string{"--serial.device", "--serial.baud", "--framing.mode", "--duration", "--config"} {
		if !strings.Contains(help, want) {
			t.Errorf("feedd probe --help lacks %s", want)
		}
	}
	for _, other := range []string{"--kafka.", "--pair.", "--backlog.", "--sequence.", "--admin.", "--log.", "--pipeline"} {
		if strings.Contains(help, other) {
			t.Errorf("feedd probe --help lists %s flags it does not read", other)
		}
	}
	if code, _, errs := feedd(t, "probe", "--kafka.brokers", "b:9092"); code != 2 || !strings.Contains(errs, "unknown flag: --kafka.brokers") {
		t.Errorf("probe --kafka.brokers: exit %d, stderr %q; want a usage error", code, errs)
	}
	_, help, _ = feedd(t, "ports", "--help")
	if strings.Contains(help, "--kafka.") || strings.Contains(help, "--pair.") {
		t.Errorf("feedd ports --help lists flags it does not read:\n%s", help)
	}
}

// TestFlagsAreSpeltAlike: the topic and the framing are named as in feedd
// run everywhere; the old spellings still work, hidden and deprecated.
func TestFlagsAreSpeltAlike(t *testing.T) {
	_, help, _ := feedd(t, "audit", "--help")
	for _, want := range []string{"--kafka.brokers strings", "--kafka.topic string", "--framing.mode string", "--sequence.regex"} {
		if !strings.Contains(help, want) {
			t.Errorf("feedd audit --help lacks %s", want)
		}
	}
	if regexp.MustCompile(`--(brokers|topic|framing) |--kafka\.commit|--kafka\.tls`).MatchString(help) {
		t.Errorf("feedd audit --help lists an old spelling or a setting it does not read:\n%s", help)
	}
	// Reaching the record file shows that the topic and the framing were
	// taken: without them it stops earlier, with a usage error.
	missing := filepath.Join(t.TempDir(), "none")
	code, _, errs := feedd(t, "audit", "--brokers", "b:9092", "--topic", "t", "--expect", missing, "--framing", "nmea")
	if code != 1 || !strings.Contains(errs, "--expect: open") {
		t.Errorf("audit with the old spellings: exit %d, stderr %q; want it to reach --expect", code, errs)
	}
	for _, old := range []string{"--brokers", "--topic", "--framing"} {
		if !strings.Contains(errs, "feedd audit: "+old+" is deprecated, use --") {
			t.Errorf("no deprecation notice for %s: %q", old, errs)
		}
	}
	_, help, _ = feedd(t, "sim", "--help")
	for _, want := range []string{"--serial.baud int", "--serial.data_bits int", "--serial.parity string", "--serial.stop_bits float"} {
		if !strings.Contains(help, want) {
			t.Errorf("feedd sim --help lacks %s", want)
		}
	}
	if code, _, errs := feedd(t, "sim", "--baud", "-1", "--link-dir", t.TempDir()); code != 1 || !strings.Contains(errs, "feedd sim: --serial.baud:") {
		t.Errorf("sim --baud -1: exit %d, stderr %q; want the error of --serial.baud", code, errs)
	}
}

func TestExitStatuses(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `feedd: unknown command "frobnicate"`},
		{[]string{"stauts"}, 2, "did you mean status?"},
		{[]string{"help", "frobnicate"}, 2, `feedd help: unknown help topic "frobnicate"`},
		{[]string{"run", "--bogus"}, 2, "feedd run: unknown flag: --bogus"},
		{[]string{"run", "-config", "x.yaml"}, 2, "feedd run: unknown shorthand flag"},
		{[]string{"run", "--serial.baud"}, 2, "feedd run: flag needs an argument"},
		{[]string{"status", "extra"}, 2, `feedd status: unexpected argument "extra"`},
		{[]string{"run", "--role", "boss"}, 2, `feedd run: --role "boss" is not one of auto, active, inactive`},
		{[]string{"probe", "--duration", "0s", "--serial.device", "/dev/null"}, 2, "feedd probe: --duration"},
		{[]string{"gen-man"}, 2, "feedd gen-man: want one argument"},
		{[]string{"run", "--config", filepath.Join(t.TempDir(), "none.yaml"), "--check-config"}, exitConfig, "feedd run: invalid configuration: config file:"},
		{[]string{"run", "--check-config", "--serial.baud", "fast"}, exitConfig, `feedd run: invalid configuration: --serial.baud: cannot use "fast"`},
		{[]string{"status", "--admin", "nowhere"}, 1, "feedd status: --admin"},
	} {
		code, out, errs := feedd(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.stderr) {
			t.Errorf("feedd %q: exit %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.stderr)
		}
		if out != "" {
			t.Errorf("feedd %q: wrote %q on stdout", c.args, out)
		}
	}
}

// TestCompletion: the shells' scripts ask the binary (cobra's hidden
// __complete command), which completes the flags of the command typed.
func TestCompletion(t *testing.T) {
	code, out, _ := feedd(t, "__complete", "run", "--serial.")
	if code != 0 {
		t.Fatalf("__complete: exit %d", code)
	}
	var got []string
	for l := range strings.Lines(out) {
		if name, _, ok := strings.Cut(strings.TrimSpace(l), "\t"); ok {
			got = append(got, name)
		}
	}
	var want []string
	var cfg member.Config
	for _, s := range settingsOf(&cfg) {
		if strings.HasPrefix(s.path, "serial.") {
			want = append(want, "--"+s.path)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("feedd __complete run --serial. completes %q; want %q", got, want)
	}
	if _, out, _ := feedd(t, "__complete", "probe", "--ka"); strings.Contains(out, "--kafka") {
		t.Errorf("probe completes kafka flags: %q", out)
	}
	if _, out, _ := feedd(t, "__complete", "sw"); !strings.HasPrefix(out, "switchover\t") {
		t.Errorf("feedd __complete sw: %q", out)
	}
	for shell, marker := range map[string]string{"bash": "__start_feedd", "zsh": "#compdef feedd", "fish": "complete -c feedd"} {
		code, out, _ := feedd(t, "completion", shell)
		if code != 0 || !strings.Contains(out, marker) || !strings.Contains(out, "__complete") {
			t.Errorf("feedd completion %s: exit %d, %d bytes without %q", shell, code, len(out), marker)
		}
	}
}

func TestGenMan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	if code, out, errs := feedd(t, "gen-man", dir); code != 0 {
		t.Fatalf("feedd gen-man: exit %d\n%s%s", code, out, errs)
	}
	for page, want := range map[string]string{
		"feedd.1":       "feedd-run(1)",
		"feedd-run.1":   "Line speed in bits per second",
		"feedd-probe.1": "serial.device",
		"feedd-audit.1": "kafka.topic",
	} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("no %s: %v", page, err)
			continue
		}
		if !bytes.HasPrefix(b, []byte(".nh\n.TH \"FEEDD\" \"1\"")) || !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s is not a man page mentioning %q:\n%.300s", page, want, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "feedd-gen-man.1")); err == nil {
		t.Error("the hidden gen-man command has a man page")
	}
	if _, help, _ := feedd(t, "--help"); strings.Contains(help, "gen-man") {
		t.Error("feedd --help lists the hidden gen-man command")
	}
}
