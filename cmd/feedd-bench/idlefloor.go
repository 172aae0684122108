package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/feedd/feedd/internal/tickgrid"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The idle row of the CPU benchmark has a floor beside it as the rows under
// a feed have franz-go alone: two processes doing only what an idle pair
// must do under the fixed decisions and the default timings, measured from
// /proc as the members are. Each one
//   - reads a pseudo-terminal nobody writes to, a read with a deadline of
//     the member's idle pace (a read that ends empty is what starts a
//     frame's window, decision 0010);
//   - sends a heartbeat, authenticated with HMAC-SHA256 as the pair link
//     seals them, every heartbeat interval over loopback TCP, and reads and
//     checks the peer's;
//   - runs a read_committed consumer of the topic, as the echo, whose
//     fetches the broker holds for the echo's wait when nothing is new;
//
// and the active one commits a one-record transaction every second, the
// Kafka keepalive of an idle active whose peer hears it. Nothing else: no
// status, no metrics, no ring, no sightings, no core. Their timers fall on
// the grid the members' do (internal/tickgrid), which lets a process wake
// once for several of them.
const (
	idleFloorCommand = "idle-floor"
	// idleFloorReadPace is ingest's idleReadTimeout.
	idleFloorReadPace = 50 * time.Millisecond
	// idleFloorHeartbeat is pair.heartbeat_interval's default: the hang
	// failover target and the Kafka witness's sparing rest on it.
	idleFloorHeartbeat = 100 * time.Millisecond
	// idleFloorKeepalive is the spared keepalive's pace (broadcast's
	// sparedControlInterval).
	idleFloorKeepalive = time.Second
	// idleFloorBeat is the size of a sealed heartbeat on the pair link,
	// about feedd's own.
	idleFloorBeat = 96
)

// runIdleFloor is the child process:
// idle-floor active|inactive BROKER TOPIC PORT LINKADDR. The active one
// listens on LINKADDR, the inactive one dials it. It runs until SIGTERM.
func runIdleFloor(args []string) error {
	fs := flag.NewFlagSet(idleFloorCommand, flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 5 {
		return errors.New("usage: " + idleFloorCommand + " active|inactive BROKER TOPIC PORT LINKADDR")
	}
	role, broker, topic, port, addr := fs.Arg(0), fs.Arg(1), fs.Arg(2), fs.Arg(3), fs.Arg(4)
	if role != "active" && role != "inactive" {
		return fmt.Errorf("%s: unknown role %q", idleFloorCommand, role)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	conn, err := idleFloorLink(ctx, role, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	f, err := os.OpenFile(port, os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic), kgo.DisableClientMetrics(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(floorFetchMaxWait))
	if err != nil {
		return err
	}
	defer cons.Close()
	var prod *kgo.Client
	if role == "active" {
		if prod, err = kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(topic), kgo.DisableClientMetrics(),
			kgo.TransactionalID(fmt.Sprintf("%s-%d", idleFloorCommand, os.Getpid())),
			kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
			return err
		}
		defer prod.Close()
	}

	var wg sync.WaitGroup
	run := func(f func() error) {
		wg.Go(func() {
			if err := f(); err != nil && ctx.Err() == nil {
				cancel(err)
			}
		})
	}
	run(func() error { return idleFloorReadPort(ctx, f) })
	run(func() error { return idleFloorBeats(ctx, conn) })
	var heard atomic.Int64
	run(func() error { return idleFloorHear(conn, &heard) })
	run(func() error {
		for ctx.Err() == nil {
			if err := cons.PollFetches(ctx).Err0(); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
		}
		return nil
	})
	if prod != nil {
		run(func() error { return idleFloorKeepalives(ctx, prod) })
	}
	<-ctx.Done()
	conn.Close()
	wg.Wait()
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	fmt.Println(heard.Load())
	return nil
}

func idleFloorLink(ctx context.Context, role, addr string) (net.Conn, error) {
	if role == "active" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		return ln.Accept()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return conn, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idleFloorKey is shared by the two processes as the pair's secret is; a
// fixed one is enough to cost what checking a seal costs.
var idleFloorKey = []byte("idle-floor: a pair secret of 32b")

func idleFloorReadPort(ctx context.Context, f *os.File) error {
	b := make([]byte, 4096)
	for ctx.Err() == nil {
		now := time.Now()
		if err := f.SetReadDeadline(now.Add(tickgrid.Until(now, idleFloorReadPace))); err != nil {
			return fmt.Errorf("the port is not read in the poller: %w", err)
		}
		if _, err := f.Read(b); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

func idleFloorBeats(ctx context.Context, conn net.Conn) error {
	tick := time.NewTimer(tickgrid.Until(time.Now(), idleFloorHeartbeat))
	defer tick.Stop()
	mac := hmac.New(sha256.New, idleFloorKey)
	msg := make([]byte, 4+idleFloorBeat)
	binary.BigEndian.PutUint32(msg, idleFloorBeat)
	body := msg[4 : 4+idleFloorBeat-sha256.Size]
	for seq := uint64(0); ; seq++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			tick.Reset(tickgrid.Until(time.Now(), idleFloorHeartbeat))
		}
		_, _ = rand.Read(body[8:])
		binary.BigEndian.PutUint64(body, seq)
		mac.Reset()
		mac.Write(body)
		mac.Sum(msg[:4+len(body)])
		if _, err := conn.Write(msg); err != nil {
			return err
		}
	}
}

// idleFloorHear reads and checks the peer's heartbeats, counting them,
// until the link closes: the peer stopping first is not a failure, the
// count of what was heard tells the harness the link worked.
func idleFloorHear(conn net.Conn, heard *atomic.Int64) error {
	mac := hmac.New(sha256.New, idleFloorKey)
	msg := make([]byte, 4+idleFloorBeat)
	sum := make([]byte, 0, sha256.Size)
	for {
		if _, err := io.ReadFull(conn, msg); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		body := msg[4 : 4+idleFloorBeat-sha256.Size]
		mac.Reset()
		mac.Write(body)
		if !hmac.Equal(mac.Sum(sum[:0]), msg[4+len(body):]) {
			return errors.New("a heartbeat's seal does not match")
		}
		heard.Add(1)
	}
}

func idleFloorKeepalives(ctx context.Context, cl *kgo.Client) error {
	tick := time.NewTimer(tickgrid.Until(time.Now(), idleFloorKeepalive))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			tick.Reset(tickgrid.Until(time.Now(), idleFloorKeepalive))
		}
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("keepalive")}).FirstErr(); err != nil {
			return err
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return err
		}
	}
}

