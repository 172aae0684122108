package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/internal/testsupport"
)

// These tests run feedd ports and feedd probe against the simulator's
// ptys. The simulator's port 1 carries a baud fault: it delivers what a
// receiver set to 38400 baud reads from a 115200 baud line, which is what
// an operator gets with serial.baud set wrong (a pty ignores the baud rate
// itself; see hw/serialsim's package documentation).

const (
	probeLineBaud  = 115200
	probeWrongBaud = 38400
)

func startProbeSim(t *testing.T) *serialsim.Sim {
	t.Helper()
	demoNeedsSocat(t)
	fault, err := serialsim.ParseFault("port=1,kind=baud,baud=38400")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := serialsim.New(serialsim.Config{Ports: 2, LinkDir: t.TempDir(), Baud: probeLineBaud, Rate: 100,
		Seed: 2, Faults: []serialsim.Fault{fault}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// simAdapters pretends that each simulator port is a USB adapter with
// serial number SIM<n>: the pty behind the port's link is the device node,
// as /dev/ttyUSB0 is for a real adapter.
func simAdapters(t *testing.T, sim *serialsim.Sim) ingest.ListPortsFunc {
	return func() ([]ingest.PortInfo, error) {
		ports := []ingest.PortInfo{{Path: "/dev/ttyS0"}}
		for i, link := range sim.Ports() {
			node, err := filepath.EvalSymlinks(link)
			if err != nil {
				return nil, err
			}
			ports = append(ports, ingest.PortInfo{Path: node, USB: true, VID: "0403", PID: "6001",
				SerialNumber: "SIM" + string(rune('0'+i)), Manufacturer: "FTDI", Product: "FT232R USB UART",
				ByID: []string{"/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_SIM" + string(rune('0'+i)) + "-if00-port0"}})
		}
		return ports, nil
	}
}

type probeResult struct {
	err    error
	stdout string
	out    probeOutput
}

func probeSim(t *testing.T, list ingest.ListPortsFunc, args ...string) probeResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"--duration", "1500ms", "--json"}, args...)
	err := probeMain(t.Context(), args, &stdout, &stderr, probeDeps{lookupEnv: noEnv, list: list, open: ingest.OpenSerialMarked})
	r := probeResult{err: err, stdout: stdout.String()}
	if jerr := json.Unmarshal(stdout.Bytes(), &r.out); jerr != nil {
		t.Fatalf("probe %v: %v; output %q, stderr %q", args, jerr, stdout.String(), stderr.String())
	}
	t.Logf("probe %v: %s: %s", args, r.out.Report.Verdict.Kind, r.out.Report.Verdict.Text)
	return r
}

func framerOf(t *testing.T, r ingest.ProbeReport, mode string, configured bool) ingest.FramerReport {
	t.Helper()
	for _, f := range r.Framers {
		if f.Mode == mode && f.Configured == configured {
			return f
		}
	}
	t.Fatalf("no framer %s (configured %v) in %+v", mode, configured, r.Framers)
	return ingest.FramerReport{}
}

func TestProbeRightSettings(t *testing.T) {
	sim := startProbeSim(t)
	r := probeSim(t, nil, "--serial.device", sim.Ports()[0], "--serial.baud", "115200", "--framing.mode", "nmea")
	if r.err != nil || r.out.Report.Verdict.Kind != ingest.VerdictOK {
		t.Fatalf("probe of a clean port: %v, verdict %+v", r.err, r.out.Report.Verdict)
	}
	nmea := framerOf(t, r.out.Report, "nmea", true)
	// The probe may open the port in the middle of a sentence: one
	// invalid frame at most.
	if nmea.Frames < 10 || nmea.InvalidTotal() > 1 || r.out.Report.LineErrors != 0 {
		t.Fatalf("clean port: %+v, %d line errors", nmea, r.out.Report.LineErrors)
	}
	if r.out.Report.Bytes == 0 || r.out.Report.BytesPerSecond <= 0 {
		t.Fatalf("no byte rate: %+v", r.out.Report)
	}
}

