package member

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// systemdNotifier speaks systemd's notify protocol (sd_notify(3)): datagrams
// of NAME=value lines to the socket in $NOTIFY_SOCKET. The unit's
// Type=notify waits for READY=1; its WatchdogSec= restarts a member whose
// WATCHDOG=1 pings stop, which the control loop sends while it turns.
// Without $NOTIFY_SOCKET (not under systemd, or another Type=) it does
// nothing.
type systemdNotifier struct {
	conn     *net.UnixConn
	watchdog time.Duration // how often to ping: a third of WatchdogSec; 0 for none
	lastPing time.Time
	ready    bool
}

// newSystemdNotifier reads the environment systemd sets; a socket it cannot
// open is reported and the member runs without.
func newSystemdNotifier() (*systemdNotifier, error) {
	n := &systemdNotifier{}
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return n, nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // an abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return n, fmt.Errorf("NOTIFY_SOCKET: %w", err)
	}
	n.conn = conn
	if usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
		if pid := os.Getenv("WATCHDOG_PID"); pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(usec) * time.Microsecond / 3
		}
	}
	return n, nil
}

func (n *systemdNotifier) send(state string) {
	if n.conn != nil {
		n.conn.Write([]byte(state)) // best effort, as sd_notify: systemd may be gone
	}
}

// Ready says once that the member has joined its pair, with a status line.
func (n *systemdNotifier) Ready(status string) {
	if n.ready {
		return
	}
	n.ready = true
	n.send("READY=1\nSTATUS=" + status)
}

// Alive pings the watchdog, at most every third of its period.
func (n *systemdNotifier) Alive(now time.Time) {
	if n.watchdog > 0 && now.Sub(n.lastPing) >= n.watchdog {
		n.lastPing = now
		n.send("WATCHDOG=1")
	}
}

// Stopping tells systemd the member is shutting down.
func (n *systemdNotifier) Stopping() { n.send("STOPPING=1") }

// Close closes the socket.
func (n *systemdNotifier) Close() {
	if n.conn != nil {
		n.conn.Close()
	}
}
