package ingest

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// SerialConfig holds the line settings of the port and how the reader behaves
// when the device misbehaves. The YAML section is `serial:`.
type SerialConfig struct {
	// Device is the path of the serial device, e.g. /dev/ttyUSB0, a
	// /dev/serial/by-id link or a simulator's pty link, or
	// "usb-serial:<serial number>" for the USB adapter with that serial
	// number, looked up each time the device is opened (ResolveDevice).
	Device string `yaml:"device"`
	Baud   int    `yaml:"baud"`
	// DataBits is 5, 6, 7 or 8.
	DataBits int `yaml:"data_bits"`
	// Parity is none, odd, even, mark or space.
	Parity string `yaml:"parity"`
	// StopBits is 1 or 2 (1.5 is not supported by Linux termios).
	StopBits int `yaml:"stop_bits"`
	// FlowControl is none or rtscts.
	FlowControl string `yaml:"flow_control"`
	// ReadTimeout bounds each read so the reader notices silence and
	// cancellation without a byte arriving. It is also how precisely the
	// reader knows when bytes arrived (a read that returns nothing shows
	// that nothing had come yet), which is how the pair recognises a frame
	// whose bytes repeat: keep it short.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// MaxLatency bounds how long the port may hold a byte after it was on
	// the line before a read can return it (a USB adapter's latency
	// timer, a UART's FIFO timeout). 0 picks one for the device: an FTDI
	// adapter's own latency timer, otherwise a bound for its kind. A
	// bound that is too small can cost a frame when the pair fails over;
	// one too large only makes more frames possible duplicates.
	MaxLatency time.Duration `yaml:"max_latency"`
	// QuietAfter is how long without a valid frame before the line is
	// reported quiet. A cable pulled from a native UART gives no error, only
	// silence, so this is the only way to notice it.
	QuietAfter time.Duration `yaml:"quiet_after"`
	// ReconnectMin and ReconnectMax bound the backoff between attempts to
	// open a missing or disconnected device.
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// FailFast makes a device that cannot be opened at start a fatal error
	// instead of something to retry.
	FailFast bool `yaml:"fail_fast"`
}

// WithDefaults fills unset fields with the defaults documented in
// docs/configuration.md.
func (c SerialConfig) WithDefaults() SerialConfig {
	c.Baud = cmp.Or(c.Baud, 9600)
	c.DataBits = cmp.Or(c.DataBits, 8)
	c.Parity = cmp.Or(c.Parity, "none")
	c.StopBits = cmp.Or(c.StopBits, 1)
	c.FlowControl = cmp.Or(c.FlowControl, "none")
	c.ReadTimeout = cmp.Or(c.ReadTimeout, 5*time.Millisecond)
	c.QuietAfter = cmp.Or(c.QuietAfter, 5*time.Second)
	c.ReconnectMin = cmp.Or(c.ReconnectMin, 100*time.Millisecond)
	c.ReconnectMax = cmp.Or(c.ReconnectMax, 5*time.Second)
	return c
}

var parities = map[string]serial.Parity{
	"none":  serial.NoParity,
	"odd":   serial.OddParity,
	"even":  serial.EvenParity,
	"mark":  serial.MarkParity,
	"space": serial.SpaceParity,
}

// standardBauds are the rates of the termios Bnnn constants: what a UART
// driver is sure to offer. Others may be refused, or approximated by a
// divisor that drifts from the sender's clock.
var standardBauds = []int{50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200,
	38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000,
	2000000, 2500000, 3000000, 3500000, 4000000}

// Warnings reports settings that are valid but likely mistaken, each named
// by its YAML path.
func (c SerialConfig) Warnings() []string {
	if c.Baud > 0 && !slices.Contains(standardBauds, c.Baud) {
		return []string{fmt.Sprintf("serial.baud: %d is not a standard rate (9600, 38400, 115200, ...); check the feed's documentation", c.Baud)}
	}
	return nil
}

// Validate reports the first invalid field, named by its YAML path.
func (c SerialConfig) Validate() error {
	switch {
	case c.Device == "":
		return errors.New("serial.device: required (the path of the serial port, e.g. /dev/ttyUSB0, or usb-serial:<serial number>)")
	case c.Device == USBSerialPrefix:
		return fmt.Errorf("serial.device: %q names no serial number (usb-serial:<serial number>, as feedd ports shows it)", c.Device)
	case c.Baud <= 0:
		return fmt.Errorf("serial.baud: %d must be > 0", c.Baud)
	case c.DataBits < 5 || c.DataBits > 8:
		return fmt.Errorf("serial.data_bits: %d is not one of 5, 6, 7, 8", c.DataBits)
	case c.StopBits != 1 && c.StopBits != 2:
		return fmt.Errorf("serial.stop_bits: %d is not one of 1, 2", c.StopBits)
	case c.FlowControl != "none" && c.FlowControl != "rtscts":
		return fmt.Errorf("serial.flow_control: %q is not one of none, rtscts", c.FlowControl)
	case c.ReadTimeout <= 0:
		return fmt.Errorf("serial.read_timeout: %v must be > 0", c.ReadTimeout)
	case c.MaxLatency < 0:
		return fmt.Errorf("serial.max_latency: %v must be >= 0 (0 picks one for the device)", c.MaxLatency)
	case c.QuietAfter < c.ReadTimeout:
		return fmt.Errorf("serial.quiet_after: %v must be at least serial.read_timeout (%v)", c.QuietAfter, c.ReadTimeout)
	case c.ReconnectMin <= 0:
		return fmt.Errorf("serial.reconnect_min: %v must be > 0", c.ReconnectMin)
	case c.ReconnectMax < c.ReconnectMin:
		return fmt.Errorf("serial.reconnect_max: %v must be at least serial.reconnect_min (%v)", c.ReconnectMax, c.ReconnectMin)
	}
	if _, ok := parities[c.Parity]; !ok {
		return fmt.Errorf("serial.parity: %q is not one of none, odd, even, mark, space", c.Parity)
	}
	return nil
}

