package childproc

import (
	"bufio"
	"io"
	"os/exec"
	"testing"
	"time"
)

func start(t *testing.T, script string) *Process {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh: %v", err)
	}
	p := Reap(cmd, nil)
	t.Cleanup(p.Kill)
	return p
}

func TestStopEndsAProcessThatHonoursSIGTERM(t *testing.T) {
	p := start(t, "sleep 30")
	if p.Exited() {
		t.Fatal("exited before it was stopped")
	}
	if p.Stop(10*time.Second, func() { t.Error("killed a process that honours SIGTERM") }) {
		t.Fatal("Stop reported a kill")
	}
	if !p.Exited() || p.Wait() == nil {
		t.Fatalf("after Stop: exited %v, Wait %v; want exited by a signal", p.Exited(), p.Wait())
	}
}

func TestStopKillsAProcessThatIgnoresSIGTERM(t *testing.T) {
	cmd := exec.Command("sh", "-c", `trap "" TERM; echo trapped; exec >&-; while :; do sleep 0.1; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh: %v", err)
	}
	// Wait for the trap to be set, so that SIGTERM is ignored.
	_, err = bufio.NewReader(out).ReadString('\n')
	p := Reap(cmd, func() { _, _ = io.Copy(io.Discard, out) })
	t.Cleanup(p.Kill)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Stop(100*time.Millisecond, nil) {
		t.Fatal("Stop did not report the kill")
	}
	if !p.Exited() {
		t.Fatal("not reaped after Stop")
	}
}

func TestDrainRunsBeforeWait(t *testing.T) {
	cmd := exec.Command("sh", "-c", "exit 3")
	var drained bool
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh: %v", err)
	}
	p := Reap(cmd, func() { drained = true })
	if err := p.Wait(); err == nil || !drained {
		t.Fatalf("Wait %v, drained %v; want exit status 3 after the drain", err, drained)
	}
}
