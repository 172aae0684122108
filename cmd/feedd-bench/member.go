package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// memberSpec is one `feedd run` member as a benchmark runs it.
type memberSpec struct {
	ID      string
	Port    *pty
	Brokers string
	Topic   string
	// Role is auto (a pair), active or inactive (--role).
	Role string
	// CommitInterval and Producer set kafka.commit_interval and
	// kafka.producer; zero values keep feedd's defaults.
	CommitInterval time.Duration
	Producer       string
	// Pair settings, for Role auto.
	PairListen, PeerID, PeerAddr, SecretFile string
	// PairYAML is added to the pair section, e.g. "activation_interval: 5s".
	PairYAML string
	// QuietAfter sets serial.quiet_after; zero keeps feedd's default.
	QuietAfter time.Duration
	// ProfileDir, if set, makes each process write CPU and allocation
	// profiles there when it is stopped (with SIGTERM).
	ProfileDir string
}

// member is one member's configuration and its successive processes.
type member struct {
	spec      memberSpec
	bin       string
	dir       string
	cfgPath   string
	adminAddr string
	name      string // unique in the run: files are named after it
	starts    int

	mu   sync.Mutex
	proc *memberProc
}

type memberProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// memberSeq numbers the members of a run.
var memberSeq int

func newMember(bin, dir string, spec memberSpec) (*member, error) {
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	memberSeq++
	m := &member{spec: spec, bin: bin, dir: dir, adminAddr: admin, name: fmt.Sprintf("%03d-%s", memberSeq, spec.ID)}
	m.cfgPath = filepath.Join(dir, m.name+".yaml")
	return m, os.WriteFile(m.cfgPath, []byte(m.config()), 0o600)
}

// config is the member's YAML: the benchmark frames (NMEA sentences of 100
// bytes, numbered in field 1) on a pty, everything else at feedd's
// defaults unless the spec says otherwise.
func (m *member) config() string {
	s := m.spec
	var kafkaExtra, pair, serialExtra string
	if s.QuietAfter > 0 {
		serialExtra = fmt.Sprintf("  quiet_after: %v\n", s.QuietAfter)
	}
	if s.CommitInterval > 0 {
		kafkaExtra += fmt.Sprintf("  commit_interval: %v\n", s.CommitInterval)
	}
	if s.Producer != "" {
		kafkaExtra += fmt.Sprintf("  producer: %s\n", s.Producer)
	}
	if s.Role == "auto" {
		pair = fmt.Sprintf("pair:\n  listen: %s\n  peers:\n    - id: %s\n      address: %s\n  secret_file: %s\n",
			s.PairListen, s.PeerID, s.PeerAddr, s.SecretFile)
		if s.PairYAML != "" {
			pair += "  " + strings.ReplaceAll(strings.TrimSpace(s.PairYAML), "\n", "\n  ") + "\n"
		}
	}
	return fmt.Sprintf(`pipeline: bench
member_id: %s
serial:
  device: %s
  baud: 115200
%sframing:
  mode: nmea
  max_frame: 128
sequence:
  nmea_field: 1
kafka:
  brokers: [%s]
  topic: %s
%s%sadmin:
  listen: %s
log:
  level: warn
`, s.ID, s.Port.Path, serialExtra, s.Brokers, s.Topic, kafkaExtra, pair, m.adminAddr)
}

// freeAddr returns a 127.0.0.1 address with a port free at the time of
// the call.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start starts a new process of the member, logging to its own file.
func (m *member) start() error {
	if err := m.spec.Port.releaseExclusive(); err != nil {
		return fmt.Errorf("member %s: %w", m.spec.ID, err)
	}
	m.starts++
	logPath := filepath.Join(m.dir, fmt.Sprintf("%s.%d.log", m.name, m.starts))
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	args := []string{"run", "--config", m.cfgPath}
	if m.spec.Role != "auto" {
		args = append(args, "--role", m.spec.Role)
	}
	cmd := exec.Command(m.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if d := m.spec.ProfileDir; d != "" {
		prefix := filepath.Join(d, fmt.Sprintf("%s.%d", m.name, m.starts))
		cmd.Env = append(os.Environ(), "FEEDD_CPUPROFILE="+prefix+"-cpu.out", "FEEDD_MEMPROFILE="+prefix+"-mem.out")
	}
	// The kernel kills the member if the benchmark dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting member %s: %w", m.spec.ID, err)
	}
	p := &memberProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
	return nil
}

func (m *member) current() *memberProc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

func (m *member) pid() int { return m.current().cmd.Process.Pid }

func (m *member) signal(sig syscall.Signal) error {
	return m.current().cmd.Process.Signal(sig)
}