// BitsPerChar is the number of bits one byte occupies on the line (start,
// data, parity, stop), which turns a baud rate into bytes per second.
func (c SerialConfig) BitsPerChar() int {
	bits := 1 + c.DataBits + c.StopBits
	if c.Parity != "none" {
		bits++
	}
	return bits
}

// Port is what the reader needs of an open device.
type Port interface {
	io.Reader
	io.Closer
}

// OpenFunc opens the configured device. Tests substitute their own.
type OpenFunc func(SerialConfig) (Port, error)

// OpenSerial opens a serial device with the full line settings and the read
// timeout.
//
// Modem output lines are left alone (a nil InitialStatusBits): asking to set
// them makes Open fail on a pty, which has none.
//
// It holds the device's lock (see lockPort) until the port is closed, and
// fails with a DeviceBusyError naming the holder when another feedd process
// has it.
func OpenSerial(c SerialConfig) (Port, error) { return openSerial(c, false) }

// OpenSerialMarked opens the device as OpenSerial does, and also asks the
// kernel to mark each character received with a framing or parity error,
// and each break, in the byte stream (termios INPCK and PARMRK), so that a
// probe can count them: LineErrorFilter takes the marks out. A member does
// not do this: its framers drop what such characters spoil anyway.
//
// Being for a probe, which must never disturb another reader, it also
// refuses a tty that another process took exclusively without feedd's lock,
// which root could open past (see lockPort).
func OpenSerialMarked(c SerialConfig) (Port, error) { return openSerial(c, true) }

// openSerial opens the device; probe selects OpenSerialMarked's behaviour.
func openSerial(c SerialConfig, probe bool) (Port, error) {
	mode := &serial.Mode{
		BaudRate: c.Baud,
		DataBits: c.DataBits,
		Parity:   parities[c.Parity],
		StopBits: serial.OneStopBit,
	}
	if c.StopBits == 2 {
		mode.StopBits = serial.TwoStopBits
	}
	// The lock comes first (see lockPort): when another process holds the
	// device, nothing below runs. Its descriptor also sets what the serial
	// library clears while opening and has no setting for (CRTSCTS,
	// PARMRK): the library takes the tty exclusively, so a descriptor for
	// that must be opened before it, and termios belongs to the tty, not to
	// a descriptor.
	lockFD, err := lockPort(c.Device, probe)
	if err != nil {
		return nil, err
	}
	sp, err := serial.Open(c.Device, mode)
	if err != nil {
		unix.Close(lockFD)
		return nil, describeOpenError(c.Device, err)
	}
	p := &lockedPort{lib: sp, lockFD: lockFD, path: c.Device}
	if c.FlowControl == "rtscts" {
		if err := enableRTSCTS(lockFD); err != nil {
			p.Close()
			return nil, fmt.Errorf("serial device %s: enable RTS/CTS flow control: %w", c.Device, err)
		}
	}
	if probe {
		if err := enableErrorMarks(lockFD); err != nil {
			p.Close()
			return nil, fmt.Errorf("serial device %s: mark line errors: %w", c.Device, err)
		}
	}
	if err := p.SetReadTimeout(c.ReadTimeout); err != nil {
		p.Close()
		return nil, fmt.Errorf("serial device %s: set read timeout: %w", c.Device, err)
	}
	return p, nil
}

// enableErrorMarks makes the line discipline deliver a character received
// with a framing or parity error as 0xFF 0x00 c, a break as 0xFF 0x00 0x00,
// and a real 0xFF as 0xFF 0xFF.
func enableErrorMarks(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag |= unix.INPCK | unix.PARMRK
	t.Iflag &^= unix.IGNPAR | unix.ISTRIP
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

func enableRTSCTS(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Cflag |= unix.CRTSCTS
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// ErrDeviceMissing marks an open that failed because the device path does
// not exist (an adapter not plugged in, a simulator not started).
var ErrDeviceMissing = errors.New("device does not exist")

func describeOpenError(path string, err error) error {
	if errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("serial device %s: %w (is the adapter plugged in, or the simulator running?)", path, ErrDeviceMissing)
	}
	var pe *serial.PortError
	if errors.As(err, &pe) && pe.Code() == serial.PortNotFound {
		return fmt.Errorf("serial device %s: %w", path, ErrDeviceMissing)
	}
	if errors.Is(err, syscall.EACCES) || (pe != nil && pe.Code() == serial.PermissionDenied) {
		return fmt.Errorf("serial device %s: permission denied (add the user to the dialout group): %w", path, err)
	}
	if pe != nil && pe.Code() == serial.PortBusy {
		// lockPort found no holder, so one came between it and this
		// open.
		return fmt.Errorf("serial device %s: %w (another process took it exclusively): %w", path, ErrDeviceBusy, err)
	}
	return fmt.Errorf("serial device %s: %w", path, err)
}
