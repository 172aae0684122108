package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfilesWrittenOnStop: each variable set gives its file, complete
// once the returned function has run: a CPU profile, an allocation profile
// and an execution trace.
func TestProfilesWrittenOnStop(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{envCPUProfile: "cpu.out", envMemProfile: "mem.out", envTrace: "trace.out"}
	for env, name := range files {
		t.Setenv(env, filepath.Join(dir, name))
	}
	stop, err := startProfiles(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	for env, name := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %d bytes (%v)", env, len(b), err)
		}
		if env == envTrace && !strings.HasPrefix(string(b), "go 1.") {
			t.Errorf("%s does not start as an execution trace: %q", env, b[:min(len(b), 16)])
		}
	}
}

// TestProfilesRefuseAnUnwritableTrace: a trace file that cannot be created
// is an error before the member starts, and leaves no CPU profile running.
func TestProfilesRefuseAnUnwritableTrace(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envCPUProfile, filepath.Join(dir, "cpu.out"))
	t.Setenv(envMemProfile, "")
	t.Setenv(envTrace, filepath.Join(dir, "missing", "trace.out"))
	if _, err := startProfiles(slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), envTrace) {
		t.Fatalf("err = %v, want one naming %s", err, envTrace)
	}
	// A CPU profile left running would make this one fail.
	t.Setenv(envTrace, "")
	stop, err := startProfiles(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop()
}
