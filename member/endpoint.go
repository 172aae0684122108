package member

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/member/admin"
)

// startAdmin serves the member's admin endpoint (admin.listen) until stop:
// its metrics, liveness, readiness, /status and operator requests.
func (m *Member) startAdmin() (stop func(), err error) {
	if m.cfg.Admin.Listen == admin.Off {
		return func() {}, nil
	}
	handlers := admin.Handlers{
		Status: func() any { return m.status() }, Healthy: m.healthy, Ready: m.ready,
		Switchover: m.requestSwitchover, Secret: m.secret,
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := admin.Start(ctx, m.cfg.Admin.Listen, admin.NewMux(handlers, m.registry, m.log), m.log)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("admin.listen: %w", err)
	}
	m.log.Info("admin endpoint listening", "addr", srv.Addr)
	return func() { cancel(); srv.Wait() }, nil
}

// switchoverRequest is an operator's switchover, handed to the loop.
type switchoverRequest struct {
	target string
	reply  chan error
}

// requestSwitchover asks the loop for a planned switchover (admin endpoint).
func (m *Member) requestSwitchover(ctx context.Context, target string) error {
	req := switchoverRequest{target: target, reply: make(chan error, 1)}
	select {
	case m.requests <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.stopped:
		return errors.New("member is shutting down")
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// status is the member's /status document.
func (m *Member) status() Status {
	s := Status{
		StatusVersion: StatusVersion,
		Pipeline:      m.cfg.Pipeline,
		Member:        m.cfg.MemberID,
		Version:       m.version,
		Mode:          m.mode,
		Ingest:        m.src.Health(),
		Broadcast:     m.pipe.Status(),
		Activation:    m.actStatus.Load(),
	}
	s.Role = s.Broadcast.State.String()
	if m.node != nil {
		s.Pair = m.pairStatus.Load()
		s.Role = s.Pair.Role.String()
		ls := m.link.Status()
		s.Link = &ls
	}
	return s
}

// healthy fails when the control loop has stopped turning.
func (m *Member) healthy() error {
	limit := max(2*time.Second, 10*m.cfg.Pair.Core.HeartbeatInterval)
	if d := time.Duration(hostclock.Now() - m.lastLoop.Load()); d > limit {
		return fmt.Errorf("control loop has not run for %v", d.Round(time.Millisecond))
	}
	return nil
}

// ready fails while this member could not serve as the active one, with
// every reason.
func (m *Member) ready() error {
	var why []string
	h := m.src.Health()
	switch {
	case !h.Connected:
		why = append(why, fmt.Sprintf("serial device %s is not open", m.cfg.Serial.Device))
	case h.Quiet:
		why = append(why, "serial line is quiet")
	}
	st := m.pipe.Status()
	if !st.CommitFailingSince.IsZero() {
		why = append(why, fmt.Sprintf("kafka commits failing since %s", st.CommitFailingSince.Format(time.RFC3339)))
	}
	switch k := st.Kafka; k.State {
	case broadcast.KafkaUnknown:
		why = append(why, fmt.Sprintf("kafka (%s) has not answered yet", strings.Join(k.Brokers, ",")))
	case broadcast.KafkaFailing:
		why = append(why, fmt.Sprintf("kafka (%s) unreachable or refusing since %s: %s",
			strings.Join(k.Brokers, ","), k.Since.Format(time.RFC3339), k.LastError))
	}
	// A failed activation counts while the member may still be retrying:
	// within the longest it waits between two attempts and an attempt.
	if a := m.actStatus.Load(); a.FailuresInARow > 0 && time.Since(a.LastErrorAt) < maxActivationRetry+m.cfg.Pair.ActivationTimeout {
		why = append(why, fmt.Sprintf("activation failed %d times in a row, last at %s: %s",
			a.FailuresInARow, a.LastErrorAt.Format(time.RFC3339), a.LastError))
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New(strings.Join(why, "; "))
}