func TestProbeWrongBaudRate(t *testing.T) {
	sim := startProbeSim(t)
	r := probeSim(t, nil, "--serial.device", sim.Ports()[1], "--serial.baud", "38400", "--framing.mode", "nmea")
	if !errors.Is(r.err, errSettingsDoNotFit) {
		t.Fatalf("probe of a port read at the wrong baud rate returned %v; want errSettingsDoNotFit", r.err)
	}
	v := r.out.Report.Verdict
	if v.Kind != ingest.VerdictLineSettings || !strings.Contains(v.Text, "wrong baud rate") || !strings.Contains(v.Text, "38400 8N1") {
		t.Fatalf("verdict %+v; want line_settings naming a wrong baud rate and the settings used", v)
	}
	if nmea := framerOf(t, r.out.Report, "nmea", true); nmea.Frames != 0 || nmea.InvalidTotal() == 0 {
		t.Fatalf("wrong baud rate: the nmea framer found %d frames and %d invalid; want none valid", nmea.Frames, nmea.InvalidTotal())
	}
	if st, _ := sim.Stats(1); st.Corrupted == 0 {
		t.Fatalf("the simulator garbled nothing on port 1 (%v): the test proves nothing", st)
	}
}

func TestProbeWrongFraming(t *testing.T) {
	sim := startProbeSim(t)
	r := probeSim(t, nil, "--serial.device", sim.Ports()[0], "--framing.mode", "stx-etx")
	v := r.out.Report.Verdict
	if !errors.Is(r.err, errSettingsDoNotFit) || v.Kind != ingest.VerdictFraming || !strings.Contains(v.Text, "framing.mode: nmea") {
		t.Fatalf("NMEA read as stx-etx: %v, verdict %+v; want a suggestion of framing.mode: nmea", r.err, v)
	}
}

