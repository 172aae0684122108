package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/member"
)

// TestE2EPairIdentityMismatch: the inactive restarts with another sequence
// setting, so the two members would identify frames differently. Both
// refuse to pair, loudly (an error in each log naming both settings, the
// peer REFUSED in /status), the active stays active and the refused member
// never activates. Restarted with the right settings, it pairs again and
// can take over with no gap and no duplicate.
func TestE2EPairIdentityMismatch(t *testing.T) {
	// Fast redials, so that refusals are frequent and short-lived.
	c := newE2ECluster(t, e2eOptions{pairYAML: fastRedials})
	active, inactive := c.waitPair()
	before := active.mustStatus()
	w := c.watchRoles()

	orig := inactive.config()
	changed := strings.Replace(orig, "sequence:\n  nmea_field: 1\n", "", 1)
	if changed == orig {
		t.Fatal("the member's configuration has no sequence section to remove")
	}
	inactive.kill()
	inactive.setConfig(changed)
	inactive.start()
	for _, m := range []*e2eMember{active, inactive} {
		peer := c.other(m).id
		m.waitStatus(m.id+" refuses "+peer, func(st member.Status) (bool, string) {
			return refuses(st, peer), refusals(st)
		})
	}
	c.stream(2 * time.Second)
	holders, polls, _ := w.end()
	if holders[inactive.id] != 0 || holders[active.id] == 0 {
		t.Errorf("over %d polls, members reported active: %v; want only %s", polls, holders, active.id)
	}
	if after := active.mustStatus(); after.Role != "active" || !after.Pair.RoleSince.Equal(before.Pair.RoleSince) {
		t.Errorf("the active was disturbed: role %s since %v (was %v)", after.Role, after.Pair.RoleSince, before.Pair.RoleSince)
	}
	seq, none := "framing nmea, sequence nmea_field=1, identity v2", "framing nmea, no sequence, identity v2"
	for _, c := range []struct {
		m            *e2eMember
		theirs, ours string
	}{{active, none, seq}, {inactive, seq, none}} {
		log, err := os.ReadFile(c.m.current().LogPath())
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(log), `\"`, `"`)
		want := fmt.Sprintf(`refusing peer %s: its frame identity is "%s", ours is "%s"; the two members would publish the same frames under different identities`,
			map[string]string{"a": "b", "b": "a"}[c.m.id], c.theirs, c.ours)
		if !strings.Contains(text, want) || !strings.Contains(text, "level=ERROR") {
			t.Errorf("%s's log lacks the error %q", c.m.id, want)
		}
	}

	// Fixed: it pairs again, and its ring is right.
	inactive.kill()
	inactive.setConfig(orig)
	inactive.start()
	inactive.waitRejoined()
	if st, err := active.status(); err != nil || refuses(st, inactive.id) {
		t.Errorf("%s still refuses %s after it was fixed: %s %v", active.id, inactive.id, refusals(st), err)
	}
	killedAt := time.Now()
	active.kill()
	c.waitActive(inactive, killedAt)
	c.stream(500 * time.Millisecond)
	c.finish(e2eExpect{})
}

// refuses: both the link and the pair protocol report peer refused.
func refuses(s member.Status, peer string) bool {
	link, pair := false, false
	for _, p := range s.Link.Peers {
		link = link || p.ID == peer && p.IdentityRefused && !p.Connected
	}
	for _, p := range s.Pair.Peers {
		pair = pair || p.ID == peer && p.Refused
	}
	return link && pair
}

// refusals describes what the link and the pair protocol report of their
// peers' refusals.
func refusals(s member.Status) string {
	var b strings.Builder
	for _, p := range s.Link.Peers {
		fmt.Fprintf(&b, "link peer %s: identity refused %v, connected %v; ", p.ID, p.IdentityRefused, p.Connected)
	}
	for _, p := range s.Pair.Peers {
		fmt.Fprintf(&b, "pair peer %s: refused %v (%s)", p.ID, p.Refused, p.RefusedReason)
	}
	return b.String()
}
