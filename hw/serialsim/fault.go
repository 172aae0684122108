package serialsim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// AllPorts selects every port in a Fault and in the Sim's fault methods.
const AllPorts = -1

// FaultKind names a fault.
type FaultKind string

// Fault kinds.
const (
	// FaultCorrupt changes 1 to 3 random bytes in a fraction (Rate) of the
	// frames sent to the port. In a generator sentence only bytes between
	// '$' and '*' change and the checksum always fails; the framing ('$',
	// '*', "\r\n") is kept, so neighbouring frames stay intact.
	FaultCorrupt FaultKind = "corrupt"
	// FaultDrop drops a fraction (Rate) of the frames sent to the port.
	FaultDrop FaultKind = "drop"
	// FaultPause makes the port silent for For: frames due in that window
	// are not delivered to it, as on a line whose cable is pulled from a
	// native UART.
	FaultPause FaultKind = "pause"
	// FaultUnplug stops the port's socat so its pty closes (readers see
	// EOF), then after For starts socat again at the same member-side path.
	FaultUnplug FaultKind = "unplug"
	// FaultBaud makes the port deliver what a receiver set to another baud
	// rate (Baud) would read from the line: garbage, with a few characters
	// right by chance. A pty has no baud rate of its own; see uart.go for
	// the model. Like corrupt, it lasts For, or the rest of the run.
	FaultBaud FaultKind = "baud"
)

// Fault is one scheduled fault.
//
// Script syntax (ParseFault, the CLI's repeatable --fault): comma-separated
// key=value pairs:
//
//	kind=corrupt|drop|pause|unplug|baud   required
//	port=N|all                            default all
//	at=DURATION                           start, relative to Start; default 0
//	for=DURATION                          pause and unplug: required, > 0;
//	                                      corrupt, drop and baud: default 0,
//	                                      meaning for the rest of the run
//	rate=FRACTION                         corrupt and drop only, required: 0
//	                                      to 1, or a percentage such as 1%
//	baud=N                                baud only, required: the baud rate
//	                                      the port's receiver is set to
//
// Examples: "port=1,at=5s,kind=unplug,for=2s", "port=0,kind=corrupt,rate=0.01",
// "port=1,kind=baud,baud=9600".
type Fault struct {
	Kind FaultKind
	Port int           // port index, or AllPorts
	At   time.Duration // when the fault starts, relative to Start
	For  time.Duration // how long it lasts (see the script syntax)
	Rate float64       // fraction of frames, for corrupt and drop
	Baud int           // the receiver's baud rate, for baud
}

// FaultSpecError is a ParseFault error; Key and Value name the offending pair.
type FaultSpecError struct {
	Spec   string
	Key    string
	Value  string
	Reason string
}

func (e *FaultSpecError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("serialsim: fault %q: %s: %s", e.Spec, e.Key, e.Reason)
	}
	return fmt.Sprintf("serialsim: fault %q: %s=%s: %s", e.Spec, e.Key, e.Value, e.Reason)
}

