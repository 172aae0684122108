package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/member"
)

// throughputResult is feedd against kcat on the same file.
type throughputResult struct {
	Frames      int
	Feedd, Kcat []float64 // frames/s per run, in run order
	// KcatHeaders is kcat producing the same lines with four static
	// headers the size of feedd's: the record format's share of the gap.
	KcatHeaders []float64
	// KcatStart is kcat's own start-up and connection, which its runs
	// include: the wall time of kcat producing a one-line file.
	KcatStart []float64 // seconds
	// FranzGo is franz-go alone producing the same lines with feedd's
	// header in transactions of the most a member puts in one
	// (floorProduceFile), timed as kcat is; none in results saved before
	// it was measured.
	FranzGo []float64 `json:",omitempty"`
	// Ratios are feedd/kcat of each set of runs made back to back;
	// HeaderRatios feedd/kcat with headers.
	Ratios, HeaderRatios                   []float64
	FileCmd, FeeddCmd, KcatCmd, KcatHdrCmd string
	FranzGoCmd                             string `json:",omitempty"`
}

// activeMember starts a `feedd run --role active` member on a fresh topic
// and a fresh pty and waits until it is active with its port open.
func (r *runner) activeMember(ctx context.Context, what string, interval time.Duration, producer string) (*benchMember, *pty, string, error) {
	topic, err := r.broker.freshTopic(ctx, what)
	if err != nil {
		return nil, nil, "", err
	}
	p, err := openPTY()
	if err != nil {
		return nil, nil, "", err
	}
	m, err := newMember(r.bin, r.dir, memberSpec{ID: "a", Port: p, Brokers: r.broker.Addr, Topic: topic, ProfileDir: r.o.profile, Role: "active",
		CommitInterval: interval, Producer: producer})
	if err == nil {
		err = m.start()
	}
	if err != nil {
		p.Close()
		return nil, nil, "", err
	}
	if _, err := m.waitStatus(ctx, "the member active, its port open", func(st *member.Status) bool {
		return st.Broadcast.State == broadcast.StateActive && st.Ingest.Connected
	}); err != nil {
		m.stop()
		p.Close()
		return nil, nil, "", err
	}
	return m, p, topic, nil
}

// feeddThroughput pushes the file through one active member and returns
// frames/s: from the first byte written into the pty until the member
// reports the last frame committed (polled every 10 ms).
func (r *runner) feeddThroughput(ctx context.Context, file string, frames int, interval time.Duration, producer string) (float64, error) {
	m, p, _, err := r.activeMember(ctx, "tput", interval, producer)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	defer m.stop()
	start := time.Now()
	written := make(chan error, 1)
	go func() { written <- copyFile(p, file) }()
	st, err := pollStatus(ctx, fmt.Sprintf("%d frames committed", frames), 10*time.Millisecond, []*benchMember{m}, func(sts []*member.Status) bool {
		return sts[0].Broadcast.Counters.CommittedFrames >= uint64(frames)
	})
	elapsed := time.Since(start)
	if werr := <-written; werr != nil {
		return 0, werr
	}
	if err != nil {
		return 0, err
	}
	if st.Ingest.Frames != uint64(frames) || st.Broadcast.Counters.CommittedFrames != uint64(frames) {
		return 0, fmt.Errorf("the member read %d frames and committed %d, want %d", st.Ingest.Frames, st.Broadcast.Counters.CommittedFrames, frames)
	}
	c := st.Broadcast.Counters
	log.Printf("feedd: %d frames in %v: %d commits (%.0f frames each), committing %.0f%% of the time (EndTxn %.0f%%), %d hand-off stalls",
		frames, elapsed.Round(time.Millisecond), c.Commits, float64(frames)/float64(max(c.Commits, 1)),
		100*float64(c.CommitNanos)/float64(elapsed), 100*float64(c.EndTxnNanos)/float64(elapsed), c.HandoffStalls)
	return float64(frames) / elapsed.Seconds(), nil
}

// franzGoThroughput produces the file with franz-go alone
// (floorProduceFile) and returns frames/s: the wall time of the process, as
// kcat's, start-up and connection included; the topic must then hold every
// frame and a commit marker after each transaction.
func (r *runner) franzGoThroughput(ctx context.Context, file string, frames int) (float64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	topic, err := r.broker.freshTopic(ctx, "franzgo")
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, self, floorCommand, "produce-file", r.broker.Addr, topic, file).CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	txns := (frames + broadcast.DefaultCommitMaxFrames - 1) / broadcast.DefaultCommitMaxFrames
	if end, err := r.broker.endOffset(ctx, topic); err != nil || end != int64(frames+txns) {
		return 0, fmt.Errorf("after franz-go the topic ends at offset %d (%v), want %d frames and %d commit markers", end, err, frames, txns)
	}
	return float64(frames) / elapsed.Seconds(), nil
}

// kcatProduceArgs are kcat's arguments for producing a file of lines as
// a user would for the same guarantees short of transactions: every
// acknowledgement from all in-sync replicas, idempotence on, librdkafka's
// defaults otherwise.
func kcatProduceArgs(brokers, topic, file string, headers bool) []string {
	args := []string{"-P", "-b", brokers, "-t", topic, "-p", "0", "-X", "acks=all", "-X", "enable.idempotence=true"}
	if headers {
		for _, h := range feeddLikeHeaders {
			args = append(args, "-H", h)
		}
	}
	if file != "" {
		args = append(args, "-l", file)
	}
	return args
}

