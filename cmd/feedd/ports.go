package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/feedd/feedd/ingest"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// portReport is one line of "feedd ports": an enumerated port, or a device
// named on the command line or in the configuration.
type portReport struct {
	// Name is what was asked about: a path or a usb-serial setting; empty
	// for an enumerated port.
	Name string `json:"name,omitempty"`
	ingest.PortInfo
	// Listed says whether the enumerator knows the port. A
	// pseudo-terminal (the simulator's ports) is not a serial port to it.
	Listed bool `json:"listed"`
	// TTYDriver is the kernel's tty driver for the device and its type,
	// e.g. "usbserial (serial)" or "pty_slave (pty:slave)"; empty for a
	// device that is not a terminal.
	TTYDriver string `json:"tty_driver,omitempty"`
	// Access says whether this user may read and write the device.
	Access string `json:"access,omitempty"`
	Error  string `json:"error,omitempty"`
}

// portsCommand is "feedd ports": the serial ports of this host, so that
// an operator can find the adapter the feed is on and name it in
// serial.device.
func portsCommand(lookupEnv func(string) (string, bool), list ingest.ListPortsFunc) *cobra.Command {
	var (
		configPath string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "ports [DEVICE...]",
		Short: "list the serial ports of this host: USB ids, serial numbers, by-id links",
		Long: "Lists the serial ports of this host with what the enumerator knows of each: USB vendor\n" +
			"and product id, serial number, product, and udev's /dev/serial/by-id links. Each DEVICE\n" +
			"(a path, or usb-serial:<serial number>) is looked up and checked too, and so is the\n" +
			"serial.device of --config.",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, names []string) error {
			return listPorts(names, configPath, asJSON, cmd.OutOrStdout(), lookupEnv, list)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "also resolve this configuration's serial.device (or FEEDD_CONFIG)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func listPorts(names []string, path string, asJSON bool, stdout io.Writer, lookupEnv func(string) (string, bool), list ingest.ListPortsFunc) error {
	ports, err := list()
	if err != nil {
		return err
	}
	var reports []portReport
	for _, p := range ports {
		reports = append(reports, portReport{PortInfo: p, Listed: true, Access: accessOf(p.Path)})
	}
	if path == "" {
		path, _ = lookupEnv("FEEDD_CONFIG")
	}
	if path != "" {
		cfg, err := readConfig(path, nil, lookupEnv)
		if err != nil {
			return err
		}
		if cfg.Serial.Device == "" {
			return fmt.Errorf("%s sets no serial.device", path)
		}
		names = append(names, cfg.Serial.Device)
	}
	for _, name := range names {
		reports = append(reports, describeDevice(name, ports))
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	}
	printPorts(stdout, reports, len(ports))
	return nil
}

// describeDevice looks up a device named on the command line or in the
// configuration, the way feedd run would open it.
func describeDevice(name string, ports []ingest.PortInfo) portReport {
	r := portReport{Name: name}
	path, err := ingest.ResolveDevice(name, func() ([]ingest.PortInfo, error) { return ports, nil })
	if err != nil {
		r.Error = err.Error()
		return r
	}
	node, err := filepath.EvalSymlinks(path)
	if err != nil {
		r.Path = path
		r.Error = fmt.Sprintf("%s does not exist (is the adapter plugged in, or the simulator running?)", path)
		return r
	}
	r.Path = node
	fi, err := os.Stat(node)
	switch {
	case err != nil:
		r.Error = err.Error()
		return r
	case fi.Mode()&os.ModeCharDevice == 0:
		r.Error = node + " is not a character device"
		return r
	}
	for _, p := range ports {
		if p.Path == node {
			r.PortInfo, r.Listed = p, true
		}
	}
	r.Access = accessOf(node)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		r.TTYDriver = ttyDriverOf(ttyDriversFile, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return r
}

// ttyDriversFile lists the kernel's tty drivers and their device numbers.
const ttyDriversFile = "/proc/tty/drivers"

// ttyDriverOf names the tty driver that owns device major:minor, from the
// kernel's list in file (lines of name, device path, major, minor or
// minor range, type). It does not open the device: opening a real serial
// port raises its DTR and RTS lines, which some devices take as a reset.
func ttyDriverOf(file string, major, minor uint32) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for l := range strings.Lines(string(data)) {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		maj, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || uint32(maj) != major {
			continue
		}
		lo, hi, isRange := strings.Cut(f[3], "-")
		from, err1 := strconv.ParseUint(lo, 10, 32)
		to := from
		var err2 error
		if isRange {
			to, err2 = strconv.ParseUint(hi, 10, 32)
		}
		if err1 != nil || err2 != nil || uint64(minor) < from || uint64(minor) > to {
			continue
		}
		return f[0] + " (" + f[4] + ")"
	}
	return ""
}

// accessOf says whether this user may open a device for reading and
// writing, as serial.Open does.
func accessOf(path string) string {
	if err := unix.Access(path, unix.R_OK|unix.W_OK); err != nil {
		return "no access (" + err.Error() + "; add the user to the device's group, usually dialout)"
	}
	return "read-write"
}

func printPorts(w io.Writer, reports []portReport, listed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tUSB ID\tSERIAL NUMBER\tPRODUCT\tACCESS")
	for _, r := range reports[:listed] {
		printPort(tw, r)
	}
	tw.Flush()
	if listed == 0 {
		fmt.Fprintln(w, "(no serial port found)")
	}
	first := true
	for _, r := range reports[:listed] {
		for _, l := range r.ByID {
			if first {
				fmt.Fprintln(w, "\nstable paths (udev's /dev/serial/by-id links):")
				first = false
			}
			fmt.Fprintf(w, "  %s -> %s\n", l, r.Path)
		}
	}
	for _, r := range reports[listed:] {
		fmt.Fprintf(w, "\n%s\n", r.Name)
		switch {
		case r.Error != "":
			fmt.Fprintf(w, "  error: %s\n", r.Error)
			continue
		case r.Name != r.Path:
			fmt.Fprintf(w, "  device   %s\n", r.Path)
		}
		fmt.Fprintf(w, "  access   %s\n", r.Access)
		if r.TTYDriver != "" {
			fmt.Fprintf(w, "  tty      %s\n", r.TTYDriver)
		} else {
			fmt.Fprintln(w, "  tty      none: not a terminal device, so not a serial port")
		}
		switch {
		case !r.Listed && strings.Contains(r.TTYDriver, "(pty"):
			fmt.Fprintln(w, "  listed   no: a pseudo-terminal (the simulator's ports are), not a serial port")
			continue
		case !r.Listed:
			fmt.Fprintln(w, "  listed   no: the enumerator does not know it as a serial port")
			continue
		}
		if r.USB {
			fmt.Fprintf(w, "  usb      %s:%s, serial number %s, %s\n", r.VID, r.PID, orDash(r.SerialNumber), orDash(product(r.PortInfo)))
		}
	}
	if listed > 0 {
		fmt.Fprintln(w, "\nName a port in serial.device by its path, by a /dev/serial/by-id link, or as\n"+
			"usb-serial:<serial number>, which feedd run looks up each time it opens the port.")
	}
}

func printPort(tw io.Writer, r portReport) {
	id, serialNo, prod := "-", "-", "-"
	if r.USB {
		id = r.VID + ":" + r.PID
		serialNo = orDash(r.SerialNumber)
		prod = orDash(product(r.PortInfo))
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Path, id, serialNo, prod, r.Access)
}

func product(p ingest.PortInfo) string {
	return strings.TrimSpace(p.Manufacturer + " " + p.Product)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
