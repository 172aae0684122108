package member

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/framing"
)

// identityScheme is the version of how feedd derives a frame's identity
// from its bytes: the fingerprint (ingest.Fingerprint), the sequence
// extraction (ingest.SequenceExtractor), what a framer delivers as the
// frame, and how echoed records are matched to the ring by identity. Bump
// it with any change to those that makes one release identify a frame
// differently from the one before: members of different schemes then
// refuse to pair instead of publishing duplicates.
//
// Scheme 2: records carry the frame's line-time window (feedd-rxw) and
// echoes are matched by it, not by identity within a look-ahead window.
const identityScheme = 2

// FrameIdentity is what the pair link compares before two members pair:
// a digest of every setting that decides a frame's identity (the framing
// mode and its options, with defaults applied, so that an omitted option
// and its default agree; the sequence extractor; the identity scheme), and
// a short description of them for the refusal's error message. It fails on
// a framing configuration that does not validate.
func FrameIdentity(f framing.Config, s ingest.SequenceConfig) (link.Identity, error) {
	canon, desc, err := identitySettings(f, s)
	if err != nil {
		return link.Identity{}, fmt.Errorf("frame identity: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "feedd frame identity\nscheme=%d\n", identityScheme)
	for _, kv := range canon {
		b.WriteString(kv[0] + "=" + strconv.Quote(kv[1]) + "\n")
	}
	return link.Identity{
		Digest:      sha256.Sum256([]byte(b.String())),
		Description: desc + fmt.Sprintf(", identity v%d", identityScheme),
	}, nil
}

// maxRegexShown bounds the sequence regex in the description (the digest
// covers all of it).
const maxRegexShown = 60

// identitySettings returns the settings in canonical form, as ordered
// key-value pairs, and the description: the framing mode, the options
// that are set or differ from their defaults, and the sequence extractor,
// e.g. "framing nmea, sequence nmea_field=1". The framing settings are
// framing.Config.Canonical's, so a new mode's options count without a
// change here.
func identitySettings(f framing.Config, s ingest.SequenceConfig) (canon [][2]string, desc string, err error) {
	settings, err := f.Canonical()
	if err != nil {
		return nil, "", err
	}
	var mode string
	var shown []string
	for _, st := range settings {
		canon = append(canon, [2]string{"framing." + st.Key, st.Value})
		switch {
		case st.Key == "mode":
			mode = st.Value
		case !st.Default:
			shown = append(shown, st.Key+"="+st.Value)
		}
	}
	desc = "framing " + strings.Join(append([]string{mode}, shown...), " ")

	switch {
	case s.NMEAField > 0:
		canon = append(canon, [2]string{"sequence.nmea_field", strconv.Itoa(s.NMEAField)})
		desc += ", sequence nmea_field=" + strconv.Itoa(s.NMEAField)
	case s.Regex != "":
		canon = append(canon, [2]string{"sequence.regex", s.Regex})
		re := s.Regex
		if len(re) > maxRegexShown {
			re = re[:maxRegexShown] + "…"
		}
		desc += ", sequence regex=" + strconv.Quote(re)
	default:
		canon = append(canon, [2]string{"sequence", "none"})
		desc += ", no sequence"
	}
	return canon, desc, nil
}
