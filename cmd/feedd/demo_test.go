package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// The demo's members are child processes of "this executable". Under go
// test that is the test binary, so the demo test starts it again running
// only TestDemoChildProcess, which acts as `feedd` with the arguments after
// "--".
const demoChildEnv = "FEEDD_DEMO_TEST_CHILD"

func TestDemoChildProcess(t *testing.T) {
	if os.Getenv(demoChildEnv) != "1" {
		t.Skip("runs only as a member started by TestDemo")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func testDemoChild(args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestDemoChildProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), demoChildEnv+"=1")
	return cmd, nil
}

func demoNeedsSocat(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("socat"); err == nil {
		return
	}
	if os.Getenv("FEEDD_REQUIRE_SOCAT") != "" {
		t.Fatal("socat is not installed and FEEDD_REQUIRE_SOCAT is set (apt-get install socat, or make deps)")
	}
	t.Skip("socat is not installed (apt-get install socat, or make deps)")
}

// parseDemoFlags reads args as "feedd demo" does, with its flags and its
// checks, and returns the options it would play.
func parseDemoFlags(args []string, stderr io.Writer) (demoOptions, error) {
	var o demoOptions
	fs := pflag.NewFlagSet("feedd demo", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	demoFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := noArgs(nil, fs.Args()); err != nil {
		return o, err
	}
	return o.finish(fs.Changed, stderr)
}

func TestDemoFlags(t *testing.T) {
	o, err := parseDemoFlags(nil, io.Discard)
	if err != nil || o.Duration != 0 || o.FailoverEvery != 15*time.Second {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	if o = o.withDefaults(); o.RestartAfter != 3*time.Second || o.Refresh != time.Second {
		t.Fatalf("derived defaults: restart after %v, refresh %v", o.RestartAfter, o.Refresh)
	}
	if o, _ := parseDemoFlags([]string{"--failover-every", "3s"}, io.Discard); o.withDefaults().RestartAfter != 1500*time.Millisecond {
		t.Fatalf("restart after %v for a 3s failover period; want half of it", o.withDefaults().RestartAfter)
	}
	if o, _ := parseDemoFlags([]string{"--failover-every", "0"}, io.Discard); o.withDefaults().RestartAfter != 3*time.Second {
		t.Fatalf("restart after %v without scheduled faults; a member killed by hand must still come back after 3s", o.withDefaults().RestartAfter)
	}
	if o, _ := parseDemoFlags([]string{"--chaos"}, io.Discard); !o.Chaos || o.FailoverEvery != 8*time.Second {
		t.Fatalf("--chaos alone: chaos %v, mean interval %v; want 8s", o.Chaos, o.FailoverEvery)
	}
	if o, _ := parseDemoFlags([]string{"--chaos", "--failover-every", "5s"}, io.Discard); o.FailoverEvery != 5*time.Second {
		t.Fatalf("--chaos --failover-every 5s: mean interval %v", o.FailoverEvery)
	}
	if o, _ := parseDemoFlags([]string{"--json"}, io.Discard); !o.JSON || o.Status == nil {
		t.Fatal("--json: the live view has nowhere to go")
	}
	for _, bad := range [][]string{
		{"--duration", "-1s"}, {"--failover-every", "500ms"}, {"--rate", "0"}, {"extra"}, {"--bogus"},
		{"--chaos", "--failover-every", "0"},
	} {
		if _, err := parseDemoFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
