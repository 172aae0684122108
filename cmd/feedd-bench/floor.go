package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/feedd/feedd/broadcast"
)

// The CPU benchmark measures, beside kcat, what franz-go alone costs doing
// the least a member must do with Kafka at the same rate: a transactional
// producer committing the lines it read every floorCommitEvery, and a
// read_committed consumer reading them back, as the inactive's echo does.
// The harness runs them as child processes of its own binary (floorCommand
// as the first argument), so that their CPU is read from /proc like kcat's
// and the members'.
const (
	floorCommand = "franz-go-floor"
	// floorCommitEvery is about the longest commit cadence that keeps the
	// latency target at 1,000 frames/s (p50 at most 5 ms): a line waits
	// 2.5 ms for the commit on average, then the transaction's own round
	// trips. A member, committing as soon as it is caught up, commits
	// about this often at that rate. The producer commits at most this
	// often: a commit that takes longer skips ticks.
	floorCommitEvery = 5 * time.Millisecond
	// floorFetchMaxWait is the echo consumer's (broadcast/echo.go).
	floorFetchMaxWait = 500 * time.Millisecond
)

// runFloor is the child process: floorCommand produce|consume BROKER TOPIC,
// or produce-file BROKER TOPIC FILE. It runs until killed, or (producing)
// until its standard input or the file ends.
func runFloor(args []string) error {
	fs := flag.NewFlagSet(floorCommand, flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 3 || (fs.Arg(0) == "produce-file") != (fs.NArg() == 4) {
		return errors.New("usage: " + floorCommand + " produce|consume BROKER TOPIC, or produce-file BROKER TOPIC FILE")
	}
	role, broker, topic := fs.Arg(0), fs.Arg(1), fs.Arg(2)
	ctx := context.Background()
	switch role {
	case "produce-file":
		return floorProduceFile(ctx, broker, topic, fs.Args()[3:])
	case "consume":
		return floorConsume(broker, topic)
	case "produce":
		return floorProduce(ctx, broker, topic)
	}
	return fmt.Errorf("%s: unknown role %q", floorCommand, role)
}

// floorConsume reads topic until SIGTERM, then writes how many records it
// read to its standard output.
func floorConsume(broker, topic string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic), kgo.DisableClientMetrics(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(floorFetchMaxWait))
	if err != nil {
		return err
	}
	defer cl.Close()
	read := 0
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		read += fs.NumRecords()
	}
	fmt.Println(read)
	return nil
}

// floorProduce commits, every floorCommitEvery, the lines read from the
// standard input since the last commit, each line a record.
func floorProduce(ctx context.Context, broker, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(topic), kgo.DisableClientMetrics(),
		kgo.TransactionalID(fmt.Sprintf("%s-%d", floorCommand, os.Getpid())),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	lines := make(chan []byte, 1<<16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
	}()
	var failed atomic.Pointer[error]
	fail := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	tick := time.NewTicker(floorCommitEvery)
	defer tick.Stop()
	for open := true; open; {
		<-tick.C
		n := 0
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					open = false
					break read
				}
				if n == 0 {
					if err := cl.BeginTransaction(); err != nil {
						return err
					}
				}
				cl.TryProduce(ctx, &kgo.Record{Value: l}, fail)
				n++
			default:
				break read
			}
		}
		if n == 0 {
			continue
		}
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		if err := failed.Load(); err != nil {
			return *err
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return err
		}
	}
	return nil
}