// stop kills the current process (continuing it first if stopped) and
// waits for it to be gone. A profiled member is asked to stop (SIGTERM)
// first, so that it writes its profiles.
func (m *member) stop() {
	p := m.current()
	if p == nil {
		return
	}
	if m.spec.ProfileDir != "" {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(15 * time.Second):
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// exited reports whether the current process has ended.
func (m *member) exited() bool {
	select {
	case <-m.current().done:
		return true
	default:
		return false
	}
}

// memberStatus is the part of a member's /status the benchmarks read.
type memberStatus struct {
	Role   string `json:"role"`
	Ingest struct {
		Connected bool   `json:"connected"`
		Frames    uint64 `json:"frames"`
	} `json:"ingest"`
	Broadcast struct {
		Role         string    `json:"role"`
		LastCommitAt time.Time `json:"last_commit_at"`
		Ring         struct {
			Len   int   `json:"len"`
			Bytes int64 `json:"bytes"`
		} `json:"ring"`
		Counters struct {
			Commits         uint64 `json:"commits"`
			CommittedFrames uint64 `json:"committed_frames"`
			EchoMatched     uint64 `json:"echo_matched"`
			CommitNanos     uint64 `json:"commit_nanos"`
			EndTxnNanos     uint64 `json:"end_txn_nanos"`
			HandoffStalls   uint64 `json:"handoff_stalls"`
		} `json:"counters"`
	} `json:"broadcast"`
	Pair struct {
		RoleSince time.Time `json:"role_since"`
		Term      uint64    `json:"term"`
		HoldOff   bool      `json:"hold_off"`
	} `json:"pair"`
	Link struct {
		Peers []struct {
			Connected bool `json:"connected"`
		} `json:"peers"`
	} `json:"link"`
}

func (s memberStatus) linkUp() bool { return len(s.Link.Peers) == 1 && s.Link.Peers[0].Connected }

var httpClient = &http.Client{Timeout: 2 * time.Second}

func (m *member) status() (memberStatus, error) {
	var st memberStatus
	resp, err := httpClient.Get("http://" + m.adminAddr + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("member %s: /status: %s", m.spec.ID, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// metric reads one sample of the member's /metrics: the first line whose
// name (labels included) is name.
func (m *member) metric(name string) (float64, error) {
	resp, err := httpClient.Get("http://" + m.adminAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return parseMetric(bufio.NewScanner(resp.Body), name)
}

func parseMetric(sc *bufio.Scanner, name string) (float64, error) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// waitTimeout bounds every wait for a member's state: generous, so that a
// loaded machine slows a benchmark down rather than failing it.
const waitTimeout = 60 * time.Second

// waitStatus polls the member's status until cond holds.
func (m *member) waitStatus(ctx context.Context, what string, cond func(memberStatus) bool) (memberStatus, error) {
	return pollStatus(ctx, what, 5*time.Millisecond, []*member{m}, func(sts []memberStatus) bool { return cond(sts[0]) })
}

// pollStatus polls the members' statuses every interval until cond holds
// for all of them at once, a member exits, or waitTimeout passes.
func pollStatus(ctx context.Context, what string, every time.Duration, ms []*member, cond func([]memberStatus) bool) (memberStatus, error) {
	deadline := time.Now().Add(waitTimeout)
	sts := make([]memberStatus, len(ms))
	var last error
	for {
		ok := true
		for i, m := range ms {
			if m.exited() {
				return memberStatus{}, fmt.Errorf("waiting for %s: member %s exited: %v (log in %s)", what, m.spec.ID, m.current().err, m.dir)
			}
			st, err := m.status()
			if err != nil {
				ok, last = false, err
				break
			}
			sts[i] = st
		}
		if ok && cond(sts) {
			return sts[0], nil
		}
		if time.Now().After(deadline) {
			return memberStatus{}, fmt.Errorf("timed out after %v waiting for %s (last error: %v; logs in %s)", waitTimeout, what, last, ms[0].dir)
		}
		select {
		case <-ctx.Done():
			return memberStatus{}, ctx.Err()
		case <-time.After(every):
		}
	}
}

// procStats are a process's resident memory and CPU time, from /proc.
type procStats struct {
	RSS int64         // bytes
	CPU time.Duration // user + system
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTick = 100

func readProcStats(pid int) (procStats, error) {
	var ps procStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	if ps.CPU, err = parseProcCPU(string(stat)); err != nil {
		return ps, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	ps.RSS, err = parseVmRSS(string(status))
	return ps, err
}

// parseProcCPU reads utime + stime from /proc/<pid>/stat. The command name
// (field 2) is in parentheses and may hold spaces: fields are counted after
// its closing parenthesis.
func parseProcCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat: %w", err)
	}
	return time.Duration(u+s) * time.Second / clockTick, nil
}

func parseVmRSS(status string) (int64, error) {
	for line := range strings.SplitSeq(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("/proc status: VmRSS %q", rest)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("/proc status: no VmRSS")
}