func TestProbeUSBSerialAndTextOutput(t *testing.T) {
	sim := startProbeSim(t)
	node, err := filepath.EvalSymlinks(sim.Ports()[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "serial:\n  device: usb-serial:SIM0\n  baud: 115200\nframing:\n  mode: nmea\n")
	var stdout, stderr bytes.Buffer
	err = probeMain(t.Context(), []string{"--config", cfg, "--duration", "1s"}, &stdout, &stderr,
		probeDeps{lookupEnv: noEnv, list: simAdapters(t, sim), open: ingest.OpenSerialMarked})
	out := stdout.String()
	if err != nil {
		t.Fatalf("probe: %v\n%s%s", err, out, stderr.String())
	}
	for _, want := range []string{node + " (serial.device usb-serial:SIM0)", "115200 8N1", "nmea (configured)", "OK: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The incident behind the port lock: a probe run by root against a running
// member read the member's port, taking bytes from it, and its close cleared
// the member's exclusive mode. Now the probe fails at once, naming the
// member, and the member keeps its port and every byte.
func TestProbeRefusesAPortAMemberHolds(t *testing.T) {
	sim := startProbeSim(t)
	port := sim.Ports()[0]
	member, err := ingest.OpenSerial(ingest.SerialConfig{Device: port, Baud: probeLineBaud}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	read := func() int {
		buf := make([]byte, 4096)
		n, err := member.Read(buf)
		if err != nil {
			t.Fatalf("member read: %v", err)
		}
		return n
	}
	for range 2 { // the second attempt finds the lock still held
		var stdout, stderr bytes.Buffer
		err := probeMain(t.Context(), []string{"--serial.device", port, "--framing.mode", "nmea", "--duration", "1s"},
			&stdout, &stderr, probeDeps{lookupEnv: noEnv, open: ingest.OpenSerialMarked})
		if !errors.Is(err, ingest.ErrDeviceBusy) {
			t.Fatalf("probe of a port a member holds: %v; want ingest.ErrDeviceBusy", err)
		}
		for _, want := range []string{port + " is in use by pid " + strconv.Itoa(os.Getpid()) + " (", "systemctl stop feedd"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q lacks %q", err, want)
			}
		}
		if stdout.Len() != 0 {
			t.Fatalf("a probe that could not open the port printed a report: %q", stdout.String())
		}
	}
	got := 0
	testsupport.Until(t, time.Minute, "the member to read the feed after the refused probes", func() bool { got += read(); return got > 0 })
}

func TestProbeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--duration", "0s", "--serial.device", "/dev/null"},
		{"--serial.device", "/dev/null", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if err := probeMain(t.Context(), args, &stdout, &stderr, probeDeps{lookupEnv: noEnv}); !errors.Is(err, errUsage) {
			t.Errorf("probe %v: %v; want a usage error", args, err)
		}
	}
	var stdout, stderr bytes.Buffer
	err := probeMain(t.Context(), []string{"--serial.device", "usb-serial:NOPE"}, &stdout, &stderr,
		probeDeps{lookupEnv: noEnv, list: func() ([]ingest.PortInfo, error) { return nil, nil }})
	if !errors.Is(err, ingest.ErrDeviceMissing) {
		t.Errorf("probe of an adapter that is not plugged in: %v", err)
	}
	// Only the serial and framing sections are needed.
	err = probeMain(t.Context(), []string{"--framing.mode", "nmea"}, &stdout, &stderr, probeDeps{lookupEnv: noEnv})
	if err == nil || !strings.Contains(err.Error(), "serial.device") {
		t.Errorf("probe without a device: %v; want an error naming serial.device", err)
	}
}

func TestPortsListsAdaptersAndResolvesDevices(t *testing.T) {
	sim := startProbeSim(t)
	list := simAdapters(t, sim)
	node0, err := filepath.EvalSymlinks(sim.Ports()[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "serial:\n  device: usb-serial:SIM1\n")
	var stdout, stderr bytes.Buffer
	if err := portsMain([]string{"--config", cfg, sim.Ports()[0], "usb-serial:SIM9"}, &stdout, &stderr, noEnv, list); err != nil {
		t.Fatalf("ports: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	t.Log(out)
	node1, _ := filepath.EvalSymlinks(sim.Ports()[1])
	for _, fields := range [][]string{
		{node0, "0403:6001", "SIM0", "FTDI FT232R USB UART", "read-write"},
		{"/dev/ttyS0", "-", "-", "-"}, // a UART without USB details
		{"/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_SIM0-if00-port0", "->", node0},
	} {
		if !hasLineWith(out, fields...) {
			t.Errorf("no line holds %q", fields)
		}
	}
	for _, want := range []string{
		"\n" + sim.Ports()[0] + "\n  device   " + node0, "pty_slave (pty:slave)",
		"\nusb-serial:SIM1\n  device   " + node1,
		"usb-serial:SIM9\n  error: ", "no USB serial adapter with serial number \"SIM9\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	stdout.Reset()
	if err := portsMain([]string{"--json", "usb-serial:SIM0"}, &stdout, &stderr, noEnv, list); err != nil {
		t.Fatal(err)
	}
	var reports []portReport
	if err := json.Unmarshal(stdout.Bytes(), &reports); err != nil {
		t.Fatal(err)
	}
	last := reports[len(reports)-1]
	if len(reports) != 4 || last.Name != "usb-serial:SIM0" || last.Path != node0 || !last.Listed || last.SerialNumber != "SIM0" {
		t.Fatalf("JSON reports %+v", reports)
	}
}

// hasLineWith reports whether a line of text holds all the fields, in
// order, separated by white space.
func hasLineWith(text string, fields ...string) bool {
	for l := range strings.Lines(text) {
		if strings.Join(strings.Fields(l), " ") == strings.Join(fields, " ") ||
			strings.HasPrefix(strings.Join(strings.Fields(l), " "), strings.Join(fields, " ")+" ") {
			return true
		}
	}
	return false
}

func TestTTYDriverOf(t *testing.T) {
	drivers := filepath.Join(t.TempDir(), "drivers")
	os.WriteFile(drivers, []byte("/dev/tty             /dev/tty        5       0 system:/dev/tty\n"+
		"usbserial            /dev/ttyUSB   188 0-511 serial\n"+
		"serial               /dev/ttyS       4 64-111 serial\n"+
		"pty_slave            /dev/pts      136 0-1048575 pty:slave\n"), 0o600)
	for _, c := range []struct {
		major, minor uint32
		want         string
	}{
		{188, 3, "usbserial (serial)"}, {4, 64, "serial (serial)"}, {4, 63, ""}, {136, 7, "pty_slave (pty:slave)"},
		{5, 0, "/dev/tty (system:/dev/tty)"}, {1, 3, ""},
	} {
		if got := ttyDriverOf(drivers, c.major, c.minor); got != c.want {
			t.Errorf("%d:%d = %q; want %q", c.major, c.minor, got, c.want)
		}
	}
	if got := ttyDriverOf(filepath.Join(t.TempDir(), "missing"), 4, 64); got != "" {
		t.Errorf("unreadable list: %q", got)
	}
}

// probeMain runs "feedd probe args..." with deps in place of the host's
// environment, ports and serial library.
func probeMain(ctx context.Context, args []string, stdout, stderr io.Writer, deps probeDeps) error {
	_, err := execute(ctx, newRoot(stdout, stderr, probeCommand(deps)), append([]string{"probe"}, args...))
	return err
}

// portsMain runs "feedd ports args..." with lookupEnv and list in place of
// the host's environment and ports.
func portsMain(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool), list ingest.ListPortsFunc) error {
	_, err := execute(context.Background(), newRoot(stdout, stderr, portsCommand(lookupEnv, list)), append([]string{"ports"}, args...))
	return err
}
