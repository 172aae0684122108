package kafkatest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RunningIn returns the pid of the broker a detached Start left running
// in dir, or 0 if none runs there.
func RunningIn(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, "broker.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	// The pid file may be stale and the pid reused: only a Kafka broker
	// started on this directory's configuration counts.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0
	}
	args := strings.Split(string(cmdline), "\x00")
	props, _ := filepath.Abs(filepath.Join(dir, "server.properties"))
	if !slices.Contains(args, "kafka.Kafka") || !slices.Contains(args, props) {
		return 0
	}
	return pid
}

// StopIn stops the broker a detached Start left running in dir: SIGTERM,
// then SIGKILL if it is still there after timeout. It returns once the
// process is gone, and does nothing if no broker runs there.
func StopIn(dir string, timeout time.Duration) error {
	pid := RunningIn(dir)
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("kafkatest: stopping pid %d: %w", pid, err)
	}
	if waitGone(pid, timeout) {
		return nil
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(pid, 10*time.Second) {
		return fmt.Errorf("kafkatest: the broker (pid %d) ignored SIGTERM for %v; killed", pid, timeout)
	}
	return fmt.Errorf("kafkatest: the broker (pid %d) survived SIGKILL", pid)
}

// waitGone polls until pid no longer exists, for at most d.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