// floorCPU runs the franz-go producer and consumer of runFloor on a fresh
// topic, the producer fed at rate through its standard input as kcat is,
// and returns each one's CPU seconds per second over the measurement time.
func (r *runner) floorCPU(ctx context.Context, rate float64) (producer, consumer float64, err error) {
	topic, err := r.broker.freshTopic(ctx, "floorcpu")
	if err != nil {
		return 0, 0, err
	}
	cons, err := floorChild(ctx, floorCommand, "consume", r.broker.Addr, topic)
	if err != nil {
		return 0, 0, err
	}
	var counted strings.Builder
	cons.Stdout = &counted
	if err := cons.Start(); err != nil {
		return 0, 0, err
	}
	consumed := false
	defer func() {
		if !consumed {
			_ = cons.Process.Kill()
			_ = cons.Wait()
		}
	}()
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	prod, err := floorChild(ctx, floorCommand, "produce", r.broker.Addr, topic)
	if err != nil {
		pr.Close()
		pw.Close()
		return 0, 0, err
	}
	prod.Stdin = pr
	if err := prod.Start(); err != nil {
		pr.Close()
		pw.Close()
		return 0, 0, err
	}
	pr.Close()
	done := make(chan error, 1)
	go func() { done <- prod.Wait() }()
	n := int(rate * (r.o.cpuDuration + 2*time.Second).Seconds())
	fed := make(chan error, 1)
	go func() {
		_, err := pace(ctx, []sink{pipeSink{pw}}, 1, n, rate, nil)
		fed <- err
	}()
	cpu, err := cpuPerSecond(r.o.cpuDuration, prod.Process.Pid, cons.Process.Pid)
	if ferr := <-fed; err == nil {
		err = ferr
	}
	pw.Close()
	if perr := <-done; err == nil && perr != nil {
		err = fmt.Errorf("the franz-go producer: %w", perr)
	}
	if err != nil {
		return 0, 0, err
	}
	// A consumer that read nothing would have cost next to nothing: make
	// sure it read the lines back, all but the last commits at most.
	consumed = true
	_ = cons.Process.Signal(syscall.SIGTERM)
	if err := cons.Wait(); err != nil {
		return 0, 0, fmt.Errorf("the franz-go consumer: %w", err)
	}
	if read, err := strconv.Atoi(strings.TrimSpace(counted.String())); err != nil || read < n*9/10 {
		return 0, 0, fmt.Errorf("the franz-go consumer read %q records of the %d produced", counted.String(), n)
	}
	return cpu[0], cpu[1], nil
}

// floorProduceFile produces every line of file as a record with feedd's
// header, in transactions of broadcast.DefaultCommitMaxFrames records (the
// most a member puts in one), each flushed and then committed, one at a
// time, as fast as the broker takes them: the least a member must do to put the throughput benchmark's file
// into Kafka under the fixed decisions (franz-go, transactions as the lock,
// the record format), with no port, pipeline or echo.
func floorProduceFile(ctx context.Context, broker, topic string, args []string) error {
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(topic), kgo.DisableClientMetrics(),
		kgo.TransactionalID(fmt.Sprintf("%s-%d", floorCommand, os.Getpid())),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(2*broadcast.DefaultCommitMaxFrames))
	if err != nil {
		return err
	}
	defer cl.Close()
	key, value, _ := strings.Cut(feeddLikeHeaders[0], "=")
	header := []kgo.RecordHeader{{Key: key, Value: []byte(value)}}
	var failed atomic.Pointer[error]
	fail := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	commit := func() error {
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		if err := failed.Load(); err != nil {
			return *err
		}
		return cl.EndTransaction(ctx, kgo.TryCommit)
	}
	n := 0
	for line := range bytes.Lines(data) {
		if n == 0 {
			if err := cl.BeginTransaction(); err != nil {
				return err
			}
		}
		cl.Produce(ctx, &kgo.Record{Value: bytes.TrimRight(line, "\r\n"), Headers: header}, fail)
		if n++; n == broadcast.DefaultCommitMaxFrames {
			if err := commit(); err != nil {
				return err
			}
			n = 0
		}
	}
	if n > 0 {
		return commit()
	}
	return nil
}

// floorChild is this binary run as one of the floor's processes, its
// errors on the harness's, killed with the harness.
func floorChild(ctx context.Context, args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, nil
}
