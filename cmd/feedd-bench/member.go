package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/feedd/feedd/internal/memberproc"
	"github.com/feedd/feedd/member"
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
	// profiles and an execution trace there, complete once it is stopped
	// (with SIGTERM).
	ProfileDir string
}

// benchMember is one member's configuration and its successive processes.
type benchMember struct {
	spec      memberSpec
	bin       string
	dir       string
	cfgPath   string
	adminAddr string
	name      string // unique in the run: files are named after it
	starts    int

	mu      sync.Mutex
	proc    *memberproc.Proc
	started time.Time // when proc was started
}

// memberSeq numbers the members of a run.
var memberSeq int

func newMember(bin, dir string, spec memberSpec) (*benchMember, error) {
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	memberSeq++
	m := &benchMember{spec: spec, bin: bin, dir: dir, adminAddr: admin, name: fmt.Sprintf("%03d-%s", memberSeq, spec.ID)}
	m.cfgPath = filepath.Join(dir, m.name+".yaml")
	return m, os.WriteFile(m.cfgPath, []byte(m.config()), 0o600)
}

// config is the member's YAML: the benchmark frames (NMEA sentences of 100
// bytes, numbered in field 1) on a pty, everything else at feedd's
// defaults unless the spec says otherwise.
//
// The transactional id, the pair's lock, is named after the topic rather
// than the pipeline: every benchmark's topic is new, while the pipeline is
// the same in every run, and two runs on one broker sharing the lock would
// fence each other's members back and forth without a word in the figures.
func (m *benchMember) config() string {
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
  transactional_id: feedd-%s
%s%sadmin:
  listen: %s
log:
  level: warn
`, s.ID, s.Port.Path, serialExtra, s.Brokers, s.Topic, s.Topic, kafkaExtra, pair, m.adminAddr)
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
func (m *benchMember) start() error {
	if err := m.spec.Port.releaseExclusive(); err != nil {
		return fmt.Errorf("member %s: %w", m.spec.ID, err)
	}
	m.starts++
	cfg := memberproc.Config{
		Path:      m.bin,
		Args:      []string{"run", "--config", m.cfgPath},
		Log:       filepath.Join(m.dir, fmt.Sprintf("%s.%d.log", m.name, m.starts)),
		Admin:     m.adminAddr,
		PollEvery: 5 * time.Millisecond,
	}
	if m.spec.Role != "auto" {
		cfg.Args = append(cfg.Args, "--role", m.spec.Role)
	}
	if d := m.spec.ProfileDir; d != "" {
		prefix := filepath.Join(d, fmt.Sprintf("%s.%d", m.name, m.starts))
		cfg.Env = append(os.Environ(), "FEEDD_CPUPROFILE="+prefix+"-cpu.out", "FEEDD_MEMPROFILE="+prefix+"-mem.out",
			"FEEDD_TRACE="+prefix+"-trace.out")
	}
	p, err := memberproc.Start(cfg)
	if err != nil {
		return fmt.Errorf("member %s: %w", m.spec.ID, err)
	}
	m.mu.Lock()
	m.proc, m.started = p, time.Now()
	m.mu.Unlock()
	return nil
}

// uptime is how long the current process has run.
func (m *benchMember) uptime() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Since(m.started)
}

// current is the member's latest process, nil before the first start.
func (m *benchMember) current() *memberproc.Proc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

func (m *benchMember) pid() int { return m.current().Pid() }

// stop ends the current process and waits for it to be gone: at once
// (kill -9), or, for a profiled member, asking it first (SIGTERM), so that
// it writes its profiles.
func (m *benchMember) stop() {
	p := m.current()
	switch {
	case p == nil:
	case m.spec.ProfileDir != "":
		_ = p.Stop(15 * time.Second)
	default:
		p.Kill()
	}
}

func linkUp(st *member.Status) bool {
	return st.Link != nil && len(st.Link.Peers) == 1 && st.Link.Peers[0].Connected
}

func (m *benchMember) status(ctx context.Context) (*member.Status, error) {
	st, err := m.current().Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("member %s: %w", m.spec.ID, err)
	}
	return st, nil
}

// metric reads one sample of the member's /metrics: the first line whose
// name (labels included) is name.
func (m *benchMember) metric(ctx context.Context, name string) (float64, error) {
	body, err := m.current().Get(ctx, "/metrics")
	if err != nil {
		return 0, err
	}
	return parseMetric(bufio.NewScanner(bytes.NewReader(body)), name)
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
func (m *benchMember) waitStatus(ctx context.Context, what string, cond func(*member.Status) bool) (*member.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	st, err := m.current().WaitFor(ctx, cond)
	if err != nil {
		return nil, fmt.Errorf("waiting for %s (member %s, logs in %s): %w", what, m.spec.ID, m.dir, err)
	}
	return st, nil
}

// pollStatus polls the members' statuses every interval until cond holds
// for all of them at once, a member exits, or waitTimeout passes.
func pollStatus(ctx context.Context, what string, every time.Duration, ms []*benchMember, cond func([]*member.Status) bool) (*member.Status, error) {
	deadline := time.Now().Add(waitTimeout)
	sts := make([]*member.Status, len(ms))
	var last error
	for {
		ok := true
		for i, m := range ms {
			p := m.current()
			if p.Exited() {
				return nil, fmt.Errorf("waiting for %s: member %s exited: %v (log in %s)", what, m.spec.ID, p.Wait(), m.dir)
			}
			st, err := m.status(ctx)
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
			return nil, fmt.Errorf("timed out after %v waiting for %s (last error: %v; logs in %s)", waitTimeout, what, last, ms[0].dir)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
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
