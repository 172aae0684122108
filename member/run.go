package member

import (
	"bufio"
	"context"
	"errors"
	"sync"

	"github.com/feedd/feedd/ingest"
)

// Run runs the member until ctx is cancelled or its port fails for good:
// the port, the pipeline, the pair link, the admin endpoint, the
// role-change command and the control loop. It then shuts down in
// dependency order: the control loop first (an active member deactivates at
// a commit boundary), then the pair link (peers are told this member is
// leaving, so they take over at once), then the port, the pipeline and the
// admin endpoint.
func (m *Member) Run(ctx context.Context) error {
	sd, err := newSystemdNotifier()
	if err != nil {
		m.log.Warn("systemd notification socket not usable; readiness and watchdog not reported", "err", err)
	}
	defer sd.Close()
	m.sd = sd

	m.log.Info("feedd run starting", "version", m.version, "role", m.mode, "device", m.cfg.Serial.Device,
		"framing", m.cfg.Framing.Mode, "kafka", m.cfg.Kafka.String(), "processors", m.processorsNote())

	// Each stage has its own context so shutdown can go in order.
	var pipeline, port, pairLink stage
	defer func() { pipeline.cancel(); port.cancel(); pairLink.cancel() }()
	var pipeErr, srcErr error
	pipeline.start(func(ctx context.Context) { pipeErr = m.pipe.Run(ctx) })
	if m.link != nil {
		pairLink.start(func(ctx context.Context) {
			if err := m.link.Run(ctx); err != nil {
				m.log.Error("pair link stopped", "err", err)
			}
		})
	}
	port.start(func(ctx context.Context) { srcErr = m.readPort(ctx) })
	var load stage
	if m.procs != nil {
		load.start(m.procs.run)
	}
	defer load.stop()

	stopAdmin, err := m.startAdmin()
	if err != nil {
		pairLink.stop()
		port.stop()
		pipeline.stop()
		return err
	}
	if stopNotifier := m.startNotifier(); stopNotifier != nil {
		defer stopNotifier()
	}

	runErr := m.loop(ctx)

	pairLink.stop()
	port.stop()
	pipeline.stop()
	stopAdmin()
	h := m.src.Health()
	m.log.Info("feedd run stopped", "frames", h.Frames, "dropped", h.Dropped, "reconnects", h.Reconnects)
	if errors.Is(runErr, srcErr) {
		// The port's failure is what stopped the loop: say it once.
		srcErr = nil
	}
	return errors.Join(runErr, srcErr, pipeErr)
}

// readPort reads the port until ctx ends, handing each frame to the
// pipeline (and to Options.Frames); a port that fails for good stops the
// control loop.
func (m *Member) readPort(ctx context.Context) error {
	var out *bufio.Writer
	if m.frames != nil {
		out = bufio.NewWriter(m.frames)
	}
	err := m.src.Run(ctx, func(f *ingest.Frame) {
		m.pipe.Accept(f)
		if out != nil {
			out.Write(f.Data)
			out.WriteByte('\n')
			out.Flush()
		}
	})
	if err != nil {
		m.log.Error("serial reader stopped", "err", err)
		m.fatal(err)
	}
	return err
}

// startNotifier runs pair.notify's command on every role change, if the
// configuration names one and the pair protocol runs, and returns what
// stops it (nil when there is none): the changes still waiting are
// reported first, within one pair.notify_timeout.
func (m *Member) startNotifier() (stop func()) {
	if m.cfg.Pair.Notify == "" || m.mode != ModeAuto {
		return nil
	}
	n := newRoleNotifier(m.cfg, m.log)
	m.notify = n.enqueue
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { defer close(done); n.run(ctx) }()
	return func() { cancel(); <-done }
}

// stage is one of the member's goroutines besides the control loop, with
// its own context so that shutdown can stop each in turn.
type stage struct {
	stopRun context.CancelFunc // nil until started
	wg      sync.WaitGroup
}

func (s *stage) start(run func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopRun = cancel
	s.wg.Go(func() { run(ctx) })
}

// cancel tells the stage to stop, without waiting.
func (s *stage) cancel() {
	if s.stopRun != nil {
		s.stopRun()
	}
}

// stop tells the stage to stop and waits until it has.
func (s *stage) stop() {
	s.cancel()
	s.wg.Wait()
}
