package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/feedd/feedd/ingest"
	"github.com/spf13/cobra"
)

// probeDeps are what tests replace.
type probeDeps struct {
	lookupEnv func(string) (string, bool)
	list      ingest.ListPortsFunc
	open      ingest.OpenFunc
}

// errSettingsDoNotFit is returned when the probe's verdict is not "ok", so
// that scripts can tell from the exit status.
var errSettingsDoNotFit = errors.New("the settings do not fit the feed")

// maxProbeDuration bounds --duration: a probe holds the port, which a member
// cannot then open.
const maxProbeDuration = 10 * time.Minute

type probeOutput struct {
	Device   string             `json:"device"`
	Path     string             `json:"path"`
	Settings string             `json:"settings"`
	Framing  string             `json:"framing,omitempty"`
	Error    string             `json:"error,omitempty"`
	Report   ingest.ProbeReport `json:"report"`
}

// probeCommand is "feedd probe": it reads the configured serial port for a
// few seconds with the configured line settings and framing and says what
// it saw, and what looks wrong when the settings do not fit the feed.
func probeCommand(deps probeDeps) *cobra.Command {
	var (
		pending    []override
		configPath *string
		duration   time.Duration
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "read the serial port for a while and say whether the settings fit the feed",
		Long: "Reads the serial port for a while with the configured line settings and reports what it\n" +
			"sees: bytes per second, line errors, frames and invalid frames for the configured framer\n" +
			"and every framer that finds frame boundaries by itself, and a verdict: whether the settings\n" +
			"fit the feed, and if not what looks wrong. Only the serial: and framing: sections are used.\n" +
			"It does not open a port a member (or another program) holds: it says which process does\n" +
			"and exits 1. Exits 0 when the settings fit, 1 otherwise.",
		Example: "  feedd probe --config /etc/feedd/feedd.yaml\n" +
			"  feedd probe --serial.device /dev/ttyUSB0 --serial.baud 4800 --framing.mode nmea --duration 10s",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return probe(cmd.Context(), probeRequest{*configPath, pending, duration, asJSON}, cmd.OutOrStdout(), deps)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.DurationVar(&duration, "duration", 5*time.Second, "how long to read the port")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	configPath = configFlags(fs, &pending, "serial", "framing")
	return cmd
}

// probeRequest is what "feedd probe" was asked.
type probeRequest struct {
	configPath string
	pending    []override
	duration   time.Duration
	asJSON     bool
}

func probe(ctx context.Context, req probeRequest, stdout io.Writer, deps probeDeps) error {
	if req.duration <= 0 || req.duration > maxProbeDuration {
		return usageErrorf("--duration %v must be between 0 and %v", req.duration, maxProbeDuration)
	}
	cfg, err := readConfig(req.configPath, req.pending, deps.lookupEnv)
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	if err := cfg.Serial.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	if cfg.Framing.Mode != "" {
		if err := cfg.Framing.Validate(); err != nil {
			return fmt.Errorf("%w: %w", errConfig, err)
		}
	}
	probe, err := ingest.NewProbe(cfg.Serial, cfg.Framing)
	if err != nil {
		return err
	}
	path, err := ingest.ResolveDevice(cfg.Serial.Device, deps.list)
	if err != nil {
		return err
	}
	sc := cfg.Serial
	sc.Device = path
	port, err := deps.open(sc)
	if errors.Is(err, ingest.ErrDeviceBusy) {
		return fmt.Errorf("%w; the probe needs the port to itself: stop what holds it first "+
			"(for a member, systemctl stop feedd; on the inactive member this never disturbs the active)", err)
	}
	if err != nil {
		return err
	}
	out := probeOutput{Device: cfg.Serial.Device, Path: path, Settings: ingest.SettingsString(cfg.Serial), Framing: cfg.Framing.Mode}
	if !req.asJSON {
		fmt.Fprintf(stdout, "probing %s for %v at %s...\n", describePath(out), req.duration, out.Settings)
	}
	elapsed, readErr := readFor(ctx, port, probe, req.duration)
	port.Close()
	if readErr != nil {
		out.Error = readErr.Error()
	}
	out.Report = probe.Report(elapsed)
	if req.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printProbe(stdout, out)
	}
	if readErr != nil {
		return readErr
	}
	if out.Report.Verdict.Kind != ingest.VerdictOK {
		return fmt.Errorf("%w (%s)", errSettingsDoNotFit, out.Report.Verdict.Kind)
	}
	return nil
}

// readFor reads port into probe until d has passed or ctx ends. Each read
// returns within serial.read_timeout, so the loop ends on time. A port that
// fails ends the sample early: the report covers what was read.
func readFor(ctx context.Context, port ingest.Port, probe *ingest.Probe, d time.Duration) (time.Duration, error) {
	buf := make([]byte, 4096)
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		n, err := port.Read(buf)
		probe.Write(buf[:n])
		if err != nil {
			return time.Since(start), fmt.Errorf("reading the port after %v: %w", time.Since(start).Round(time.Millisecond), err)
		}
	}
	return time.Since(start), nil
}

func describePath(o probeOutput) string {
	if o.Device != o.Path {
		return fmt.Sprintf("%s (serial.device %s)", o.Path, o.Device)
	}
	return o.Path
}

func printProbe(w io.Writer, o probeOutput) {
	r := o.Report
	fmt.Fprintf(w, "\nprobe of %s at %s, %.1fs\n\n", describePath(o), o.Settings, r.Seconds)
	busy := ""
	switch load := r.BytesPerSecond / r.LineCapacity; {
	case r.LineCapacity <= 0:
	case load > 1.05:
		// A UART cannot receive faster than its baud rate allows.
		busy = fmt.Sprintf(" (more than the %.0f bytes/s this baud rate carries: not a real line at this speed; a pseudo-terminal?)", r.LineCapacity)
	default:
		busy = fmt.Sprintf(" (the line carries at most %.0f bytes/s: %.0f%% busy)", r.LineCapacity, 100*load)
	}
	fmt.Fprintf(w, "  received     %d bytes, %.0f bytes/s%s\n", r.Bytes, r.BytesPerSecond, busy)
	fmt.Fprintf(w, "  line errors  %d (characters with framing or parity errors, and breaks, as the driver marks them)\n", r.LineErrors)
	fmt.Fprintf(w, "  text         %.0f%% of the bytes are printable ASCII, CR, LF or TAB\n", 100*r.TextShare)
	if o.Framing != "" {
		fmt.Fprintf(w, "  delimiters   %d of framing %s\n", r.Delimiters, o.Framing)
	}
	if o.Error != "" {
		fmt.Fprintf(w, "  stopped      %s\n", o.Error)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FRAMER\tFRAMES\tFRAMES/S\tIN FRAMES\tTEXT FRAMES\tINVALID BY REASON")
	for _, f := range r.Framers {
		name := f.Mode
		if f.Configured {
			name += " (configured)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f%%\t%.0f%%\t%s\n", name, f.Frames, f.FramesPerSecond,
			100*f.FramedShare, 100*f.TextShare, reasons(f.Invalid))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%s: %s\n", strings.ToUpper(r.Verdict.Kind), r.Verdict.Text)
}

func reasons(m map[string]uint64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
