package member

import (
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/ingest"
)

// StatusVersion is the /status schema version (docs/status.md): raised when
// a field is removed or renamed or its meaning changes, never for a field
// added.
const StatusVersion = 2

// Status is the /status document. Its enums read and write as their names,
// so a reader decodes the document into this same type.
type Status struct {
	StatusVersion int              `json:"status_version"`
	Pipeline      string           `json:"pipeline"`
	Member        string           `json:"member"`
	Version       string           `json:"version"`
	Mode          string           `json:"mode"`
	Role          string           `json:"role"`
	Ingest        ingest.Health    `json:"ingest"`
	Broadcast     broadcast.Status `json:"broadcast"`
	// Activation accounts for failed attempts to activate.
	Activation *ActivationStatus `json:"activation"`
	Pair       *ftpair.Status    `json:"pair,omitempty"`
	Link       *link.Status      `json:"link,omitempty"`
}

// ActivationStatus accounts for a member's failed attempts to activate
// since its last successful one.
type ActivationStatus struct {
	// FailuresInARow counts the failed attempts since the last success
	// (or since Kafka answered again after an outage).
	FailuresInARow int       `json:"failures_in_a_row"`
	LastError      string    `json:"last_error,omitempty"`
	LastErrorAt    time.Time `json:"last_error_at,omitzero"`
	// NextAttempt is when the member may try again at the earliest (it
	// tries then only if it is still the one to take the slot).
	NextAttempt time.Time `json:"next_attempt_not_before,omitzero"`
}

// ActivePeer returns the id of a peer this member sees active (heard or
// witnessed), or "".
func (s *Status) ActivePeer() string {
	if s.Pair == nil {
		return ""
	}
	for _, p := range s.Pair.Peers {
		if (p.Role == ftpair.RoleActive || p.Role == ftpair.RoleActivating) && (p.View == "heard" || p.View == "witnessed") {
			return p.ID
		}
	}
	if w := s.Broadcast.Witness.Member; w != "" && w != s.Member && s.Role != ftpair.RoleActive.String() {
		return w
	}
	return ""
}

// PeerAddress returns the pair-link address of peer id, from the link
// status, or "".
func (s *Status) PeerAddress(id string) string {
	if s.Link == nil {
		return ""
	}
	for _, p := range s.Link.Peers {
		if p.ID == id {
			return p.Address
		}
	}
	return ""
}
