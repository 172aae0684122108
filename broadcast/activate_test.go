package broadcast

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/transcript"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestActivationTranscripts runs testdata/activation*.txt against the
// activation machine. Commands are the events the Pipeline feeds it:
//
//	tick D                          advance the clock by D
//	activate                        Activate with no activation under way (a fresh one)
//	fence-failed err=E              the fence worker failed
//	fenced lso=N [stale]            the id is ours; the topic's last stable offset
//	                                is N (stale: listed on a replaced topic)
//	echo next=N                     the echo has handed over every record below N
//	commit-start                    a commit (of frames or a heartbeat) begins
//	commit-done [committed] [err=E] the commit worker's answer
//	record-failed err=E             a record failed while producing
//	overdue since=D                 the commit (or the first record) has waited longer
//	                                than commit_timeout since D after the start
//	recovered lso=N [stale]         the failed transaction is aborted, the end listed
//	recovery-failed err=E           the recovery worker gave up with E
//	topic-recreated                 the topic was deleted and created again
//	deactivate MODE [open=N]        planned, immediate or superseded; N records open
//	abandon err=E                   every Activate waiting gave up
//	shutdown-overdue                the shutdown's final commit took too long
//
// E is fenced (PRODUCER_FENCED), epoch (INVALID_PRODUCER_EPOCH), deadline
// (a context's deadline) or any other word (an error of that text). Each
// block prints the actions, one a line after the elapsed time, and then the
// machine's state.
func TestActivationTranscripts(t *testing.T) {
	transcript.RunDir(t, "testdata/activation*.txt", func(*testing.T) func(transcript.Command) string {
		s := &activationSession{t0: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		s.now = s.t0
		return s.run
	})
}

type activationSession struct {
	m       activationMachine
	t0, now time.Time
}

func (s *activationSession) run(c transcript.Command) string {
	var out strings.Builder
	ev, err := s.event(c)
	if err != nil {
		fmt.Fprintf(&out, "error: %v\n", err)
	} else if ev != nil {
		for _, a := range s.m.step(s.now, ev) {
			fmt.Fprintf(&out, "%-6s %s\n", s.elapsed(s.now), s.format(a))
		}
	}
	m := &s.m
	fmt.Fprintf(&out, "phase: %s live=%v stopping=%v failing=%v resync=%v target=%d",
		m.phase, m.live, m.stopping, m.failing, m.resync, m.target)
	return out.String()
}

func (s *activationSession) elapsed(t time.Time) string {
	if d := t.Sub(s.t0); d != 0 {
		return d.String()
	}
	return "0s"
}

func (s *activationSession) format(a activationAction) string {
	if f, ok := a.(doFailing); ok {
		return fmt.Sprintf("failing since=%s overdue=%v", s.elapsed(f.since), f.overdue)
	}
	return a.String()
}

func (s *activationSession) event(c transcript.Command) (activationEvent, error) {
	var err error
	num := func(k string) int64 {
		v, ok := c.KV[k]
		if !ok {
			err = fmt.Errorf("%s needs %s=", c.Name, k)
			return 0
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			err = perr
		}
		return n
	}
	var ev activationEvent
	switch c.Name {
	case "tick":
		if err := c.Need(1); err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(c.Pos[0])
		if err != nil {
			return nil, err
		}
		s.now = s.now.Add(d)
		return nil, nil
	case "activate":
		s.m = activationMachine{} // each attempt is a fresh activation
		ev = activationStarted{}
	case "fence-failed":
		ev = fenceFailed{transcriptErr(c.KV["err"])}
	case "fenced":
		ev = fenceDone{lso: num("lso"), stale: c.Flag("stale")}
	case "echo":
		ev = echoAt{num("next")}
	case "commit-start":
		ev = commitStarted{}
	case "commit-done":
		e := commitDone{committed: c.Flag("committed")}
		if v, ok := c.KV["err"]; ok {
			e.err = transcriptErr(v)
		}
		ev = e
	case "record-failed":
		ev = recordFailed{transcriptErr(c.KV["err"])}
	case "overdue":
		since, err := c.Dur("since", 0)
		if err != nil {
			return nil, err
		}
		ev = commitOverdue{since: s.t0.Add(since)}
	case "recovered":
		ev = recoveryDone{lso: num("lso"), stale: c.Flag("stale")}
	case "recovery-failed":
		ev = recoveryDone{err: transcriptErr(c.KV["err"])}
	case "topic-recreated":
		ev = topicRecreated{}
	case "deactivate":
		mode, ok := map[string]DeactivateMode{"planned": Planned, "immediate": Immediate, "superseded": Superseded}[strings.Join(c.Pos, "")]
		if !ok {
			return nil, fmt.Errorf("deactivate planned|immediate|superseded")
		}
		open, err := c.Int("open", 0)
		if err != nil {
			return nil, err
		}
		ev = deactivateAsked{mode: mode, open: open}
	case "abandon":
		ev = abandoned{transcriptErr(c.KV["err"])}
	case "shutdown-overdue":
		ev = shutdownOverdue{errors.New("shutdown: the final commit took too long")}
	default:
		return nil, fmt.Errorf("unknown command %q", c.Name)
	}
	return ev, err
}

func transcriptErr(name string) error {
	switch name {
	case "fenced":
		return kerr.ProducerFenced
	case "epoch":
		return kerr.InvalidProducerEpoch
	case "deadline":
		return context.DeadlineExceeded
	case "":
		return errors.New("failed")
	}
	return errors.New(name)
}

// TestActivationMachineIsPure checks, on the source, that the activation
// machine does no I/O, starts no goroutine and reads no clock: it imports
// only fmt and time, calls none of time's clock functions, and touches no
// Pipeline.
func TestActivationMachineIsPure(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "activate.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		if path, _ := strconv.Unquote(imp.Path.Value); path != "fmt" && path != "time" {
			t.Errorf("%s imports %s", fset.Position(imp.Pos()), path)
		}
	}
	clock := map[string]bool{
		"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true, "AfterFunc": true,
		"Tick": true, "NewTimer": true, "NewTicker": true,
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			t.Errorf("%s starts a goroutine", fset.Position(n.Pos()))
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" && clock[n.Sel.Name] {
				t.Errorf("%s uses time.%s", fset.Position(n.Pos()), n.Sel.Name)
			}
		case *ast.Ident:
			if n.Name == "Pipeline" {
				t.Errorf("%s refers to the Pipeline", fset.Position(n.Pos()))
			}
		case *ast.SendStmt:
			t.Errorf("%s sends on a channel", fset.Position(n.Pos()))
		}
		return true
	})
}

