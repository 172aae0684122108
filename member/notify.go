package member

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
)

// maxNotifyQueue bounds the role changes waiting for the command: a command
// slower than the changes loses the oldest waiting ones, and says so.
const maxNotifyQueue = 32

// roleChange is one role transition, as the notify command sees it.
type roleChange struct {
	ftpair.Transition
	term uint64
}

// roleNotifier runs pair.notify on every role change, one at a time and in
// order, each bounded by pair.notify_timeout, in the spirit of keepalived's
// notify scripts. Its owner starts run and ends it by cancelling ctx.
type roleNotifier struct {
	command  string
	timeout  time.Duration
	pipeline string
	member   string
	peers    string // the configured peers' ids, comma-separated
	// secretEnv names the variables that hold this member's secrets (the
	// pair link's, SASL's password): the command must not inherit them,
	// nor print them into the log with its output.
	secretEnv []string
	log       *slog.Logger
	queue     chan roleChange
}

func newRoleNotifier(cfg Config, log *slog.Logger) *roleNotifier {
	return &roleNotifier{
		command: cfg.Pair.Notify, timeout: cfg.Pair.NotifyTimeout,
		pipeline: cfg.Pipeline, member: cfg.MemberID, peers: peerIDs(cfg.Pair.Link), log: log,
		secretEnv: slices.DeleteFunc([]string{cfg.Pair.Link.SecretEnv, cfg.Kafka.SASL.PasswordEnv}, func(name string) bool { return name == "" }),
		queue:     make(chan roleChange, maxNotifyQueue),
	}
}

// enqueue hands a change to run without blocking the control loop.
func (n *roleNotifier) enqueue(c roleChange) {
	for {
		select {
		case n.queue <- c:
			return
		default:
		}
		select {
		case old := <-n.queue:
			n.log.Warn("pair.notify: the command is behind; a role change was not reported", "from", old.From, "to", old.To, "at", old.At)
		default:
		}
	}
}

// run reports the changes until ctx ends, then those still waiting (the
// shutdown's own), within one pair.notify_timeout.
func (n *roleNotifier) run(ctx context.Context) {
	report := func(ctx context.Context, c roleChange) {
		if err := n.notify(ctx, c); err != nil {
			n.log.Error("pair.notify failed", "from", c.From, "to", c.To, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.Background(), n.timeout)
			defer cancel()
			for {
				select {
				case c := <-n.queue:
					report(last, c)
				default:
					return
				}
			}
		case c := <-n.queue:
			report(context.Background(), c)
		}
	}
}

func (n *roleNotifier) notify(ctx context.Context, c roleChange) error {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", n.command)
	cmd.Env = append(withoutVariables(os.Environ(), n.secretEnv),
		"FEEDD_PIPELINE="+n.pipeline,
		"FEEDD_MEMBER="+n.member,
		"FEEDD_ROLE="+c.To.String(),
		"FEEDD_PREVIOUS_ROLE="+c.From.String(),
		"FEEDD_REASON="+string(c.Reason),
		"FEEDD_DETAIL="+c.Detail,
		"FEEDD_TERM="+strconv.FormatUint(c.term, 10),
		"FEEDD_PEERS="+n.peers,
		"FEEDD_AT="+c.At.UTC().Format(time.RFC3339Nano),
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second // a child that keeps the output open is not waited for
	err := cmd.Run()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("killed after pair.notify_timeout (%v) or at shutdown; output: %q", n.timeout, tail(out.String()))
	case err != nil:
		return fmt.Errorf("%w; output: %q", err, tail(out.String()))
	}
	return nil
}

// withoutVariables returns env without the variables named.
func withoutVariables(env, names []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

// tail returns the end of a command's output, bounded for a log line.
func tail(s string) string {
	const max = 512
	if len(s) > max {
		return "..." + s[len(s)-max:]
	}
	return s
}

func peerIDs(c link.Config) string {
	ids := make([]string, len(c.Peers))
	for i, p := range c.Peers {
		ids[i] = p.ID
	}
	return strings.Join(ids, ",")
}
