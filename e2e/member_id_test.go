package e2e

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/member"
)

// TestE2EMemberIDClash: the inactive is restarted under the active's
// member_id (a configuration copied without changing the id). The two
// refuse to pair, each with one error naming the id and the other's
// address; both show the clash in /status and /metrics; the twin sees the
// active's commits under its own id and stands by. Over the window
// nobody flaps: the active keeps its slot, the twin never activates.
func TestE2EMemberIDClash(t *testing.T) {
	// Fast redials, so that refusals are frequent.
	c := newE2ECluster(t, e2eOptions{pairYAML: fastRedials})
	active, twin := c.waitPair()
	before := active.mustStatus()

	// The twin takes the active's id; its one peer, renamed "zz" so that
	// it dials (the lower id dials), is at the active's address.
	changed := strings.Replace(twin.config(), "member_id: "+twin.id+"\n", "member_id: "+active.id+"\n", 1)
	changed = strings.Replace(changed, "    - id: "+active.id+"\n", "    - id: zz\n", 1)
	changed = regexp.MustCompile(`(?m)^      address: .*$`).ReplaceAllString(changed, "      address: "+active.pairAddr)
	if !strings.Contains(changed, "member_id: "+active.id+"\n") || !strings.Contains(changed, "- id: zz\n") {
		t.Fatalf("could not rewrite the configuration:\n%s", changed)
	}
	twin.kill()
	twin.setConfig(changed)
	w := c.watchRoles()
	twin.start()

	for _, m := range []*e2eMember{active, twin} {
		m.waitStatus(m.id+" reports the clash", func(st member.Status) (bool, string) {
			return st.Pair.MemberIDClash != nil && st.Link.MemberIDClash != nil && st.Link.MemberIDClash.Standing, clashes(st)
		})
	}
	// The twin also sees the active committing under their common id.
	twin.waitStatus(twin.id+" sees the active's commits under its own id", func(st member.Status) (bool, string) {
		return st.Pair.MemberIDClash != nil && st.Pair.MemberIDClash.Committing, clashes(st)
	})
	c.stream(3 * time.Second)
	holders, polls, both := w.end()
	if holders[twin.id] != 0 || both != 0 || holders[active.id] == 0 {
		t.Errorf("over %d polls, members reported active: %v (both %d); want only %s", polls, holders, both, active.id)
	}
	after := active.mustStatus()
	if after.Role != "active" || !after.Pair.RoleSince.Equal(before.Pair.RoleSince) || after.Pair.Counters.Activations != before.Pair.Counters.Activations {
		t.Errorf("the active was disturbed: role %s since %v (was %v), %d activations (was %d)",
			after.Role, after.Pair.RoleSince, before.Pair.RoleSince, after.Pair.Counters.Activations, before.Pair.Counters.Activations)
	}
	if st := twin.mustStatus(); st.Pair.Counters.Activations != 0 || st.Broadcast.Counters.Fenced != 0 {
		t.Errorf("the twin activated %d times, was fenced %d times", st.Pair.Counters.Activations, st.Broadcast.Counters.Fenced)
	}
	if after.Broadcast.Counters.Fenced != before.Broadcast.Counters.Fenced {
		t.Errorf("the active was fenced %d times", after.Broadcast.Counters.Fenced-before.Broadcast.Counters.Fenced)
	}

	// /status names the id and the other's address; /metrics shows it;
	// each log has the errors once.
	for _, m := range []*e2eMember{active, twin} {
		st, err := m.status()
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("runs with member_id %q, which is this member's own", active.id)
		if !strings.Contains(st.Link.MemberIDClash.Error, want) || !strings.Contains(st.Link.MemberIDClash.Error, "the member at 127.0.0.1:") {
			t.Errorf("%s's link status: %+v", m.id, st.Link.MemberIDClash)
		}
		if st.Link.Rejected["duplicate_member_id"] == 0 {
			t.Errorf("%s counted no duplicate_member_id rejection: %v", m.id, st.Link.Rejected)
		}
		metrics, err := fetchMetrics(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{"feedd_pair_member_id_clash 1\n", "feedd_pair_member_id_clashes_total 1\n"} {
			if !strings.Contains(metrics, line) {
				t.Errorf("%s's metrics lack %q", m.id, line)
			}
		}
		log, err := os.ReadFile(m.current().LogPath())
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(log), `\"`, `"`)
		for _, msg := range []string{"pair link: member id clash: the member at ", "another process runs with this member's member_id"} {
			if n := strings.Count(text, msg); n != 1 {
				t.Errorf("%s's log has %q %d times, want once", m.id, msg, n)
			}
		}
	}
	if twin.mustStatus().Member != active.id {
		t.Fatal("the twin does not run under the active's id")
	}

	// The twin's commits-only view: once it is gone, the active is
	// undisturbed and the clash lapses.
	twin.kill()
	active.waitStatus(active.id+": the clash lapses", func(st member.Status) (bool, string) {
		return st.Pair.MemberIDClash == nil, clashes(st)
	})
	if st := active.mustStatus(); st.Role != "active" || !st.Pair.RoleSince.Equal(before.Pair.RoleSince) {
		t.Errorf("the active was disturbed: %s since %v", st.Role, st.Pair.RoleSince)
	}
}

func fetchMetrics(m *e2eMember) (string, error) {
	b, err := m.current().Get(context.Background(), "/metrics")
	return string(b), err
}

// clashes describes what the pair and the link report of a member id
// clash.
func clashes(st member.Status) string {
	return fmt.Sprintf("pair %+v, link %+v", st.Pair.MemberIDClash, st.Link.MemberIDClash)
}
