package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// Environment variables that make `feedd run` write pprof profiles, for
// finding where a member spends its time (docs/benchmarks.md, Profiling).
// They are read from the environment only, never from the configuration:
// profiling is a developer's act, not an operator's setting.
const (
	// envCPUProfile names a file that receives a CPU profile of the whole
	// run, written when the member stops (SIGINT or SIGTERM).
	envCPUProfile = "FEEDD_CPUPROFILE"
	// envMemProfile names a file that receives an allocation profile
	// (every allocation since start; `-sample_index=alloc_space`) when the
	// member stops.
	envMemProfile = "FEEDD_MEMPROFILE"
	// envTrace names a file that receives an execution trace of the whole
	// run (`go tool trace`), written as it runs and closed when the member
	// stops: where goroutines waited, not only where they ran.
	envTrace = "FEEDD_TRACE"
)

// startProfiles starts what the environment asks for and returns the
// function that writes the profiles; call it once the member has stopped.
func startProfiles(log *slog.Logger) (stop func(), err error) {
	cpuPath, memPath := os.Getenv(envCPUProfile), os.Getenv(envMemProfile)
	var cpu *os.File
	if cpuPath != "" {
		if cpu, err = os.Create(cpuPath); err != nil {
			return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
		}
		log.Info("writing a CPU profile when the member stops", "file", cpuPath)
	}
	var tr *os.File
	if path := os.Getenv(envTrace); path != "" {
		if tr, err = os.Create(path); err == nil {
			if err = trace.Start(tr); err != nil {
				tr.Close()
			}
		}
		if err != nil {
			if cpu != nil {
				pprof.StopCPUProfile()
				cpu.Close()
			}
			return nil, fmt.Errorf("%s: %w", envTrace, err)
		}
		log.Info("writing an execution trace until the member stops", "file", path)
	}
	return func() {
		if tr != nil {
			trace.Stop()
			if err := tr.Close(); err != nil {
				log.Error("execution trace", "err", err)
			}
		}
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				log.Error("CPU profile", "err", err)
			}
		}
		if memPath != "" {
			if err := writeHeapProfile(memPath); err != nil {
				log.Error("allocation profile", "err", err)
			}
		}
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the in-use figures as of now
	return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
}