// idleFloorCPU runs the two idle-floor processes on a fresh topic and two
// fresh ptys, lets them settle as the members do, and returns each one's
// CPU seconds per second over the measurement time.
func (r *runner) idleFloorCPU(ctx context.Context) (active, inactive float64, err error) {
	topic, err := r.broker.freshTopic(ctx, "idlefloor")
	if err != nil {
		return 0, 0, err
	}
	addr, err := freeAddr()
	if err != nil {
		return 0, 0, err
	}
	var cmds []*exec.Cmd
	var heard [2]strings.Builder
	defer func() {
		for _, c := range cmds {
			if c == nil {
				continue
			}
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	for _, role := range []string{"active", "inactive"} {
		p, err := openPTY()
		if err != nil {
			return 0, 0, err
		}
		defer p.Close()
		cmd, err := floorChild(ctx, idleFloorCommand, role, r.broker.Addr, topic, p.Path, addr)
		if err != nil {
			return 0, 0, err
		}
		cmd.Stdout = &heard[len(cmds)]
		if err := cmd.Start(); err != nil {
			return 0, 0, err
		}
		cmds = append(cmds, cmd)
	}
	time.Sleep(memberSettle)
	cpu, err := cpuPerSecond(r.o.cpuDuration, cmds[0].Process.Pid, cmds[1].Process.Pid)
	if err != nil {
		return 0, 0, err
	}
	// Both must have done their part all along: one that failed (a
	// refused link, a lost broker) would have cost next to nothing.
	for _, c := range cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	for i, c := range cmds {
		err := c.Wait()
		cmds[i] = nil
		role := []string{"active", "inactive"}[i]
		if err != nil {
			return 0, 0, fmt.Errorf("the idle floor's %s process: %w", role, err)
		}
		least := int((memberSettle + r.o.cpuDuration) / idleFloorHeartbeat * 9 / 10)
		if n, err := strconv.Atoi(strings.TrimSpace(heard[i].String())); err != nil || n < least {
			return 0, 0, fmt.Errorf("the idle floor's %s process heard %q heartbeats, fewer than %d", role, heard[i].String(), least)
		}
	}
	return cpu[0], cpu[1], nil
}
