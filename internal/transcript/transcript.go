package transcript

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/*.txt transcripts")

// RunDir runs every transcript matching pattern (say "testdata/*.txt") as a
// subtest; start returns the command runner of a fresh session for each.
func RunDir(t *testing.T, pattern string, start func(t *testing.T) func(Command) string) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no transcripts match %s", pattern)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { Run(t, f, start(t)) })
	}
}

// Run runs the transcript at path, one block after the other: do runs a
// block's command and returns its output.
func Run(t *testing.T, path string, do func(Command) string) {
	t.Helper()
	blocks, trailer := parse(t, path)
	var rewritten strings.Builder
	failed := false
	for _, b := range blocks {
		got := do(ParseCommand(b.cmd))
		if got != "" && !strings.HasSuffix(got, "\n") {
			got += "\n"
		}
		if got != b.expected && !*update {
			failed = true
			t.Errorf("%s:%d: %s\n--- want\n%s--- got\n%s", path, b.line, b.cmd, b.expected, got)
		}
		rewritten.WriteString(b.pre + b.cmd + "\n----\n" + got)
	}
	rewritten.WriteString(trailer)
	if *update {
		if err := os.WriteFile(path, []byte(rewritten.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if failed {
		t.Log("run with -update to rewrite the expected output")
	}
}

type block struct {
	pre      string // comments and blank lines before the command
	cmd      string
	line     int
	expected string
}

func parse(t *testing.T, path string) (blocks []block, trailer string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var pre strings.Builder
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre.WriteString(l + "\n")
			continue
		}
		b := block{pre: pre.String(), cmd: l, line: i + 1}
		pre.Reset()
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("%s:%d: command %q is not followed by ----", path, b.line, l)
		}
		var exp strings.Builder
		for i+1 < len(lines) && lines[i+1] != "" {
			i++
			exp.WriteString(lines[i] + "\n")
		}
		b.expected = exp.String()
		blocks = append(blocks, b)
	}
	return blocks, pre.String()
}

// Command is one command line: its name, then positional arguments and
// key=value arguments.
type Command struct {
	Line string
	Name string
	Pos  []string
	KV   map[string]string
}

// ParseCommand splits a command line.
func ParseCommand(line string) Command {
	fields := strings.Fields(line)
	c := Command{Line: line, KV: map[string]string{}}
	if len(fields) == 0 {
		return c
	}
	c.Name = fields[0]
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			c.KV[k] = v
		} else {
			c.Pos = append(c.Pos, f)
		}
	}
	return c
}

// Need fails unless the command has at least n positional arguments.
func (c Command) Need(n int) error {
	if len(c.Pos) < n {
		return fmt.Errorf("%s needs %d arguments", c.Name, n)
	}
	return nil
}

// Dur is the duration given as key, or def.
func (c Command) Dur(key string, def time.Duration) (time.Duration, error) {
	v, ok := c.KV[key]
	if !ok {
		return def, nil
	}
	return time.ParseDuration(v)
}

// Int is the integer given as key, or def.
func (c Command) Int(key string, def int) (int, error) {
	v, ok := c.KV[key]
	if !ok {
		return def, nil
	}
	return strconv.Atoi(v)
}

// Flag reports whether name is among the positional arguments.
func (c Command) Flag(name string) bool {
	for _, p := range c.Pos {
		if p == name {
			return true
		}
	}
	return false
}
