package hostclock

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNowIsMonotonicAndInNanoseconds(t *testing.T) {
	a := Now()
	time.Sleep(20 * time.Millisecond)
	b := Now()
	if d := time.Duration(b - a); d < 20*time.Millisecond || d > 5*time.Second {
		t.Fatalf("two readings 20ms apart differ by %v", d)
	}
}

// TestSharedAcrossProcesses checks what the pair relies on: another process
// on the host reads the same clock, with the same id.
func TestSharedAcrossProcesses(t *testing.T) {
	if os.Getenv("HOSTCLOCK_CHILD") == "1" {
		os.Stdout.WriteString(strconv.FormatUint(ID(), 10) + " " + strconv.FormatInt(Now(), 10) + "\n")
		return
	}
	before := Now()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSharedAcrossProcesses$")
	cmd.Env = append(os.Environ(), "HOSTCLOCK_CHILD=1")
	out, err := cmd.Output()
	after := Now()
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
	if len(fields) != 2 {
		t.Fatalf("child printed %q", out)
	}
	childID, _ := strconv.ParseUint(fields[0], 10, 64)
	childNow, _ := strconv.ParseInt(fields[1], 10, 64)
	if childID != ID() {
		if runtime.GOOS == "linux" {
			t.Fatalf("the child names another clock: id %d, ours %d", childID, ID())
		}
		t.Skipf("no host-wide clock on %s: each process has its own", runtime.GOOS)
	}
	if childNow < before || childNow > after {
		t.Fatalf("the child's reading %d is outside ours, [%d, %d]", childNow, before, after)
	}
}