// ParseFault parses a fault script (see Fault). Errors are *FaultSpecError
// and name the bad key and value. The port range is checked by New.
func ParseFault(spec string) (Fault, error) {
	f := Fault{Port: AllPorts}
	bad := func(key, value, format string, args ...any) (Fault, error) {
		return Fault{}, &FaultSpecError{Spec: spec, Key: key, Value: value, Reason: fmt.Sprintf(format, args...)}
	}
	seen := map[string]bool{}
	if strings.TrimSpace(spec) == "" {
		return bad("kind", "", "missing (empty fault)")
	}
	for _, pair := range strings.Split(spec, ",") {
		key, value, ok := strings.Cut(pair, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok {
			return bad(key, "", "want key=value")
		}
		if seen[key] {
			return bad(key, value, "given twice")
		}
		seen[key] = true
		switch key {
		case "kind":
			switch k := FaultKind(strings.ToLower(value)); k {
			case FaultCorrupt, FaultDrop, FaultPause, FaultUnplug, FaultBaud:
				f.Kind = k
			default:
				return bad(key, value, "unknown kind (want corrupt, drop, pause, unplug or baud)")
			}
		case "port":
			if v := strings.ToLower(value); v == "all" || v == "*" {
				f.Port = AllPorts
				break
			}
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return bad(key, value, "want a port index (0, 1, …) or all")
			}
			f.Port = n
		case "at", "for":
			d, err := time.ParseDuration(value)
			if err != nil || d < 0 {
				return bad(key, value, "want a non-negative duration such as 500ms or 5s")
			}
			if key == "at" {
				f.At = d
			} else {
				f.For = d
			}
		case "rate":
			r, err := parseFraction(value)
			if err != nil {
				return bad(key, value, "%v", err)
			}
			f.Rate = r
		case "baud":
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > MaxBaud {
				return bad(key, value, "want a baud rate between 1 and %d", MaxBaud)
			}
			f.Baud = n
		default:
			return bad(key, value, "unknown key (want kind, port, at, for, rate or baud)")
		}
	}
	if f.Kind == "" {
		return bad("kind", "", "missing (want corrupt, drop, pause, unplug or baud)")
	}
	if seen["baud"] && f.Kind != FaultBaud {
		return bad("baud", strconv.Itoa(f.Baud), "only used with kind=baud")
	}
	switch f.Kind {
	case FaultCorrupt, FaultDrop:
		if !seen["rate"] {
			return bad("rate", "", "missing (required for kind=%s)", f.Kind)
		}
	case FaultPause, FaultUnplug:
		if seen["rate"] {
			return bad("rate", strconv.FormatFloat(f.Rate, 'g', -1, 64), "not used with kind=%s", f.Kind)
		}
		if f.For <= 0 {
			return bad("for", "", "a positive duration is required for kind=%s", f.Kind)
		}
	case FaultBaud:
		if seen["rate"] {
			return bad("rate", strconv.FormatFloat(f.Rate, 'g', -1, 64), "not used with kind=baud")
		}
		if !seen["baud"] {
			return bad("baud", "", "missing (required for kind=baud)")
		}
	}
	return f, nil
}

func parseFraction(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("want a fraction between 0 and 1 or a percentage")
	}
	if pct {
		v /= 100
	}
	if math.IsNaN(v) || v < 0 || v > 1 {
		return 0, fmt.Errorf("must be between 0 and 1 (0%% to 100%%)")
	}
	return v, nil
}

// String returns f in the script syntax ParseFault reads.
func (f Fault) String() string {
	var b strings.Builder
	b.WriteString("kind=" + string(f.Kind))
	if f.Port == AllPorts {
		b.WriteString(",port=all")
	} else {
		b.WriteString(",port=" + strconv.Itoa(f.Port))
	}
	if f.At != 0 {
		b.WriteString(",at=" + f.At.String())
	}
	if f.For != 0 {
		b.WriteString(",for=" + f.For.String())
	}
	if f.Kind == FaultCorrupt || f.Kind == FaultDrop {
		b.WriteString(",rate=" + strconv.FormatFloat(f.Rate, 'g', -1, 64))
	}
	if f.Kind == FaultBaud {
		b.WriteString(",baud=" + strconv.Itoa(f.Baud))
	}
	return b.String()
}

// validate checks f against the number of ports; errors name the field.
func (f Fault) validate(ports int) error {
	switch f.Kind {
	case FaultCorrupt, FaultDrop:
		if math.IsNaN(f.Rate) || f.Rate < 0 || f.Rate > 1 {
			return fmt.Errorf("Rate: must be between 0 and 1, got %v", f.Rate)
		}
		if f.For < 0 {
			return fmt.Errorf("For: must not be negative, got %v", f.For)
		}
	case FaultPause, FaultUnplug:
		if f.For <= 0 {
			return fmt.Errorf("For: kind %s needs a positive duration, got %v", f.Kind, f.For)
		}
	case FaultBaud:
		if f.Baud < 1 || f.Baud > MaxBaud {
			return fmt.Errorf("Baud: must be between 1 and %d, got %d", MaxBaud, f.Baud)
		}
		if f.For < 0 {
			return fmt.Errorf("For: must not be negative, got %v", f.For)
		}
	default:
		return fmt.Errorf("Kind: unknown fault kind %q", f.Kind)
	}
	if f.Port != AllPorts && (f.Port < 0 || f.Port >= ports) {
		return fmt.Errorf("Port: %d out of range (Ports is %d)", f.Port, ports)
	}
	if f.At < 0 {
		return fmt.Errorf("At: must not be negative, got %v", f.At)
	}
	return nil
}