// feeddLikeHeaders are static headers with feedd's key and a value of the
// size feedd writes for a sequenced frame (docs/kafka.md, the record
// format).
var feeddLikeHeaders = []string{
	"feedd=1 0123456789abcdef a 1767366305123456789 5b0f1c2d3e4f6a7b/91873312000045/91873314510210 seq=123456",
}

// kcatThroughput produces the file with kcat and returns frames/s: the
// wall time of the kcat process, which exits once every message is
// acknowledged; the topic must then hold every frame.
func (r *runner) kcatThroughput(ctx context.Context, file string, frames int, headers bool) (float64, error) {
	topic, err := r.broker.freshTopic(ctx, "kcat")
	if err != nil {
		return 0, err
	}
	elapsed, err := runKcat(ctx, r.broker.Addr, topic, file, headers)
	if err != nil {
		return 0, err
	}
	if end, err := r.broker.endOffset(ctx, topic); err != nil || end != int64(frames) {
		return 0, fmt.Errorf("after kcat the topic ends at offset %d (%v), want %d", end, err, frames)
	}
	return float64(frames) / elapsed.Seconds(), nil
}

func runKcat(ctx context.Context, brokers, topic, file string, headers bool) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "kcat", kcatProduceArgs(brokers, topic, file, headers)...).CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("kcat: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return elapsed, nil
}

func (r *runner) benchThroughput(ctx context.Context) error {
	file, err := r.frameFile()
	if err != nil {
		return err
	}
	one := filepath.Join(r.dir, "one-frame.txt")
	if err := writeFrameFile(one, 1); err != nil {
		return err
	}
	res := newThroughputResult(r.o.frames)
	for i := range r.o.reps {
		f, err := r.feeddThroughput(ctx, file, r.o.frames, 0, "")
		if err != nil {
			return fmt.Errorf("feedd run %d: %w", i+1, err)
		}
		k, err := r.kcatThroughput(ctx, file, r.o.frames, false)
		if err != nil {
			return fmt.Errorf("kcat run %d: %w", i+1, err)
		}
		kh, err := r.kcatThroughput(ctx, file, r.o.frames, true)
		if err != nil {
			return fmt.Errorf("kcat with headers, run %d: %w", i+1, err)
		}
		fg, err := r.franzGoThroughput(ctx, file, r.o.frames)
		if err != nil {
			return fmt.Errorf("franz-go alone, run %d: %w", i+1, err)
		}
		topic, err := r.broker.freshTopic(ctx, "kcat1")
		if err != nil {
			return err
		}
		s, err := runKcat(ctx, r.broker.Addr, topic, one, false)
		if err != nil {
			return err
		}
		res.Feedd, res.Kcat = append(res.Feedd, f), append(res.Kcat, k)
		res.Ratios = append(res.Ratios, f/k)
		res.KcatHeaders, res.HeaderRatios = append(res.KcatHeaders, kh), append(res.HeaderRatios, f/kh)
		res.KcatStart = append(res.KcatStart, s.Seconds())
		res.FranzGo = append(res.FranzGo, fg)
		log.Printf("throughput %d/%d: feedd %.0f frames/s, kcat %.0f frames/s (%.2f×), kcat with headers %.0f frames/s (%.2f×), franz-go alone %.0f frames/s (%.2f× kcat with headers); kcat start-up %v",
			i+1, r.o.reps, f, k, f/k, kh, f/kh, fg, fg/kh, s.Round(time.Millisecond))
	}
	r.res.Throughput = res
	return nil
}

// frameFile writes the throughput file once per run and returns its path.
func (r *runner) frameFile() (string, error) { return r.frameFileOf(r.o.frames) }

// frameFileOf is the work directory's file of n frames, written once.
func (r *runner) frameFileOf(n int) (string, error) {
	file := filepath.Join(r.dir, fmt.Sprintf("frames-%d.txt", n))
	if st, err := os.Stat(file); err == nil && st.Size() == int64(n*FrameSize) {
		return file, nil
	}
	return file, writeFrameFile(file, n)
}

// kcatVersion is kcat's version and its librdkafka's, from `kcat -V`.
func kcatVersion() string {
	out, err := exec.Command("kcat", "-V").CombinedOutput()
	if err != nil {
		return "kcat not found"
	}
	return parseKcatVersion(string(out))
}

var kcatVersionRE = regexp.MustCompile(`Version (\S+) .*librdkafka (\S+)`)

func parseKcatVersion(out string) string {
	if m := kcatVersionRE.FindStringSubmatch(out); m != nil {
		return fmt.Sprintf("kcat %s (librdkafka %s)", m[1], m[2])
	}
	return "kcat (version unknown)"
}

// newThroughputResult is an empty result with the commands its rows run.
func newThroughputResult(frames int) *throughputResult {
	return &throughputResult{Frames: frames,
		FileCmd:    fmt.Sprintf("%d frames of %d bytes: $FDSEQ,<seq>,<ms>,<padding>*hh\\r\\n", frames, FrameSize),
		FeeddCmd:   "feedd run --role active (framing nmea, max_frame 128, sequence nmea_field 1, kafka defaults: transactions, commit_interval 25ms) reading a pty the file is written into",
		KcatCmd:    "kcat " + shellWords(kcatProduceArgs("<broker>", "<topic>", "frames.txt", false)),
		KcatHdrCmd: "kcat " + shellWords(kcatProduceArgs("<broker>", "<topic>", "frames.txt", true)),
		FranzGoCmd: "feedd-bench " + floorCommand + " produce-file <broker> <topic> frames.txt",
	}
}

// shellWords joins args as a shell command line, quoting those with spaces.
func shellWords(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsRune(a, ' ') {
			a = "'" + a + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}
