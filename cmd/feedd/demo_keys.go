package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/feedd/feedd/member"
)

// demoKey is what a key of the demo's screen asks the demo to do.
type demoKey int

const (
	keyKill       demoKey = iota + 1 // kill -9 the active member
	keyHang                          // SIGSTOP the active member
	keyResume                        // SIGCONT the members hung by hand
	keySwitchover                    // a planned switchover of the active member
	keyQuit                          // stop everything and audit the topic
)

// onKey does what a key asks. A fault by hand waits, as a scheduled one
// does, until the peer is ready to take over with nothing missing: the
// demo shows failovers without a gap, not frames only the victim read.
func (d *demo) onKey(ctx context.Context, k demoKey, now time.Time) {
	switch k {
	case keyKill, keyHang:
		verb := "kill -9"
		if k == keyHang {
			verb = "SIGSTOP"
		}
		victim, why := d.failoverTarget()
		if victim == nil {
			d.event(now, "%s by hand not now: %s", verb, why)
			return
		}
		d.fault(now, victim, k == keyHang, true)
	case keyResume:
		resumed := false
		for _, m := range d.members {
			if m.hung() && m.running() {
				m.resume()
				resumed = true
				d.event(now, "%s resumed (SIGCONT) by hand: it finds itself superseded and rejoins as inactive", m.id)
			}
		}
		if !resumed {
			d.event(now, "resume: no member is hung")
		}
	case keySwitchover:
		d.requestSwitchover(ctx, now)
	}
}

// requestSwitchover asks the active member to hand over, as `feedd
// switchover` does. The request and the wait for the successor take up to
// seconds, so a goroutine of switchWG runs them and hands the outcome to
// switches; one at a time.
func (d *demo) requestSwitchover(ctx context.Context, now time.Time) {
	if d.switching {
		d.event(now, "switchover: the last one has not finished")
		return
	}
	var active *demoMember
	for _, m := range d.members {
		if m.role() == "active" {
			active = m
		}
	}
	if active == nil {
		d.event(now, "switchover: no member is active")
		return
	}
	d.switching = true
	d.event(now, "switchover: asking %s, the active member, to hand over at a commit boundary", active.id)
	config, admin := active.config, active.admin
	d.switchWG.Go(func() { d.switches <- demoSwitchover(ctx, config, admin) })
}

// endSwitchover ends a switchover still waiting for its successor, which
// would only see the members stop, waits for its goroutine and reports its
// outcome.
func (d *demo) endSwitchover() {
	if d.endSwitch != nil {
		d.endSwitch()
	}
	d.switchWG.Wait()
	select {
	case lines := <-d.switches:
		d.switched(lines, time.Now())
	default:
	}
}

// switched reports the outcome of a switchover.
func (d *demo) switched(lines []string, now time.Time) {
	d.switching = false
	for _, l := range lines {
		if !strings.HasPrefix(l, "switchover") {
			l = "switchover " + l
		}
		d.event(now, "%s", l)
	}
}

// demoSwitchover runs `feedd switchover --config config` against the
// member behind admin and returns what it printed, or its error, line by
// line.
func demoSwitchover(ctx context.Context, config string, admin *adminClient) []string {
	var out strings.Builder
	err := func() error {
		cfg, _, err := memberConfig(config, os.LookupEnv, member.ModeAuto)
		if err != nil {
			return err
		}
		secret, err := operatorSecret(cfg, config)
		if err != nil {
			return err
		}
		return switchover(ctx, admin, secret, "", 15*time.Second, &out)
	}()
	// The admin client reports a cancelled request as an unreachable
	// member; the demo only cancels when it stops.
	if err != nil && ctx.Err() != nil {
		return []string{"switchover: no longer followed, the demo stops"}
	}
	if err != nil {
		fmt.Fprintf(&out, "switchover failed: %v", err)
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}