// TestActivationMachineRandom feeds the machine random events and checks
// what every transcript relies on: an activation ends once and then takes
// no event; it never aborts while a commit's outcome is unknown; it goes
// live only from a catch-up, and once.
func TestActivationMachineRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	errs := []error{nil, kerr.ProducerFenced, errors.New("broker gone")}
	events := []func() activationEvent{
		func() activationEvent { return fenceFailed{errs[1+rng.IntN(2)]} },
		func() activationEvent { return fenceDone{lso: rng.Int64N(4), stale: rng.IntN(4) == 0} },
		func() activationEvent { return echoAt{rng.Int64N(5) - 1} },
		func() activationEvent { return commitStarted{} },
		func() activationEvent { return commitDone{committed: rng.IntN(2) == 0, err: errs[rng.IntN(3)]} },
		func() activationEvent { return recordFailed{errs[1+rng.IntN(2)]} },
		func() activationEvent { return commitOverdue{} },
		func() activationEvent {
			return recoveryDone{lso: rng.Int64N(4), stale: rng.IntN(4) == 0, err: errs[rng.IntN(3)]}
		},
		func() activationEvent { return topicRecreated{} },
		func() activationEvent { return deactivateAsked{mode: DeactivateMode(rng.IntN(3)), open: rng.IntN(2)} },
		func() activationEvent { return abandoned{context.DeadlineExceeded} },
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wentLive, aborted, leftAlone int
	for run := range 2000 {
		var m activationMachine
		m.step(now, activationStarted{})
		ends, lives := 0, 0
		for i := range 40 {
			before := m
			ev := events[rng.IntN(len(events))]()
			for _, a := range m.step(now, ev) {
				switch a := a.(type) {
				case doEnd:
					ends++
					if a.abort {
						aborted++
					} else if a.unknown {
						leftAlone++
					}
					unknown := before.phase == phaseCommitting || before.phase == phaseRecovering || before.failing
					if a.abort && unknown {
						t.Fatalf("run %d step %d: %T %+v in %+v aborts with the outcome unknown", run, i, ev, ev, before)
					}
				case doGoLive:
					lives++
					wentLive++
					if before.phase != phaseSyncing || before.live {
						t.Fatalf("run %d step %d: went live from %+v", run, i, before)
					}
				}
			}
			if ends > 1 || lives > 1 {
				t.Fatalf("run %d step %d: %d ends, %d go-lives", run, i, ends, lives)
			}
			after := m
			before.now, after.now, before.out, after.out = time.Time{}, time.Time{}, nil, nil
			if before.phase == phaseEnded && !reflect.DeepEqual(before, after) {
				t.Fatalf("run %d step %d: an ended activation took %T", run, i, ev)
			}
			now = now.Add(time.Millisecond)
		}
	}
	if wentLive == 0 || aborted == 0 || leftAlone == 0 {
		t.Errorf("the random events reached too little: %d went live, %d aborted, %d left alone", wentLive, aborted, leftAlone)
	}
	t.Logf("%d went live, %d ended with an abort, %d left an unknown outcome alone", wentLive, aborted, leftAlone)
}
