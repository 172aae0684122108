package main

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/feedd/feedd/docs"
	"github.com/feedd/feedd/member"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// reference is docs/configuration.md's reference, by option: the one
// source of each setting's default and meaning, for its flag's help as
// for the page (TestConfigurationReference checks the page against the
// code).
var reference = sync.OnceValue(func() map[string]docs.Setting {
	rows, err := docs.Reference()
	if err != nil {
		// The page is embedded at build time and parsed by the tests: a
		// binary with an unreadable page is a build that never passed them.
		panic(fmt.Sprintf("docs/configuration.md: %v", err))
	}
	byOption := make(map[string]docs.Setting, len(rows))
	for _, r := range rows {
		byOption[r.Option] = r
	}
	return byOption
})

// configFlags registers --config and one flag per configuration leaf under
// the given paths, sections or single settings (all leaves when none is
// given): a command lists the settings it reads and no others. Each flag
// records its value in pending, to be applied after the file and the
// environment.
func configFlags(fs *pflag.FlagSet, pending *[]override, paths ...string) (configPath *string) {
	configPath = fs.String("config", "", "YAML configuration file (or FEEDD_CONFIG)")
	var probe member.Config
	for _, s := range settingsOf(&probe) {
		if len(paths) > 0 && !under(s.path, paths) {
			continue
		}
		ref := reference()[s.path]
		f := &pflag.Flag{
			Name:     s.path,
			Usage:    ref.Summary() + " (env " + s.envName() + ")",
			Value:    &overrideFlag{path: s.path, typ: flagType(s.field.Type()), pending: pending},
			DefValue: ref.ShownDefault(),
		}
		if f.Value.Type() == "string" && f.DefValue != "" && !ref.DefaultIsValue() {
			// pflag would quote it as if it were the value itself.
			f.Usage += " (default: " + f.DefValue + ")"
			f.DefValue = ""
		}
		if s.field.Kind() == reflect.Bool {
			f.NoOptDefVal = "true" // --serial.fail_fast alone sets it
		}
		fs.AddFlag(f)
	}
	return configPath
}

// under says whether the setting path is one of paths or in one of them.
func under(path string, paths []string) bool {
	for _, p := range paths {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// flagType is the placeholder a setting's flag shows for its value.
func flagType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "duration"
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return "int"
	case t.Kind() == reflect.Uint64:
		return "uint"
	case t.Kind() == reflect.Float64:
		return "float"
	case t.Kind() == reflect.Slice:
		return "strings"
	}
	return t.Kind().String()
}

// override is a flag given on the command line, applied after the file and
// the environment have been read.
type override struct{ path, value string }

// overrideFlag records --<path>=value without applying it yet.
type overrideFlag struct {
	path, typ string
	pending   *[]override
}

func (f *overrideFlag) String() string   { return "" }
func (f *overrideFlag) Type() string     { return f.typ }
func (f *overrideFlag) IsBoolFlag() bool { return f.typ == "bool" }
func (f *overrideFlag) Set(v string) error {
	*f.pending = append(*f.pending, override{f.path, v})
	return nil
}

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

// renamedFlag keeps the old spelling of a renamed flag working for the
// scripts that use it: hidden from the help, it sets what the current
// flag sets and says on stderr that it is deprecated.
func renamedFlag(cmd *cobra.Command, old, current string) {
	f := cmd.Flags().Lookup(current)
	cmd.Flags().AddFlag(&pflag.Flag{
		Name: old, Usage: "deprecated: use --" + current, Hidden: true,
		Value:       &renamedValue{Value: f.Value, cmd: cmd, old: old, current: current},
		DefValue:    f.DefValue,
		NoOptDefVal: f.NoOptDefVal,
	})
}

// renamedValue is the value of a renamed flag's old spelling. pflag's own
// deprecation notice would go where cobra prints help, on stdout, into
// output that scripts read (audit --json).
type renamedValue struct {
	pflag.Value
	cmd          *cobra.Command
	old, current string
}

func (v *renamedValue) Set(s string) error {
	fmt.Fprintf(v.cmd.ErrOrStderr(), "%s: --%s is deprecated, use --%s\n", v.cmd.CommandPath(), v.old, v.current)
	return v.Value.Set(s)
}

// showDefaults makes the help of every flag of cmd and its subcommands say
// its default. pflag shows a default only when it is not the zero value
// of the flag's type, so the rest are spelt out: "(default false)", or
// "(default: none)" where leaving the flag out sets nothing.
func showDefaults(cmd *cobra.Command) {
	cmd.InitDefaultHelpFlag()
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if strings.Contains(flagLine(f), "(default") {
			return
		}
		if f.DefValue == "" || f.DefValue == "[]" {
			f.Usage += " (default: none)"
		} else {
			f.Usage += " (default " + f.DefValue + ")"
		}
	})
	for _, c := range cmd.Commands() {
		showDefaults(c)
	}
}

// flagLine is the line of help pflag writes for f.
func flagLine(f *pflag.Flag) string {
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	fs.AddFlag(f)
	return fs.FlagUsages()
}
