package ingest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/internal/testsupport"
)

func listOf(ports ...PortInfo) ListPortsFunc {
	return func() ([]PortInfo, error) { return ports, nil }
}

func TestResolveDevice(t *testing.T) {
	ftdi := PortInfo{Path: "/dev/ttyUSB1", USB: true, VID: "0403", PID: "6001", SerialNumber: "A50285BI"}
	other := PortInfo{Path: "/dev/ttyUSB0", USB: true, VID: "067B", PID: "2303", SerialNumber: "B1"}
	uart := PortInfo{Path: "/dev/ttyS0"}
	quadA := PortInfo{Path: "/dev/ttyUSB2", USB: true, SerialNumber: "FT4Q", ByID: []string{"/dev/serial/by-id/usb-FTDI_Quad_FT4Q-if00-port0"}}
	quadB := PortInfo{Path: "/dev/ttyUSB3", USB: true, SerialNumber: "FT4Q", ByID: []string{"/dev/serial/by-id/usb-FTDI_Quad_FT4Q-if01-port0"}}
	list := listOf(uart, other, ftdi, quadA, quadB)

	if got, err := ResolveDevice("/dev/ttyS0", func() ([]PortInfo, error) {
		t.Fatal("a path must not be looked up")
		return nil, nil
	}); err != nil || got != "/dev/ttyS0" {
		t.Fatalf("a path resolves to itself: %q, %v", got, err)
	}
	if got, err := ResolveDevice("usb-serial:A50285BI", list); err != nil || got != "/dev/ttyUSB1" {
		t.Fatalf("usb-serial:A50285BI = %q, %v; want /dev/ttyUSB1", got, err)
	}
	_, err := ResolveDevice("usb-serial:NOPE", list)
	if !errors.Is(err, ErrDeviceMissing) || !strings.Contains(err.Error(), `"NOPE"`) {
		t.Fatalf("an adapter that is not plugged in: %v; want ErrDeviceMissing naming the serial number", err)
	}
	// A non-USB port never matches, even with an empty serial number.
	if _, err := ResolveDevice("usb-serial:", listOf(uart)); !errors.Is(err, ErrDeviceMissing) {
		t.Fatalf("empty serial number matched a UART: %v", err)
	}
	_, err = ResolveDevice("usb-serial:FT4Q", list)
	if errors.Is(err, ErrDeviceMissing) || !strings.Contains(err.Error(), "if00") || !strings.Contains(err.Error(), "if01") {
		t.Fatalf("two ports with one serial number: %v; want an error naming both by-id paths", err)
	}
	failing := func() ([]PortInfo, error) { return nil, errors.New("sysfs unreadable") }
	if _, err := ResolveDevice("usb-serial:A50285BI", failing); err == nil || !strings.Contains(err.Error(), "sysfs unreadable") {
		t.Fatalf("a failing list: %v", err)
	}
}

func TestSerialConfigDeviceSpellings(t *testing.T) {
	for dev, ok := range map[string]bool{
		"/dev/ttyUSB0": true, "usb-serial:A50285BI": true, "usb-serial:": false, "": false,
	} {
		err := SerialConfig{Device: dev}.WithDefaults().Validate()
		if (err == nil) != ok {
			t.Errorf("device %q: Validate = %v, want ok=%v", dev, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "serial.device") {
			t.Errorf("device %q: error %q does not name serial.device", dev, err)
		}
	}
}

func TestByIDLinks(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "ttyUSB7")
	err := os.WriteFile(dev, nil, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	byID := filepath.Join(dir, "by-id")
	if err := os.Mkdir(byID, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(byID, "usb-FTDI_FT232R_A50285BI-if00-port0")
	if err := os.Symlink("../ttyUSB7", link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../gone", filepath.Join(byID, "dangling")); err != nil {
		t.Fatal(err)
	}
	if dev, err = filepath.EvalSymlinks(dev); err != nil {
		t.Fatal(err)
	}
	got := byIDLinks(byID)
	if len(got) != 1 || len(got[dev]) != 1 || got[dev][0] != link {
		t.Fatalf("byIDLinks = %v; want %s -> [%s]", got, dev, link)
	}
	if got := byIDLinks(filepath.Join(dir, "missing")); len(got) != 0 {
		t.Fatalf("a missing directory gives %v", got)
	}
}

// The enumerator runs on whatever this machine has (often no serial port
// at all); what it returns must be usable.
func TestListPortsOnThisMachine(t *testing.T) {
	ports, err := ListPorts()
	if err != nil {
		t.Fatalf("ListPorts: %v", err)
	}
	for _, p := range ports {
		if !strings.HasPrefix(p.Path, "/dev/") {
			t.Errorf("port without a device path: %+v", p)
		}
		if !p.USB && (p.VID != "" || p.SerialNumber != "") {
			t.Errorf("non-USB port with USB details: %+v", p)
		}
	}
	t.Logf("%d serial ports: %+v", len(ports), ports)
}

// A usb-serial device is looked up on every open: the simulator's port
// stands in for an adapter (its pty is the device node the lookup returns),
// and after an unplug the reader finds it again through a new lookup.
func TestSourceResolvesUSBSerialOnEveryOpen(t *testing.T) {
	sim := startSim(t, serialsim.Config{Ports: 1, Baud: 115200, Rate: 200, Seed: 9})
	link := sim.Ports()[0]
	var lookups atomic.Int32
	list := func() ([]PortInfo, error) {
		lookups.Add(1)
		node, err := filepath.EvalSymlinks(link)
		if err != nil {
			return nil, nil // unplugged: no adapter
		}
		return []PortInfo{{Path: "/dev/ttyS0"}, {Path: node, USB: true, SerialNumber: "SIM0"}}, nil
	}
	var logs testsupport.SyncBuffer
	sc := SerialConfig{Device: "usb-serial:SIM0", Baud: 115200, ReadTimeout: 50 * time.Millisecond,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
	src, err := NewSource(sc, framing.Config{Mode: "nmea"}, SequenceConfig{NMEAField: 1},
		SourceOptions{ListPorts: list, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var frames atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		src.Run(ctx, func(*Frame) { frames.Add(1) })
	}()
	defer func() { cancel(); <-done }()

	waitFor(t, "frames through the resolved device", func() bool { return frames.Load() >= 20 })
	node, err := filepath.EvalSymlinks(link)
	if err != nil {
		t.Fatal(err)
	}
	if h := src.Health(); h.Path != node {
		t.Fatalf("Health().Path = %q; want the resolved device %q", h.Path, node)
	}
	if out := logs.String(); !strings.Contains(out, "serial device resolved") || !strings.Contains(out, "path="+node) ||
		!strings.Contains(out, "device=usb-serial:SIM0") {
		t.Fatalf("the log does not say which device usb-serial:SIM0 resolved to:\n%s", out)
	}
	before := lookups.Load()
	if err := sim.Unplug(0, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	seen := frames.Load()
	waitFor(t, "frames after the replug", func() bool { return src.Health().Reconnects >= 1 && frames.Load() >= seen+20 })
	if lookups.Load() <= before {
		t.Fatalf("the device was not looked up again after it was lost (%d lookups before, %d after)", before, lookups.Load())
	}
}
