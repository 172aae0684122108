package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/member"
)

// renderThroughJSON renders st as `feedd status` does, after a round trip
// through the JSON the admin endpoint serves.
func renderThroughJSON(t *testing.T, st member.Status, now time.Time) string {
	t.Helper()
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var doc member.Status
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := renderStatus(&out, &doc, now); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestStatusShowsARefusedPeerAndTheClockBound renders a /status document
// built from the real types, through its JSON: a peer refused for its frame
// identity is marked in the peer table and explained, with both sides'
// settings; the latest clock bound of a connected peer is shown.
func TestStatusShowsARefusedPeerAndTheClockBound(t *testing.T) {
	now := time.Now()
	ours, theirs := "framing nmea, no sequence, identity v2", "framing nmea, sequence nmea_field=1, identity v2"
	st := member.Status{
		Pipeline: "ais-north", Member: "host-a", Version: "v1.2.3", Mode: member.ModeAuto, Role: "inactive",
		Pair: &ftpair.Status{
			MemberID: "host-a", Role: ftpair.RoleInactive, RoleSince: now.Add(-time.Minute),
			Peers: []ftpair.PeerStatus{
				{ID: "host-b", View: "unknown", Refused: true, RefusedAt: now.Add(-time.Second), RefusedReason: "refusing peer host-b: ..."},
				{ID: "host-c", View: "heard", Connected: true, Role: ftpair.RoleActive, Term: 4, LastHeard: now},
			},
			Counters: ftpair.Counters{RefusalSuppressed: 1},
		},
		Link: &link.Status{MemberID: "host-a", Auth: link.AuthHMAC,
			Identity: link.IdentityStatus{Description: ours, Digest: "00"},
			Peers: []link.PeerStatus{
				{ID: "host-b", Address: "10.0.0.2:7400", Since: now.Add(-time.Minute), LastError: "refusing peer host-b: ...",
					IdentityRefused: true, RefusedAt: now.Add(-time.Second), PeerIdentity: &link.IdentityStatus{Description: theirs}},
				{ID: "host-c", Address: "10.0.0.3:7400", Connected: true, Since: now.Add(-time.Minute),
					Clock: &link.ClockStatus{PeerClock: 7, Lo: int64(2*time.Hour + 1500*time.Microsecond), Hi: int64(2*time.Hour + 1800*time.Microsecond),
						Width: 300 * time.Microsecond, Age: 80 * time.Millisecond}},
			}},
	}
	out := renderThroughJSON(t, st, now)
	for _, want := range []string{
		"frame identity  " + ours,
		"host-b  unknown, REFUSED, link down",
		"refusal-suppressed 1",
		`REFUSING host-b (10.0.0.2:7400): its frame identity is "` + theirs + `", ours is "` + ours + `"`,
		"clock offset to host-c (ours minus its): between 2h0m0.0015s and 2h0m0.0018s, 300µs wide, measured 80ms ago",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestStatusShowsAMemberIDClash: a member id clash is explained under the
// peers, with the evidence (which names the other process's address).
func TestStatusShowsAMemberIDClash(t *testing.T) {
	now := time.Now()
	detail := `member id clash: the member at 10.0.0.2:7400 runs with member_id "host-a", which is this member's own`
	st := member.Status{
		Pipeline: "ais-north", Member: "host-a", Version: "v1.2.3", Mode: member.ModeAuto, Role: "inactive",
		Pair: &ftpair.Status{
			MemberID: "host-a", Role: ftpair.RoleInactive, RoleSince: now.Add(-time.Minute),
			MemberIDClash: &ftpair.MemberIDClash{Since: now.Add(-time.Minute), LastSeen: now, Detail: detail, Committing: true},
		},
		Link: &link.Status{MemberID: "host-a", Auth: link.AuthHMAC},
	}
	out := renderThroughJSON(t, st, now)
	want := "another process runs with member_id host-a (it is committing: this member does not contend with it): " + detail
	if !strings.Contains(out, "MEMBER ID CLASH since ") || !strings.Contains(out, want) {
		t.Errorf("output lacks the clash %q:\n%s", want, out)
	}
}
