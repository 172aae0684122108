package ingest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

// USBSerialPrefix marks a serial.device that names a USB serial adapter by
// its serial number instead of by path: "usb-serial:A50285BI". The path a
// USB adapter gets (/dev/ttyUSB0, /dev/ttyUSB1, ...) depends on the order
// the kernel found the adapters in and changes across reboots and replugs;
// the serial number burnt into the adapter does not.
const USBSerialPrefix = "usb-serial:"

// byIDDir holds udev's stable links to serial devices, named after the
// adapter's vendor, product, serial number and interface.
const byIDDir = "/dev/serial/by-id"

// PortInfo is what the system knows about one serial port.
type PortInfo struct {
	// Path is the device node, e.g. /dev/ttyUSB0.
	Path string `json:"path"`
	// USB is set for a USB adapter; VID, PID, SerialNumber, Manufacturer
	// and Product are then filled in as far as the adapter reports them.
	USB          bool   `json:"usb"`
	VID          string `json:"vid,omitempty"`
	PID          string `json:"pid,omitempty"`
	SerialNumber string `json:"serial_number,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	// ByID are udev's /dev/serial/by-id links to this port: paths that stay
	// the same across reboots.
	ByID []string `json:"by_id,omitempty"`
}

// ListPortsFunc lists the serial ports present. Tests substitute their own.
type ListPortsFunc func() ([]PortInfo, error)

// ListPorts lists the serial ports with what go.bug.st/serial's enumerator
// knows about each (its port list and, for USB adapters, the ids and strings
// read from sysfs), plus udev's by-id links. Pseudo-terminals are not serial
// ports and are not listed.
//
// The enumerator opens each on-board ttyS port briefly to tell a real UART
// from a placeholder, which puts that port in raw mode: a port another
// program uses without holding it exclusively can be disturbed.
func ListPorts() ([]PortInfo, error) {
	names, err := serial.GetPortsList()
	if err != nil {
		return nil, fmt.Errorf("list serial ports: %w", err)
	}
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("list serial ports: %w", err)
	}
	byPath := make(map[string]*enumerator.PortDetails, len(details))
	for _, d := range details {
		// The enumerator returns an entry without a name for a port that
		// has no device in sysfs; the port list still names it.
		if d.Name != "" {
			byPath[d.Name] = d
		}
	}
	links := byIDLinks(byIDDir)
	ports := make([]PortInfo, 0, len(names))
	for _, name := range names {
		p := PortInfo{Path: name, ByID: links[name]}
		if d := byPath[name]; d != nil && d.IsUSB {
			p.USB = true
			p.VID, p.PID = d.VID, d.PID
			p.SerialNumber = d.SerialNumber
			p.Manufacturer, p.Product = d.Manufacturer, d.Product
		}
		ports = append(ports, p)
	}
	slices.SortFunc(ports, func(a, b PortInfo) int { return strings.Compare(a.Path, b.Path) })
	return ports, nil
}

// byIDLinks maps each device node to the links in dir that point at it. A
// missing dir (no USB serial adapter, or no udev) gives an empty map.
func byIDLinks(dir string) map[string][]string {
	out := map[string][]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		link := filepath.Join(dir, e.Name())
		target, err := filepath.EvalSymlinks(link)
		if err != nil {
			continue
		}
		out[target] = append(out[target], link)
	}
	return out
}

// USBSerialOf returns the serial number a device setting names, and whether
// it names one ("usb-serial:A50285BI" → "A50285BI", true).
func USBSerialOf(device string) (string, bool) {
	return strings.CutPrefix(device, USBSerialPrefix)
}

// ResolveDevice returns the path to open for a serial.device setting: the
// setting itself when it is a path, or the one port whose USB serial number
// it names. No such port is ErrDeviceMissing (the adapter may be plugged in
// later); several are an error that names them, since an adapter with
// several ports (FTDI FT2232/FT4232) reports one serial number for all of
// them and only a /dev/serial/by-id path tells them apart.
func ResolveDevice(device string, list ListPortsFunc) (string, error) {
	want, ok := USBSerialOf(device)
	if !ok {
		return device, nil
	}
	ports, err := list()
	if err != nil {
		return "", fmt.Errorf("serial device %s: %w", device, err)
	}
	var found []PortInfo
	for _, p := range ports {
		if p.USB && p.SerialNumber == want {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("serial device %s: %w: no USB serial adapter with serial number %q is plugged in (see feedd ports)", device, ErrDeviceMissing, want)
	case 1:
		return found[0].Path, nil
	}
	var names []string
	for _, p := range found {
		name := p.Path
		if len(p.ByID) > 0 {
			name = p.ByID[0]
		}
		names = append(names, name)
	}
	return "", fmt.Errorf("serial device %s: %w: %d ports report serial number %q (%s); name one by its /dev/serial/by-id path",
		device, errAmbiguousDevice, len(found), want, strings.Join(names, ", "))
}

// errAmbiguousDevice marks a usb-serial setting that matches several ports.
var errAmbiguousDevice = errors.New("ambiguous USB serial number")
